//! The files a container gets before it starts (keys, idle watcher, data.json), as one tar.

use crate::instance::DockerInstance;
use crate::record::StoredHost;
use crate::scripts;
use mngr_plugin_api::*;

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

impl DockerInstance {
    pub(crate) fn provisioning_tar(&self, h: &StoredHost) -> ProviderResult<Vec<u8>> {
        let keys = h.keys()?;
        let host_pub = h.ssh_host_public_key.clone().unwrap_or_default();
        let data = &h.certified_host_data;
        let host_dir = self.host_dir_of(h);
        let hd = host_dir.trim_start_matches('/');
        let watcher = scripts::activity_watcher(
            data.idle_timeout_seconds,
            &data.activity_sources,
            data.tmux_session_prefix.as_deref().unwrap_or(&self.prefix),
        );
        // A new container's record: what the provider knows, nothing left over from a
        // stop or a build, no work dirs yet.
        let mut fresh = data.clone();
        fresh.plugin = serde_json::Map::new();
        fresh.generated_work_dirs.clear();
        fresh.generated_source_dirs.clear();
        fresh.stop_reason = None;
        fresh.failure_reason = None;
        fresh.build_log = None;
        let data_json = fresh.to_json();
        let mut b = tar::Builder::new(Vec::new());
        tar_file(
            &mut b,
            "etc/ssh/ssh_host_ed25519_key",
            keys.host_private_key.as_bytes(),
            0o600,
        );
        tar_file(
            &mut b,
            "etc/ssh/ssh_host_ed25519_key.pub",
            format!("{host_pub}\n").as_bytes(),
            0o644,
        );
        tar_file(&mut b, "etc/ssh/mngr_host_provisioned", b"", 0o644);
        tar_dir(&mut b, "root/.ssh", 0o700);
        tar_file(
            &mut b,
            "root/.ssh/authorized_keys",
            format!("{}\n", keys.client_public_key).as_bytes(),
            0o600,
        );
        tar_dir(&mut b, hd, 0o755);
        tar_dir(&mut b, &format!("{hd}/commands"), 0o755);
        tar_file(
            &mut b,
            &format!("{hd}/commands/activity_watcher.sh"),
            watcher.as_bytes(),
            0o755,
        );
        tar_file(
            &mut b,
            &format!("{hd}/commands/shutdown.sh"),
            scripts::SHUTDOWN_SCRIPT.as_bytes(),
            0o755,
        );
        tar_file(&mut b, &format!("{hd}/data.json"), &data_json, 0o644);
        b.into_inner()
            .map_err(|e| ProviderError::internal(format!("packing provisioning files: {e}")))
    }
}
