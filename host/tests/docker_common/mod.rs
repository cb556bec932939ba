//! Helpers for host tests that need a real docker host: the docker plugin loaded from its
//! shared library beside the `mngr` binary, a unique prefix per test, and leftover checks.
#![allow(dead_code)]

use mngr_plugin_api::ffi::LoadedLibrary;
use mngr_plugin_api::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

pub const BASE_IMAGE: &str = "mngr-base:bookworm";

pub struct QuietServices;
impl HostServices for QuietServices {
    fn log(&self, _level: LogLevel, _message: &str) {}
    fn progress(&self, _message: &str) {}
    fn host_version(&self) -> String {
        "test".into()
    }
}

/// Fails (never skips) when the base image is missing.
pub fn require_base_image() {
    let ok = Command::new("docker")
        .args(["image", "inspect", BASE_IMAGE])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "the Docker image {BASE_IMAGE} is missing: run scripts/build-base-image.sh first (docker tests need a running Docker engine)"
    );
}

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
    let name = format!(
        "{}mngr_docker{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
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

/// The docker backend, loaded through the real plugin path.
pub fn backend() -> Arc<dyn ProviderBackend> {
    static BACKEND: std::sync::OnceLock<Arc<dyn ProviderBackend>> = std::sync::OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let lib = plugin_path();
            let loaded =
                LoadedLibrary::open(&lib).unwrap_or_else(|e| panic!("{}: {e}", lib.display()));
            let started = loaded.start(Arc::new(QuietServices)).expect("on_startup");
            let backend = started
                .backends
                .into_iter()
                .find(|b| b.describe().name == "docker")
                .expect("docker backend");
            std::mem::forget(loaded);
            backend
        })
        .clone()
}

pub fn unique() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Docker objects whose names start with `prefix` (containers, volumes, image repos).
pub fn docker_leftovers(prefix: &str) -> Vec<String> {
    let lines = |args: &[&str]| -> Vec<String> {
        let o = Command::new("docker")
            .args(args)
            .output()
            .expect("docker runs");
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut out = Vec::new();
    for c in lines(&["ps", "-a", "--format", "{{.Names}}"]) {
        if c.starts_with(prefix) {
            out.push(format!("container {c}"));
        }
    }
    for v in lines(&["volume", "ls", "--format", "{{.Name}}"]) {
        if v.starts_with(prefix) {
            out.push(format!("volume {v}"));
        }
    }
    for i in lines(&["images", "--format", "{{.Repository}}:{{.Tag}}"]) {
        if i.starts_with(&prefix.to_lowercase()) {
            out.push(format!("image {i}"));
        }
    }
    out
}

/// Remove every docker object of a prefix (after a failed test).
pub fn force_cleanup(prefix: &str) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker ps -aq --filter name=^{prefix} | xargs -r docker rm -f >/dev/null 2>&1; \
             docker volume ls -q --filter name=^{prefix} | xargs -r docker volume rm -f >/dev/null 2>&1; \
             docker images --format '{{{{.Repository}}}}:{{{{.Tag}}}}' | grep '^{lower}' | xargs -r docker rmi -f >/dev/null 2>&1",
            lower = prefix.to_lowercase()
        ))
        .status();
}

/// Files under a directory, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
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
        let request = CreateHostRequest {
            name: HostName::parse("transport").unwrap(),
            image: None,
            tags: Default::default(),
            build_args: vec![],
            start_args: vec![],
            snapshot: None,
            flags: Default::default(),
            lifecycle: Default::default(),
            authorized_keys: vec![],
        };
        let record = match instance.create_host(request) {
            Ok(r) => r,
            Err(e) => {
                force_cleanup(&prefix);
                panic!("creating a docker host: {e}");
            }
        };
        let endpoint = match instance.host_access(&record.id).expect("access") {
            HostAccess::Ssh(e) => e,
            other => panic!("expected ssh, got {other:?}"),
        };
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
