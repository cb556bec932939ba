//! The example backend against the conformance suite, one test per check: directly (as a Rust
//! library, module `the_backend_directly`) and through the FFI adapters in-process (export to
//! sabi objects and import back, without dlopen; module `the_backend_through_the_ffi_adapters`).
//! The load-from-shared-library run is in `host/tests/integration/conformance.rs`.

use mngr_example_dirs::DirsBackend;
use mngr_plugin_api::conformance::{RecordedServices, Suite, basic_request};
use mngr_plugin_api::ffi::export::export_backend;
use mngr_plugin_api::*;
use mngr_plugin_loader::import_backend;
use std::sync::Arc;

fn context(dir: &std::path::Path) -> InstanceContext {
    context_with(dir, Arc::new(RecordedServices::default()))
}

fn context_with(dir: &std::path::Path, services: Arc<RecordedServices>) -> InstanceContext {
    InstanceContext::new("dirs", dir, "mngr-", services)
}

fn config(base_dir: &std::path::Path) -> serde_json::Map<String, serde_json::Value> {
    let mut config = serde_json::Map::new();
    config.insert("base_dir".into(), base_dir.display().to_string().into());
    config
}

mngr_plugin_api::conformance_tests!(the_backend_directly, |check| {
    let dir = tempfile::tempdir().unwrap();
    let instance = DirsBackend
        .build_instance(context(dir.path()), config(&dir.path().join("hosts")))
        .unwrap();
    check.run(&Suite::new(instance.as_ref()));
    // The check's hosts are destroyed: nothing is left but the (empty) name claims directory.
    let left: Vec<_> = std::fs::read_dir(dir.path().join("hosts"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .filter(|name| name != ".names")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
});

mngr_plugin_api::conformance_tests!(the_backend_through_the_ffi_adapters, |check| {
    let dir = tempfile::tempdir().unwrap();
    let backend = import_backend(export_backend(Box::new(DirsBackend))).unwrap();
    let instance = backend
        .build_instance(context(dir.path()), config(&dir.path().join("hosts")))
        .unwrap();
    check.run(&Suite::new(instance.as_ref()));
});

#[test]
fn the_ffi_adapters_carry_the_description_and_progress_lines() {
    let dir = tempfile::tempdir().unwrap();
    let backend = import_backend(export_backend(Box::new(DirsBackend))).unwrap();
    assert_eq!(backend.describe(), DirsBackend.describe());
    let recorded = Arc::new(RecordedServices::default());
    let instance = backend
        .build_instance(
            context_with(dir.path(), recorded.clone()),
            config(&dir.path().join("hosts")),
        )
        .unwrap();
    let name = HostName::parse("conf-progress").unwrap();
    let host = instance.create_host(basic_request(name)).unwrap();
    instance.destroy_host(&host.id).unwrap();
    // Progress lines reach the host's services through the context object.
    let lines = recorded.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("creating directory host 'conf-") && l.contains("hosts")),
        "{lines:?}"
    );
}

#[test]
fn unknown_config_keys_and_bad_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = config(dir.path());
    bad.insert("colour".into(), "blue".into());
    let err = DirsBackend
        .build_instance(context(dir.path()), bad)
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::InvalidConfig);
    assert_eq!(
        err.message,
        "unknown key 'colour' for the dirs backend; valid keys: base_dir"
    );
    let mut wrong = serde_json::Map::new();
    wrong.insert("base_dir".into(), 3.into());
    let err = DirsBackend
        .build_instance(context(dir.path()), wrong)
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::InvalidConfig);
}

#[test]
fn images_notes_and_snapshots_fill_the_host_directory() {
    let dir = tempfile::tempdir().unwrap();
    let instance = DirsBackend
        .build_instance(context(dir.path()), config(&dir.path().join("hosts")))
        .unwrap();
    let image = dir.path().join("image");
    std::fs::create_dir_all(image.join("sub")).unwrap();
    std::fs::write(image.join("sub/file.txt"), "from the image").unwrap();
    let mut request = basic_request(HostName::parse("h1").unwrap());
    request.image = Some(image.display().to_string());
    request.flags.insert("note".into(), "hello".into());
    let host = instance.create_host(request).unwrap();
    let HostAccess::Local { host_dir, .. } = instance.host_access(&host.id).unwrap() else {
        panic!("dirs hosts are local");
    };
    let root = std::path::Path::new(&host_dir);
    assert_eq!(
        std::fs::read_to_string(root.join("sub/file.txt")).unwrap(),
        "from the image"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("NOTE.txt")).unwrap(),
        "hello"
    );

    // A snapshot restores the directory as it was.
    let snap = instance.create_snapshot(&host.id, Some("before")).unwrap();
    std::fs::write(root.join("NOTE.txt"), "changed").unwrap();
    instance.stop_host(&host.id).unwrap();
    instance.start_host(&host.id, Some(&snap.id)).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("NOTE.txt")).unwrap(),
        "hello"
    );

    // A new host from the snapshot gets the same contents.
    let mut from_snap = basic_request(HostName::parse("h2").unwrap());
    from_snap.snapshot = Some(snap.id.clone());
    let copy = instance.create_host(from_snap).unwrap();
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(&copy.host_dir).join("NOTE.txt")).unwrap(),
        "hello"
    );

    // Bad requests leave nothing half-made.
    let mut bad = basic_request(HostName::parse("h3").unwrap());
    bad.image = Some(dir.path().join("missing").display().to_string());
    assert_eq!(
        instance.create_host(bad).unwrap_err().kind,
        ErrorKind::InvalidInput
    );
    let mut bad = basic_request(HostName::parse("h3").unwrap());
    bad.build_args = vec!["--x".into()];
    assert_eq!(
        instance.create_host(bad).unwrap_err().kind,
        ErrorKind::InvalidInput
    );
    assert_eq!(instance.discover_hosts(false).unwrap().len(), 2);
    assert!(
        instance
            .create_host(basic_request(HostName::parse("h3").unwrap()))
            .is_ok()
    );
}
