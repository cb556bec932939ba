//! Garbage collection on a host: what a crash or an interrupted command left behind. Agent
//! dirs without a record, work dirs mngr made that no agent uses (and their `mngr/` branches),
//! tmux sessions this host dir started for agents that have no record, temp files of
//! interrupted atomic writes, and the provider's copies of records of agents that are gone;
//! hosts their provider reports abandoned (a create or destroy killed midway); and the records
//! of hosts their provider still lists as destroyed.
//!
//! gc removes only what it can prove is mngr's and orphaned, and never work the user may still
//! want: a work dir with uncommitted changes, a branch with commits on no other branch or
//! remote, the session or anything else of an agent whose record exists (readable or not),
//! whatever the prefix. Each thing it removes or keeps comes with the reason. A dry run makes
//! the same plan and carries none of it out.

use super::discovery::{Discovery, HostView};
use super::host::Host;
use super::record::{AgentRecord, HostData};
use super::workdir::{self, BranchFate};
use crate::error::{MngrError, Result};
use crate::instances::ProviderHandle;
use crate::shell::quote;
use mngr_plugin_api::host_data::GeneratedBranch;
use mngr_plugin_api::{ErrorKind, HostState, ProviderError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One thing gc removes or keeps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    /// `agent_dir`, `work_dir`, `branch`, `session`, `temp_file`, `provider_record` or `host`.
    pub kind: &'static str,
    pub what: String,
    /// Why gc removes it, or why it keeps it.
    pub reason: String,
    pub host: String,
    pub provider: String,
}

/// What gc did (or, in a dry run, would do) on one host.
#[derive(Debug, Default)]
pub struct Collected {
    pub removed: Vec<Item>,
    pub kept: Vec<Item>,
}

/// How one item is removed.
enum Removal {
    TempFile(String),
    AgentDir(String),
    Session(String),
    ProviderRecord(String),
    WorkDir(String),
    /// A `mngr/` branch of the repository `repo` (its root or git dir), deleted only if it
    /// still has no commit of its own.
    Branch {
        repo: String,
        branch: String,
    },
}

/// What gc decided for one host, before doing any of it.
struct Plan {
    remove: Vec<(Item, Removal)>,
    kept: Vec<Item>,
    host_data: HostData,
    /// Work dir -> the marker saying a create was making it and no agent claimed it yet.
    unclaimed: BTreeMap<String, String>,
}

impl Plan {
    fn item(host: &Host, kind: &'static str, what: &str, reason: String) -> Item {
        Item {
            kind,
            what: what.to_string(),
            reason,
            host: host.name().to_string(),
            provider: host.provider.clone(),
        }
    }

    fn remove(
        &mut self,
        host: &Host,
        kind: &'static str,
        what: &str,
        reason: String,
        how: Removal,
    ) {
        self.remove
            .push((Self::item(host, kind, what, reason), how));
    }

    fn keep(&mut self, host: &Host, kind: &'static str, what: &str, reason: String) {
        self.kept.push(Self::item(host, kind, what, reason));
    }
}

/// Hosts their provider reports abandoned (left by a killed create or destroy): removed whole
/// (through `destroy_host`) when no agent record of theirs is known, else kept.
pub fn abandoned_hosts(found: &Discovery) -> (Vec<(Item, &HostView)>, Vec<Item>) {
    let mut remove = Vec::new();
    let mut kept = Vec::new();
    for view in &found.hosts {
        let Some(why) = &view.record.abandoned else {
            continue;
        };
        let here = |h: &HostView| h.provider == view.provider && h.record.id == view.record.id;
        let agents = found.agents.iter().filter(|a| here(&a.host)).count()
            + found.unreadable.iter().filter(|u| here(&u.host)).count();
        let item = |reason: String| Item {
            kind: "host",
            what: view.record.id.to_string(),
            reason,
            host: view.name().to_string(),
            provider: view.provider.clone(),
        };
        let unread = found.errors.iter().any(|e| e.provider == view.provider);
        if unread {
            kept.push(item(format!(
                "its provider reports it abandoned ({why}), but not all of that provider's records could be read"
            )));
        } else if agents == 0 {
            remove.push((item(why.clone()), view.as_ref()));
        } else {
            kept.push(item(format!(
                "its provider reports it abandoned ({why}), but it holds {agents} agent record(s); destroy them with mngr destroy --force"
            )));
        }
    }
    (remove, kept)
}

/// What one gc run did (or, in a dry run, would do) on every selected provider.
#[derive(Debug, Default)]
pub struct Report {
    pub removed: Vec<Item>,
    pub kept: Vec<Item>,
    /// `provider 'NAME': ...` or `host 'NAME': ...`, one per provider or host gc could not
    /// finish, with what the provider said beyond its message.
    pub errors: Vec<MngrError>,
}

/// Collect garbage on `providers`, whose hosts and agents `found` holds: hosts their provider
/// reports abandoned, hosts it lists as destroyed (forgotten through `delete_host`), then what
/// each running host holds. With `dry_run` only say what would be removed and kept.
pub fn run(
    providers: &[&ProviderHandle],
    found: &Discovery,
    prefix: &str,
    dry_run: bool,
) -> Report {
    let mut report = Report {
        errors: found
            .errors
            .iter()
            .map(|e| e.to_error(format!("provider '{}': {}", e.provider, e.message)))
            .collect(),
        ..Report::default()
    };
    let (abandoned, kept_hosts) = abandoned_hosts(found);
    report.kept.extend(kept_hosts);
    for (item, view) in abandoned {
        let destroyed = if dry_run {
            Ok(())
        } else {
            destroy_abandoned(providers, view)
        };
        match destroyed {
            Ok(()) => report.removed.push(item),
            Err(e) => report.errors.push(about_host(view.name(), e)),
        }
    }
    // A provider that could not be read once is not asked again: its error is reported.
    for provider in providers
        .iter()
        .filter(|p| !found.errors.iter().any(|e| e.provider == p.name))
    {
        forget_destroyed(provider, dry_run, &mut report);
    }
    for host in found.hosts.iter().filter_map(|h| h.online.as_ref()) {
        match collect(host, prefix, dry_run) {
            Ok(r) => {
                report.removed.extend(r.removed);
                report.kept.extend(r.kept);
            }
            Err(e) => report.errors.push(about_host(host.name(), e)),
        }
    }
    report
}

/// `e`, said of host `name` (`host 'NAME': ...`), keeping what else it carries.
fn about_host(name: &str, e: MngrError) -> MngrError {
    MngrError {
        message: format!("host '{name}': {}", e.message),
        ..e
    }
}

/// Destroy a host its provider reports abandoned; one already gone counts as destroyed.
fn destroy_abandoned(providers: &[&ProviderHandle], view: &HostView) -> Result<()> {
    let provider = providers
        .iter()
        .find(|p| p.name == view.provider)
        .ok_or_else(|| {
            MngrError::failure(format!("provider '{}' is not selected", view.provider))
        })?;
    match provider.instance.destroy_host(&view.record.id) {
        // Another mngr finished it meanwhile.
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        other => other.map_err(|e| MngrError::from_provider(&provider.name, e)),
    }
}

/// Hosts `provider` still lists as destroyed: their records go through `delete_host`.
fn forget_destroyed(provider: &ProviderHandle, dry_run: bool, report: &mut Report) {
    let error = |e: ProviderError| MngrError::from_provider(&provider.name, e);
    let hosts = match provider.instance.discover_hosts(true) {
        Ok(hosts) => hosts,
        Err(e) => return report.errors.push(error(e)),
    };
    for host in hosts.iter().filter(|h| h.state == HostState::Destroyed) {
        let forgotten = if dry_run {
            Ok(())
        } else {
            provider.instance.delete_host(&host.id)
        };
        match forgotten {
            Ok(()) => report.removed.push(Item {
                kind: "host",
                what: host.id.to_string(),
                reason: "its provider lists it as destroyed; gc forgets its records".to_string(),
                host: host.name.to_string(),
                provider: provider.name.clone(),
            }),
            Err(e) => report.errors.push(error(e)),
        }
    }
}

/// Collect garbage on one host; with `dry_run` only say what would be removed and kept.
pub fn collect(host: &Host, prefix: &str, dry_run: bool) -> Result<Collected> {
    let _lock = host.lock()?;
    let plan = plan(host, prefix)?;
    let mut kept = plan.kept.clone();
    let mut removed: Vec<Item> = plan.remove.iter().map(|(item, _)| item.clone()).collect();
    if !dry_run {
        for item in carry_out(host, plan)? {
            removed.retain(|r| !(r.kind == item.kind && r.what == item.what));
            kept.push(item);
        }
    }
    Ok(Collected { removed, kept })
}

fn plan(host: &Host, prefix: &str) -> Result<Plan> {
    // The host record first: when it cannot be read, gc decides nothing.
    let host_data = host.read_host_data(prefix)?;
    let probe = host.probe()?;
    let mut plan = Plan {
        remove: Vec::new(),
        kept: Vec::new(),
        host_data,
        unclaimed: BTreeMap::new(),
    };

    // Every agent dir that holds a record counts as an agent, whether its record can be read
    // or not: the probe's records, and each dir the listing finds a data.json in.
    let h = quote(&host.host_dir);
    let listing = host.run(&format!(
        "cd {h}/agents 2>/dev/null && for d in */; do [ -d \"$d\" ] || continue; d=\"${{d%/}}\"; \
         if [ -e \"$d/data.json\" ] || [ -L \"$d/data.json\" ]; then echo \"REC $d\"; else echo \"DIR $d\"; fi; done; \
         find {h}/agents {h} -maxdepth 2 -name '.*.tmp.*' -type f 2>/dev/null | sed 's/^/TMP /'; \
         for f in {h}/{unclaimed}/*; do [ -f \"$f\" ] && printf 'UNCLAIMED %s %s\\n' \"${{f##*/}}\" \"$(cat \"$f\")\"; done; exit 0",
        unclaimed = workdir::UNCLAIMED_DIR
    ))?;
    let mut recorded: BTreeSet<String> = probe.records.iter().map(|(d, _)| d.clone()).collect();
    let mut unreadable: Vec<(String, String)> = probe
        .records
        .iter()
        .filter_map(|(d, r)| r.as_ref().err().map(|e| (d.clone(), e.reason.clone())))
        .collect();
    let mut temp_files = Vec::new();
    let mut markers = Vec::new();
    for line in listing.stdout.lines() {
        if let Some(tmp) = line.strip_prefix("TMP ") {
            temp_files.push(tmp.to_string());
        } else if let Some((id, dir)) = line
            .strip_prefix("UNCLAIMED ")
            .and_then(|l| l.split_once(' '))
        {
            markers.push((id.to_string(), dir.to_string()));
        } else if let Some(dir) = line.strip_prefix("REC ") {
            // Made since the probe, or not readable by it.
            if recorded.insert(dir.to_string()) {
                unreadable.push((dir.to_string(), "it could not be read".to_string()));
            }
        } else if let Some(dir) = line.strip_prefix("DIR ") {
            let path = host.agent_dir(dir);
            plan.remove(
                host,
                "agent_dir",
                &path,
                "it holds no agent record (left by an interrupted create or destroy)".to_string(),
                Removal::AgentDir(path.clone()),
            );
        }
    }
    for (dir, reason) in &unreadable {
        plan.keep(
            host,
            "agent_dir",
            &host.agent_dir(dir),
            format!("its agent record cannot be read ({reason}); gc leaves this agent alone"),
        );
    }
    for tmp in temp_files {
        let beside_unreadable = unreadable
            .iter()
            .any(|(dir, _)| tmp.starts_with(&format!("{}/", host.agent_dir(dir))));
        if beside_unreadable {
            plan.keep(
                host,
                "temp_file",
                &tmp,
                "it is beside an agent record that cannot be read, and may help repair it"
                    .to_string(),
            );
        } else {
            plan.remove(
                host,
                "temp_file",
                &tmp,
                "temp file of an interrupted write".to_string(),
                Removal::TempFile(tmp.clone()),
            );
        }
    }

    // Markers of work dirs no agent claims (a create or destroy died; see
    // `workdir::unclaimed_marker`). One whose agent has a record (a create died just after its
    // commit) or whose work dir mngr no longer knows is only a leftover itself.
    for (id, dir) in markers {
        let marker = workdir::unclaimed_marker(&host.host_dir, &id);
        if recorded.contains(&id) || !plan.host_data.generated_work_dirs.contains(&dir) {
            if unreadable.is_empty() {
                plan.remove(
                    host,
                    "temp_file",
                    &marker,
                    "the marker of a create or destroy that ended".to_string(),
                    Removal::TempFile(marker.clone()),
                );
            }
        } else {
            plan.unclaimed.insert(dir, marker);
        }
    }

    // Sessions this host dir started, told apart by the agent id they carry (not by the
    // prefix, which another run may set differently).
    let readable: Vec<_> = probe
        .records
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .collect();
    let mut seen = BTreeSet::new();
    for pane in probe.panes.iter().filter(|p| p.owner == host.host_dir) {
        if !seen.insert(pane.session.clone()) {
            continue;
        }
        if pane.agent_id.is_empty() {
            let by_name = readable
                .iter()
                .any(|r| format!("{prefix}{}", r.name) == pane.session);
            if !by_name {
                plan.keep(
                    host,
                    "session",
                    &pane.session,
                    "it carries no agent id (an older mngr started it), so gc cannot tell \
                     whose it is; end it with tmux kill-session if no agent uses it"
                        .to_string(),
                );
            }
        } else if !recorded.contains(&pane.agent_id) {
            plan.remove(
                host,
                "session",
                &pane.session,
                format!("its agent {} has no record", pane.agent_id),
                Removal::Session(pane.session.clone()),
            );
        }
    }

    // Copies of agent records the provider keeps for agents no longer on the host.
    if let Ok(persisted) = host.instance.persisted_agent_records(&host.record.id) {
        for record in persisted {
            let Some(id) = record.id() else {
                continue;
            };
            if !recorded.contains(id) {
                plan.remove(
                    host,
                    "provider_record",
                    id,
                    "its agent has no record on the host".to_string(),
                    Removal::ProviderRecord(id.to_string()),
                );
            }
        }
    }

    // Work dirs mngr made that no agent uses any more.
    let orphans: Vec<String> = plan
        .host_data
        .generated_work_dirs
        .iter()
        .filter(|d| !readable.iter().any(|a| &a.work_dir == *d))
        .cloned()
        .collect();
    for dir in orphans {
        if !unreadable.is_empty() {
            let ids: Vec<&str> = unreadable.iter().map(|(d, _)| d.as_str()).collect();
            plan.keep(
                host,
                "work_dir",
                &dir,
                format!(
                    "the record of agent {} cannot be read, and that agent may use it",
                    ids.join(", ")
                ),
            );
            continue;
        }
        plan_work_dir(host, &dir, &mut plan)?;
    }
    // Branches mngr made for worktrees that no agent uses any more, also when their work dir
    // is gone (a create or destroy that died between making or removing the two).
    let unused: Vec<GeneratedBranch> = plan
        .host_data
        .generated_branches
        .iter()
        .filter(|b| !readable.iter().any(|a| claims_branch(a, b)))
        .cloned()
        .collect();
    for b in unused {
        let what = b.branch.as_str();
        let planned = plan
            .remove
            .iter()
            .map(|(item, _)| item)
            .chain(&plan.kept)
            .any(|item| item.kind == "branch" && item.what == b.branch);
        if planned {
            continue;
        }
        if !unreadable.is_empty() {
            plan.keep(
                host,
                "branch",
                what,
                format!(
                    "an agent record on this host cannot be read, and that agent may use it (in {})",
                    b.repo
                ),
            );
            continue;
        }
        let reason = match workdir::delete_branch_without_own_commits(
            host, &b.repo, &b.branch, true,
        )? {
            BranchFate::Kept => {
                plan.keep(
                    host,
                    "branch",
                    what,
                    format!(
                        "it holds commits on no other branch or remote, or a work tree mngr did not make has it checked out (in {})",
                        b.repo
                    ),
                );
                continue;
            }
            BranchFate::Missing => "it is gone already (gc forgets it)",
            BranchFate::Deleted => {
                "mngr made it for an agent that is gone, and each of its commits is on another branch or a remote"
            }
        };
        let reason = format!("{reason} (in {})", b.repo);
        plan.remove(
            host,
            "branch",
            what,
            reason,
            Removal::Branch {
                repo: b.repo.clone(),
                branch: b.branch.clone(),
            },
        );
    }
    Ok(plan)
}

/// Whether `agent` is the one a generated branch was made for.
fn claims_branch(agent: &AgentRecord, branch: &GeneratedBranch) -> bool {
    agent.created_branch_name.as_deref() == Some(branch.branch.as_str())
        && agent.work_dir_info().source.as_deref() == Some(branch.repo.as_str())
}

/// What gc needs to know about a work dir no agent uses.
#[derive(Debug, Default)]
struct WorkDirFacts {
    exists: bool,
    /// The dir has a `.git` (file or dir), whether git can read it or not.
    dotgit: bool,
    /// The dir is the top of a git work tree (a worktree or a copied repository).
    git: bool,
    /// A worktree (its `.git` is a file) rather than a repository of its own.
    worktree: bool,
    /// The repository's git dir (shared by all its worktrees).
    git_dir: String,
    /// The checked-out branch; `None` when HEAD is detached.
    branch: Option<String>,
    /// Uncommitted changes (`None`: git status failed).
    changes: Option<usize>,
    /// Commits on HEAD that are on no other branch and no remote (`None`: unknown).
    unique: Option<u64>,
}

fn work_dir_facts(host: &Host, dir: &str) -> Result<WorkDirFacts> {
    let d = quote(dir);
    let out = host.run(&format!(
        "d={d}\n\
         [ -e \"$d\" ] || exit 0\n\
         echo exists\n\
         [ -e \"$d/.git\" ] && echo dotgit\n\
         top=$(git -C \"$d\" rev-parse --show-toplevel 2>/dev/null)\n\
         [ -n \"$top\" ] && [ \"$top\" = \"$(cd \"$d\" && pwd -P)\" ] || exit 0\n\
         echo git\n\
         [ -f \"$d/.git\" ] && echo worktree\n\
         echo \"git_dir=$(git -C \"$d\" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)\"\n\
         b=$(git -C \"$d\" symbolic-ref --short -q HEAD)\n\
         echo \"branch=$b\"\n\
         s=$(git -C \"$d\" status --porcelain 2>/dev/null) && echo \"changes=$(printf '%s' \"$s\" | grep -c .)\"\n\
         if [ -n \"$b\" ]; then n=$(git -C \"$d\" rev-list --count HEAD --not --exclude=\"$b\" --branches --remotes 2>/dev/null)\n\
         else n=$(git -C \"$d\" rev-list --count HEAD --not --branches --remotes 2>/dev/null); fi && echo \"unique=$n\"\n\
         exit 0\n"
    ))?;
    let mut facts = WorkDirFacts::default();
    for line in out.stdout.lines() {
        match line.split_once('=') {
            Some(("git_dir", v)) => facts.git_dir = v.to_string(),
            Some(("branch", v)) => facts.branch = (!v.is_empty()).then(|| v.to_string()),
            Some(("changes", v)) => facts.changes = v.trim().parse().ok(),
            Some(("unique", v)) => facts.unique = v.trim().parse().ok(),
            _ => match line {
                "exists" => facts.exists = true,
                "git" => facts.git = true,
                "worktree" => facts.worktree = true,
                "dotgit" => facts.dotgit = true,
                _ => {}
            },
        }
    }
    Ok(facts)
}

/// Decide about one work dir no agent uses: removed only when that loses no work.
fn plan_work_dir(host: &Host, dir: &str, plan: &mut Plan) -> Result<()> {
    let facts = work_dir_facts(host, dir)?;
    // No agent ever claimed it: a create died while making it (see `workdir::unclaimed_marker`).
    let unclaimed = plan.unclaimed.contains_key(dir);
    let remove = |plan: &mut Plan, reason: &str| {
        plan.remove(
            host,
            "work_dir",
            dir,
            format!("no agent uses it; {reason}"),
            Removal::WorkDir(dir.to_string()),
        );
    };
    if !facts.exists {
        remove(plan, "it is gone already (gc forgets it)");
        return Ok(());
    }
    if unclaimed {
        remove(
            plan,
            "no agent claims it: a create making it or a destroy removing it was interrupted \
             (it holds only what the create copied from the source or the destroy gave up)",
        );
        plan_branch_of(host, &facts, plan);
        return Ok(());
    }
    if facts.dotgit && !facts.git {
        plan.keep(
            host,
            "work_dir",
            dir,
            "it has a .git that git cannot read (its repository moved?), so gc cannot tell \
             whether it holds uncommitted changes"
                .to_string(),
        );
        return Ok(());
    }
    if !facts.git {
        remove(plan, "it is not a git work tree, so it holds no commits");
        return Ok(());
    }
    let head = match &facts.branch {
        Some(b) => format!("its branch {b}"),
        None => "its detached HEAD".to_string(),
    };
    let unique = match (facts.changes, facts.unique) {
        (Some(0), Some(unique)) => unique,
        (Some(n), _) if n > 0 => {
            plan.keep(
                host,
                "work_dir",
                dir,
                format!("it has {n} uncommitted change(s); commit them, or remove it yourself"),
            );
            return Ok(());
        }
        _ => {
            plan.keep(
                host,
                "work_dir",
                dir,
                "git cannot tell whether it holds uncommitted changes or commits of its own"
                    .to_string(),
            );
            return Ok(());
        }
    };
    // A worktree's commits live in the repository; a copy's only in the copy, and so do those
    // of a detached HEAD.
    let commits_live_here = !facts.worktree || facts.branch.is_none();
    if commits_live_here && unique > 0 {
        plan.keep(
            host,
            "work_dir",
            dir,
            format!("{head} has {unique} commit(s) on no other branch or remote"),
        );
        return Ok(());
    }
    remove(plan, "it has no uncommitted changes or commits of its own");
    plan_branch_of(host, &facts, plan);
    Ok(())
}

/// Decide about the `mngr/` branch checked out in a work dir gc removes.
fn plan_branch_of(host: &Host, facts: &WorkDirFacts, plan: &mut Plan) {
    let (true, Some(branch)) = (facts.worktree, &facts.branch) else {
        return;
    };
    if !branch.starts_with("mngr/") {
        return;
    }
    match facts.unique {
        Some(0) => plan.remove(
            host,
            "branch",
            branch,
            format!(
                "mngr made it for the work dir, and each of its commits is on another branch or a remote (in {})",
                facts.git_dir
            ),
            Removal::Branch {
                repo: facts.git_dir.clone(),
                branch: branch.clone(),
            },
        ),
        Some(unique) => plan.keep(
            host,
            "branch",
            branch,
            format!(
                "it holds {unique} commit(s) on no other branch or remote (in {})",
                facts.git_dir
            ),
        ),
        None => plan.keep(
            host,
            "branch",
            branch,
            format!(
                "git cannot tell whether it holds commits of its own (in {})",
                facts.git_dir
            ),
        ),
    }
}

/// Carry out a plan, in its order (a worktree goes before its branch). Returns the items that
/// turned out to need keeping after all (a branch that got a commit of its own since the plan).
fn carry_out(host: &Host, mut plan: Plan) -> Result<Vec<Item>> {
    let mut forgotten_dirs = Vec::new();
    let mut forgotten_branches: Vec<(String, String)> = Vec::new();
    let mut kept_after_all = Vec::new();
    for (item, how) in &plan.remove {
        match how {
            Removal::TempFile(path) => {
                host.run(&format!("rm -f {}", quote(path)))?;
            }
            Removal::AgentDir(path) => {
                host.run_ok(
                    &format!("rm -rf {}", quote(path)),
                    "removing an orphaned agent dir",
                )?;
            }
            Removal::Session(session) => {
                host.run(&format!(
                    "tmux kill-session -t {} 2>/dev/null; exit 0",
                    quote(&format!("={session}"))
                ))?;
            }
            Removal::ProviderRecord(id) => host
                .instance
                .remove_persisted_agent_record(&host.record.id, id)
                .map_err(|e| crate::error::MngrError::from_provider(&host.provider, e))?,
            Removal::WorkDir(dir) => {
                workdir::remove_dir(host, dir, None)?;
                if let Some(marker) = plan.unclaimed.get(dir) {
                    host.run(&format!("rm -f {}", quote(marker)))?;
                }
                forgotten_dirs.push(dir.clone());
            }
            Removal::Branch { repo, branch } => {
                // Checked again as it is deleted: a commit made since the plan keeps it.
                match workdir::delete_branch_without_own_commits(host, repo, branch, false)? {
                    BranchFate::Kept => kept_after_all.push(Item {
                        reason: "it got a commit of its own since gc looked".to_string(),
                        ..item.clone()
                    }),
                    _ => forgotten_branches.push((repo.clone(), branch.clone())),
                }
            }
        }
    }
    let data = &mut plan.host_data;
    let branches_before = data.generated_branches.len();
    data.generated_work_dirs
        .retain(|d| !forgotten_dirs.contains(d));
    // A work dir's branch is named by the repository's git dir, a recorded one by its root.
    data.generated_branches.retain(|b| {
        !forgotten_branches
            .iter()
            .any(|(repo, branch)| *branch == b.branch && repo.starts_with(&b.repo))
    });
    if !forgotten_dirs.is_empty() || data.generated_branches.len() != branches_before {
        host.write_host_data(data)?;
    }
    Ok(kept_after_all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::fakes::{self, MemoryProvider};
    use mngr_plugin_api::ProviderInstance;
    use std::path::Path;
    use std::sync::Arc;

    fn provider(dir: &Path) -> (Arc<MemoryProvider>, ProviderHandle) {
        let caps = fakes::capabilities(|c| {
            c.create_hosts = true;
            c.destroy_hosts = true;
        });
        let provider = MemoryProvider::new("p", caps, dir);
        let handle = fakes::handle("p", &provider);
        (provider, handle)
    }

    fn gc(handle: &ProviderHandle, dry_run: bool) -> Report {
        let found = fakes::discover(handle);
        run(&[handle], &found, "mngr-", dry_run)
    }

    fn kinds(items: &[Item]) -> Vec<(&str, &str)> {
        items.iter().map(|i| (i.kind, i.what.as_str())).collect()
    }

    #[test]
    fn leftovers_go_and_an_unreadable_agent_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (provider, handle) = provider(dir.path());
        let host = provider.add_host("box", HostState::Running);
        let agents = Path::new(&host.host_dir).join("agents");
        std::fs::create_dir_all(agents.join("agent-empty")).unwrap();
        std::fs::create_dir_all(agents.join("agent-cut")).unwrap();
        std::fs::write(agents.join("agent-cut/data.json"), "{\"id\": \"agent-c").unwrap();
        std::fs::write(agents.join("agent-cut/.data.json.tmp.1"), "{").unwrap();
        let empty = agents.join("agent-empty").to_string_lossy().into_owned();
        let cut = agents.join("agent-cut").to_string_lossy().into_owned();

        let planned = gc(&handle, true);
        assert_eq!(kinds(&planned.removed), [("agent_dir", empty.as_str())]);
        let kept = kinds(&planned.kept);
        assert!(kept.contains(&("agent_dir", cut.as_str())), "{kept:?}");
        assert!(
            kept.iter().any(|(kind, _)| *kind == "temp_file"),
            "a temp file beside an unreadable record may help repair it: {kept:?}"
        );
        assert!(Path::new(&empty).exists(), "a dry run removes nothing");

        let done = gc(&handle, false);
        assert_eq!(kinds(&done.removed), kinds(&planned.removed));
        assert!(!Path::new(&empty).exists());
        assert!(Path::new(&cut).join("data.json").exists());
        assert!(done.errors.is_empty(), "{:?}", done.errors);
    }

    #[test]
    fn the_provider_copy_of_a_gone_agent_goes_and_a_live_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let (provider, handle) = provider(dir.path());
        let host = provider.add_host("box", HostState::Running);
        let opened = fakes::open(&handle, host.clone());
        let work = Path::new(&host.host_dir).join("work");
        let live = fakes::agent_record("live", &work.to_string_lossy(), "in_place");
        opened.write_agent_record(&live).unwrap();
        let gone = fakes::agent_record("gone", &work.to_string_lossy(), "in_place");
        opened.persist_agent_record(&gone);

        let done = gc(&handle, false);
        assert_eq!(
            kinds(&done.removed),
            [("provider_record", gone.id.as_str())]
        );
        let copies = provider.persisted_agent_records(&host.id).unwrap();
        let ids: Vec<&str> = copies.iter().filter_map(|c| c.id()).collect();
        assert_eq!(ids, [live.id.as_str()]);
    }

    #[test]
    fn an_abandoned_host_goes_unless_it_holds_agent_records() {
        let dir = tempfile::tempdir().unwrap();
        let (provider, handle) = provider(dir.path());
        let empty = provider.add_host("half", HostState::Stopped);
        let busy = provider.add_host("busy", HostState::Stopped);
        let work = dir.path().join("work").to_string_lossy().into_owned();
        let agent = fakes::agent_record("fixer", &work, "in_place");
        provider
            .persist_agent_record(&busy.id, agent.to_persisted())
            .unwrap();
        for id in [&empty.id, &busy.id] {
            provider.update(id, |h| h.abandoned = Some("a create was killed".into()));
        }

        let planned = gc(&handle, true);
        assert_eq!(kinds(&planned.removed), [("host", empty.id.as_str())]);
        assert_eq!(kinds(&planned.kept), [("host", busy.id.as_str())]);
        assert!(planned.kept[0].reason.contains("1 agent record(s)"));
        assert!(provider.calls().is_empty(), "{:?}", provider.calls());

        gc(&handle, false);
        assert_eq!(provider.calls(), ["destroy half"]);
        assert_eq!(provider.host_names(), ["busy"]);
    }

    #[test]
    fn a_host_listed_as_destroyed_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let (provider, handle) = provider(dir.path());
        let gone = provider.add_host("gone", HostState::Running);
        provider.update(&gone.id, |h| h.state = HostState::Destroyed);

        let planned = gc(&handle, true);
        assert_eq!(kinds(&planned.removed), [("host", gone.id.as_str())]);
        assert!(planned.removed[0].reason.contains("destroyed"));
        assert!(provider.calls().is_empty(), "a dry run forgets nothing");

        let done = gc(&handle, false);
        assert_eq!(kinds(&done.removed), kinds(&planned.removed));
        assert_eq!(provider.calls(), ["delete gone"]);
        assert!(provider.discover_hosts(true).unwrap().is_empty());
        assert!(gc(&handle, false).removed.is_empty(), "forgotten once");
    }
}
