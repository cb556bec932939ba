//! Modal over TLS, as on api.modal.com: the stand-in serves its control plane, command router
//! and block store with a certificate from a CA this test makes, which mngr trusts only through
//! SSL_CERT_FILE.

use crate::modal_common::tls::TestCa;
use crate::modal_common::*;

fn tls_standin(ca: &TestCa) -> StandIn {
    let flags = ca.standin_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let standin = StandIn::start_with(&flags);
    assert!(standin.url.starts_with("https://"), "{}", standin.url);
    standin
}

#[test]
fn an_agent_on_modal_over_tls_is_created_snapshotted_listed_and_destroyed() {
    let ca = TestCa::new();
    let standin = tls_standin(&ca);
    let mut w = modal_world(&standin);
    w.set_env("SSL_CERT_FILE", ca.ca().to_str().expect("utf8"));
    let run = w.create(&["secure", "--in", "modal", "--", "sleep", "1000"]);
    assert!(
        run.stdout.starts_with("Created agent: secure@"),
        "{}",
        run.stdout
    );
    assert_eq!(
        w.run(&["exec", "secure", "echo over-tls"]).ok(),
        "over-tls\n"
    );
    let listed = w.run(&["list", "--format", "json"]).json();
    assert_eq!(listed["agents"][0]["host"]["state"], "RUNNING", "{listed}");
    // A snapshot goes through the command router (https) and its record onto the volume
    // (https block URLs).
    w.run(&["snapshot", "create", "secure", "--name", "tls-snap"])
        .ok();
    assert!(
        w.run(&["snapshot", "list", "secure"])
            .ok()
            .contains("tls-snap")
    );
    w.run(&["destroy", "secure", "--force"]).ok();
    assert!(w.agent("secure").is_none());
    assert!(standin.sandboxes().is_empty(), "{:?}", standin.sandboxes());
    assert!(key_files(&w).is_empty(), "{:?}", key_files(&w));
}

#[test]
fn a_certificate_from_an_untrusted_ca_is_one_clear_line_with_exit_6() {
    let ca = TestCa::new();
    let other = TestCa::new();
    let standin = tls_standin(&ca);
    let mut w = modal_world(&standin);
    w.set_env("SSL_CERT_FILE", other.ca().to_str().expect("utf8"));
    let run = w.run(&["create", "doubtful", "--in", "modal", "--", "sleep", "10"]);
    let line = run.error_line(6);
    assert!(
        line.contains("TLS certificate is not trusted (UnknownIssuer)"),
        "{line}"
    );
    assert!(run.stderr.contains("SSL_CERT_FILE"), "{}", run.stderr);
    assert!(standin.sandboxes().is_empty(), "{:?}", standin.sandboxes());
    assert!(key_files(&w).is_empty(), "{:?}", key_files(&w));
}
