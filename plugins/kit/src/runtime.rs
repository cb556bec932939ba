//! The plugin's own tokio runtime. tokio's statics are per shared library, so a plugin never
//! touches the host's runtime; each plugin linking the kit gets its own copy of this one.

use std::sync::OnceLock;
use tokio::runtime::Runtime;

/// Two workers: provider calls mostly wait on the network, and the host already calls
/// providers from several threads at once.
const WORKERS: usize = 2;

/// The plugin's runtime, started on first use; `name` names its threads (the first caller's
/// name wins, as there is one runtime per plugin).
pub fn plugin_runtime(name: &str) -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .thread_name(name)
            .enable_all()
            .build()
            .expect("the plugin's tokio runtime starts")
    })
}
