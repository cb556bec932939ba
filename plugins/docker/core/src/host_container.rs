//! What every mngr host container shares, whichever daemon runs it: its PID 1 and the tar of
//! files (the kit's provisioning set) unpacked at its `/` before it first starts.

use crate::labels::{EXIT_IDLE_PAUSED, EXIT_NO_AGENTS_STOPPED};
use mngr_plugin_api::{ProviderError, ProviderResult};
use mngr_provider_kit::provision::ProvisionFile;

/// PID 1 of a host container. It starts sshd once mngr has injected the keys (marker file),
/// marks boot activity, starts the idle watcher, and then waits. Signals say why it ended:
/// TERM (docker stop) exits 0, USR1 (idle) and USR2 (no agent sessions left) exit with codes
/// that `mngr list` reads back as PAUSED and STOPPED.
pub fn entrypoint(host_dir: &str) -> String {
    format!(
        "trap 'exit 0' TERM; trap 'exit {EXIT_IDLE_PAUSED}' USR1; trap 'exit {EXIT_NO_AGENTS_STOPPED}' USR2; \
HD='{host_dir}'; mkdir -p /run/sshd \"$HD/activity\" \"$HD/logs\"; \
if [ -f /etc/ssh/mngr_host_provisioned ]; then /usr/sbin/sshd -o MaxSessions=100 -o PasswordAuthentication=no \
-o PermitRootLogin=prohibit-password -o UseDNS=no -o UsePAM=no -o PrintMotd=no -o PrintLastLog=no -E \"$HD/logs/sshd.log\"; fi; \
touch \"$HD/activity/boot\"; \
if [ -x \"$HD/commands/activity_watcher.sh\" ]; then \
nohup \"$HD/commands/activity_watcher.sh\" \"$HD\" >\"$HD/logs/activity_watcher.log\" 2>&1 & fi; \
tail -f /dev/null & wait"
    )
}

fn tar_header(size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(kind);
    header
}

fn tar_file(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32) {
    let mut header = tar_header(data.len() as u64, mode, tar::EntryType::Regular);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    header.set_cksum();
    builder
        .append_data(&mut header, path, data)
        .expect("in-memory tar");
}

fn tar_dir(builder: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) {
    let mut header = tar_header(0, mode, tar::EntryType::Directory);
    header.set_cksum();
    builder
        .append_data(&mut header, path, std::io::empty())
        .expect("in-memory tar");
}

/// The provisioning files as one tar to unpack at the container's `/` (`Engine::upload_tar`).
pub fn provisioning_tar(files: &[ProvisionFile]) -> ProviderResult<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for file in files {
        let path = file.path.trim_start_matches('/');
        match &file.contents {
            Some(data) => tar_file(&mut b, path, data, file.mode),
            None => tar_dir(&mut b, path, file.mode),
        }
    }
    b.into_inner()
        .map_err(|e| ProviderError::internal(format!("packing provisioning files: {e}")))
}
