//! Ctrl-C and SIGTERM in the middle of a step, at a moment the test picks: a `post-checkout`
//! hook in the user's repository holds `git worktree add` until the signal comes. The create
//! is undone (nothing of it stays in the repository or the mngr root) and mngr exits 130 or
//! 143. Also: what a killed create or destroy leaves of a worktree's branch, gc collects.

use crate::common;
use common::agents::AgentWorld;
use common::footprint::{diff, footprint};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A repository whose `git worktree add` touches `marker`, then sleeps `seconds`.
fn repo_with_slow_checkout(w: &mut AgentWorld, seconds: u32) -> (PathBuf, PathBuf) {
    let repo = w.repo_with_commit();
    std::fs::write(repo.join("README"), "changed, not committed\n").unwrap();
    let marker = w.path("checkout-started");
    let hook = repo.join(".git/hooks/post-checkout");
    std::fs::write(
        &hook,
        format!("#!/bin/sh\ntouch '{}'\nsleep {seconds}\n", marker.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    (repo, marker)
}

/// Start `mngr create` in its own process group (a shell's foreground job) and wait until
/// its checkout is under way.
fn create_until_checkout(w: &AgentWorld, marker: &Path, extra: &[&str]) -> Child {
    let mut args = vec!["create", "slow", "--no-connect"];
    args.extend_from_slice(extra);
    args.extend(["--", "sleep", "1000"]);
    let child = w
        .command(&args)
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the checkout never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on a process (group) this test started.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

fn finish(child: Child) -> common::Run {
    common::Run::from(child.wait_with_output().unwrap())
}

#[test]
fn ctrl_c_during_a_worktree_create_undoes_it_and_exits_130() {
    let mut w = AgentWorld::new();
    let (repo, marker) = repo_with_slow_checkout(&mut w, 30);
    let before = footprint(&w, &repo);
    let child = create_until_checkout(&w, &marker, &[]);
    // Ctrl-C on a terminal: the whole foreground group, git and its hook too.
    signal(-(child.id() as i32), libc::SIGINT);
    let run = finish(child);
    let line = run.error_line(130);
    assert!(line.contains("interrupted by SIGINT (Ctrl-C)"), "{line}");
    assert!(
        run.stderr.contains("undoing the step in progress"),
        "{}",
        run.stderr
    );
    // No branch, worktree, worktree entry, index.lock, agent dir or record is left.
    assert_eq!(diff(&before, &footprint(&w, &repo)), Vec::<String>::new());
    assert!(w.agents().is_empty());
    std::fs::remove_file(repo.join(".git/hooks/post-checkout")).unwrap();
    w.create(&["slow", "--", "sleep", "1000"]);
}

#[test]
fn sigterm_during_a_create_undoes_it_once_the_step_ends_and_exits_143() {
    let mut w = AgentWorld::new();
    let (repo, marker) = repo_with_slow_checkout(&mut w, 2);
    let before = footprint(&w, &repo);
    let child = create_until_checkout(&w, &marker, &[]);
    // To mngr alone: git finishes its checkout, then mngr undoes it.
    signal(child.id() as i32, libc::SIGTERM);
    let run = finish(child);
    let line = run.error_line(143);
    assert!(line.contains("interrupted by SIGTERM"), "{line}");
    assert_eq!(diff(&before, &footprint(&w, &repo)), Vec::<String>::new());
}

#[test]
fn ctrl_c_during_a_create_on_a_new_host_destroys_that_host() {
    let mut w = AgentWorld::new();
    let (repo, marker) = repo_with_slow_checkout(&mut w, 30);
    let before = footprint(&w, &repo);
    // The `dirs` provider makes a host per agent; its hosts are local, so this is a worktree.
    let child = create_until_checkout(&w, &marker, &["--in", "dirs"]);
    let made: Vec<String> = diff(&before, &footprint(&w, &repo))
        .into_iter()
        .filter(|l| l.starts_with("+ provider host dirs/"))
        .collect();
    assert!(
        !made.is_empty(),
        "the new host exists while the agent is set up"
    );
    signal(-(child.id() as i32), libc::SIGINT);
    finish(child).error_line(130);
    assert_eq!(diff(&before, &footprint(&w, &repo)), Vec::<String>::new());
}

#[test]
fn gc_collects_a_worktree_branch_whose_work_dir_is_gone_unless_it_holds_commits() {
    let mut w = AgentWorld::new();
    let repo = w.repo_with_commit();
    let before = footprint(&w, &repo);
    w.create(&["plain", "--", "sleep", "1000"]);
    w.create(&["worked", "--", "sleep", "1000"]);
    let worked_dir = PathBuf::from(w.agent("worked").unwrap()["work_dir"].as_str().unwrap());
    std::fs::write(worked_dir.join("result.txt"), "done\n").unwrap();
    w.git(&worked_dir, &["add", "-A"]);
    w.git(&worked_dir, &["commit", "-q", "-m", "the agent's own work"]);
    // What a destroy killed after removing the record and the work dir leaves.
    for name in ["plain", "worked"] {
        let agent = w.agent(name).unwrap();
        w.run(&["stop", name]).ok();
        let id = agent["id"].as_str().unwrap();
        std::fs::remove_dir_all(w.root().join("agents").join(id)).unwrap();
        w.git(
            &repo,
            &[
                "worktree",
                "remove",
                "--force",
                agent["work_dir"].as_str().unwrap(),
            ],
        );
    }
    let dry = w.run(&["gc", "--dry-run"]);
    let would = dry.ok();
    assert!(
        would.lines().any(
            |l| l.starts_with("Would remove branch: mngr/plain (host localhost): ")
                && l.ends_with(&format!("(in {})", repo.display()))
        ),
        "{would}"
    );
    // The branch with a commit of its own is kept, and gc says so.
    assert!(
        would
            .lines()
            .any(|l| l.starts_with("Would keep branch: mngr/worked (host localhost): ")),
        "{would}"
    );
    assert!(
        !would.contains("Would remove branch: mngr/worked"),
        "{would}"
    );
    let run = w.run(&["gc"]);
    let removed = run.ok();
    assert!(
        removed.lines().any(
            |l| l.starts_with("Removed branch: mngr/plain (host localhost): ")
                && l.ends_with(&format!("(in {})", repo.display()))
        ),
        "{removed}"
    );
    let branches = w.git(&repo, &["branch", "--list", "mngr/*"]);
    assert_eq!(
        branches.trim(),
        "mngr/worked",
        "the branch with its own commit stays"
    );
    assert_eq!(
        w.git(&repo, &["log", "-1", "--format=%s", "mngr/worked"])
            .trim(),
        "the agent's own work"
    );
    // Everything else is as before; the kept branch stays recorded for a later gc.
    let left = diff(&before, &footprint(&w, &repo));
    assert!(left.iter().all(|l| l.contains("mngr/worked")), "{left:?}");
}
