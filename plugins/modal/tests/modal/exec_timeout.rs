//! A command the plugin runs in a sandbox through the command router is bounded: a hung one
//! ends in a timeout error and is killed inside the sandbox, and the sandbox still answers.
//! Runs against `modal-standin` (build it first: `cargo build -p mngr-modal-standin`).

use crate::common;

use mngr_modal::sandbox::SandboxSpec;
use mngr_plugin_api::ErrorKind;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_command_ends_in_a_timeout_and_is_killed_in_the_sandbox() {
    let standin = common::StandIn::start();
    let api = standin.api();
    let app = api.app_id("exec-timeout", true).await.unwrap();
    let image = api
        .image_layer(&app, None, vec!["FROM debian:bookworm-slim".into()])
        .await
        .unwrap();
    let spec = SandboxSpec {
        image_id: image,
        entrypoint: vec!["sleep".into(), "infinity".into()],
        milli_cpu: 500,
        memory_mb: 256,
        gpu: None,
        timeout_secs: 300,
        open_port: 22,
        tags: Default::default(),
    };
    let (sandbox, task) = api.create_sandbox(&app, &spec).await.unwrap();
    let sh = |script: &str| vec!["sh".to_string(), "-c".to_string(), script.to_string()];

    let started = Instant::now();
    let err = api
        .exec_within(&task, sh("sleep 600"), Duration::from_secs(3))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err:?}");
    assert!(
        err.message.contains("did not finish within 3 s"),
        "{}",
        err.message
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");

    // Nothing of it is left running, and the sandbox answers the next command at once.
    let ps = api
        .exec(&task, sh("ps -eo args | grep -c '^sleep 600' || true"))
        .await
        .unwrap();
    assert_eq!(ps.stdout.trim(), "0", "{ps:?}");
    let quick = api
        .exec_within(&task, sh("echo done; exit 3"), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!((quick.code, quick.stdout.as_str()), (3, "done\n"));
    api.terminate(&sandbox).await.unwrap();
}
