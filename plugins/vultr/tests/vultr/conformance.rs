//! The plugin-api conformance suite over the plugin loaded from its shared library, one check
//! after another on one stand-in (each check's hosts are destroyed before the next starts, so
//! few VPSes boot at once).

use crate::common::*;
use mngr_plugin_api::conformance::{RecordedServices, Suite};
use std::sync::Arc;

#[test]
fn the_vultr_plugin_conforms_through_its_shared_library() {
    let s = StandIn::start(&[]);
    let state = tempfile::tempdir().unwrap();
    let services = Arc::new(RecordedServices::default());
    let instance = instance("vultr", state.path(), s.table(), services.clone());
    let suite = Suite::new(instance.as_ref());
    for check in Suite::checks() {
        check.run(&suite);
    }
    let rt = runtime();
    assert_eq!(rt.block_on(s.leftovers()), Vec::<String>::new());
    assert_eq!(files_under(state.path()), Vec::<std::path::PathBuf>::new());
    assert_no_secrets(&services.lines());
}
