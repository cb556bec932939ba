//! Kill loops on the local provider: `mngr create` (worktree and copy work dirs, in a real git
//! repository) and `mngr destroy -f -b`, killed by SIGKILL or interrupted by Ctrl-C (SIGINT to
//! the whole process group, as a terminal sends it) at moments spread over the command's
//! duration, beside a bystander agent. After each trial, and `mngr gc`, nothing may be left
//! that was not there before: no session, worktree, worktree entry, branch, lock file, bundle,
//! agent dir or record; the bystander untouched; the user's repository as it was. A Ctrl-C'd
//! command must leave nothing even before gc.
//!
//! `MNGR_KILL_TRIALS` sets the trials per test (default 3); `scripts/kill-loop.sh` runs 20.

use crate::common;
use crate::common::kill_trials;
use common::agents::AgentWorld;
use common::footprint::{diff, footprint};
use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kill {
    /// SIGKILL to mngr alone (its children live on, as with `kill -9 PID`).
    Sigkill,
    /// SIGINT to mngr's process group, as Ctrl-C on a terminal does.
    Sigint,
}

impl Kill {
    fn label(self) -> &'static str {
        match self {
            Kill::Sigkill => "SIGKILL",
            Kill::Sigint => "SIGINT",
        }
    }
}

/// The world of one kill loop: a repository with enough files that each step takes a while,
/// uncommitted work in it, and a bystander agent.
struct Loop {
    w: AgentWorld,
    repo: PathBuf,
    bystander: Bystander,
}

struct Bystander {
    record: Vec<u8>,
    work_dir: PathBuf,
    status: String,
}

impl Loop {
    fn new() -> Loop {
        let mut w = AgentWorld::new();
        let repo = w.repo_with_commit();
        for dir in 0..40 {
            for file in 0..25 {
                w.write(
                    &repo.join(format!("src/d{dir}/f{file}.txt")),
                    &format!("{dir} {file}\n").repeat(100),
                );
            }
        }
        w.git(&repo, &["add", "-A"]);
        w.git(&repo, &["commit", "-q", "-m", "many files"]);
        std::fs::write(repo.join("README"), "changed, not committed\n").unwrap();
        std::fs::write(repo.join("notes.txt"), "untracked\n").unwrap();
        w.create(&["bystander", "--", "sleep", "100000"]);
        let agent = w.wait_state("bystander", "WAITING");
        let id = agent["id"].as_str().unwrap().to_string();
        let work_dir = PathBuf::from(agent["work_dir"].as_str().unwrap());
        std::fs::write(work_dir.join("bystander-work.txt"), "mine\n").unwrap();
        let bystander = Bystander {
            record: std::fs::read(w.root().join("agents").join(&id).join("data.json")).unwrap(),
            status: w.git(&work_dir, &["status", "--porcelain"]),
            work_dir,
        };
        Loop { w, repo, bystander }
    }

    fn footprint(&self) -> BTreeSet<String> {
        footprint(&self.w, &self.repo)
    }

    fn bystander_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let b = &self.bystander;
        let id = serde_json::from_slice::<serde_json::Value>(&b.record).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        if std::fs::read(self.w.root().join("agents").join(id).join("data.json")).ok()
            != Some(b.record.clone())
        {
            problems.push("bystander record changed".to_string());
        }
        if !self.w.sessions().contains(&"mngr-bystander".to_string()) {
            problems.push("bystander session gone".to_string());
        }
        if !b.work_dir.join("bystander-work.txt").exists()
            || self.w.git(&b.work_dir, &["status", "--porcelain"]) != b.status
        {
            problems.push("bystander work dir changed".to_string());
        }
        problems
    }

    /// Start mngr in its own process group (as a shell runs a foreground job).
    fn spawn(&self, args: &[&str]) -> Child {
        self.w
            .command(args)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mngr")
    }

    /// How long an uninterrupted run of `args` takes (the run is then undone by `cleanup`).
    fn duration_of(&self, args: &[&str], cleanup: &[&str]) -> Duration {
        let start = Instant::now();
        self.w.run(args).ok();
        let took = start.elapsed();
        if !cleanup.is_empty() {
            self.w.run(cleanup).ok();
        }
        took
    }

    fn listed(&self, name: &str) -> bool {
        self.w.agent(name).is_some()
    }
}

/// Deliver `kill` to `child` (started by [`Loop::spawn`]), wait for it and for every process
/// of its group, and return its exit code as a shell shows it (128 + the signal that killed
/// it: a Ctrl-C that lands before mngr installed its handler ends it with 130 too).
fn kill_and_wait(mut child: Child, kill: Kill) -> (i32, String) {
    let pid = child.id() as i32;
    // SAFETY: plain kill(2) calls on a process and process group this test started.
    unsafe {
        match kill {
            Kill::Sigkill => libc::kill(pid, libc::SIGKILL),
            Kill::Sigint => libc::kill(-pid, libc::SIGINT),
        };
    }
    let status = child.wait().expect("wait mngr");
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        use std::io::Read;
        let _ = err.read_to_string(&mut stderr);
    }
    // Children a killed mngr leaves behind (git, rsync, a tmux client) finish or die before
    // gc looks. (A started agent's activity watcher stays in the group as long as the agent.)
    let deadline = Instant::now() + Duration::from_secs(30);
    while group_is_working(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    (code, stderr)
}

/// Whether a shell, git, rsync or tmux client of process group `pgid` still runs (a started
/// agent's activity watcher, a shell that sleeps between touches, does not count).
fn group_is_working(pgid: i32) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                return false;
            };
            // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
            let Some((head, tail)) = stat.rsplit_once(") ") else {
                return false;
            };
            let comm = head.split_once(" (").map(|(_, c)| c).unwrap_or("");
            let pgrp = tail
                .split_whitespace()
                .nth(2)
                .and_then(|p| p.parse::<i32>().ok());
            let watcher = || {
                std::fs::read(entry.path().join("cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("activity/process"))
            };
            pgrp == Some(pgid)
                && (comm.starts_with("git")
                    || comm == "rsync"
                    || comm.starts_with("tmux")
                    || (comm == "sh" && !watcher()))
        })
}

/// What a trial left: (before gc, after gc and destroying any agent `list` shows).
struct Outcome {
    left: Vec<String>,
    leaked: Vec<String>,
}

/// After the kill: gc, and an agent that was fully made (so `list` shows it) is destroyed as a
/// user would. Then compare with `before`.
fn settle(l: &Loop, name: &str, before: &BTreeSet<String>) -> Vec<String> {
    let gc = l.w.run(&["gc"]);
    let mut leaked = Vec::new();
    if gc.code != 0 {
        leaked.push(format!("gc failed: {}", gc.stderr.trim()));
    }
    if l.listed(name) {
        let destroyed = l.w.run(&["destroy", "-f", "-b", name]);
        if destroyed.code != 0 {
            leaked.push(format!("destroy failed: {}", destroyed.stderr.trim()));
        }
    }
    leaked.extend(diff(before, &l.footprint()));
    leaked.extend(l.bystander_problems());
    leaked
}

/// Run `kill_trials()` kills of one operation and report them; fail when any trial leaked.
fn report(what: &str, kill: Kill, took: Duration, outcomes: &[Outcome]) {
    let left = outcomes.iter().filter(|o| !o.left.is_empty()).count();
    let leaked = outcomes.iter().filter(|o| !o.leaked.is_empty()).count();
    println!(
        "kill-loop: local {what} {}: {} trials over {} ms, left behind before gc in {left}, leaked after gc in {leaked}",
        kill.label(),
        outcomes.len(),
        took.as_millis()
    );
    let mut problems = Vec::new();
    for (i, o) in outcomes.iter().enumerate() {
        for p in &o.left {
            println!("kill-loop:   trial {i}: left before gc: {p}");
        }
        for p in &o.leaked {
            println!("kill-loop:   trial {i}: leaked: {p}");
            problems.push(format!("trial {i}: {p}"));
        }
    }
    // Ctrl-C is handled: what was interrupted is undone at once, gc is not needed.
    if kill == Kill::Sigint {
        for (i, o) in outcomes.iter().enumerate() {
            problems.extend(o.left.iter().map(|p| format!("trial {i} (before gc): {p}")));
        }
    }
    assert!(
        problems.is_empty(),
        "{what} {} left:\n{}",
        kill.label(),
        problems.join("\n")
    );
}

/// The delay of trial `i` of `n`: spread from the start to a little past the end of `took`.
fn moment(i: usize, n: usize, took: Duration) -> Duration {
    took.mul_f64(1.1 * (i as f64 + 0.5) / n as f64)
}

fn create_loop(mode: &[&str], kill: Kill) {
    let l = Loop::new();
    let n = kill_trials();
    let command = |name: &str| -> Vec<String> {
        let mut args = vec!["create", name, "--no-connect"];
        args.extend_from_slice(mode);
        args.extend(["--", "sleep", "1000"]);
        args.into_iter().map(String::from).collect()
    };
    let probe = command("probe");
    let probe: Vec<&str> = probe.iter().map(String::as_str).collect();
    let took = l.duration_of(&probe, &["destroy", "-f", "-b", "probe"]);
    let mut outcomes = Vec::new();
    for i in 0..n {
        let name = format!("k{i}");
        let before = l.footprint();
        let create = command(&name);
        let child = l.spawn(&create.iter().map(String::as_str).collect::<Vec<_>>());
        std::thread::sleep(moment(i, n, took));
        let (code, stderr) = kill_and_wait(child, kill);
        let mut left = Vec::new();
        if kill == Kill::Sigint {
            // Exit 0: it finished before the signal came, and the agent exists, whole.
            if code != 0 {
                left = diff(&before, &l.footprint());
                if code != 130 {
                    left.push(format!("exit {code}, not 130: {}", stderr.trim()));
                }
            }
        }
        let leaked = settle(&l, &name, &before);
        outcomes.push(Outcome { left, leaked });
    }
    report(&format!("create {}", mode.join(" ")), kill, took, &outcomes);
}

fn destroy_loop(kill: Kill) {
    let l = Loop::new();
    let n = kill_trials();
    let make = |name: &str| {
        l.w.create(&[name, "--", "sleep", "1000"]);
    };
    make("probe");
    let took = l.duration_of(&["destroy", "-f", "-b", "probe"], &[]);
    let mut outcomes = Vec::new();
    for i in 0..n {
        let name = format!("k{i}");
        // Against the state before this trial, so an earlier trial's leak is counted once.
        let before = l.footprint();
        make(&name);
        // Work of the agent's own on its branch is gone with `-f -b`, as asked.
        let child = l.spawn(&["destroy", "-f", "-b", &name]);
        std::thread::sleep(moment(i, n, took));
        let (code, stderr) = kill_and_wait(child, kill);
        let mut left = Vec::new();
        if kill == Kill::Sigint && code != 0 {
            // An interrupted destroy either finished the agent or left it whole and listed.
            if code != 130 {
                left.push(format!("exit {code:?}, not 130: {}", stderr.trim()));
            }
            if !l.listed(&name) {
                left.extend(diff(&before, &l.footprint()));
            }
        }
        let leaked = settle(&l, &name, &before);
        outcomes.push(Outcome { left, leaked });
    }
    report("destroy -f -b", kill, took, &outcomes);
}

#[test]
fn kill_loop_local_create_worktree_sigkill() {
    create_loop(&["--worktree"], Kill::Sigkill);
}

#[test]
fn kill_loop_local_create_worktree_sigint() {
    create_loop(&["--worktree"], Kill::Sigint);
}

#[test]
fn kill_loop_local_create_copy_sigkill() {
    create_loop(&["--copy"], Kill::Sigkill);
}

#[test]
fn kill_loop_local_create_copy_sigint() {
    create_loop(&["--copy"], Kill::Sigint);
}

/// On a provider that makes hosts (the example `dirs` plugin), an interrupted create destroys the
/// host it made. (After SIGKILL that host is the provider's to find, which is beyond the local
/// provider's kill loop.)
#[test]
fn kill_loop_local_create_new_host_sigint() {
    create_loop(&["--in", "dirs"], Kill::Sigint);
}

#[test]
fn kill_loop_local_destroy_sigkill() {
    destroy_loop(Kill::Sigkill);
}

#[test]
fn kill_loop_local_destroy_sigint() {
    destroy_loop(Kill::Sigint);
}
