//! The plugin-api conformance suite against the docker backend loaded from its shared library,
//! on the real engine; then nothing of it may be left on the daemon or on disk.

mod common;
use common::*;
use mngr_plugin_api::conformance::Suite;
use serde_json::json;

#[test]
fn the_docker_backend_conforms_through_its_shared_library() {
    let world = World::new();
    let instance = world.instance(json!({})).unwrap();
    Suite::new(instance.as_ref()).assert_conforms();
    world.assert_clean();
}
