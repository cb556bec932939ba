//! One host through the loaded plugin: its idle timeout stops the container while the VPS
//! keeps running, start brings it back, a stop is listed with its reason, plan and region,
//! and a VPS whose host key is not the pinned one is
//! refused (mngr never trusts a key on first use, nor a changed one later). Destroy still
//! removes the VPS it cannot log in to.

use crate::common::*;
use mngr_plugin_api::conformance::RecordedServices;
use mngr_plugin_api::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn an_idle_container_stops_while_the_vps_runs_and_a_changed_vps_host_key_is_refused() {
    let rt = runtime();
    let s = StandIn::start(&[]);
    let state = tempfile::tempdir().unwrap();
    let services = Arc::new(RecordedServices::default());
    let inst = instance("vultr", state.path(), s.table(), services.clone());
    let mut request = CreateHostRequest::new(HostName::parse("sleepy").unwrap());
    request.lifecycle.idle_timeout_seconds = Some(5);
    let host = inst.create_host(request).expect("create");
    assert_eq!(host.state, HostState::Running);
    assert!(
        host.details["plan"]
            .as_str()
            .unwrap()
            .starts_with("vc2-1c-1gb")
    );

    let deadline = Instant::now() + Duration::from_secs(120);
    let stopped = loop {
        let h = inst.get_host(host.id.as_str()).unwrap();
        if h.state != HostState::Running {
            break h;
        }
        assert!(
            Instant::now() < deadline,
            "the idle host did not stop within 120 s"
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    assert_eq!(stopped.state, HostState::Paused, "{stopped:?}");
    assert_eq!(stopped.stop_reason, Some(StopReason::Paused));
    let vps_id = host.details["vps_instance"].as_str().unwrap().to_string();
    let vps = rt.block_on(s.get(&format!("/instances/{vps_id}")))["instance"].clone();
    assert_eq!(vps["power_status"], "running", "the VPS keeps running");
    let again = inst.start_host(&host.id, None).expect("start");
    assert_eq!(again.state, HostState::Running);
    assert_eq!(again.stop_reason, None);

    // Stopped by mngr: a listing that reads the VPS and its record anew (another instance,
    // nothing cached) says why, and what keeping the VPS costs (its plan) and where it runs.
    inst.stop_host(&host.id).expect("stop");
    let reread = instance("vultr", state.path(), s.table(), services.clone());
    let listed = reread
        .discover_hosts(false)
        .unwrap()
        .into_iter()
        .find(|h| h.id == host.id)
        .expect("the stopped host is listed");
    assert_eq!(listed.state, HostState::Stopped, "{listed:?}");
    assert_eq!(listed.stop_reason, Some(StopReason::Stopped));
    let plan = listed.details["plan"].as_str().unwrap_or_default();
    assert!(
        plan.starts_with("vc2-1c-1gb") && plan.contains("billed while the VPS exists"),
        "{listed:?}"
    );
    assert_eq!(listed.details["region"], "ewr", "{listed:?}");
    let again = inst.start_host(&host.id, None).expect("start");
    assert_eq!(again.state, HostState::Running);
    assert_eq!(again.details["region"], "ewr");

    // Another key pinned for the VPS: a fresh instance (no open session) refuses to log in.
    let pinned = state
        .path()
        .join("vultr/keys")
        .join(host.id.as_str())
        .join("vps_host_ed25519.pub");
    assert!(pinned.exists(), "{}", pinned.display());
    let other = mngr_provider_kit::keys::generate().unwrap().public_openssh;
    std::fs::write(&pinned, other).unwrap();
    let fresh = instance("vultr", state.path(), s.table(), services.clone());
    let listed = fresh.get_host(host.id.as_str()).unwrap();
    let why = listed.failure_reason.clone().unwrap_or_default();
    assert!(
        why.contains("offered an SSH host key other than the one mngr generated for it"),
        "{listed:?}"
    );
    let refused = fresh.host_access(&host.id).unwrap_err();
    assert!(
        refused.message.contains("refusing to connect"),
        "{refused:?}"
    );

    fresh.destroy_host(&host.id).expect("destroy");
    assert_eq!(rt.block_on(s.leftovers()), Vec::<String>::new());
    assert_eq!(files_under(state.path()), Vec::<std::path::PathBuf>::new());
    assert_no_secrets(&services.lines());
}
