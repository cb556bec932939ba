//! Bad Dockerfiles, bad -s / -b flags and missing images: clear errors, nothing left behind.

use crate::common;
use common::*;
use mngr_plugin_api::*;
use serde_json::json;

#[test]
fn a_bad_dockerfile_fails_cleanly_with_the_build_error() {
    let world = World::new();
    let inst = world.instance(json!({})).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {BASE_IMAGE}\nRUN echo building && exit 7\n"),
    )
    .unwrap();
    let mut req = host_request("badbuild");
    req.flags.insert(
        "dockerfile".into(),
        json!(dir.path().join("Dockerfile").to_string_lossy()),
    );
    let err = inst.create_host(req).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err:?}");
    assert!(
        err.message.contains("image build failed"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("exit") || err.message.contains("returned a non-zero code"),
        "{}",
        err.message
    );
    assert!(inst.discover_hosts(false).unwrap().is_empty());

    // A Dockerfile that does not parse.
    std::fs::write(dir.path().join("Dockerfile"), "FROMM nothing\n").unwrap();
    let mut req = host_request("badsyntax");
    req.flags.insert(
        "dockerfile".into(),
        json!(dir.path().join("Dockerfile").to_string_lossy()),
    );
    let err = inst.create_host(req).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err:?}");
    world.assert_clean();
}

#[test]
fn a_good_dockerfile_with_build_args_builds_and_destroy_removes_the_image() {
    let world = World::new();
    let inst = world.instance(json!({})).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {BASE_IMAGE}\nARG GREETING=none\nRUN echo \"$GREETING\" > /greeting\n"),
    )
    .unwrap();
    let mut req = host_request("built");
    req.flags.insert(
        "dockerfile".into(),
        json!(dir.path().join("Dockerfile").to_string_lossy()),
    );
    req.build_args = vec!["--no-cache".into(), "--build-arg=GREETING=hi-there".into()];
    req.start_args = vec!["--memory=512m".into(), "-e".into(), "FROM_START=yes".into()];
    let rec = inst.create_host(req).expect("create from Dockerfile");
    let ep = ssh_endpoint(inst.as_ref(), &rec.id);
    assert_eq!(ssh(&ep, "cat /greeting").1.trim(), "hi-there");
    let (_, mem) = ssh(
        &ep,
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
    );
    assert_eq!(mem.trim(), (512u64 << 20).to_string());
    let (_, env) = ssh(&ep, "tr '\\0' '\\n' < /proc/1/environ | grep FROM_START");
    assert_eq!(env.trim(), "FROM_START=yes");
    inst.destroy_host(&rec.id).unwrap();
    world.assert_clean();
}

#[test]
fn bad_start_and_build_flags_are_refused_before_anything_is_made() {
    let world = World::new();
    let inst = world.instance(json!({})).unwrap();
    let cases: Vec<(Vec<&str>, Vec<&str>, &str)> = vec![
        (vec!["--cpuz=2"], vec![], "unknown docker run flag '--cpuz'"),
        (vec!["--memory=lots"], vec![], "--memory=lots"),
        (vec!["--rm"], vec![], "'--rm' cannot be used"),
        (
            vec!["--entrypoint=/bin/x"],
            vec![],
            "'--entrypoint' cannot be used",
        ),
        (vec!["ubuntu"], vec![], "unexpected start arg 'ubuntu'"),
        (
            vec![],
            vec!["--bogus"],
            "unknown docker build flag '--bogus'",
        ),
    ];
    for (start, build, expected) in cases {
        let mut req = host_request("flags");
        req.start_args = start.iter().map(|s| s.to_string()).collect();
        req.build_args = build.iter().map(|s| s.to_string()).collect();
        let err = inst.create_host(req).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput, "{err:?}");
        assert!(
            err.message.contains(expected),
            "expected '{expected}' in: {}",
            err.message
        );
    }
    // A flag Docker itself refuses at create time (a bad network) is reported, not dropped.
    let mut req = host_request("badnet");
    req.start_args = vec!["--network=no-such-network-mngr".into()];
    let err = inst.create_host(req).unwrap_err();
    assert!(
        err.message.contains("no-such-network-mngr"),
        "{}",
        err.message
    );
    world.assert_clean();
}

#[test]
fn a_missing_image_is_never_pulled() {
    let world = World::new();
    let inst = world
        .instance(json!({"default_image": "mngr-no-such-image:latest"}))
        .unwrap();
    let err = inst.create_host(host_request("noimage")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err:?}");
    assert!(err.message.contains("never pulls"), "{}", err.message);
    world.assert_clean();
}
