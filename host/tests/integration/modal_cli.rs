//! Agents on modal through the real binary: the modal plugin loaded from its shared library
//! beside `mngr`, talking Modal's gRPC protocol to the stand-in (`modal-standin`, whose
//! sandboxes are Docker containers); the conformance suite through the loaded plugin; bad
//! credentials and bad build args. One stand-in per test.

use crate::common::fixtures::bin_dir;
use crate::modal_common::*;
use mngr::app::StderrServices;
use mngr_plugin_api::conformance::Suite;
use mngr_plugin_api::*;
use mngr_plugin_loader::LoadedLibrary;
use std::sync::Arc;

fn host_state(w: &crate::common::agents::AgentWorld, name: &str) -> String {
    let agent = w
        .agent(name)
        .unwrap_or_else(|| panic!("agent {name} not listed"));
    agent["host"]["state"].as_str().unwrap_or("").to_string()
}

#[test]
fn an_agent_on_modal_is_snapshotted_stopped_restored_seen_by_a_second_mngr_and_destroyed() {
    let standin = StandIn::start();
    let w = modal_world(&standin);
    let run = w.create(&[
        "boxed",
        "--in",
        "modal",
        "--tag",
        "team=infra",
        "-b",
        "cpu=0.5",
        "-b",
        "--memory=0.5",
        "--",
        "sh",
        "-c",
        "echo agent-started; sleep 1000",
    ]);
    assert!(
        run.stdout.starts_with("Created agent: boxed@boxed.modal"),
        "{}",
        run.stdout
    );
    let agent = w.wait_state("boxed", "WAITING");
    assert_eq!(agent["host"]["provider_name"], "modal");
    assert_eq!(agent["host"]["tags"]["team"], "infra");
    assert_eq!(standin.sandboxes().len(), 1);
    let built_images = standin.images();

    // Commands and messages reach the agent over SSH through the tunnel.
    assert_eq!(
        w.run(&["exec", "boxed", "echo hi; id -un"]).ok(),
        "hi\nroot\n"
    );
    wait_for("the command's output in the pane", 60, || {
        w.run(&["capture", "boxed"])
            .stdout
            .contains("agent-started")
    });
    w.run(&["message", "boxed", "-m", "hello-modal"]).ok();
    wait_for("the message in the pane", 60, || {
        w.run(&["capture", "boxed"]).stdout.contains("hello-modal")
    });

    // A named snapshot; its metadata is on the Modal volume, so a second mngr sees it.
    w.run(&["exec", "boxed", "echo kept > data.txt"]).ok();
    w.run(&["snapshot", "create", "boxed", "--name", "first"])
        .ok();
    assert!(w.run(&["snapshot", "list", "boxed"]).ok().contains("first"));
    let other = modal_world(&standin);
    assert_eq!(host_state(&other, "boxed"), "RUNNING");
    assert!(
        other
            .run(&["snapshot", "list", "boxed"])
            .ok()
            .contains("first")
    );

    // Stopping the host snapshots and terminates it: no sandbox is left running.
    w.run(&["stop", "boxed", "--stop-host"]).ok();
    assert_eq!(host_state(&w, "boxed"), "STOPPED");
    assert!(standin.sandboxes().is_empty(), "{:?}", standin.sandboxes());
    let snapshots = w.run(&["snapshot", "list", "boxed"]).ok().to_string();
    assert_eq!(snapshots.lines().count(), 3, "{snapshots}"); // header, first, the stop's

    // Starting restores the newest snapshot: the files are there.
    w.run(&["start", "boxed"]).ok();
    assert_eq!(host_state(&w, "boxed"), "RUNNING");
    assert_eq!(w.run(&["exec", "boxed", "cat data.txt"]).ok(), "kept\n");

    w.run(&["destroy", "boxed", "--force"]).ok();
    assert!(w.agent("boxed").is_none());
    assert!(standin.sandboxes().is_empty(), "{:?}", standin.sandboxes());
    // The snapshots went with the host; only the built layers (Modal's image cache) remain.
    assert_eq!(standin.images(), built_images);
    assert!(key_files(&w).is_empty(), "{:?}", key_files(&w));
    assert!(other.agent("boxed").is_none());
}

#[test]
fn bad_credentials_are_one_clear_line_with_exit_6_and_the_secret_is_never_printed() {
    let standin = StandIn::start();
    let mut w = modal_world(&standin);
    w.set_env("MODAL_TOKEN_SECRET", "as-wrong-secret-value");
    let run = w.run(&["create", "nope", "--in", "modal", "--", "sleep", "10"]);
    let line = run.error_line(6);
    assert!(line.contains("Token ID or secret is invalid"), "{line}");
    assert!(!run.stderr.contains("as-wrong-secret-value") && !run.stdout.contains("as-wrong"));
    assert!(standin.sandboxes().is_empty());
    w.remove_env("MODAL_TOKEN_ID");
    w.remove_env("MODAL_TOKEN_SECRET");
    let run = w.run(&["create", "nope", "--in", "modal", "--", "sleep", "10"]);
    let line = run.error_line(6);
    assert!(line.contains("no Modal token found"), "{line}");
}

#[test]
fn an_unknown_gpu_type_and_bad_build_args_are_refused_leaving_nothing() {
    let standin = StandIn::start();
    let w = modal_world(&standin);
    let run = w.run(&[
        "create",
        "gpu",
        "--in",
        "modal",
        "-b",
        "gpu=warp-drive",
        "--",
        "sleep",
        "10",
    ]);
    let line = run.error_line(2);
    assert!(line.contains("Unknown GPU type"), "{line}");
    let run = w.run(&[
        "create",
        "bad",
        "--in",
        "modal",
        "--build-arg",
        "cpu=2 colour=red",
        "--",
        "sleep",
        "1",
    ]);
    let line = run.error_line(2);
    assert!(line.contains("unknown modal build arg 'colour'"), "{line}");
    assert_nothing_left(&standin, &w);
}

/// The conformance suite through the loaded `.so`, against one stand-in.
#[test]
fn the_modal_plugin_conforms_through_its_shared_library() {
    let standin = StandIn::start();
    let library = LoadedLibrary::open(&plugin_path()).unwrap();
    let started = library
        .start(Arc::new(StderrServices { verbosity: 0 }))
        .unwrap();
    let backend = started
        .backends
        .iter()
        .find(|b| b.describe().name == "modal")
        .expect("the modal backend");
    let state = tempfile::tempdir().unwrap();
    let mut config = serde_json::Map::new();
    config.insert("server_url".into(), standin.url.clone().into());
    config.insert("app_name".into(), "conformance".into());
    // SAFETY: set before the plugin's runtime starts; this test's process runs nothing else
    // (nextest runs each test in a process of its own).
    unsafe {
        std::env::set_var("MODAL_TOKEN_ID", TOKEN_ID);
        std::env::set_var("MODAL_TOKEN_SECRET", TOKEN_SECRET);
        std::env::set_var("MODAL_CONFIG_PATH", state.path().join("none.toml"));
        std::env::remove_var("MODAL_SERVER_URL");
    }
    let ctx = InstanceContext::new(
        "modal",
        state.path(),
        "mngr-",
        Arc::new(StderrServices { verbosity: 0 }),
    );
    let instance = backend.build_instance(ctx, config).unwrap();
    Suite::new(instance.as_ref()).assert_conforms();
    assert!(standin.sandboxes().is_empty(), "{:?}", standin.sandboxes());
    let _ = bin_dir();
}

#[test]
fn an_idle_host_is_snapshotted_when_next_listed_and_a_timed_out_one_restarts_from_its_snapshot() {
    let standin = StandIn::start();
    let w = modal_world(&standin);

    // Idle: the watcher in the sandbox asks to stop; the next listing snapshots and ends it.
    w.create(&[
        "idler",
        "--in",
        "modal",
        "--idle-timeout",
        "6",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    w.run(&["exec", "idler", "echo idle-work > kept.txt"]).ok();
    wait_for("the idle host to pause", 120, || {
        host_state(&w, "idler") == "PAUSED"
    });
    assert!(standin.sandboxes().is_empty(), "{:?}", standin.sandboxes());
    w.run(&["start", "idler"]).ok();
    assert_eq!(
        w.run(&["exec", "idler", "cat kept.txt"]).ok(),
        "idle-work\n"
    );
    w.run(&["destroy", "idler", "--force"]).ok();

    // Timeout: the sandbox's maximum lifetime ends it; list says so; start restores the
    // newest snapshot.
    w.create(&[
        "brief",
        "--in",
        "modal",
        "-b",
        "timeout=45",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    w.run(&["exec", "brief", "echo before-timeout > kept.txt"])
        .ok();
    w.run(&["snapshot", "create", "brief", "--name", "saved"])
        .ok();
    wait_for("the sandbox to time out", 120, || {
        standin.sandboxes().is_empty()
    });
    let listed = w.run(&["list", "--format", "json"]).json();
    let host = &listed["agents"][0]["host"];
    assert_eq!(host["state"], "STOPPED", "{listed}");
    w.run(&["start", "brief"]).ok();
    assert_eq!(
        w.run(&["exec", "brief", "cat kept.txt"]).ok(),
        "before-timeout\n"
    );
    w.run(&["destroy", "brief", "--force"]).ok();
    assert!(standin.sandboxes().is_empty(), "{:?}", standin.sandboxes());
    assert!(key_files(&w).is_empty(), "{:?}", key_files(&w));
}

#[test]
fn unavailable_answers_are_retried_a_bounded_number_of_times() {
    // Three UNAVAILABLE answers fit in the plugin's four attempts: the create goes through.
    let standin = StandIn::start_with(&["--unavailable", "SandboxCreate=3"]);
    let w = modal_world(&standin);
    w.create(&["retried", "--in", "modal", "--", "sleep", "1000"]);
    w.run(&["destroy", "retried", "--force"]).ok();
    drop(standin);

    // Four do not: one error line, exit 6, nothing left.
    let standin = StandIn::start_with(&["--unavailable", "SandboxCreate=4"]);
    let w = modal_world(&standin);
    let run = w.run(&[
        "create",
        "--no-connect",
        "refused",
        "--in",
        "modal",
        "--",
        "sleep",
        "1",
    ]);
    let line = run.error_line(6);
    assert!(line.contains("SandboxCreate"), "{line}");
    assert_nothing_left(&standin, &w);
}

#[test]
fn a_create_killed_midway_leaves_only_what_gc_removes() {
    use std::io::{BufRead, BufReader};
    let standin = StandIn::start();
    let w = modal_world(&standin);
    // Killed at each step: while the image builds, and once the sandbox is being started.
    for step in ["building modal image", "starting modal sandbox"] {
        let mut child = w
            .command(&[
                "create",
                "--no-connect",
                "cut",
                "--in",
                "modal",
                "--",
                "sleep",
                "1000",
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("mngr create");
        let stderr = BufReader::new(child.stderr.take().expect("piped"));
        for line in stderr.lines() {
            if line.expect("stderr").contains(step) {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        let gc = w.run(&["gc"]);
        gc.ok();
        let what = format!("{step}: the killed create's sandbox to go (gc said {gc:?})");
        // A sandbox Modal was still making when mngr died appears later; the next look at
        // the provider ends it.
        wait_for(&what, 30, || {
            w.run(&["list"]);
            standin.sandboxes().is_empty()
        });
        assert!(key_files(&w).is_empty(), "{step}: {:?}", key_files(&w));
        let listed = w.run(&["list", "--format", "json"]).json();
        assert!(
            listed["agents"].as_array().unwrap().is_empty(),
            "{step}: {listed}"
        );
        // The name is free again.
        w.create(&["cut", "--in", "modal", "--", "sleep", "1000"]);
        w.run(&["destroy", "cut", "--force"]).ok();
    }
    assert!(standin.sandboxes().is_empty(), "{:?}", standin.sandboxes());
}
