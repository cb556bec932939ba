//! What several mngr processes (separate instance objects, each with its own state-store
//! handle) do at once on one docker instance, what happens when its state container is
//! removed by hand, what a destroy of a gone host says, and where sshd is published.

use crate::common;
use common::*;
use mngr_plugin_api::*;
use serde_json::json;
use std::process::Command;

fn state_name(world: &World) -> String {
    format!("{}docker-state-{}", world.prefix, world.instance_name)
}

#[test]
fn parallel_first_creates_and_parallel_destroys_on_a_fresh_instance_leave_nothing() {
    let world = World::new();
    let hosts: Vec<HostRecord> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let world = &world;
                s.spawn(move || {
                    let inst = world.instance(json!({})).unwrap();
                    inst.create_host(host_request(&format!("par{i}")))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    })
    .into_iter()
    .enumerate()
    .map(|(i, r)| r.unwrap_or_else(|e| panic!("parallel create {i} failed: {e}")))
    .collect();
    let lister = world.instance(json!({})).unwrap();
    assert_eq!(lister.discover_hosts(false).unwrap().len(), 4);

    // Destroy them all at once while another mngr keeps listing: every listing works, and
    // the last destroy takes the state container and volume with it.
    let done = std::sync::atomic::AtomicBool::new(false);
    let list_errors = std::thread::scope(|s| {
        let listing = s.spawn(|| {
            let mut errors = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                let fresh = world.instance(json!({})).unwrap();
                if let Err(e) = fresh.discover_hosts(false) {
                    errors.push(e.to_string());
                }
            }
            errors
        });
        let destroys: Vec<_> = hosts
            .iter()
            .map(|h| {
                let world = &world;
                s.spawn(move || world.instance(json!({})).unwrap().destroy_host(&h.id))
            })
            .collect();
        let destroyed: Vec<_> = destroys.into_iter().map(|d| d.join().unwrap()).collect();
        done.store(true, std::sync::atomic::Ordering::Release);
        (destroyed, listing.join().unwrap())
    });
    let (destroyed, list_errors) = list_errors;
    for (i, d) in destroyed.into_iter().enumerate() {
        d.unwrap_or_else(|e| panic!("parallel destroy {i} failed: {e}"));
    }
    assert!(
        list_errors.is_empty(),
        "list failed during destroys: {list_errors:?}"
    );
    world.assert_clean();
}

#[test]
fn a_state_container_removed_by_hand_is_recreated_and_its_hosts_still_listed() {
    let world = World::new();
    let inst = world.instance(json!({})).unwrap();
    let host = inst.create_host(host_request("kept")).expect("create");
    let rm = Command::new("docker")
        .args(["rm", "-f", &state_name(&world)])
        .output()
        .unwrap();
    assert!(rm.status.success());
    // A fresh mngr, and the one that already used the container, both still see the host.
    let fresh = world.instance(json!({})).unwrap();
    let seen = fresh
        .discover_hosts(false)
        .expect("list after the state container went");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].id, host.id);
    Command::new("docker")
        .args(["rm", "-f", &state_name(&world)])
        .output()
        .unwrap();
    let seen = inst.discover_hosts(false).expect("list by the same mngr");
    assert_eq!(seen.len(), 1, "{seen:?}");
    let running = docker_lines(&[
        "ps",
        "--filter",
        &format!("name=^{}$", state_name(&world)),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(running, vec![state_name(&world)]);
    inst.destroy_host(&host.id).expect("destroy");
    world.assert_clean();
}

#[test]
fn destroying_a_host_that_is_gone_says_not_found() {
    let world = World::new();
    let inst = world.instance(json!({})).unwrap();
    let host = inst.create_host(host_request("once")).expect("create");
    inst.destroy_host(&host.id).expect("first destroy");
    let err = inst.destroy_host(&host.id).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("already gone"), "{}", err.message);
    // Another mngr that never saw it says the same.
    let other = world.instance(json!({})).unwrap();
    assert_eq!(
        other.destroy_host(&host.id).unwrap_err().kind,
        ErrorKind::NotFound
    );
    world.assert_clean();
}

/// The addresses of this machine other than loopback.
fn outside_addresses() -> Vec<String> {
    let out = Command::new("hostname").arg("-I").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|a| !a.contains(':'))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_local_daemon_publishes_each_hosts_sshd_on_loopback_only() {
    let world = World::new();
    let inst = world.instance(json!({})).unwrap();
    let host = inst.create_host(host_request("local")).expect("create");
    let container = format!("{}local", world.prefix);
    let bindings = docker_lines(&[
        "inspect",
        "--format",
        "{{range $p, $b := .NetworkSettings.Ports}}{{range $b}}{{$p}} {{.HostIp}}:{{.HostPort}}\n{{end}}{{end}}",
        &container,
    ]);
    assert!(!bindings.is_empty(), "no published ports");
    for b in &bindings {
        assert!(
            b.starts_with("22/tcp 127.0.0.1:"),
            "published beyond loopback: {bindings:?}"
        );
    }
    let port: u16 = bindings[0].rsplit(':').next().unwrap().parse().unwrap();
    // Reachable here, refused from this machine's other addresses.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    for address in outside_addresses() {
        assert!(
            std::net::TcpStream::connect((address.as_str(), port)).is_err(),
            "sshd answers on {address}:{port}"
        );
    }
    inst.destroy_host(&host.id).expect("destroy");

    // Asked for every interface, it is published there.
    let wide = world
        .instance(json!({"publish_address": "0.0.0.0"}))
        .unwrap();
    let host = wide.create_host(host_request("wide")).expect("create");
    let bindings = docker_lines(&[
        "inspect",
        "--format",
        "{{range $b := index .NetworkSettings.Ports \"22/tcp\"}}{{.HostIp}}\n{{end}}",
        &format!("{}wide", world.prefix),
    ]);
    assert_eq!(bindings, vec!["0.0.0.0".to_string()]);
    wide.destroy_host(&host.id).expect("destroy");

    let err = world
        .instance(json!({"publish_address": "all"}))
        .err()
        .expect("a bad publish_address is refused");
    assert_eq!(err.kind, ErrorKind::InvalidConfig);
    world.assert_clean();
}
