//! The files a new host gets before its sshd first starts: its host key (so the key mngr pins
//! is the one it serves), mngr's authorized keys, the activity watcher and shutdown script,
//! and a fresh `data.json`. Plain data: a provider delivers them its own way (a tar into a
//! container, cloud-init `write_files`, a sandbox's file API).

use crate::record::{HostData, StoredHost};
use crate::watcher::{self, StopAction};
use mngr_plugin_api::ProviderResult;

/// Created once the files are in place; a host's boot starts sshd only when it exists.
pub const PROVISIONED_MARKER: &str = "/etc/ssh/mngr_host_provisioned";

/// One entry to create on the host, owned by root.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionFile {
    /// Absolute path.
    pub path: String,
    pub mode: u32,
    /// `None` for a directory.
    pub contents: Option<Vec<u8>>,
}

impl ProvisionFile {
    fn file(path: impl Into<String>, mode: u32, contents: impl Into<Vec<u8>>) -> ProvisionFile {
        ProvisionFile {
            path: path.into(),
            mode,
            contents: Some(contents.into()),
        }
    }
    fn dir(path: impl Into<String>, mode: u32) -> ProvisionFile {
        ProvisionFile {
            path: path.into(),
            mode,
            contents: None,
        }
    }
}

/// Where and how a host is provisioned.
pub struct ProvisionPlan<'a> {
    /// mngr's record directory on the host.
    pub host_dir: &'a str,
    /// The login user's home (`/root`).
    pub login_home: &'a str,
    /// The tmux session prefix when the record names none.
    pub session_prefix: &'a str,
    pub stop: &'a StopAction,
}

/// The host's files, directories before what they hold.
pub fn provisioning_files<E>(
    host: &StoredHost<E>,
    plan: &ProvisionPlan,
) -> ProviderResult<Vec<ProvisionFile>> {
    let keys = host.keys()?;
    let host_pub = host.ssh_host_public_key.clone().unwrap_or_default();
    let data = &host.certified_host_data;
    let watcher = watcher::activity_watcher(
        data.idle_timeout_seconds,
        &data.activity_sources,
        data.tmux_session_prefix
            .as_deref()
            .unwrap_or(plan.session_prefix),
        plan.stop,
    );
    let hd = plan.host_dir.trim_end_matches('/');
    let ssh_dir = format!("{}/.ssh", plan.login_home.trim_end_matches('/'));
    Ok(vec![
        ProvisionFile::file(
            "/etc/ssh/ssh_host_ed25519_key",
            0o600,
            keys.host_private_key.as_bytes(),
        ),
        ProvisionFile::file(
            "/etc/ssh/ssh_host_ed25519_key.pub",
            0o644,
            format!("{host_pub}\n"),
        ),
        ProvisionFile::file(PROVISIONED_MARKER, 0o644, Vec::new()),
        ProvisionFile::dir(ssh_dir.clone(), 0o700),
        ProvisionFile::file(
            format!("{ssh_dir}/authorized_keys"),
            0o600,
            format!("{}\n", keys.client_public_key),
        ),
        ProvisionFile::dir(hd, 0o755),
        ProvisionFile::dir(format!("{hd}/commands"), 0o755),
        ProvisionFile::file(format!("{hd}/commands/activity_watcher.sh"), 0o755, watcher),
        ProvisionFile::file(
            format!("{hd}/commands/shutdown.sh"),
            0o755,
            watcher::shutdown_script(plan.stop),
        ),
        ProvisionFile::file(format!("{hd}/data.json"), 0o644, fresh(data).to_json()),
    ])
}

/// A new machine's record: what the provider knows, nothing left over from a stop or a
/// build, no work dirs yet.
fn fresh(data: &HostData) -> HostData {
    let mut fresh = data.clone();
    fresh.plugin = serde_json::Map::new();
    fresh.generated_work_dirs.clear();
    fresh.generated_source_dirs.clear();
    fresh.stop_reason = None;
    fresh.failure_reason = None;
    fresh.build_log = None;
    fresh
}
