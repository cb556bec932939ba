//! Helpers for host tests that need a real docker host: the docker plugin loaded from its
//! shared library beside the `mngr` binary, and a host fixture that checks it leaves nothing
//! behind. The helpers shared with the plugin's own tests live in `mngr-docker-testing`.

pub use mngr_docker_testing::*;
use mngr_plugin_api::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The directory of the `mngr` binary, where the workspace's plugins are built.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_mngr"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The docker plugin beside the `mngr` binary, where mngr finds it. `cargo test` builds the
/// newest copy into `deps/` without copying it up, so copy it up (atomically) when it is newer.
pub fn plugin_path() -> PathBuf {
    let name = docker_plugin_file_name();
    let lib = bin_dir().join(&name);
    let built = bin_dir().join("deps").join(&name);
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let Some(new) = mtime(&built)
        && mtime(&lib).is_none_or(|old| old < new)
    {
        let tmp = bin_dir().join(format!(".{name}.{}", std::process::id()));
        std::fs::copy(&built, &tmp).expect("copy the docker plugin beside mngr");
        std::fs::rename(&tmp, &lib).expect("move the docker plugin beside mngr");
    }
    assert!(
        lib.exists(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        lib.display()
    );
    lib
}

/// The docker backend, loaded through the real plugin path (the copy beside `mngr`).
pub fn backend() -> Arc<dyn ProviderBackend> {
    docker_backend(plugin_path)
}

/// One docker host made through the plugin, destroyed (and checked) at the end.
pub struct DockerHost {
    pub prefix: String,
    pub state_dir: tempfile::TempDir,
    pub instance: Box<dyn ProviderInstance>,
    pub id: HostId,
    pub endpoint: SshEndpoint,
}

impl DockerHost {
    pub fn create() -> DockerHost {
        require_base_image();
        let prefix = format!("mngr{}-", unique());
        let state_dir = tempfile::tempdir().unwrap();
        let ctx = InstanceContext {
            instance_name: "docker".into(),
            state_dir: state_dir.path().to_path_buf(),
            prefix: prefix.clone(),
            services: Arc::new(QuietServices),
        };
        let instance = backend()
            .build_instance(ctx, Default::default())
            .expect("instance");
        let record = match instance.create_host(host_request("transport")) {
            Ok(r) => r,
            Err(e) => {
                force_cleanup(&prefix);
                panic!("creating a docker host: {e}");
            }
        };
        let endpoint = ssh_endpoint(instance.as_ref(), &record.id);
        DockerHost {
            prefix,
            state_dir,
            instance,
            id: record.id,
            endpoint,
        }
    }
}

impl Drop for DockerHost {
    fn drop(&mut self) {
        let destroyed = self.instance.destroy_host(&self.id);
        let left = docker_leftovers(&self.prefix);
        if !left.is_empty() || destroyed.is_err() {
            force_cleanup(&self.prefix);
        }
        if !std::thread::panicking() {
            destroyed.expect("destroy");
            assert!(left.is_empty(), "left behind: {left:?}");
            let keys: Vec<_> = files_under(self.state_dir.path())
                .into_iter()
                .filter(|p| p.file_name().is_some_and(|n| n == "id_ed25519"))
                .collect();
            assert!(keys.is_empty(), "keys left behind: {keys:?}");
        }
    }
}
