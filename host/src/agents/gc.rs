//! Garbage collection on a host: what a crash or an interrupted command left behind. Agent
//! dirs without a valid record, work dirs mngr made that no agent uses, tmux sessions this host
//! dir started that no agent owns, temp files of interrupted atomic writes, and the
//! provider's copies of records of agents that are gone.

use super::host::Host;
use super::record::AgentRecord;
use super::shell::quote;
use super::workdir::{self, BranchFate};
use crate::error::Result;
use mngr_plugin_api::host_data::GeneratedBranch;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Removed {
    /// `agent_dir`, `work_dir`, `branch`, `session`, `temp_file` or `provider_record`.
    pub kind: &'static str,
    pub what: String,
    pub host: String,
    pub provider: String,
}

/// Collect garbage on one host; with `dry_run` only report it.
pub fn collect(host: &Host, prefix: &str, dry_run: bool) -> Result<Vec<Removed>> {
    let _lock = host.lock()?;
    let probe = host.probe()?;
    let mut removed = Vec::new();
    let mut note = |kind: &'static str, what: String| {
        removed.push(Removed {
            kind,
            what,
            host: host.name().to_string(),
            provider: host.provider.clone(),
        })
    };
    let agents: Vec<&AgentRecord> = probe
        .records
        .iter()
        .filter_map(|(dir, r)| r.as_ref().ok().filter(|r| r.id.as_str() == dir))
        .collect();

    // Agent dirs with no valid record (a create or destroy that died half-way).
    let h = quote(&host.host_dir);
    let listing = host.run(&format!(
        "cd {h}/agents 2>/dev/null && for d in */; do [ -d \"$d\" ] && echo \"${{d%/}}\"; done; \
         find {h}/agents {h} -maxdepth 2 -name '.*.tmp.*' -type f 2>/dev/null | sed 's/^/TMP /'"
    ))?;
    for line in listing.stdout.lines() {
        if let Some(tmp) = line.strip_prefix("TMP ") {
            note("temp_file", tmp.to_string());
            if !dry_run {
                host.run(&format!("rm -f {}", quote(tmp)))?;
            }
            continue;
        }
        if !agents.iter().any(|a| a.id.as_str() == line) {
            let dir = host.agent_dir(line);
            note("agent_dir", dir.clone());
            if !dry_run {
                host.run_ok(
                    &format!("rm -rf {}", quote(&dir)),
                    "removing an orphaned agent dir",
                )?;
            }
        }
    }

    // Sessions with mngr's prefix that no agent owns.
    let owned: Vec<String> = agents
        .iter()
        .map(|a| format!("{prefix}{}", a.name))
        .collect();
    // Only sessions this host dir started: a session of another tool is none of gc's business.
    let mut sessions: Vec<&str> = probe
        .panes
        .iter()
        .filter(|p| p.owner == host.host_dir)
        .map(|p| p.session.as_str())
        .filter(|s| s.starts_with(prefix) && !owned.iter().any(|o| o == s))
        .collect();
    sessions.sort();
    sessions.dedup();
    for session in sessions {
        note("session", session.to_string());
        if !dry_run {
            host.run(&format!(
                "tmux kill-session -t {} 2>/dev/null; exit 0",
                quote(&format!("={session}"))
            ))?;
        }
    }

    // Copies of agent records the provider keeps for agents no longer on the host.
    if let Ok(persisted) = host.instance.persisted_agent_records(&host.record.id) {
        for record in persisted {
            let Some(id) = record.get("id").and_then(|v| v.as_str()) else {
                continue;
            };
            if !agents.iter().any(|a| a.id.as_str() == id) {
                note("provider_record", id.to_string());
                if !dry_run {
                    host.instance
                        .remove_persisted_agent_record(&host.record.id, id)
                        .map_err(|e| crate::error::MngrError::from_provider(&host.provider, e))?;
                }
            }
        }
    }

    // Work dirs mngr made that no agent uses any more.
    let mut data = host.read_host_data(prefix)?;
    let orphans: Vec<String> = data
        .generated_work_dirs
        .iter()
        .filter(|d| !agents.iter().any(|a| &a.work_dir == *d))
        .cloned()
        .collect();
    for dir in &orphans {
        note("work_dir", dir.clone());
        if !dry_run {
            remove_orphan_work_dir(host, dir)?;
        }
    }
    // Branches mngr made for worktrees that no agent uses any more, also when their work dir
    // is gone (a create or destroy that died between making or removing the two).
    let unused: Vec<GeneratedBranch> = data
        .generated_branches
        .iter()
        .filter(|b| !agents.iter().any(|a| claims_branch(a, b)))
        .cloned()
        .collect();
    let mut forgotten = Vec::new();
    for b in &unused {
        let fate = workdir::delete_branch_without_own_commits(host, &b.repo, &b.branch, dry_run)?;
        if fate == BranchFate::Deleted {
            note("branch", format!("{} in {}", b.branch, b.repo));
        }
        if fate != BranchFate::Kept {
            forgotten.push(b.clone());
        }
    }
    let changed = !(orphans.is_empty() && forgotten.is_empty());
    if !dry_run && changed {
        data.generated_work_dirs.retain(|d| !orphans.contains(d));
        data.generated_branches.retain(|b| !forgotten.contains(b));
        host.write_host_data(&mut data)?;
    }
    Ok(removed)
}

/// Whether `agent` is the one a generated branch was made for.
fn claims_branch(agent: &AgentRecord, branch: &GeneratedBranch) -> bool {
    agent.created_branch_name.as_deref() == Some(branch.branch.as_str())
        && agent.work_dir_info().source.as_deref() == Some(branch.repo.as_str())
}

/// Remove an orphaned work dir; for a worktree, also its `mngr/` branch when that branch
/// holds no commit found on any other branch (so nothing is lost).
fn remove_orphan_work_dir(host: &Host, dir: &str) -> Result<()> {
    let d = quote(dir);
    let info = host.run(&format!(
        "[ -f {d}/.git ] || exit 0; \
         git -C {d} rev-parse --path-format=absolute --git-common-dir 2>/dev/null; \
         git -C {d} symbolic-ref --short -q HEAD 2>/dev/null"
    ))?;
    let mut lines = info.stdout.lines();
    let common = lines.next().map(str::to_string);
    let branch = lines.next().map(str::to_string);
    workdir::remove_dir(host, dir, None)?;
    if let (Some(common), Some(branch)) = (common, branch)
        && branch.starts_with("mngr/")
    {
        workdir::delete_branch_without_own_commits(host, &common, &branch, false)?;
    }
    Ok(())
}
