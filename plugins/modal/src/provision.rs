//! What runs inside a modal sandbox: the image layer that adds sshd and tmux, the entrypoint
//! that waits for mngr's files before it starts sshd, and the one command that writes the
//! kit's provisioning files (`mngr_provider_kit::provision`) through Modal's exec.

use crate::record::StoredHost;
use base64::Engine;
use mngr_plugin_api::ProviderResult;
use mngr_provider_kit::provision::{PROVISIONED_MARKER, ProvisionPlan, provisioning_files};
use mngr_provider_kit::watcher::StopAction;

/// The file the in-sandbox stop step writes (see docs/providers/modal.md, idle shutdown).
pub const STOP_REQUEST: &str = "stop_requested";

pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A second image layer: sshd, tmux and what mngr's scripts use, installed only where the
/// base lacks them (so an image that has them builds instantly).
pub fn image_layer() -> Vec<String> {
    vec![
        "FROM base".to_string(),
        "RUN (command -v sshd && command -v tmux && command -v flock && command -v git) >/dev/null 2>&1 || \
(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
openssh-server tmux git ca-certificates util-linux procps && rm -rf /var/lib/apt/lists/*)"
            .to_string(),
    ]
}

/// The sandbox's main process: wait for the provisioned marker (a sandbox restored from a
/// snapshot already has it), start sshd with mngr's pinned host key, mark boot activity,
/// start the activity watcher, then wait for the sandbox to end.
pub fn entrypoint(host_dir: &str) -> Vec<String> {
    let hd = quote(host_dir);
    let script = format!(
        "HD={hd}; mkdir -p /run/sshd; \
while [ ! -f {PROVISIONED_MARKER} ]; do sleep 0.1; done; \
mkdir -p \"$HD/activity\" \"$HD/logs\"; rm -f \"$HD/{STOP_REQUEST}\"; \
/usr/sbin/sshd -o MaxSessions=100 -o PasswordAuthentication=no -o PermitRootLogin=prohibit-password \
-o UseDNS=no -o UsePAM=no -o PrintMotd=no -o PrintLastLog=no -E \"$HD/logs/sshd.log\"; \
touch \"$HD/activity/boot\"; \
if [ -x \"$HD/commands/activity_watcher.sh\" ]; then \
nohup \"$HD/commands/activity_watcher.sh\" \"$HD\" >\"$HD/logs/activity_watcher.log\" 2>&1 & fi; \
exec sleep infinity"
    );
    vec!["sh".into(), "-c".into(), script]
}

/// How the host stops itself: it cannot call Modal's API (it holds no credentials), so it
/// records the request and its reason; the next mngr command that looks at the host
/// snapshots and terminates it.
pub fn stop_action(host_dir: &str) -> StopAction {
    let file = quote(&format!(
        "{}/{STOP_REQUEST}",
        host_dir.trim_end_matches('/')
    ));
    StopAction::Command(format!("echo \"$MNGR_STOP_REASON\" > {file}"))
}

/// One `sh` script that creates the kit's files with their modes, the marker last (the
/// entrypoint starts sshd when it appears).
pub fn install_script(h: &StoredHost, host_dir: &str, prefix: &str) -> ProviderResult<String> {
    let stop = stop_action(host_dir);
    let plan = ProvisionPlan {
        host_dir,
        login_home: "/root",
        session_prefix: prefix,
        stop: &stop,
    };
    let mut files = provisioning_files(h, &plan)?;
    // The marker goes last whatever the kit's order.
    files.sort_by_key(|f| f.path == PROVISIONED_MARKER);
    let mut script = String::from("set -e\numask 077\n");
    for file in files {
        let path = quote(&file.path);
        match &file.contents {
            None => script.push_str(&format!("mkdir -p {path}\n")),
            Some(data) => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(data);
                script.push_str(&format!(
                    "mkdir -p \"$(dirname {path})\"\nprintf '%s' '{b64}' | base64 -d > {path}.tmp\nmv {path}.tmp {path}\n"
                ));
            }
        }
        script.push_str(&format!("chmod {:o} {path}\n", file.mode));
    }
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mngr_provider_kit::record::{HostData, new_keys};

    #[test]
    fn the_script_writes_every_file_and_the_marker_last() {
        let (keys, public) = new_keys(&[]).unwrap();
        let h = StoredHost {
            certified_host_data: HostData::new("host-1", "box", "mngr-"),
            ssh_host: None,
            ssh_port: None,
            ssh_host_public_key: Some(public),
            mngr_keys: Some(keys),
            extra: Default::default(),
        };
        let root = tempfile::tempdir().unwrap();
        let script = install_script(&h, "/mngr", "mngr-").unwrap();
        // Run it with every absolute path moved under a temp root.
        let rooted = script.replace("'/", &format!("'{}/", root.path().display()));
        let out = std::process::Command::new("sh")
            .args(["-c", &rooted])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = root.path().join("etc/ssh/ssh_host_ed25519_key");
        assert_eq!(
            std::fs::read_to_string(&key).unwrap(),
            h.keys().unwrap().host_private_key
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            root.path()
                .join("mngr/commands/activity_watcher.sh")
                .exists()
        );
        let marker = script.find(PROVISIONED_MARKER).unwrap();
        assert!(script.rfind("authorized_keys").unwrap() < marker);
        let shutdown =
            std::fs::read_to_string(root.path().join("mngr/commands/shutdown.sh")).unwrap();
        assert!(shutdown.contains("/mngr/stop_requested"), "{shutdown}");
    }
}
