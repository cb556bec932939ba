//! Helpers for tests against the real Docker engine. Every test gets its own prefix and
//! instance name, removes what it made, and checks that nothing is left.
#![allow(dead_code)]

use mngr_plugin_api::ffi::LoadedLibrary;
use mngr_plugin_api::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

pub const BASE_IMAGE: &str = "mngr-base:bookworm";

/// The docker plugin as mngr loads it: from its shared library, through the FFI layer.
pub fn backend() -> Arc<dyn ProviderBackend> {
    static BACKEND: std::sync::OnceLock<Arc<dyn ProviderBackend>> = std::sync::OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            // The test binary sits in target/<profile>/deps beside the freshly built plugin
            // (`cargo build` later copies it up to target/<profile>).
            let dir = exe.parent().unwrap();
            let lib = dir.join(format!(
                "{}mngr_docker{}",
                std::env::consts::DLL_PREFIX,
                std::env::consts::DLL_SUFFIX
            ));
            assert!(
                lib.exists(),
                "{} is missing: build the docker plugin (cargo build -p mngr-docker)",
                lib.display()
            );
            let loaded = LoadedLibrary::open(&lib)
                .unwrap_or_else(|e| panic!("loading {}: {e}", lib.display()));
            assert_eq!(loaded.info.name, "docker");
            let started = loaded.start(Arc::new(QuietServices)).expect("on_startup");
            let backend = started
                .backends
                .into_iter()
                .find(|b| b.describe().name == "docker")
                .expect("docker backend registered");
            std::mem::forget(loaded);
            backend
        })
        .clone()
}

pub struct QuietServices;
impl HostServices for QuietServices {
    fn log(&self, level: LogLevel, message: &str) {
        if matches!(level, LogLevel::Error | LogLevel::Warn) {
            eprintln!("{level:?}: {message}");
        }
    }
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
        "the Docker image {BASE_IMAGE} is missing: run scripts/build-base-image.sh first (tests need a running Docker engine)"
    );
}

/// A unique name part for one test: `t<8 hex>`.
pub fn unique() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

pub struct World {
    pub prefix: String,
    pub instance_name: String,
    pub state_dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        require_base_image();
        let id = unique();
        World {
            prefix: format!("mngr{id}-"),
            instance_name: format!("dk{id}"),
            state_dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn instance(&self, config: serde_json::Value) -> ProviderResult<Box<dyn ProviderInstance>> {
        self.instance_named(&self.instance_name, config)
    }

    pub fn instance_named(
        &self,
        name: &str,
        config: serde_json::Value,
    ) -> ProviderResult<Box<dyn ProviderInstance>> {
        let ctx = InstanceContext {
            instance_name: name.to_string(),
            state_dir: self.state_dir.path().join(name),
            prefix: self.prefix.clone(),
            services: Arc::new(QuietServices),
        };
        backend().build_instance(ctx, config.as_object().cloned().unwrap_or_default())
    }

    /// Containers, volumes and images with this world's prefix or labels, and local keys.
    pub fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
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
        for c in lines(&["ps", "-a", "--format", "{{.Names}}"]) {
            if c.starts_with(&self.prefix) {
                out.push(format!("container {c}"));
            }
        }
        for v in lines(&["volume", "ls", "--format", "{{.Name}}"]) {
            if v.starts_with(&self.prefix) {
                out.push(format!("volume {v}"));
            }
        }
        let label = "label=com.imbue.mngr.image-provider".to_string();
        for line in lines(&[
            "images",
            "-a",
            "--filter",
            &label,
            "--format",
            "{{.ID}} {{.Repository}}:{{.Tag}} {{.Label \"com.imbue.mngr.image-provider\"}}",
        ]) {
            if line.contains(&self.instance_name) || line.contains(&self.prefix.to_lowercase()) {
                out.push(format!("image {line}"));
            }
        }
        for line in lines(&["images", "--format", "{{.Repository}}:{{.Tag}}"]) {
            if line.starts_with(&self.prefix.to_lowercase()) {
                out.push(format!("image {line}"));
            }
        }
        for entry in walk(self.state_dir.path()) {
            if entry.to_string_lossy().contains("keys/") {
                out.push(format!("key file {}", entry.display()));
            }
        }
        out
    }

    pub fn assert_clean(&self) {
        let left = self.leftovers();
        assert!(left.is_empty(), "left behind: {left:#?}");
    }

    /// Force-remove everything of this world (used when a test fails midway).
    pub fn force_cleanup(&self) {
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "docker ps -aq --filter name=^{p} | xargs -r docker rm -f >/dev/null 2>&1; \
                 docker volume ls -q --filter name=^{p} | xargs -r docker volume rm -f >/dev/null 2>&1; \
                 docker images -q --filter label=com.imbue.mngr.image-provider={i} | xargs -r docker rmi -f >/dev/null 2>&1",
                p = self.prefix,
                i = self.instance_name
            ))
            .status();
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.force_cleanup();
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Run a command on a host with the system ssh client, strictly checking the pinned key.
pub fn ssh(endpoint: &SshEndpoint, script: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("known_hosts");
    std::fs::write(
        &kh,
        format!(
            "[{}]:{} {}\n",
            endpoint.address, endpoint.port, endpoint.host_public_key
        ),
    )
    .unwrap();
    let out = Command::new("ssh")
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", kh.display()))
        .args([
            "-i",
            &endpoint.private_key_path,
            "-p",
            &endpoint.port.to_string(),
        ])
        .arg(format!("{}@{}", endpoint.user, endpoint.address))
        .arg(script)
        .output()
        .expect("ssh runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

pub fn endpoint(instance: &dyn ProviderInstance, host: &HostId) -> SshEndpoint {
    match instance.host_access(host).expect("host access") {
        HostAccess::Ssh(e) => e,
        other => panic!("expected ssh access, got {other:?}"),
    }
}

pub fn request(name: &str) -> CreateHostRequest {
    CreateHostRequest {
        name: HostName::parse(name).unwrap(),
        image: None,
        tags: Default::default(),
        build_args: vec![],
        start_args: vec![],
        snapshot: None,
        flags: Default::default(),
        lifecycle: Default::default(),
        authorized_keys: vec![],
    }
}
