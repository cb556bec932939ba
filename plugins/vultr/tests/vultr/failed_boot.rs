//! A VPS whose boot fails (the stand-in's boot-fault knob stops it before its sshd starts, as
//! a full disk would): the API still calls it active and `installingbooting`, the stand-in's
//! control path says it failed, and the create ends within the boot allowance with one clear
//! error naming the instance; the VPS, its SSH key and the local key files are gone.

use crate::common::*;
use mngr_plugin_api::conformance::RecordedServices;
use mngr_plugin_api::*;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn a_vps_whose_boot_fails_is_one_clear_error_and_leaves_nothing() {
    let rt = runtime();
    let s = StandIn::start(&["--no-inner-images"]);
    rt.block_on(s.control("boot-fault", json!({"step": "sshd", "count": 1})));
    let state = tempfile::tempdir().unwrap();
    let services = Arc::new(RecordedServices::default());
    let mut table = s.table();
    table.insert("vps_boot_timeout".into(), json!(60.0));
    let inst = instance("vultr", state.path(), table, services.clone());

    let failed = std::thread::scope(|scope| {
        let create = scope
            .spawn(|| inst.create_host(CreateHostRequest::new(HostName::parse("broken").unwrap())));
        // While the create waits: the boot is reported failed, the API knows no such state.
        let deadline = Instant::now() + Duration::from_secs(120);
        let (id, why) = loop {
            let boots = rt.block_on(s.control_state("boots"));
            let failed = boots["boots"].as_object().and_then(|b| {
                b.iter()
                    .find(|(_, boot)| boot["state"] == "failed")
                    .map(|(id, boot)| (id.clone(), boot["error"].to_string()))
            });
            if let Some(found) = failed {
                break found;
            }
            assert!(Instant::now() < deadline, "no boot failed: {boots}");
            std::thread::sleep(Duration::from_millis(500));
        };
        assert!(why.contains("sshd"), "{why}");
        let vps = rt.block_on(s.get(&format!("/instances/{id}")))["instance"].clone();
        assert_eq!(
            (vps["status"].as_str(), vps["server_status"].as_str()),
            (Some("active"), Some("installingbooting")),
            "{vps}"
        );
        (id, create.join().unwrap())
    });
    let (id, result) = failed;
    let e = result.expect_err("a VPS without sshd cannot become a host");
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
    assert!(
        e.message.contains(&format!("VPS {id} at "))
            && e.message.contains("did not let mngr log in within 60 s"),
        "{e:?}"
    );
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.contains("vps_boot_timeout")),
        "{e:?}"
    );
    assert_eq!(rt.block_on(s.leftovers()), Vec::<String>::new());
    assert_eq!(files_under(state.path()), Vec::<std::path::PathBuf>::new());
    assert_no_secrets(&services.lines());
}
