//! The stand-in checked by Modal's official Python client (modal==1.6.4): one test binary.

mod harness;

use harness::{StandIn, TOKEN_SECRET, docker_output, lines_after};

/// The full check's steps, in order: each must report its time.
const STEPS: [&str; 12] = [
    "app_lookup",
    "image_build",
    "sandbox_create",
    "tags",
    "exec",
    "tunnel_sshd",
    "snapshot",
    "terminate",
    "restore",
    "list",
    "volume",
    "timeout",
];

#[test]
fn the_official_client_runs_the_whole_check_and_stop_removes_what_it_made() {
    let standin = StandIn::start(&[]);
    let output = standin.run_check("full", TOKEN_SECRET);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the check failed (see its output above)"
    );
    assert_eq!(step_names(&stdout), STEPS);

    let ids = lines_after(&stdout, "object");
    let [terminated, snapshot, restored] = ids[..] else {
        panic!("the script names its sandbox, its snapshot and the restored sandbox: {ids:?}")
    };
    assert_eq!(
        container_of(terminated),
        "",
        "a terminated sandbox has no container left"
    );
    assert_ne!(
        container_of(restored),
        "",
        "the restored sandbox still runs"
    );
    assert_ne!(image_of(snapshot), "", "the snapshot is a local image");

    assert!(
        standin.stop().success(),
        "modal-standin should exit 0 on SIGTERM"
    );
    assert_eq!(
        container_of(restored),
        "",
        "stopping the stand-in removes running sandboxes"
    );
    assert_eq!(
        image_of(snapshot),
        "",
        "stopping the stand-in removes snapshots"
    );
}

#[test]
fn the_official_client_drives_the_v1_sandbox_family() {
    let standin = StandIn::start(&[]);
    let output = standin.run_check_with("v1", TOKEN_SECRET, &[("MODAL_SANDBOX_V2", "0")]);
    assert!(
        output.status.success(),
        "the V1 check failed (see its output above)"
    );
    assert_eq!(
        step_names(&String::from_utf8_lossy(&output.stdout)),
        ["v1_sandbox"]
    );
}

#[test]
fn a_bad_token_secret_gets_an_auth_error() {
    let standin = StandIn::start(&[]);
    let output = standin.run_check("lookup", "as-wrong");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stdout.starts_with("error AuthError Token ID or secret is invalid"),
        "{stdout}"
    );
}

#[test]
fn unavailable_is_retried_by_the_client_until_its_attempts_run_out() {
    // The Python client makes up to 4 attempts of a unary call.
    let recovers = StandIn::start(&["--unavailable", "AppGetOrCreate=3"]);
    let output = recovers.run_check("lookup", TOKEN_SECRET);
    assert!(
        output.status.success(),
        "three UNAVAILABLE answers should be retried"
    );
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("app ap-"));

    let gives_up = StandIn::start(&["--unavailable", "AppGetOrCreate=4"]);
    let output = gives_up.run_check("lookup", TOKEN_SECRET);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3));
    assert!(stdout.contains("injected UNAVAILABLE"), "{stdout}");
}

/// The steps the script reported ("step NAME SECONDS" lines), in order.
fn step_names(stdout: &str) -> Vec<&str> {
    lines_after(stdout, "step")
        .iter()
        .filter_map(|line| line.split(' ').next())
        .collect()
}

fn container_of(sandbox_id: &str) -> String {
    docker_output(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=mngr-modal-sandbox={sandbox_id}"),
    ])
}

fn image_of(image_id: &str) -> String {
    docker_output(&["images", "-q", &format!("mngr-modal-standin:{image_id}")])
}
