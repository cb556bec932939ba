//! The ssh backend through the real binary and its shared library, against real sshd servers
//! on loopback (containers of the base image running sshd only): agents made, listed,
//! exec'd, stopped, started and destroyed on a machine mngr never creates or destroys; a dead
//! machine beside a live one; host keys that are wrong, missing or pinned through a hashed
//! known_hosts file; and the conformance suite through the loaded library.

use crate::ssh_common::*;
use mngr::app::StderrServices;
use mngr_plugin_api::conformance::Suite;
use mngr_plugin_api::*;
use mngr_plugin_loader::LoadedLibrary;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn hosts_json(s: &SshWorld) -> (Vec<serde_json::Value>, String) {
    let run =
        s.w.run(&["list", "--hosts", "--format", "json", "--provider", "pool"]);
    let hosts = run.json()["hosts"].as_array().cloned().unwrap_or_default();
    (hosts, run.stderr)
}

fn state_of(hosts: &[serde_json::Value], name: &str) -> String {
    hosts
        .iter()
        .find(|h| h["name"] == name)
        .unwrap_or_else(|| panic!("host {name} not listed: {hosts:?}"))["state"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn agents_live_on_an_existing_machine_while_a_dead_one_lists_offline() {
    let mut s = SshWorld::new();
    let live = s.machine(1);
    let dead = Blackhole::new();
    s.settings(
        1.0,
        &[
            s.host_table(
                "live",
                live.port,
                &format!("host_key = \"{}\"", live.host_key),
            ),
            s.host_table(
                "dead",
                dead.port,
                &format!("host_key = \"{}\"", live.host_key),
            ),
        ],
    );
    s.w.repo_with_commit();

    // Both machines list; the dead one is offline with the reason, within the timeout once.
    let started = Instant::now();
    let (hosts, stderr) = hosts_json(&s);
    let took = started.elapsed();
    assert_eq!(state_of(&hosts, "live"), "RUNNING");
    assert_eq!(state_of(&hosts, "dead"), "UNKNOWN");
    assert!(
        stderr.contains(&format!(
            "host 'dead' of provider 'pool' is offline: no SSH answer from 127.0.0.1:{} within 1 s (connect_timeout)",
            dead.port
        )),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(8), "listing took {took:?}");

    // An agent on the existing machine: created, listed, exec'd.
    let run = s.w.create(&[
        "worker@live.pool",
        "--",
        "sh",
        "-c",
        "echo started; sleep 1000",
    ]);
    assert!(
        run.stdout.starts_with("Created agent: worker@live.pool"),
        "{}",
        run.stdout
    );
    let agent = s.w.wait_state("worker", "WAITING");
    assert_eq!(agent["host"]["provider_name"], "pool");
    assert_eq!(agent["host"]["name"], "live");
    assert_eq!(
        s.w.run(&["exec", "worker", "cat README; echo $MNGR_HOST_DIR"])
            .ok(),
        "hello\n/tmp/mngr\n"
    );
    assert!(live.sh("ls /tmp/mngr/agents | wc -l").trim() == "1");

    // Stopped and started again: only the agent, never the machine.
    s.w.run(&["stop", "worker"]).ok();
    s.w.wait_state("worker", "STOPPED");
    assert_eq!(live.sh("echo up"), "up\n");
    s.w.run(&["start", "worker"]).ok();
    s.w.wait_state("worker", "WAITING");
    // The machine itself is not mngr's to stop.
    let line = s.w.run(&["stop", "worker", "--stop-host"]).error_line(10);
    assert!(line.contains("pool"), "{line}");
    s.w.wait_state("worker", "WAITING");

    // The machine stops answering: its agent is still listed, from the local copy, UNKNOWN.
    live.docker("pause");
    let agent =
        s.w.agent("worker")
            .expect("listed while the machine is away");
    live.docker("unpause");
    assert_eq!(agent["state"], "UNKNOWN");
    assert_eq!(agent["host"]["state"], "UNKNOWN");
    let reason = agent["host"]["failure_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("no SSH answer from 127.0.0.1:"),
        "{reason}"
    );

    // No agent goes on the dead machine, and the line says why.
    let line =
        s.w.run(&[
            "create",
            "--no-connect",
            "other@dead.pool",
            "--",
            "sleep",
            "1",
        ])
        .error_line(6);
    assert!(
        line.contains("host 'dead' of provider 'pool' is UNKNOWN: no SSH answer"),
        "{line}"
    );
    // New-host options do not apply: the pool makes no hosts.
    let line =
        s.w.run(&[
            "create",
            "--no-connect",
            "x",
            "--in",
            "pool",
            "-s",
            "--cpus=2",
            "--",
            "sleep",
            "1",
        ])
        .error_line(2);
    assert!(
        line.contains("provider 'pool' does not create hosts"),
        "{line}"
    );

    // Destroyed: the agent and its files go, the machine stays.
    s.w.run(&["destroy", "worker", "-f"]).ok();
    assert!(s.w.agents().is_empty());
    assert_eq!(live.sh("ls /tmp/mngr/agents | wc -l").trim(), "0");
    assert_eq!(live.sh("echo up"), "up\n");
    let records = s.w.root().join("providers/pool/agents");
    let left: Vec<_> = walk(&records);
    assert!(left.is_empty(), "agent records left: {left:?}");
    drop(dead);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    crate::docker_common::files_under(dir)
}

#[test]
fn a_wrong_or_missing_host_key_is_refused_with_how_to_pin_it() {
    let mut s = SshWorld::new();
    let machine = s.machine(1);
    let other_key = keygen(&s.w.path("other_host_key"));
    s.settings(
        3.0,
        &[s.host_table("box", machine.port, &format!("host_key = \"{other_key}\""))],
    );
    s.w.repo_with_commit();

    let (hosts, stderr) = hosts_json(&s);
    assert_eq!(state_of(&hosts, "box"), "UNKNOWN");
    assert!(stderr.contains("is not the one pinned for it"), "{stderr}");
    assert!(
        stderr.contains("refusing to connect; pin the key of host 'box' with host_key = "),
        "{stderr}"
    );
    let line =
        s.w.run(&["create", "--no-connect", "a@box.pool", "--", "sleep", "1"])
            .error_line(6);
    assert!(line.contains("is not the one pinned for it"), "{line}");
    assert!(s.w.agents().is_empty());
    // Nothing reached the machine.
    assert_eq!(machine.sh("ls /tmp/mngr 2>/dev/null | wc -l").trim(), "0");

    // A known_hosts file without the machine: the same, naming the file.
    let known = s.w.path("known_hosts");
    std::fs::write(&known, format!("[127.0.0.1]:1 {}\n", machine.host_key)).unwrap();
    let pin = format!("known_hosts_file = \"{}\"", known.display());
    s.settings(3.0, &[s.host_table("box", machine.port, &pin)]);
    let (hosts, stderr) = hosts_json(&s);
    assert_eq!(state_of(&hosts, "box"), "UNKNOWN");
    assert!(
        stderr.contains(&format!(
            "has no key for [127.0.0.1]:{}; pin the key of host 'box'",
            machine.port
        )),
        "{stderr}"
    );

    // The right entry, hashed as `ssh-keygen -H` writes it: the machine is in.
    std::fs::write(
        &known,
        format!("[127.0.0.1]:{} {}\n", machine.port, machine.host_key),
    )
    .unwrap();
    let hashed = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&known)
        .output()
        .unwrap();
    assert!(hashed.status.success());
    assert!(std::fs::read_to_string(&known).unwrap().starts_with("|1|"));
    let (hosts, _) = hosts_json(&s);
    assert_eq!(state_of(&hosts, "box"), "RUNNING");
    s.w.create(&["a@box.pool", "--", "sleep", "1000"]);
    s.w.wait_state("a", "WAITING");
    // The transport's pinned known_hosts sits in mngr's state dir, never beside the user's key.
    assert!(!s.client_key.with_file_name("known_hosts").exists());
    s.w.run(&["destroy", "a", "-f"]).ok();

    // No host key at all: the settings are refused, saying how to pin it.
    s.settings(3.0, &[s.host_table("box", machine.port, "")]);
    let run = s.w.run(&["list"]);
    let line = run.error_line(8);
    assert!(
        line.contains(
            "'hosts.box' has no host key: mngr never trusts a machine's key on first use"
        ),
        "{line}"
    );
    assert!(
        run.stderr.contains("host_key = \\\"ssh-ed25519")
            || run.stderr.contains("host_key = \"ssh-ed25519"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_machine_is_asked_for_the_key_type_that_was_pinned() {
    let mut s = SshWorld::new();
    let machine = s.machine_with_rsa(1);
    let rsa = machine.rsa_key.clone().unwrap();
    // Only the RSA key is known: the machine would show its ed25519 key unless asked for RSA.
    let known = s.w.path("known_hosts");
    std::fs::write(&known, format!("[127.0.0.1]:{} {rsa}\n", machine.port)).unwrap();
    let pin = format!("known_hosts_file = \"{}\"", known.display());
    s.settings(3.0, &[s.host_table("box", machine.port, &pin)]);
    s.w.repo_with_commit();
    let (hosts, stderr) = hosts_json(&s);
    assert_eq!(state_of(&hosts, "box"), "RUNNING", "{stderr}");
    s.w.create(&["a@box.pool", "--", "sleep", "1000"]);
    s.w.wait_state("a", "WAITING");
    assert_eq!(s.w.run(&["exec", "a", "echo in"]).ok(), "in\n");
    s.w.run(&["destroy", "a", "-f"]).ok();
}

mngr_plugin_api::conformance_tests!(the_ssh_plugin_through_its_shared_library, |check| {
    let s = SshWorld::new();
    let machine = s.machine(1);
    let library = LoadedLibrary::open(&plugin_path()).unwrap();
    let started = library
        .start(Arc::new(StderrServices { verbosity: 0 }))
        .unwrap();
    let backend = started
        .backends
        .iter()
        .find(|b| b.describe().name == "ssh")
        .expect("ssh backend registered");
    let state = tempfile::tempdir().unwrap();
    let config = serde_json::json!({"hosts": {"box": {
        "address": "127.0.0.1", "port": machine.port,
        "key_file": s.client_key.to_string_lossy(), "host_key": machine.host_key,
    }}});
    let ctx = InstanceContext::new(
        "pool",
        state.path(),
        "mngr-",
        Arc::new(StderrServices { verbosity: 0 }),
    );
    let instance = backend
        .build_instance(ctx, config.as_object().unwrap().clone())
        .unwrap();
    check.run(&Suite::new(instance.as_ref()));
});
