//! The conformance suite against the built-in `local` backend and against the example plugin
//! loaded from its shared library (the host-side FFI adapters over the real `.so`): one test
//! per check, in the modules `the_local_backend` and `the_example_plugin_through_its_shared_library`.

use crate::common;

use common::fixtures::{example_plugin, fixture_plugin};
use mngr::app::StderrServices;
use mngr::providers::local::LocalBackend;
use mngr_plugin_api::conformance::{RecordedServices, Suite, basic_request};
use mngr_plugin_api::*;
use mngr_plugin_loader::LoadedLibrary;
use std::sync::Arc;

fn context(name: &str, state_dir: &std::path::Path) -> InstanceContext {
    InstanceContext::new(
        name,
        state_dir,
        "mngr-",
        Arc::new(StderrServices { verbosity: 0 }),
    )
}

fn backend<'a>(
    backends: &'a [Arc<dyn ProviderBackend>],
    name: &str,
) -> &'a Arc<dyn ProviderBackend> {
    backends
        .iter()
        .find(|b| b.describe().name == name)
        .unwrap_or_else(|| panic!("no backend {name}"))
}

mngr_plugin_api::conformance_tests!(the_local_backend, |check| {
    let root = tempfile::tempdir().unwrap();
    let backend = LocalBackend {
        root: root.path().to_path_buf(),
    };
    let instance = backend
        .build_instance(
            context("local", &root.path().join("providers/local")),
            serde_json::Map::new(),
        )
        .unwrap();
    check.run(&Suite::new(instance.as_ref()));
});

mngr_plugin_api::conformance_tests!(the_example_plugin_through_its_shared_library, |check| {
    let library = LoadedLibrary::open(&example_plugin()).unwrap();
    let started = library
        .start(Arc::new(StderrServices { verbosity: 0 }))
        .unwrap();
    let state = tempfile::tempdir().unwrap();
    let instance = backend(&started.backends, "dirs")
        .build_instance(context("dirs", state.path()), serde_json::Map::new())
        .unwrap();
    check.run(&Suite::new(instance.as_ref()));
});

#[test]
fn the_example_plugin_loads_and_talks_to_the_host_through_its_shared_library() {
    let library = LoadedLibrary::open(&example_plugin()).unwrap();
    assert_eq!(library.info.name, "example-dirs");
    let started = library
        .start(Arc::new(StderrServices { verbosity: 0 }))
        .unwrap();
    let dirs = backend(&started.backends, "dirs");
    assert_eq!(dirs.describe().create_flags[0].name, "note");
    let state = tempfile::tempdir().unwrap();
    let recorded = Arc::new(RecordedServices::default());
    let mut ctx = context("dirs", state.path());
    ctx.services = recorded.clone();
    let instance = dirs.build_instance(ctx, serde_json::Map::new()).unwrap();
    let name = HostName::parse("conf-progress").unwrap();
    let host = instance.create_host(basic_request(name)).unwrap();
    instance.destroy_host(&host.id).unwrap();
    // The plugin's progress lines reach the host through the context object.
    let lines = recorded.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("creating directory host 'conf-")),
        "{lines:?}"
    );

    // Config errors cross the boundary as data.
    let mut bad = serde_json::Map::new();
    bad.insert("colour".into(), "blue".into());
    let err = dirs
        .build_instance(context("dirs", state.path()), bad)
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::InvalidConfig);
    assert!(
        err.message.contains("unknown key 'colour'"),
        "{}",
        err.message
    );
}

#[test]
fn a_panic_inside_a_plugin_call_comes_back_as_an_error() {
    let library = LoadedLibrary::open(&fixture_plugin("panic_in_call")).unwrap();
    let started = library
        .start(Arc::new(StderrServices { verbosity: 0 }))
        .unwrap();
    let state = tempfile::tempdir().unwrap();
    let instance = backend(&started.backends, "panicky-calls")
        .build_instance(
            context("panicky-calls", state.path()),
            serde_json::Map::new(),
        )
        .unwrap();
    for _ in 0..2 {
        let err = instance.discover_hosts(false).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Panic);
        assert!(
            err.message
                .starts_with("the plugin panicked in discover_hosts: index out of bounds"),
            "{}",
            err.message
        );
        assert!(err.hint.is_some());
    }
    let err = instance.get_host("h").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Panic);
    assert!(
        err.message.contains("fixture: get_host(h) exploded"),
        "{}",
        err.message
    );
    // The instance still answers after panics.
    assert_eq!(instance.capabilities(), Capabilities::default());

    let err = backend(&started.backends, "panicky-build")
        .build_instance(
            context("panicky-build", state.path()),
            serde_json::Map::new(),
        )
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Panic);
}
