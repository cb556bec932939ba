//! A `mngr create` killed (SIGKILL, nothing can run on the way out) at its steps: once its
//! SSH key is registered, and once its VPS is booting; and a `mngr destroy` killed once the
//! host's container is gone from its VPS, and once the VPS itself is gone. What they left is
//! listed as abandoned and `mngr gc` removes all of it: no instance, SSH key, container or
//! local key file is left.

use crate::common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Run mngr with `args` and kill it as soon as `reached` holds.
fn kill_when(m: &Mngr, args: &[&str], mut reached: impl FnMut() -> bool) {
    let mut child = m
        .command(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !reached() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "mngr {args:?} ended before its kill"
        );
        assert!(
            Instant::now() < deadline,
            "mngr {args:?} never reached its kill point"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Start a create and kill it as soon as `reached` holds for the stand-in's state.
fn kill_create_when(
    rt: &tokio::runtime::Runtime,
    s: &StandIn,
    m: &Mngr,
    name: &str,
    reached: impl Fn(&Value, &Value) -> bool,
) {
    kill_when(
        m,
        &["create", name, "--in", "vultr", "--", "sleep", "1000"],
        || {
            let keys = rt.block_on(s.get("/ssh-keys"));
            let instances = rt.block_on(s.get("/instances"));
            reached(&keys, &instances)
        },
    );
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

/// Whether `docker ps -a` with `args` (run on this machine, or inside a stand-in VPS when
/// `args` starts with `exec`) lists nothing.
fn docker_lists_nothing(args: &[&str]) -> bool {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .unwrap();
    out.stdout.iter().all(u8::is_ascii_whitespace)
}

#[test]
fn a_destroy_killed_midway_is_listed_abandoned_and_gc_finishes_it() {
    let rt = runtime();
    let s = StandIn::start(&[]);
    let m = Mngr::new(&s);
    std::thread::scope(|scope| {
        for name in ["cut", "late"] {
            let m = &m;
            scope.spawn(move || m.ok(&["create", name, "--in", "vultr", "--", "sleep", "1000"]));
        }
    });
    let instance_of = |name: &str| -> String {
        let listed = rt.block_on(s.get("/instances"));
        listed["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["label"] == format!("mngr-{name}"))
            .map(|i| i["id"].as_str().unwrap().to_string())
            .expect("the host's VPS")
    };
    let (cut, late) = (instance_of("cut"), instance_of("late"));
    // Every API answer and SSH connect now waits, so each kill lands between two steps.
    rt.block_on(s.control("latency", serde_json::json!({"ms": 500})));

    // Killed once the container is gone from the VPS, before (or as) the VPS is destroyed.
    let machine = format!("vultr-standin-{cut}");
    kill_when(&m, &["destroy", "cut", "--force"], || {
        docker_lists_nothing(&[
            "exec",
            &machine,
            "docker",
            "ps",
            "-aq",
            "--filter",
            "name=^mngr-cut$",
        ])
    });
    // Killed once its VPS is gone, before (or as) its SSH key and local files are removed.
    let machine = format!("vultr-standin-{late}");
    kill_when(&m, &["destroy", "late", "--force"], || {
        docker_lists_nothing(&["ps", "-aq", "--filter", &format!("name=^{machine}$")])
    });

    let listed: Value =
        serde_json::from_str(&m.ok(&["list", "--hosts", "--format", "json"])).unwrap();
    let hosts = listed["hosts"].as_array().unwrap();
    let cut_host = hosts.iter().find(|h| h["name"] == "cut");
    let cut_host = cut_host.unwrap_or_else(|| panic!("{listed:#}"));
    assert!(
        cut_host["abandoned"]
            .as_str()
            .is_some_and(|why| why.contains("destroy was interrupted")),
        "{listed:#}"
    );
    m.ok(&["gc"]);
    rt.block_on(s.control("latency", serde_json::json!({"ms": 0})));
    assert_eq!(rt.block_on(s.leftovers()), Vec::<String>::new());
    assert_eq!(key_files(m.root.path()), Vec::<std::path::PathBuf>::new());
    assert!(docker_lists_nothing(&[
        "ps",
        "-aq",
        "--filter",
        &format!("name=^vultr-standin-({cut}|{late})$")
    ]));
    assert_eq!(m.host_state("cut"), "absent");
    assert_eq!(m.host_state("late"), "absent");
}
