//! Several instances at once, a daemon reached over tcp:// (a loopback forward of the local
//! socket set up by the test), and a daemon that cannot be reached.

use crate::common;
use common::*;
use mngr_plugin_api::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;

/// Forward 127.0.0.1:<port> to the local Docker socket, so `tcp://127.0.0.1:<port>` is a real
/// TCP route to the daemon. Runs until the test process ends.
fn tcp_forward_to_docker_socket() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(tcp) = conn else { continue };
            let Ok(unix) = UnixStream::connect("/var/run/docker.sock") else {
                continue;
            };
            let (mut tcp_r, mut unix_w) = (tcp.try_clone().unwrap(), unix.try_clone().unwrap());
            let (mut unix_r, mut tcp_w) = (unix, tcp);
            std::thread::spawn(move || {
                let _ = pump(&mut tcp_r, &mut unix_w);
                let _ = unix_w.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = pump(&mut unix_r, &mut tcp_w);
                let _ = tcp_w.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

fn pump(from: &mut impl Read, to: &mut impl Write) -> std::io::Result<()> {
    let mut buf = [0u8; 16384];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
    }
}

#[test]
fn two_instances_one_over_tcp_each_see_only_their_hosts() {
    let world = World::new();
    let port = tcp_forward_to_docker_socket();
    // Prove the route is TCP: a closed port next to it fails, the forward works.
    TcpStream::connect(("127.0.0.1", port)).expect("forward listens");
    let local = world.instance_named("dklocal", json!({})).unwrap();
    let remote = world
        .instance_named(
            "dkremote",
            json!({"host": format!("tcp://127.0.0.1:{port}")}),
        )
        .unwrap();
    let a = local
        .create_host(host_request("alpha"))
        .expect("create on local daemon");
    let b = remote
        .create_host(host_request("beta"))
        .expect("create over tcp");
    assert_eq!(
        b.details.get("daemon").and_then(|v| v.as_str()),
        Some(format!("tcp://127.0.0.1:{port}").as_str())
    );

    let names = |i: &dyn ProviderInstance| -> Vec<String> {
        i.discover_hosts(false)
            .unwrap()
            .into_iter()
            .map(|h| h.name.to_string())
            .collect()
    };
    assert_eq!(names(local.as_ref()), vec!["alpha"]);
    assert_eq!(names(remote.as_ref()), vec!["beta"]);
    // The host made over tcp:// is reachable over SSH like any other.
    let ep = ssh_endpoint(remote.as_ref(), &b.id);
    assert_eq!(ssh(&ep, "echo via-tcp").1.trim(), "via-tcp");

    local.destroy_host(&a.id).unwrap();
    remote.destroy_host(&b.id).unwrap();
    world.assert_clean();
}

#[test]
fn an_unreachable_daemon_makes_the_provider_unavailable() {
    let world = World::new();
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let inst = world
        .instance(json!({"host": format!("tcp://127.0.0.1:{closed}")}))
        .expect("building an instance does not contact the daemon");
    let err = inst.discover_hosts(false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err:?}");
    assert!(
        err.message.contains(&format!("tcp://127.0.0.1:{closed}")),
        "{}",
        err.message
    );
    let err = inst.create_host(host_request("never")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err:?}");
    world.assert_clean();
}

#[test]
fn unknown_settings_keys_are_rejected() {
    let world = World::new();
    let err = world
        .instance(json!({"default_imag": "x"}))
        .err()
        .expect("rejected");
    assert_eq!(err.kind, ErrorKind::InvalidConfig);
    assert!(
        err.message.contains("unknown key 'default_imag'"),
        "{}",
        err.message
    );
}

#[test]
fn listing_works_when_every_container_was_stopped_behind_mngrs_back() {
    let world = World::new();
    let inst = world.instance(json!({})).unwrap();
    let rec = inst.create_host(host_request("halted")).expect("create");
    // Stop everything of this world with the docker CLI, state container included.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker ps -q --filter name=^{} | xargs -r docker stop -t 2 >/dev/null",
            world.prefix
        ))
        .status()
        .unwrap();
    assert!(status.success());
    // A fresh mngr (new instance) still lists the host, from the records on the volume.
    let fresh = world.instance(json!({})).unwrap();
    let hosts = fresh
        .discover_hosts(false)
        .expect("listing with the daemon's containers stopped");
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].id, rec.id);
    assert_eq!(hosts[0].state, HostState::Stopped);
    // And it comes back.
    assert_eq!(
        fresh.start_host(&rec.id, None).unwrap().state,
        HostState::Running
    );
    fresh.destroy_host(&rec.id).unwrap();
    world.assert_clean();
}
