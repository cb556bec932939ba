//! A docker host through the provider contract on the real engine: create, reach over SSH with
//! the pinned key, stop/start keeping files, snapshot and restore, tags immutable, destroy
//! leaving nothing.

use crate::common;
use common::*;
use mngr_plugin_api::*;
use serde_json::json;

#[test]
fn host_lifecycle_on_the_real_engine() {
    let world = World::new();
    let inst = world.instance(json!({})).unwrap();
    let mut req = host_request("life");
    req.tags.insert("env".into(), "test".into());
    let rec = inst.create_host(req).expect("create");
    assert_eq!(rec.state, HostState::Running);
    assert_eq!(rec.tags.get("env").map(String::as_str), Some("test"));
    let id = rec.id.clone();

    // Reached over SSH with the pinned host key; the private key is 0600.
    let ep = ssh_endpoint(inst.as_ref(), &id);
    let mode = std::fs::metadata(&ep.private_key_path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    let (code, out) = ssh(&ep, "echo hello > /root/kept.txt && cat /root/kept.txt");
    assert_eq!((code, out.trim()), (0, "hello"), "{out}");

    // A wrong pinned key is refused by a strict client.
    let mut wrong = ep.clone();
    wrong.host_public_key = mngr_docker::kit::keys::generate().unwrap().public_openssh;
    let (code, _) = ssh(&wrong, "true");
    assert_ne!(
        code, 0,
        "ssh must refuse a host key that is not the pinned one"
    );

    // Stop keeps the filesystem; list shows why it stopped.
    inst.stop_host(&id).expect("stop");
    let stopped = inst.get_host(id.as_str()).unwrap();
    assert_eq!(stopped.state, HostState::Stopped);
    assert_eq!(
        stopped.stop_reason.as_ref().map(StopReason::as_str),
        Some("STOPPED")
    );
    let started = inst.start_host(&id, None).expect("start");
    assert_eq!(started.state, HostState::Running);
    let ep = ssh_endpoint(inst.as_ref(), &id);
    let (code, out) = ssh(&ep, "cat /root/kept.txt");
    assert_eq!((code, out.trim()), (0, "hello"), "{out}");

    // Snapshot, change the file, restore: the snapshot's content is back.
    let snap = inst.create_snapshot(&id, Some("first")).expect("snapshot");
    assert!(snap.id.starts_with("sha256:"));
    assert_eq!(inst.list_snapshots(&id).unwrap().len(), 1);
    let (code, _) = ssh(&ep, "echo changed > /root/kept.txt");
    assert_eq!(code, 0);
    inst.start_host(&id, Some("first"))
        .expect("start from snapshot");
    let ep = ssh_endpoint(inst.as_ref(), &id);
    let (code, out) = ssh(&ep, "cat /root/kept.txt");
    assert_eq!((code, out.trim()), (0, "hello"), "{out}");

    // Tags are immutable, with a clear message.
    let err = inst.set_tags(&id, Default::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert!(
        err.message.contains("docker tags are immutable"),
        "{}",
        err.message
    );
    let err = inst
        .add_tags(&id, [("a".to_string(), "b".to_string())].into())
        .unwrap_err();
    assert!(err.message.contains("immutable"));
    assert!(!inst.capabilities().mutable_tags);

    // A second instance object (a second mngr) sees the same host through the daemon alone.
    let other_world_dir = tempfile::tempdir().unwrap();
    let ctx = InstanceContext::new(
        world.instance_name.clone(),
        other_world_dir.path(),
        world.prefix.clone(),
        std::sync::Arc::new(QuietServices),
    );
    let second = mngr_docker::DockerBackend
        .build_instance(ctx, Default::default())
        .unwrap();
    let seen = second.discover_hosts(false).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].id, id);
    let ep2 = ssh_endpoint(second.as_ref(), &id);
    assert_eq!(ssh(&ep2, "cat /root/kept.txt").1.trim(), "hello");

    inst.destroy_host(&id).expect("destroy");
    assert!(inst.discover_hosts(true).unwrap().is_empty());
    drop(other_world_dir);
    world.assert_clean();
}
