//! The plugin-api conformance suite against the docker backend loaded from its shared library,
//! on the real engine, one test per check (module `the_docker_backend_through_its_shared_library`);
//! after each check nothing of it may be left on the daemon or on disk. Each check boots only
//! the hosts it needs, so all of them together boot as many host containers as one run of the
//! whole suite did; each check's instance has its own state container, so that checks running
//! at the same time never see each other's hosts.

use crate::common;
use common::*;
use mngr_plugin_api::conformance::Suite;
use serde_json::json;

mngr_plugin_api::conformance_tests!(the_docker_backend_through_its_shared_library, |check| {
    let world = World::new();
    let instance = world.instance(json!({})).unwrap();
    check.run(&Suite::new(instance.as_ref()));
    world.assert_clean();
});
