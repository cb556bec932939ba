//! Helpers for host tests that need a real docker host: the docker plugin loaded from its
//! shared library beside the `mngr` binary, a mngr world with the docker provider enabled, and
//! a host fixture that checks it leaves nothing behind. The helpers shared with the plugin's
//! own tests live in `mngr-docker-testing`.

use crate::common::agents::AgentWorld;
pub use mngr_docker_testing::*;
use mngr_plugin_api::*;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

/// The docker plugin beside the `mngr` binary, where mngr finds it.
pub fn plugin_path() -> PathBuf {
    crate::common::fixtures::plugin_beside_mngr(&docker_plugin_file_name())
}

/// The docker backend, loaded through the real plugin path (the copy beside `mngr`).
pub fn backend() -> Arc<dyn ProviderBackend> {
    docker_backend(plugin_path)
}

/// A mngr world (the real binary) with the docker provider enabled under a prefix of its own,
/// so tests running at once never see each other's containers. After a panic everything under
/// the prefix is removed from the daemon.
pub struct DockerWorld {
    pub w: AgentWorld,
    pub prefix: String,
}

impl DockerWorld {
    pub fn new() -> DockerWorld {
        require_base_image();
        plugin_path();
        let mut w = AgentWorld::new();
        let prefix = format!("mngr{}-", unique());
        w.set_env("MNGR__PROVIDERS__DOCKER__IS_ENABLED", "true");
        w.set_env("MNGR_PREFIX", &prefix);
        DockerWorld { w, prefix }
    }

    /// The SSH key files this world's mngr keeps (one set per docker host).
    pub fn key_files(&self) -> BTreeSet<String> {
        files_under(&self.w.root())
            .into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| p.contains("/keys/"))
            .collect()
    }

    /// Nothing of this world is left on the daemon, and no key on disk.
    pub fn assert_clean(&self) {
        let left = docker_leftovers(&self.prefix);
        assert!(left.is_empty(), "left on the daemon: {left:?}");
        let keys = self.key_files();
        assert!(keys.is_empty(), "keys left behind: {keys:?}");
    }
}

impl Drop for DockerWorld {
    fn drop(&mut self) {
        if std::thread::panicking() {
            force_cleanup(&self.prefix);
        }
    }
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
        let ctx = InstanceContext::new(
            "docker",
            state_dir.path(),
            prefix.clone(),
            Arc::new(QuietServices),
        );
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
