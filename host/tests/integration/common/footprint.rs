//! Everything a create or destroy on the local host could leave behind, one line each: to
//! compare a world before and after an interrupted command.

use super::agents::AgentWorld;
use std::collections::BTreeSet;
use std::path::Path;

/// Branches, status, HEAD, worktree entries and lock files of the user's repository `repo`;
/// agent dirs, work dirs, copies, bundles, temp files, provider hosts and the host record's
/// generated lists under the mngr root; tmux sessions.
pub fn footprint(w: &AgentWorld, repo: &Path) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let git = |args: &[&str]| w.git(repo, args);
    for line in git(&["for-each-ref", "--format=%(refname)", "refs/heads"]).lines() {
        seen.insert(format!("branch {line}"));
    }
    for line in git(&["status", "--porcelain"]).lines() {
        seen.insert(format!("repo status {line}"));
    }
    seen.insert(format!("repo HEAD {}", git(&["rev-parse", "HEAD"]).trim()));
    for entry in list(&repo.join(".git/worktrees")) {
        seen.insert(format!("worktree entry {entry}"));
    }
    walk(&repo.join(".git"), &mut |path| {
        if path.extension().is_some_and(|e| e == "lock") {
            seen.insert(format!("lock file {}", path.display()));
        }
    });
    let root = w.root();
    for dir in ["agents", "worktrees", "copies", "projects"] {
        for entry in list(&root.join(dir)) {
            seen.insert(format!("{dir}/{entry}"));
        }
    }
    for entry in list(&root) {
        if entry.contains(".tmp") || entry.contains("mngr-tmp") {
            seen.insert(format!("temp file {entry}"));
        }
    }
    for provider in list(&root.join("providers")) {
        let hosts = root.join("providers").join(&provider).join("hosts");
        for host in list(&hosts) {
            // A dot dir is the provider's index (the `dirs` plugin claims names in `.names`).
            if host.starts_with('.') {
                for claim in list(&hosts.join(&host)) {
                    seen.insert(format!("provider host {provider}/{host}/{claim}"));
                }
            } else {
                seen.insert(format!("provider host {provider}/{host}"));
            }
        }
    }
    if let Ok(bytes) = std::fs::read(root.join("data.json")) {
        let host: serde_json::Value = serde_json::from_slice(&bytes).expect("host record");
        for key in ["generated_work_dirs", "generated_branches"] {
            for item in host[key].as_array().into_iter().flatten() {
                seen.insert(format!("{key} {item}"));
            }
        }
    }
    for session in w.sessions() {
        seen.insert(format!("session {session}"));
    }
    seen
}

/// What `after` has that `before` had not (`+`), and the other way round (`-`).
pub fn diff(before: &BTreeSet<String>, after: &BTreeSet<String>) -> Vec<String> {
    let mut out: Vec<String> = after.difference(before).map(|s| format!("+ {s}")).collect();
    out.extend(before.difference(after).map(|s| format!("- {s}")));
    out
}

fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        f(&path);
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&path, f);
        }
    }
}
