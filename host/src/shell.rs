//! Quoting values into POSIX shell scripts run on hosts (agents build scripts with it,
//! transports wrap them in `sh -c` with it): the workspace's one quoting function, which lives
//! in plugin-api so providers quote the same way.

pub use mngr_plugin_api::shell::{join, quote};
