//! Helpers for tests that run against the real Docker engine, shared by the host's tests
//! (`host/tests`) and the docker plugin's own (`plugins/docker/tests`), so that both clean up
//! and check for leftovers the same way. Dev-only: never a dependency of shipped code.
//!
//! Nothing here knows where the docker plugin's shared library was built: that depends on
//! which test binary asks (see [`docker_backend`]), so callers pass the path in.

use mngr_plugin_api::*;
use mngr_plugin_loader::LoadedLibrary;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

/// The image docker hosts start from unless a test builds its own.
pub const BASE_IMAGE: &str = "mngr-base:bookworm";

/// Host services for a plugin under test: no progress chatter, but warnings and errors go to
/// stderr so a failing test shows what the plugin complained about.
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

/// Fails (never skips) when the base image is missing, so a machine without it cannot pass
/// the docker tests by not running them.
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

/// A unique name part for one test (`t<8 hex>`), so tests running at once never share
/// containers, volumes or images.
pub fn unique() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// The file name of the docker plugin's shared library on this platform
/// (`libmngr_docker.so` on Linux).
pub fn docker_plugin_file_name() -> String {
    format!(
        "{}mngr_docker{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// The docker backend as mngr loads it: from the plugin's shared library, through the FFI
/// layer. Loaded once per test process; `locate` (run only on the first call) finds the
/// library, since where it was built depends on the calling test binary.
pub fn docker_backend(locate: impl FnOnce() -> PathBuf) -> Arc<dyn ProviderBackend> {
    static BACKEND: OnceLock<Arc<dyn ProviderBackend>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let lib = locate();
            let loaded = LoadedLibrary::open(&lib)
                .unwrap_or_else(|e| panic!("loading {}: {e}", lib.display()));
            assert_eq!(loaded.info.name, "docker");
            let started = loaded.start(Arc::new(QuietServices)).expect("on_startup");
            let backend = started
                .backends
                .into_iter()
                .find(|b| b.describe().name == "docker")
                .expect("docker backend registered");
            // The backend's code lives in the library: keep it mapped for the whole process.
            std::mem::forget(loaded);
            backend
        })
        .clone()
}

/// A create request with only a name: the base image, no tags, flags or build arguments.
pub fn host_request(name: &str) -> CreateHostRequest {
    CreateHostRequest::new(HostName::parse(name).unwrap())
}

/// The SSH endpoint of a docker host (docker hosts are always reached over SSH).
pub fn ssh_endpoint(instance: &dyn ProviderInstance, host: &HostId) -> SshEndpoint {
    match instance.host_access(host).expect("host access") {
        HostAccess::Ssh(e) => e,
        other => panic!("expected ssh access, got {other:?}"),
    }
}

/// Start a stand-in server (`binary`, with `args` and `env`) and read the first line it
/// prints on stdout, which stand-ins print once they listen: their address, which must start
/// with `address_prefix`. Its stderr goes to the test's, so a failing test shows what the
/// stand-in said.
pub fn spawn_announcing(
    binary: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    address_prefix: &str,
) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(binary)
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("reading the stand-in's first line");
    let address = line.trim().to_string();
    assert!(
        address.starts_with(address_prefix),
        "unexpected first line {line:?}"
    );
    (child, address)
}

/// The non-empty lines a `docker` command prints on stdout.
pub fn docker_lines(args: &[&str]) -> Vec<String> {
    let o = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Docker objects whose names start with `prefix` (containers, volumes, image repositories),
/// each as `"<kind> <name>"`: what a test that used this prefix left behind.
pub fn docker_leftovers(prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for c in docker_lines(&["ps", "-a", "--format", "{{.Names}}"]) {
        if c.starts_with(prefix) {
            out.push(format!("container {c}"));
        }
    }
    for v in docker_lines(&["volume", "ls", "--format", "{{.Name}}"]) {
        if v.starts_with(prefix) {
            out.push(format!("volume {v}"));
        }
    }
    // Image repositories are lower case, whatever the prefix.
    for i in docker_lines(&["images", "--format", "{{.Repository}}:{{.Tag}}"]) {
        if i.starts_with(&prefix.to_lowercase()) {
            out.push(format!("image {i}"));
        }
    }
    out
}

/// Force-remove every docker object whose name starts with `prefix`, so a test that failed
/// midway does not leave containers, volumes or images on the engine. Errors are ignored.
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

/// Files under a directory, recursively (none when it does not exist): for checking that no
/// private keys were left in a state directory.
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
