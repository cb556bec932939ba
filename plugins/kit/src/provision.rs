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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{StoredHost, new_keys};

    fn host() -> StoredHost<()> {
        let (keys, host_public) = new_keys(&[]).unwrap();
        let mut data = HostData::new("host-1", "box", "mngr-");
        data.stop_reason = Some(mngr_plugin_api::StopReason::Paused);
        data.generated_work_dirs.push("/work/x".into());
        StoredHost {
            certified_host_data: data,
            ssh_host: None,
            ssh_port: None,
            ssh_host_public_key: Some(host_public),
            mngr_keys: Some(keys),
            extra: (),
        }
    }

    #[test]
    fn keys_are_private_scripts_executable_and_the_record_fresh() {
        let h = host();
        let plan = ProvisionPlan {
            host_dir: "/mngr",
            login_home: "/root",
            session_prefix: "mngr-",
            stop: &StopAction::Shutdown,
        };
        let files = provisioning_files(&h, &plan).unwrap();
        let get = |path: &str| {
            files
                .iter()
                .find(|f| f.path == path)
                .unwrap_or_else(|| panic!("{path} is provisioned"))
        };
        let text = |path: &str| String::from_utf8(get(path).contents.clone().unwrap()).unwrap();
        let keys = h.keys().unwrap();
        assert_eq!(get("/etc/ssh/ssh_host_ed25519_key").mode, 0o600);
        assert_eq!(text("/etc/ssh/ssh_host_ed25519_key"), keys.host_private_key);
        assert_eq!(
            text("/etc/ssh/ssh_host_ed25519_key.pub"),
            format!("{}\n", h.ssh_host_public_key.as_deref().unwrap())
        );
        assert_eq!(get("/root/.ssh").mode, 0o700);
        assert!(get("/root/.ssh").contents.is_none());
        assert_eq!(get("/root/.ssh/authorized_keys").mode, 0o600);
        assert_eq!(
            text("/root/.ssh/authorized_keys"),
            format!("{}\n", keys.client_public_key)
        );
        assert_eq!(get("/mngr/commands/activity_watcher.sh").mode, 0o755);
        assert!(text("/mngr/commands/shutdown.sh").contains("shutdown -h now"));
        assert!(text("/mngr/commands/activity_watcher.sh").contains("shutdown -h now"));
        assert!(text(PROVISIONED_MARKER).is_empty());
        let data: serde_json::Value = serde_json::from_str(&text("/mngr/data.json")).unwrap();
        assert_eq!(data["host_id"], "host-1");
        assert!(
            data.get("stop_reason").is_none_or(|v| v.is_null()),
            "{data}"
        );
        assert_eq!(data["generated_work_dirs"], serde_json::json!([]));
        // Directories come before what they hold.
        let position = |path: &str| files.iter().position(|f| f.path == path).unwrap();
        assert!(position("/root/.ssh") < position("/root/.ssh/authorized_keys"));
        assert!(position("/mngr/commands") < position("/mngr/commands/shutdown.sh"));
    }

    #[test]
    fn a_record_without_keys_cannot_be_provisioned() {
        let mut h = host();
        h.mngr_keys = None;
        let plan = ProvisionPlan {
            host_dir: "/mngr",
            login_home: "/root",
            session_prefix: "mngr-",
            stop: &StopAction::SignalInit,
        };
        assert!(provisioning_files(&h, &plan).is_err());
    }
}
