//! Idle shutdown on real docker hosts through the real binary: `mngr limit` changes a running
//! host's timeout and sources (the watcher follows), `mngr message` counts as user activity,
//! an idle host stops PAUSED with the reason listed, and `--idle-mode disabled` never stops.
//! Two hosts share one run so the waits overlap.

use crate::common;
use crate::docker_common::DockerWorld;
use common::agents::AgentWorld;
use std::time::{Duration, Instant};

/// The `list --hosts` row of host `name`.
fn host_row(w: &AgentWorld, name: &str) -> serde_json::Value {
    let run = w.run(&["list", "--hosts", "--format", "json"]);
    run.json()["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .find(|h| h["name"] == name)
        .unwrap_or_else(|| panic!("host {name} not listed: {}", run.stdout))
        .clone()
}

/// Poll host `name` until `check` holds (`within` at most); the last row.
#[track_caller]
fn wait_host(
    w: &AgentWorld,
    name: &str,
    within: Duration,
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let row = host_row(w, name);
        if check(&row) {
            return row;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {row}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn limit_message_and_idle_shutdown_on_docker_hosts_explain_themselves() {
    let d = DockerWorld::new();
    let w = &d.w;
    // Never stops, however short its timeout.
    w.create(&[
        "keeper",
        "--in",
        "docker",
        "--idle-timeout",
        "2s",
        "--idle-mode",
        "disabled",
        "--",
        "sleep",
        "100000",
    ]);
    w.create(&[
        "idler",
        "--in",
        "docker",
        "--idle-timeout",
        "8s",
        "--activity-sources",
        "create",
        "--",
        "sleep",
        "100000",
    ]);
    let created = Instant::now();
    let row = host_row(w, "idler");
    assert_eq!(row["idle_mode"], "CREATE", "{row}");
    assert_eq!(row["idle_timeout_seconds"], 8);
    assert_eq!(row["last_activity_source"], "create");

    // Lengthened on the running host: it outlives the timeout it was made with.
    let limit = w.run(&[
        "limit",
        "idler",
        "--idle-timeout",
        "60s",
        "--format",
        "json",
    ]);
    assert_eq!(limit.json()["idle_timeout_seconds"], 60, "{limit:?}");
    assert_eq!(limit.json()["idle_mode"], "CREATE");
    std::thread::sleep(Duration::from_secs(14).saturating_sub(created.elapsed()));
    let row = host_row(w, "idler");
    assert_eq!(row["state"], "RUNNING", "{row}");
    assert_eq!(row["idle_timeout_seconds"], 60);

    // Only user input (and boot) counts now, with a short timeout: messages keep the host up.
    w.run(&["message", "idler", "-m", "hello"]).ok();
    let limit = w.run(&[
        "limit",
        "--host",
        "idler.docker",
        "--activity-sources",
        "user,boot",
        "--idle-timeout",
        "8s",
    ]);
    assert!(
        limit.ok().contains("Limits of host 'idler': idle mode CUSTOM, stops after 8 s idle, activity sources: user, boot"),
        "{}",
        limit.stdout
    );
    let busy = Instant::now();
    while busy.elapsed() < Duration::from_secs(16) {
        w.run(&["message", "idler", "-m", "still here"]).ok();
        std::thread::sleep(Duration::from_secs(3));
    }
    let verbose = w.run(&["list", "-v"]);
    verbose.ok();
    assert!(
        verbose
            .stderr
            .contains("host 'idler': last activity that counted: user,"),
        "{}",
        verbose.stderr
    );
    let row = host_row(w, "idler");
    assert_eq!(row["state"], "RUNNING", "{row}");
    assert_eq!(row["last_activity_source"], "user");
    assert!(row["idle_seconds"].as_i64().unwrap() < 8, "{row}");

    // Left alone, it stops as PAUSED, and the listing says why.
    let row = wait_host(w, "idler", Duration::from_secs(40), "the idle stop", |r| {
        r["state"] == "PAUSED"
    });
    assert_eq!(row["stop_reason"], "PAUSED", "{row}");
    assert_eq!(row["stopped_because"], "idle", "{row}");
    let table = w.run(&["list", "--hosts"]);
    let line = table
        .ok()
        .lines()
        .find(|l| l.starts_with("idler "))
        .unwrap_or_else(|| panic!("{}", table.stdout))
        .to_string();
    assert!(line.contains("PAUSED") && line.contains(" idle "), "{line}");
    assert!(line.contains("stop_cause=idle"), "{line}");

    // Started again, it tells what its watcher recorded when it stopped it.
    w.run(&["start", "idler"]).ok();
    let row = host_row(w, "idler");
    assert_eq!(row["last_stop"]["reason"], "idle", "{row}");
    assert_eq!(row["last_stop"]["last_activity_source"], "user", "{row}");

    let keeper = host_row(w, "keeper");
    assert_eq!(keeper["state"], "RUNNING", "{keeper}");
    assert_eq!(keeper["idle_mode"], "DISABLED");
    w.run(&["destroy", "idler", "keeper", "-f"]).ok();
    d.assert_clean();
}

#[test]
fn limit_refuses_the_local_host_and_bad_sources() {
    let w = AgentWorld::new();
    w.create(&["here", "--", "sleep", "1000"]);
    let run = w.run(&["limit", "here", "--idle-timeout", "10m"]);
    assert_eq!(run.code, 10, "{run:?}");
    assert!(
        run.stderr
            .contains("never shuts down when idle, so it has no idle limits to change"),
        "{}",
        run.stderr
    );
    let run = w.run(&["limit", "here", "--add-activity-source", "typing"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("unknown activity source 'typing'"),
        "{}",
        run.stderr
    );
    let run = w.run(&["limit", "here"]);
    assert_eq!(run.code, 2, "{run:?}");
    w.run(&["destroy", "here", "-f"]).ok();
}
