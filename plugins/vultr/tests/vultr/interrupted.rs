//! A `mngr create` killed (SIGKILL, nothing can run on the way out) at its steps: once its
//! SSH key is registered, and once its VPS is booting. What it left is listed as abandoned
//! and `mngr gc` removes all of it: no instance, SSH key or local key file is left.

use crate::common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Start a create and kill it as soon as `reached` holds for the stand-in's state.
fn kill_create_when(
    rt: &tokio::runtime::Runtime,
    s: &StandIn,
    m: &Mngr,
    name: &str,
    reached: impl Fn(&Value, &Value) -> bool,
) {
    let mut child = m
        .command(&["create", name, "--in", "vultr", "--", "sleep", "1000"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let keys = rt.block_on(s.get("/ssh-keys"));
        let instances = rt.block_on(s.get("/instances"));
        if reached(&keys, &instances) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the create ended before its kill"
        );
        assert!(
            Instant::now() < deadline,
            "the create never reached its kill point"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

fn count(list: &Value, field: &str) -> usize {
    list[field].as_array().map(Vec::len).unwrap_or(0)
}

#[test]
fn a_create_killed_at_each_step_leaves_nothing_gc_cannot_remove() {
    let rt = runtime();
    let s = StandIn::start(&["--no-inner-images", "--latency-ms", "300"]);
    let m = Mngr::new(&s);
    // Killed once its key is registered, before (or just as) the VPS is ordered.
    kill_create_when(&rt, &s, &m, "early", |keys, _| count(keys, "ssh_keys") == 1);
    // Killed while its VPS boots.
    kill_create_when(&rt, &s, &m, "booting", |_, instances| {
        instances["instances"]
            .as_array()
            .is_some_and(|l| l.iter().any(|i| i["label"] == "mngr-booting"))
    });
    let listed: Value =
        serde_json::from_str(&m.ok(&["list", "--hosts", "--format", "json"])).unwrap();
    let abandoned: Vec<&str> = listed["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["abandoned"].is_string())
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert!(abandoned.contains(&"booting"), "{listed:#}");
    assert!(abandoned.contains(&"early"), "{listed:#}");
    m.ok(&["gc"]);
    assert_eq!(rt.block_on(s.leftovers()), Vec::<String>::new());
    assert_eq!(key_files(m.root.path()), Vec::<std::path::PathBuf>::new());
    assert_eq!(m.host_state("early"), "absent");
}
