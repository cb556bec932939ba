//! The files a container gets before it starts (see the kit's `provision.rs`), as one tar.

use crate::instance::DockerInstance;
use crate::record::StoredHost;
use mngr_plugin_api::*;
use mngr_provider_kit::provision::{ProvisionPlan, provisioning_files};
use mngr_provider_kit::watcher::StopAction;

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
    /// A tar to unpack at the container's `/`.
    pub(crate) fn provisioning_tar(&self, h: &StoredHost) -> ProviderResult<Vec<u8>> {
        let host_dir = self.host_dir_of(h);
        let plan = ProvisionPlan {
            host_dir: &host_dir,
            login_home: "/root",
            session_prefix: &self.prefix,
            // PID 1 (see scripts.rs) exits with a code per signal, read back as the reason.
            stop: &StopAction::SignalInit,
        };
        let mut b = tar::Builder::new(Vec::new());
        for file in provisioning_files(h, &plan)? {
            let path = file.path.trim_start_matches('/');
            match &file.contents {
                Some(data) => tar_file(&mut b, path, data, file.mode),
                None => tar_dir(&mut b, path, file.mode),
            }
        }
        b.into_inner()
            .map_err(|e| ProviderError::internal(format!("packing provisioning files: {e}")))
    }
}
