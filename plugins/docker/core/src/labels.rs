//! Labels on the Docker objects mngr makes. Everything is found again through these, so the
//! daemon itself is the source of truth.

pub const LABEL_PREFIX: &str = "com.imbue.mngr.";
pub const HOST_ID: &str = "com.imbue.mngr.host-id";
pub const HOST_NAME: &str = "com.imbue.mngr.host-name";
pub const PROVIDER: &str = "com.imbue.mngr.provider";
pub const TAGS: &str = "com.imbue.mngr.tags";
/// On a host container: the operation that made it and by which process (`pending.rs`), so a
/// container whose record is not written yet is known as someone's work in progress.
pub const PENDING: &str = "com.imbue.mngr.pending";
pub const TYPE: &str = "com.imbue.mngr.type";
pub const STATE_CONTAINER: &str = "state-container";
pub const STATE_VOLUME: &str = "state-volume";
/// On images mngr built or committed: which instance and host they belong to.
pub const IMAGE_PROVIDER: &str = "com.imbue.mngr.image-provider";
pub const IMAGE_HOST: &str = "com.imbue.mngr.image-host";

/// Exit codes of a host container's PID 1 that say why it stopped by itself
/// (the idle watcher signals PID 1; see `scripts.rs`).
pub const EXIT_IDLE_PAUSED: i64 = 75;
pub const EXIT_NO_AGENTS_STOPPED: i64 = 76;
/// Its maximum lifetime (`max_host_age`) was reached; listed PAUSED, as for idle.
pub const EXIT_MAX_AGE_PAUSED: i64 = 77;

/// A `filters` argument for the Engine's list calls: objects carrying all these labels
/// (`KEY=VALUE`, or `KEY` for any value).
pub fn filter(wanted: Vec<String>) -> std::collections::HashMap<String, Vec<String>> {
    std::collections::HashMap::from([("label".to_string(), wanted)])
}
