//! Idle shutdown: a host whose activity is older than its idle timeout stops itself, the
//! listing says why (PAUSED), and start brings it back.

use crate::common;
use common::*;
use mngr_plugin_api::*;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn an_idle_host_stops_itself_and_says_why() {
    let world = World::new();
    let inst = world.instance(json!({"default_idle_timeout": 3})).unwrap();
    let rec = inst.create_host(host_request("sleepy")).expect("create");
    let deadline = Instant::now() + Duration::from_secs(60);
    let stopped = loop {
        let h = inst.get_host(rec.id.as_str()).unwrap();
        if h.state != HostState::Running {
            break h;
        }
        assert!(
            Instant::now() < deadline,
            "host did not stop itself within 60 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(stopped.state, HostState::Paused, "{stopped:?}");
    assert_eq!(
        stopped.stop_reason.as_ref().map(StopReason::as_str),
        Some("PAUSED")
    );
    let again = inst.start_host(&rec.id, None).expect("start");
    assert_eq!(again.state, HostState::Running);
    assert_eq!(inst.get_host(rec.id.as_str()).unwrap().stop_reason, None);
    inst.destroy_host(&rec.id).unwrap();
    world.assert_clean();
}
