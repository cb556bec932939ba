//! `mngr rsync`: files between this machine and an agent's host with the system `rsync`, its
//! remote shell the pinned system `ssh` of the host's transport (the host's client key, a
//! known_hosts holding only the pinned key, strict checking), so a changed host key is refused
//! just as mngr's own connection refuses it. On this machine both sides are plain paths.

use super::host::Host;
use crate::error::{MngrError, Result};
use crate::transport::Transport;
use std::process::{Command, Stdio};

/// One side of a copy: a path here, or a path on the agent's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    Here(String),
    OnHost(String),
}

/// What to copy and how.
#[derive(Debug, Clone)]
pub struct RsyncPlan {
    pub source: Side,
    pub dest: Side,
    /// rsync `--include` patterns; they come before the excludes, so an include wins.
    pub includes: Vec<String>,
    pub excludes: Vec<String>,
    pub dry_run: bool,
    /// Remove files in the destination that the source does not have (excluded ones stay).
    pub delete: bool,
}

/// One thing the copy changed (or, in a dry run, would change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `created`, `updated`, `deleted` or `attributes` (mode or time only).
    pub kind: &'static str,
    pub path: String,
}

/// rsync's exit code for "some source files vanished before they could be transferred": a
/// work dir in use changes under the copy, which is not a failure.
const VANISHED: i32 = 24;

/// rsync's exit code for a partial transfer, which is also what it reports when the only
/// trouble was files vanishing or being truncated while it read them.
const PARTIAL: i32 = 23;

/// Whether every complaint rsync made is a file that changed under it: one that vanished
/// before it was sent, or one truncated while it was read (rsync then keeps the old copy
/// on the receiving side, and the next copy brings the new one).
fn only_changed_during_copy(stderr: &str) -> bool {
    let mut complaints = stderr
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("rsync error:") && !l.starts_with("rsync warning:")
        })
        .peekable();
    complaints.peek().is_some()
        && complaints.all(|l| {
            l.starts_with("file has vanished:")
                || l.starts_with("rsync: [sender] read errors mapping")
        })
}

/// The path of `path` on an agent whose work dir is `work_dir`: relative paths (and the empty
/// path, which means the whole work dir's contents) are joined to it, absolute ones kept.
pub fn agent_path(work_dir: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else if path.is_empty() {
        format!("{}/", work_dir.trim_end_matches('/'))
    } else {
        format!("{}/{path}", work_dir.trim_end_matches('/'))
    }
}

/// Copy as `plan` says on `host`.
pub fn rsync(host: &Host, plan: &RsyncPlan) -> Result<Vec<Change>> {
    let label = format!("host '{}' of provider '{}'", host.name(), host.provider);
    rsync_over(host.transport.as_ref(), plan, &label)
}

/// Copy as `plan` says, reaching the host side through `transport` (`label` names the host
/// in errors).
pub fn rsync_over(transport: &dyn Transport, plan: &RsyncPlan, label: &str) -> Result<Vec<Change>> {
    let ssh = transport
        .system_ssh()
        .map_err(|e| MngrError::failure(format!("{label}: {e}")))?;
    let mut command = Command::new("rsync");
    // -s: paths reach the remote rsync as they are (spaces, quotes), not through its shell.
    command.args(["-a", "-s", "--out-format=%i %n"]);
    // Times compared to the nanosecond: a file an agent rewrote within the same second at
    // the same size is still seen as changed, so a second copy brings the final state.
    command.arg("--modify-window=-1");
    if plan.dry_run {
        command.arg("--dry-run");
    }
    if plan.delete {
        command.arg("--delete");
    }
    for pattern in &plan.includes {
        command.arg(format!("--include={pattern}"));
    }
    for pattern in &plan.excludes {
        command.arg(format!("--exclude={pattern}"));
    }
    // Commits move with `mngr git`; a copied .git would clobber the other side's history.
    command.arg("--exclude=.git");
    let arg = |side: &Side| match (side, &ssh) {
        (Side::Here(path), _) | (Side::OnHost(path), None) => path.clone(),
        (Side::OnHost(path), Some(ssh)) => ssh.rsync_remote(path),
    };
    if let Some(ssh) = &ssh {
        command.arg("-e").arg(ssh.rsync_shell());
    }
    command
        .arg("--")
        .arg(arg(&plan.source))
        .arg(arg(&plan.dest));
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                MngrError::missing_tool("rsync is not installed on this machine")
                    .with_hint("install it (for example: apt-get install rsync)")
            }
            _ => MngrError::failure(format!("running rsync: {e}")),
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(VANISHED) | Some(PARTIAL) if only_changed_during_copy(&stderr) => {
            crate::warnings::warn(
                "some files changed or vanished while they were copied and were left as they \
                 were (the work dir changed during the copy; copy again to bring them)",
            )
        }
        code => return Err(rsync_error(code, &stderr, label)),
    }
    Ok(stdout.lines().filter_map(parse_change).collect())
}

/// What a failed rsync said, as one line: a refused host key and a missing remote rsync
/// are named as such.
fn rsync_error(code: Option<i32>, stderr: &str, label: &str) -> MngrError {
    let detail = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("rsync error:"))
        .or_else(|| stderr.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("no message")
        .to_string();
    if stderr.contains("Host key verification failed")
        || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
    {
        return MngrError::unavailable(format!(
            "cannot reach {label}: its SSH host key does not match the key pinned for it; refusing to connect"
        ))
        .with_hint("the host is not the one mngr made; if it was recreated, run mngr list to see it");
    }
    if stderr.contains("rsync: command not found") || stderr.contains("rsync: not found") {
        return MngrError::missing_tool(format!("rsync is not installed on {label}"))
            .with_hint("install rsync in the host's image");
    }
    if code == Some(255) {
        return MngrError::unavailable(format!("cannot reach {label}: {detail}"));
    }
    MngrError::failure(format!(
        "rsync failed (exit code {}): {detail}",
        code.map_or_else(|| "none".to_string(), |c| c.to_string())
    ))
}

/// One line of rsync's `%i %n` output as a change; directory time stamps are left out.
fn parse_change(line: &str) -> Option<Change> {
    if let Some(path) = line.strip_prefix("*deleting") {
        return Some(Change {
            kind: "deleted",
            path: path.trim_start().to_string(),
        });
    }
    let (item, path) = line.split_once(' ')?;
    let flags = item.as_bytes();
    if flags.len() < 3 || path == "./" {
        return None;
    }
    let kind = if item[2..].bytes().all(|b| b == b'+') {
        "created"
    } else if flags[0] == b'.' {
        if flags[1] == b'd' {
            return None;
        }
        "attributes"
    } else {
        "updated"
    };
    Some(Change {
        kind,
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_paths_are_relative_to_the_work_dir_unless_absolute() {
        assert_eq!(agent_path("/w/agent", ""), "/w/agent/");
        assert_eq!(agent_path("/w/agent/", "src/"), "/w/agent/src/");
        assert_eq!(agent_path("/w/agent", "/etc/hosts"), "/etc/hosts");
    }

    #[test]
    fn only_files_changed_during_the_copy_are_not_a_failure() {
        let vanished = "file has vanished: \"/d/a\"\nrsync warning: some files vanished before they could be transferred (code 24)\n";
        assert!(only_changed_during_copy(vanished));
        assert!(only_changed_during_copy(
            "file has vanished: \"/d/a\"\nrsync error: some files/attrs were not transferred (code 23)\n"
        ));
        assert!(!only_changed_during_copy(
            "rsync: [sender] send_files failed to open \"/d/b\": Permission denied (13)\nfile has vanished: \"/d/a\"\n"
        ));
        // What rsync says of a file truncated while it read it (seen with a file rewritten
        // during the copy).
        assert!(only_changed_during_copy(
            "rsync: [sender] read errors mapping \"/d/c\": No data available (61)\nfile has vanished: \"/d/a\"\nrsync error: some files/attrs were not transferred (code 23)\n"
        ));
        assert!(!only_changed_during_copy(""));
    }

    #[test]
    fn itemized_lines_become_changes() {
        let kinds: Vec<_> = [
            ">f+++++++++ new.bin",
            ">f.st...... changed.txt",
            "cL+++++++++ link",
            ".d..t...... sub/",
            ".f...p..... mode-only",
            "*deleting   gone.txt",
            "cd+++++++++ ./",
        ]
        .into_iter()
        .filter_map(parse_change)
        .map(|c| (c.kind, c.path))
        .collect();
        assert_eq!(
            kinds,
            [
                ("created", "new.bin".to_string()),
                ("updated", "changed.txt".to_string()),
                ("created", "link".to_string()),
                ("attributes", "mode-only".to_string()),
                ("deleted", "gone.txt".to_string()),
            ]
        );
    }
}
