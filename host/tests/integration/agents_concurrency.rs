//! Concurrency and crashes: parallel creates under the host lock, and SIGKILL in the middle
//! of create or destroy leaving state that `list` reads and `gc` repairs.

use crate::common;
use common::agents::AgentWorld;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn spawn(w: &AgentWorld, args: &[&str]) -> Child {
    w.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mngr")
}

#[test]
fn twenty_parallel_creates_with_distinct_names_all_succeed() {
    let w = AgentWorld::new();
    let names: Vec<String> = (0..20).map(|i| format!("par{i}")).collect();
    let children: Vec<Child> = names
        .iter()
        .map(|n| {
            spawn(
                &w,
                &[
                    "create",
                    n,
                    "--in-place",
                    "--no-connect",
                    "--",
                    "sleep",
                    "1000",
                ],
            )
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut listed: Vec<String> = w
        .agents()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(w.sessions().len(), 20);
    assert_eq!(w.root_entries("agents").len(), 20);
}

#[test]
fn ten_parallel_creates_of_one_name_leave_one_agent_and_nine_clear_errors() {
    let mut w = AgentWorld::new();
    let repo = w.repo_with_commit();
    let children: Vec<Child> = (0..10)
        .map(|_| {
            spawn(
                &w,
                &["create", "same", "--no-connect", "--", "sleep", "1000"],
            )
        })
        .collect();
    let mut ok = 0;
    let mut refused = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => ok += 1,
            Some(11) => {
                refused += 1;
                let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("Error:")).collect();
                assert_eq!(
                    lines,
                    vec!["Error: an agent named 'same' already exists on host 'localhost'"],
                    "{stderr}"
                );
            }
            other => panic!("unexpected exit {other:?}: {stderr}"),
        }
    }
    assert_eq!((ok, refused), (1, 9));
    assert_eq!(w.agents().len(), 1);
    assert_eq!(w.root_entries("agents").len(), 1);
    assert_eq!(w.root_entries("worktrees").len(), 1);
    assert_eq!(w.sessions(), vec!["mngr-same".to_string()]);
    assert_eq!(w.git(&repo, &["worktree", "list"]).lines().count(), 2);
}

/// Wait for a file to appear (10 s at most).
fn wait_for_file(w: &AgentWorld, path: &Path) {
    w.wait_until(&format!("{}", path.display()), || path.exists());
}

#[test]
fn sigkill_during_create_leaves_state_that_list_reads_and_gc_repairs() {
    let mut w = AgentWorld::new();
    let repo = w.repo_with_commit();
    // A post-checkout hook holds `git worktree add` (inside create) until the test says so.
    let entered = w.path("hook-entered");
    let release = w.path("hook-release");
    let finished = w.path("hook-finished");
    let hook = repo.join(".git/hooks/post-checkout");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ntouch '{}'\nwhile [ ! -e '{}' ]; do sleep 0.02; done\ntouch '{}'\n",
            entered.display(),
            release.display(),
            finished.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut child = spawn(
        &w,
        &["create", "crash", "--no-connect", "--", "sleep", "1000"],
    );
    wait_for_file(&w, &entered);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    std::fs::write(&release, "").unwrap();
    wait_for_file(&w, &finished);
    w.wait_until("git to finish", || {
        w.git(&repo, &["worktree", "list"]).lines().count() == 2
    });

    // The worktree was made; the agent was not. list reads this (the lock died with mngr).
    assert_eq!(w.root_entries("worktrees").len(), 1);
    assert_eq!(w.agents(), Vec::<serde_json::Value>::new());
    let run = w.run(&["gc", "--format", "json"]);
    let v = run.json();
    // The worktree, then its branch (which holds no commit of its own).
    assert_eq!(v["count"], 2, "{v}");
    assert_eq!(v["removed"][0]["kind"], "work_dir");
    assert_eq!(v["removed"][1]["kind"], "branch");
    assert_eq!(v["removed"][1]["what"], "mngr/crash");
    assert!(w.root_entries("worktrees").is_empty());
    assert_eq!(w.git(&repo, &["worktree", "list"]).lines().count(), 1);
    assert!(
        w.git(&repo, &["branch", "--list", "mngr/crash"])
            .trim()
            .is_empty()
    );
    // The name is free again.
    w.create(&["crash", "--", "sleep", "1000"]);
    w.wait_state("crash", "WAITING");
}

#[test]
fn sigkill_during_destroy_leaves_state_that_list_reads_and_destroy_finishes() {
    let w = AgentWorld::new();
    // An agent that ignores the signals of a polite stop, so destroy waits for it.
    let pid_file = w.path("agent.pid");
    let script = format!(
        "trap '' HUP TERM; echo $$ > '{}'; while :; do sleep 0.05; done",
        pid_file.display()
    );
    w.create(&["stubborn", "--in-place", "--", "sh", "-c", &script]);
    wait_for_file(&w, &pid_file);
    let mut child = spawn(&w, &["destroy", "stubborn"]);
    w.wait_until("the session to go", || w.sessions().is_empty());
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    child.wait().unwrap();

    // The record survived: list shows the agent as stopped; gc finds nothing broken.
    let agent = w.agent("stubborn").expect("listed");
    assert_eq!(agent["state"], "STOPPED");
    assert_eq!(w.run(&["gc", "--format", "json"]).json()["count"], 0);
    // Destroy again finishes the job, including the stray process.
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let run = w.run(&["destroy", "stubborn"]);
    assert_eq!(run.ok(), "Destroyed agent: stubborn@localhost.local\n");
    assert!(w.agents().is_empty());
    assert!(w.root_entries("agents").is_empty());
    w.wait_until("the stray process to end", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.split_whitespace().nth(2) == Some("Z"))
            .unwrap_or(true)
    });
}

#[test]
fn sigkill_at_any_point_of_create_or_destroy_is_repaired_by_gc() {
    let mut w = AgentWorld::new();
    let repo = w.repo_with_commit();
    for (round, delay_ms) in [2u64, 8, 15, 25, 40, 60].into_iter().enumerate() {
        let name = format!("k{round}");
        let mut child = spawn(
            &w,
            &["create", &name, "--no-connect", "--", "sleep", "1000"],
        );
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        if w.agent(&name).is_some() {
            let mut child = spawn(&w, &["destroy", &name, "--force"]);
            std::thread::sleep(Duration::from_millis(delay_ms / 2));
            let _ = child.kill();
            child.wait().unwrap();
        }
        // Whatever happened, list works and gc leaves a consistent host.
        w.run(&["list"]).ok();
        w.run(&["gc"]).ok();
        let agents = w.agents();
        let work_dirs: Vec<String> = agents
            .iter()
            .map(|a| a["work_dir"].as_str().unwrap().to_string())
            .collect();
        for dir in &work_dirs {
            assert!(Path::new(dir).exists(), "agent work dir {dir} is missing");
        }
        for entry in w.root_entries("worktrees") {
            let path = w.root().join("worktrees").join(&entry);
            assert!(
                work_dirs.iter().any(|d| Path::new(d) == path),
                "round {round}: orphaned worktree {entry} survived gc"
            );
        }
        let names: Vec<String> = agents
            .iter()
            .map(|a| format!("mngr-{}", a["name"].as_str().unwrap()))
            .collect();
        for session in w.sessions() {
            assert!(
                names.contains(&session),
                "round {round}: orphaned session {session}"
            );
        }
        assert_eq!(
            w.root_entries("agents").len(),
            agents.len(),
            "round {round}: agent dirs without agents"
        );
        // Clean up this round's agent for the next one.
        for a in &agents {
            w.run(&["destroy", a["name"].as_str().unwrap(), "--force", "-b"])
                .ok();
        }
        let _ = w.git(&repo, &["worktree", "prune"]);
        for branch in w
            .git(
                &repo,
                &["branch", "--list", "mngr/*", "--format=%(refname:short)"],
            )
            .lines()
        {
            w.git(&repo, &["branch", "-D", branch]);
        }
    }
}

/// Whether process `pid` has `path` open.
fn has_open(pid: u32, path: &Path) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == path))
        })
        .unwrap_or(false)
}

#[test]
fn parallel_destroys_of_one_agent_one_succeeds_and_the_others_say_it_is_gone() {
    let w = AgentWorld::new();
    w.create(&["target", "--in-place", "--", "sleep", "1000"]);
    // Hold the host lock until every destroy has found the agent and waits for the lock, so
    // they all race for the one agent.
    let lock = w.root().join("host_lock");
    let (held, release) = (w.path("lock-held"), w.path("lock-release"));
    let mut holder = Command::new("flock")
        .arg(&lock)
        .arg("sh")
        .arg("-c")
        .arg(format!(
            "touch '{}'; while [ ! -e '{}' ]; do sleep 0.02; done",
            held.display(),
            release.display()
        ))
        .spawn()
        .expect("flock");
    wait_for_file(&w, &held);
    let children: Vec<Child> = (0..5).map(|_| spawn(&w, &["destroy", "target"])).collect();
    w.wait_until("every destroy to wait for the host lock", || {
        children.iter().all(|c| has_open(c.id(), &lock))
    });
    std::fs::write(&release, "").unwrap();
    holder.wait().unwrap();

    let mut destroyed = 0;
    let mut gone = 0;
    for child in children {
        let run = common::Run::from(child.wait_with_output().unwrap());
        match run.code {
            0 => {
                assert_eq!(run.stdout, "Destroyed agent: target@localhost.local\n");
                destroyed += 1;
            }
            _ => {
                assert_eq!(
                    run.error_line(9),
                    "Error: agent 'target@localhost.local' is already gone: another command destroyed it"
                );
                gone += 1;
            }
        }
    }
    assert_eq!((destroyed, gone), (1, 4));
    assert!(w.agents().is_empty() && w.sessions().is_empty());
    assert!(w.root_entries("agents").is_empty());
}
