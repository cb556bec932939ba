//! Kill loops on docker: `mngr create --in docker` and `mngr destroy` are SIGKILLed at moments
//! spread over their normal duration, beside a bystander docker agent (and a first create on
//! a fresh instance, without one). After each trial
//! `mngr gc` runs (and `destroy --force` where a user would see the agent still listed);
//! then no container, volume, image, key or host record may be left that was not there
//! before, and the bystander must be untouched and still reachable.
//!
//! `MNGR_KILL_TRIALS` sets the trials per operation (default 3; scripts/kill-loop.sh runs 20).

use crate::common::kill_trials;
use crate::docker_common;
use docker_common::*;
use std::collections::BTreeSet;
use std::ops::Deref;
use std::time::{Duration, Instant};

/// Everything of this world's mngr that could leak.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Inventory {
    docker: BTreeSet<String>,
    keys: BTreeSet<String>,
    hosts: BTreeSet<String>,
}

impl Inventory {
    /// What `self` has that `before` had not.
    fn added_since(&self, before: &Inventory) -> Vec<String> {
        let mut out = Vec::new();
        for (now, then) in [
            (&self.docker, &before.docker),
            (&self.keys, &before.keys),
            (&self.hosts, &before.hosts),
        ] {
            out.extend(now.difference(then).cloned());
        }
        out
    }
}

/// One docker world shared by every trial of a test: its prefix, a repo to work in, and a
/// bystander agent that must come through every trial untouched.
struct Fixture {
    world: DockerWorld,
    bystander_container: String,
}

impl Deref for Fixture {
    type Target = DockerWorld;
    fn deref(&self) -> &DockerWorld {
        &self.world
    }
}

impl Fixture {
    fn new() -> Fixture {
        let mut f = Fixture::without_bystander();
        f.w.create(&["bystander", "--in", "docker", "--", "sleep", "100000"]);
        f.bystander_container = f.container_id("bystander");
        f
    }

    /// A fresh instance: nothing on the daemon yet, not even its state container.
    fn without_bystander() -> Fixture {
        let mut world = DockerWorld::new();
        world.w.repo_with_commit();
        Fixture {
            world,
            bystander_container: String::new(),
        }
    }

    fn container_id(&self, host: &str) -> String {
        docker_lines(&[
            "inspect",
            "--format",
            "{{.Id}}",
            &format!("{}{host}", self.prefix),
        ])
        .concat()
    }

    fn inventory(&self) -> Inventory {
        let keys = self.key_files();
        let listed = self.w.run(&["list", "--hosts", "--format", "json"]);
        let json = listed.json();
        let hosts = json["hosts"]
            .as_array()
            .unwrap_or_else(|| panic!("list --hosts: {}{}", listed.stdout, listed.stderr))
            .iter()
            .map(|h| format!("host {}", h["name"].as_str().unwrap_or("?")))
            .collect();
        Inventory {
            docker: docker_leftovers(&self.prefix).into_iter().collect(),
            keys,
            hosts,
        }
    }

    fn agent_listed(&self, name: &str) -> bool {
        self.w.agent(name).is_some()
    }

    /// What a user does after an interrupted command: `gc`, and `destroy --force` of an
    /// agent that is still listed.
    fn recover(&self, name: &str) -> Vec<String> {
        let mut problems = Vec::new();
        self.settle();
        let gc = self.w.run(&["gc"]);
        if gc.code != 0 {
            problems.push(format!("gc exited {}: {}", gc.code, gc.stderr.trim()));
        }
        if self.agent_listed(name) {
            let destroy = self.w.run(&["destroy", "--force", name]);
            if destroy.code != 0 {
                problems.push(format!(
                    "destroy --force {name} exited {}: {}",
                    destroy.code,
                    destroy.stderr.trim()
                ));
            }
        }
        problems
    }

    /// Wait until the daemon has finished what the killed mngr asked of it: a container create
    /// or removal already sent completes after the client is gone, and no client can see it
    /// sooner. Settled = the test's containers, volumes and images unchanged for a second.
    fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last = docker_leftovers(&self.prefix);
        let mut stable_since = Instant::now();
        while Instant::now() < deadline && stable_since.elapsed() < Duration::from_secs(1) {
            std::thread::sleep(Duration::from_millis(100));
            let now = docker_leftovers(&self.prefix);
            if now != last {
                last = now;
                stable_since = Instant::now();
            }
        }
    }

    /// Nothing is left that was not there `before`, the bystander is unhurt, and `name` (of the
    /// half-made host) is free again.
    fn assert_all_gone_since(&self, before: &Inventory, name: &str) {
        let left = self.inventory().added_since(before);
        assert!(left.is_empty(), "left behind: {left:?}");
        let hurt = self.bystander_problems();
        assert!(hurt.is_empty(), "{hurt:?}");
        self.w
            .create(&[name, "--in", "docker", "--", "sleep", "100000"]);
        self.w.run(&["destroy", "--force", name]).ok();
    }

    /// The bystander is the same container and still answers.
    fn bystander_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.bystander_container.is_empty() {
            return problems;
        }
        if self.container_id("bystander") != self.bystander_container {
            problems.push("the bystander's container changed".to_string());
        }
        let out = self.w.run(&["exec", "bystander", "echo alive"]);
        if out.code != 0 || out.stdout != "alive\n" {
            problems.push(format!(
                "the bystander does not answer: exit {} {}",
                out.code,
                out.stderr.trim()
            ));
        }
        problems
    }

    /// Start `mngr args`, SIGKILL it after `delay` (if still running); how long it ran.
    /// Start mngr with no terminal and its output dropped, as a killed command would run.
    fn spawn_silent(&self, args: &[&str]) -> std::process::Child {
        self.w
            .command(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn mngr")
    }

    fn kill_after(&self, args: &[&str], delay: Duration) -> Duration {
        let started = Instant::now();
        let mut child = self.spawn_silent(args);
        while started.elapsed() < delay {
            if child.try_wait().expect("wait").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        started.elapsed()
    }

    fn timed(&self, args: &[&str]) -> Duration {
        let started = Instant::now();
        self.w.run(args).ok();
        started.elapsed()
    }

    fn create_args(name: &str) -> Vec<&str> {
        vec![
            "create",
            "--no-connect",
            name,
            "--in",
            "docker",
            "--",
            "sleep",
            "100000",
        ]
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if !self.bystander_container.is_empty() {
            let _ = self.w.run(&["destroy", "--force", "bystander"]);
        }
        // After a panic the world's own drop cleans up; after a pass, whatever is left.
        if !std::thread::panicking() && !docker_leftovers(&self.prefix).is_empty() {
            force_cleanup(&self.prefix);
        }
    }
}

/// The delay of trial `i` of `n`: spread evenly over `span`, from early to late.
fn spread(span: Duration, i: usize, n: usize) -> Duration {
    span.mul_f64((i as f64 + 0.5) / n as f64)
}

/// Run `trial` for each delay; each returns its problems. Reports the figures and fails on
/// any problem, after every trial ran.
fn run_trials(f: &Fixture, what: &str, mut trial: impl FnMut(usize) -> Vec<String>) {
    let n = kill_trials();
    let baseline = f.inventory();
    let mut failed = Vec::new();
    for i in 0..n {
        let before = f.inventory();
        let mut problems = trial(i);
        let after = f.inventory();
        problems.extend(
            after
                .added_since(&before)
                .into_iter()
                .map(|l| format!("left behind: {l}")),
        );
        problems.extend(f.bystander_problems());
        if !problems.is_empty() {
            failed.push(format!("trial {i}: {problems:?}"));
        }
    }
    let end = f.inventory();
    let left = end.added_since(&baseline);
    eprintln!(
        "kill loop {what}: {n} trials, {} with leaks or damage",
        failed.len()
    );
    assert!(
        failed.is_empty() && left.is_empty(),
        "{what}: {} of {n} trials left something behind or hurt the bystander:\n{}\nleft at the end: {left:?}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn kill_loop_docker_create() {
    let f = Fixture::new();
    // How long a create takes here, to spread the kills over it.
    let span = f.timed(&Fixture::create_args("probe"));
    f.w.run(&["destroy", "--force", "probe"]).ok();
    run_trials(&f, "docker create", |i| {
        let name = format!("victim{i}");
        f.kill_after(&Fixture::create_args(&name), spread(span, i, kill_trials()));
        f.recover(&name)
    });
    // A name used by a killed create is free again.
    f.w.create(&["victim0", "--in", "docker", "--", "sleep", "100000"]);
    f.w.run(&["destroy", "--force", "victim0"]).ok();
}

/// The first create of an instance also makes its state container and volume: a kill there
/// must not leave them either.
#[test]
fn kill_loop_docker_first_create() {
    let f = Fixture::without_bystander();
    let span = f.timed(&Fixture::create_args("probe"));
    f.w.run(&["destroy", "--force", "probe"]).ok();
    assert!(docker_leftovers(&f.prefix).is_empty());
    run_trials(&f, "docker first create", |i| {
        let name = format!("victim{i}");
        f.kill_after(&Fixture::create_args(&name), spread(span, i, kill_trials()));
        f.recover(&name)
    });
}

#[test]
fn kill_loop_docker_destroy() {
    let f = Fixture::new();
    let n = kill_trials();
    f.w.run(&Fixture::create_args("probe")).ok();
    f.w.run(&["snapshot", "create", "probe", "--name", "s1"])
        .ok();
    let span = f.timed(&["destroy", "--force", "probe"]);
    run_trials(&f, "docker destroy", |i| {
        let name = format!("victim{i}");
        f.w.run(&Fixture::create_args(&name)).ok();
        // A snapshot too: its image is one more thing a destroy must not leave.
        f.w.run(&["snapshot", "create", &name, "--name", "s1"]).ok();
        f.kill_after(&["destroy", "--force", &name], spread(span, i, n));
        f.recover(&name)
    });
}

#[test]
fn a_docker_host_being_created_is_listed_and_after_a_kill_destroyed_and_its_name_freed() {
    let f = Fixture::new();
    let before = f.inventory();
    let mut child = f.spawn_silent(&Fixture::create_args("halfway"));
    // Freeze the create as soon as its container exists: the host is half-made.
    let container = format!("name=^{}halfway$", f.prefix);
    f.w.wait_until("the half-made host's container", || {
        !docker_lines(&["ps", "-aq", "--filter", &container]).is_empty()
    });
    let stop = std::process::Command::new("kill")
        .args(["-STOP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stop.success());
    let listed = f.w.run(&["list", "--hosts", "--format", "json"]);
    let hosts = listed.json()["hosts"].as_array().unwrap().clone();
    let half = hosts
        .iter()
        .find(|h| h["name"] == "halfway")
        .unwrap_or_else(|| panic!("the half-made host is not listed: {hosts:?}"));
    assert!(
        half["state"] == "STARTING" || half["state"] == "RUNNING",
        "{half}"
    );
    assert_eq!(half["agents"], serde_json::json!([]), "{half}");
    // gc leaves a create that is still under way alone.
    f.w.run(&["gc"]).ok();
    assert!(!docker_lines(&["ps", "-aq", "--filter", &container]).is_empty());

    // Killed, it is the user's to remove: `destroy --force NAME` does (gc would too, see
    // below), and says what it removed.
    let _ = child.kill();
    let _ = child.wait();
    let destroy = f.w.run(&["destroy", "--force", "halfway"]);
    destroy.ok();
    assert!(
        destroy
            .stderr
            .contains("Removed abandoned host 'halfway': its mngr was stopped while creating it")
            && destroy.stdout.contains("Destroyed host: halfway"),
        "destroy says what it removed: {}{}",
        destroy.stdout,
        destroy.stderr
    );
    f.assert_all_gone_since(&before, "halfway");
}

/// A create frozen once its host is findable and its key written, then killed: listing and
/// a dry run of gc report the host, with why, and change nothing; gc removes all of it.
#[test]
fn a_killed_docker_create_is_reported_by_list_and_gc_dry_run_untouched_and_removed_by_gc() {
    let f = Fixture::new();
    let before = f.inventory();
    let state = format!("{}docker-state-docker", f.prefix);
    let keys_before = before.keys.clone();
    let mut child = f.spawn_silent(&Fixture::create_args("halfway"));
    // Freeze the create once the new host's key is written (its container and record exist
    // by then), before its first agent.
    let new_key = || !f.key_files().is_subset(&keys_before);
    f.w.wait_until("the half-made host's key", new_key);
    let stop = std::process::Command::new("kill")
        .args(["-STOP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stop.success());
    let _ = child.kill();
    let _ = child.wait();
    let left = f.inventory();
    let added = left.added_since(&before);
    let container = format!("container {}halfway", f.prefix);
    assert!(added.contains(&container), "{added:?}");
    assert!(added.iter().any(|l| l.contains("/keys/")), "{added:?}");
    assert!(added.contains(&"host halfway".to_string()), "{added:?}");
    assert!(
        left.docker.contains(&format!("container {state}")),
        "{left:?}"
    );

    // Listing shows the host with why it is abandoned, and changes nothing.
    let listed = f.w.run(&["list", "--hosts", "--format", "json"]);
    let hosts = listed.json()["hosts"].as_array().unwrap().clone();
    let half = hosts
        .iter()
        .find(|h| h["name"] == "halfway")
        .unwrap_or_else(|| panic!("the abandoned host is not listed: {hosts:?}"));
    assert_eq!(
        half["abandoned"], "its mngr was stopped while creating it",
        "{half}"
    );
    let human = f.w.run(&["list"]);
    assert!(
        human.stderr.contains("host 'halfway'")
            && human
                .stderr
                .contains("is abandoned: its mngr was stopped while creating it"),
        "{}",
        human.stderr
    );
    assert_eq!(f.inventory(), left, "listing changed something");

    // A dry run of gc says it would remove the host, and why, and removes nothing.
    let dry = f.w.run(&["gc", "--dry-run"]);
    dry.ok();
    assert!(
        dry.stdout
            .lines()
            .any(|l| l.starts_with("Would remove host: ")
                && l.contains("(host halfway): its mngr was stopped while creating it")),
        "{}",
        dry.stdout
    );
    assert_eq!(f.inventory(), left, "gc --dry-run changed something");

    // gc removes all of it (container, key, record), and the name is free again.
    let gc = f.w.run(&["gc"]);
    gc.ok();
    assert!(
        gc.stdout.lines().any(|l| l.starts_with("Removed host: ")
            && l.contains("(host halfway): its mngr was stopped while creating it")),
        "{}",
        gc.stdout
    );
    f.assert_all_gone_since(&before, "halfway");
}
