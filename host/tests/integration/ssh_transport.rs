//! The SSH transport against a real sshd in a docker container: commands, files, rsync,
//! the remote host lock, and host key pinning.

use crate::docker_common;
use docker_common::*;
use mngr::transport::{
    LockWait, PushOptions, Transport, TransportError, connect, ssh::SshTransport,
};
use mngr_plugin_api::HostAccess;
use std::time::{Duration, Instant};

#[test]
fn ssh_transport_runs_commands_moves_files_and_locks() {
    let host = DockerHost::create();
    let t = connect(&HostAccess::Ssh(host.endpoint.clone())).expect("transport");
    assert!(!t.is_local());

    // Commands: output, stderr, exit codes; the connection is reused (fast repeated calls).
    let out = t.run("echo out; echo err >&2; exit 3", None).unwrap();
    assert_eq!(
        (out.exit_code, out.stdout.as_str(), out.stderr.as_str()),
        (3, "out\n", "err\n")
    );
    let start = Instant::now();
    for i in 0..10 {
        assert_eq!(
            t.run(&format!("echo {i}"), None).unwrap().stdout.trim(),
            i.to_string()
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "10 commands took {:?}",
        start.elapsed()
    );
    let err = t
        .run("sleep 5", Some(Duration::from_millis(500)))
        .unwrap_err();
    assert!(matches!(err, TransportError::Timeout(_)), "{err:?}");

    // Files: atomic write with mode, read back, missing is None.
    t.write_file("/tmp/x/y/file.txt", b"hello\nworld", Some(0o640))
        .unwrap();
    assert_eq!(
        t.read_file("/tmp/x/y/file.txt").unwrap().as_deref(),
        Some(&b"hello\nworld"[..])
    );
    assert_eq!(
        t.run("stat -c %a /tmp/x/y/file.txt", None)
            .unwrap()
            .stdout
            .trim(),
        "640"
    );
    assert_eq!(t.read_file("/tmp/x/nope").unwrap(), None);

    // push_dir: everything but excludes, then only listed files.
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("sub")).unwrap();
    std::fs::write(src.path().join("a.txt"), "a").unwrap();
    std::fs::write(src.path().join("sub/b.txt"), "b").unwrap();
    std::fs::write(src.path().join("skip.log"), "s").unwrap();
    let opts = PushOptions {
        excludes: vec!["*.log".into()],
        files: None,
    };
    t.push_dir(src.path(), "/work/copy", &opts).unwrap();
    let listing = t
        .run("cd /work/copy && find . -type f | sort", None)
        .unwrap()
        .stdout;
    assert_eq!(listing, "./a.txt\n./sub/b.txt\n");
    // A socket in the source is skipped, as rsync -a would not copy it either.
    let _socket = std::os::unix::net::UnixListener::bind(src.path().join("sock")).unwrap();
    t.push_dir(src.path(), "/work/with-socket", &opts).unwrap();
    let listing = t
        .run("cd /work/with-socket && find . -type f | sort", None)
        .unwrap()
        .stdout;
    assert_eq!(listing, "./a.txt\n./sub/b.txt\n");
    let only = PushOptions {
        excludes: vec![],
        files: Some(vec!["sub/b.txt".into()]),
    };
    t.push_dir(src.path(), "/work/only", &only).unwrap();
    assert_eq!(
        t.run("cd /work/only && find . -type f", None)
            .unwrap()
            .stdout,
        "./sub/b.txt\n"
    );

    // The host lock: a second holder times out until the first lets go, is told who holds it
    // while it waits and when it gives up; generation counts.
    let guard = t.lock_host("/mngr", &LockWait::quietly(None)).unwrap();
    let second = connect(&HostAccess::Ssh(host.endpoint.clone())).unwrap();
    let told = std::sync::Mutex::new(Vec::new());
    let on_wait = |holder: &str| told.lock().unwrap().push(holder.to_string());
    let wait = LockWait {
        timeout: Some(Duration::from_secs(3)),
        on_wait: &on_wait,
    };
    let err = second
        .lock_host("/mngr", &wait)
        .err()
        .expect("lock is held");
    let me = format!("pid {}", std::process::id());
    let TransportError::LockTimeout(message) = err else {
        panic!("{err:?}")
    };
    assert!(message.contains(&me), "{message}");
    let told = told.into_inner().unwrap();
    assert!(told.len() == 1 && told[0].contains(&me), "{told:?}");
    drop(guard);
    let again = second
        .lock_host("/mngr", &LockWait::quietly(Some(Duration::from_secs(10))))
        .expect("lock after release");
    drop(again);
    let generation: u64 = t
        .read_file("/mngr/host_lock.generation")
        .unwrap()
        .map(|b| String::from_utf8_lossy(&b).trim().parse().unwrap())
        .unwrap();
    assert_eq!(generation, 2);
}

#[test]
fn a_host_key_that_is_not_the_pinned_one_is_refused() {
    let host = DockerHost::create();
    let mut wrong = host.endpoint.clone();
    // Pin a different ed25519 key: the real host key must be refused, naming the problem.
    wrong.host_public_key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl".into();
    let t = SshTransport::new(&wrong).unwrap();
    let err = t.run("true", None).unwrap_err();
    match err {
        TransportError::Authentication(msg) => {
            assert!(msg.contains("does not match the key pinned"), "{msg}")
        }
        other => panic!("expected an authentication error, got {other:?}"),
    }
    // The right key still works, from the same endpoint.
    let ok = SshTransport::new(&host.endpoint).unwrap();
    assert_eq!(ok.run("echo ok", None).unwrap().stdout.trim(), "ok");
}

#[test]
fn direct_routes_are_tried_first_and_the_endpoint_is_the_fallback() {
    let host = DockerHost::create();
    // The docker provider offers the container's own address when its daemon is local.
    assert!(
        !host.endpoint.direct_routes.is_empty(),
        "a local Linux daemon should offer the container's address: {:?}",
        host.endpoint
    );

    // Only the direct route leads to sshd: the endpoint's own port is closed.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut direct_only = host.endpoint.clone();
    direct_only.port = closed_port;
    let t = SshTransport::new(&direct_only).unwrap();
    assert_eq!(t.run("echo direct", None).unwrap().stdout.trim(), "direct");

    // Direct routes that refuse or never answer: the endpoint's address still works.
    let mut fallback = host.endpoint.clone();
    fallback.direct_routes = vec![
        mngr_plugin_api::SshRoute::new("127.0.0.1", closed_port),
        // TEST-NET-1 (RFC 5737): nothing answers there.
        mngr_plugin_api::SshRoute::new("192.0.2.1", 22),
    ];
    let t = SshTransport::new(&fallback).unwrap();
    assert_eq!(
        t.run("echo fallback", None).unwrap().stdout.trim(),
        "fallback"
    );
}
