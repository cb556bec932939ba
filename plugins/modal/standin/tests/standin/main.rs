//! The stand-in checked by Modal's official Python client (modal==1.6.4): one test binary.

mod harness;

use harness::{StandIn, TOKEN_SECRET, docker_output, lines_after};

/// The check script's steps, in order: each must report its time.
const STEPS: [&str; 10] = [
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
    let steps: Vec<&str> = lines_after(&stdout, "step")
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let mut expected = STEPS.to_vec();
    expected.extend(["volume", "timeout"]);
    assert_eq!(steps, expected);
    let ids = lines_after(&stdout, "object");
    assert_eq!(
        ids.len(),
        3,
        "the script names its two sandboxes and its snapshot: {ids:?}"
    );
    let (sandboxes, snapshots): (Vec<&str>, Vec<&str>) =
        ids.iter().partition(|id| id.starts_with("sb-"));
    for id in &sandboxes {
        let container = docker_output(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=mngr-modal-sandbox={id}"),
        ]);
        assert_eq!(
            container, "",
            "terminated sandbox {id} should have no container left"
        );
    }
    for id in &snapshots {
        let image = docker_output(&["images", "-q", &format!("mngr-modal-standin:{id}")]);
        assert!(
            !image.is_empty(),
            "snapshot {id} should be a local image while the stand-in runs"
        );
    }
    assert!(
        standin.stop().success(),
        "modal-standin should exit 0 on SIGTERM"
    );
    for id in &snapshots {
        let image = docker_output(&["images", "-q", &format!("mngr-modal-standin:{id}")]);
        assert_eq!(
            image, "",
            "stopping the stand-in should remove snapshot {id}"
        );
    }
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

#[test]
fn the_official_client_drives_the_v1_sandbox_family() {
    let standin = StandIn::start(&[]);
    let output = standin.run_check_with("v1", TOKEN_SECRET, &[("MODAL_SANDBOX_V2", "0")]);
    assert!(
        output.status.success(),
        "the V1 check failed (see its output above)"
    );
    assert_eq!(
        lines_after(&String::from_utf8_lossy(&output.stdout), "step").len(),
        1
    );
}
