//! Helpers for host tests of the modal plugin: the Modal stand-in (`modal-standin`, Docker
//! backed) started once per test, the plugin loaded from its shared library beside `mngr`, and
//! a mngr world pointed at the stand-in with credentials in its environment.

use crate::common::agents::AgentWorld;
use crate::common::fixtures::bin_dir;
pub use mngr_docker_testing::docker_lines;
use mngr_docker_testing::spawn_announcing;
use std::path::PathBuf;
use std::process::{Child, Command};

pub mod tls;

pub const TOKEN_ID: &str = "ak-mngr-test";
pub const TOKEN_SECRET: &str = "as-mngr-test-secret";

fn built(name: &str, how: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first ({how})",
        path.display()
    );
    path
}

/// The modal plugin beside `mngr`, where mngr finds it.
pub fn plugin_path() -> PathBuf {
    built("libmngr_modal.so", "cargo build -p mngr-modal")
}

/// A running stand-in; stopped (removing every container and image it made) on drop.
pub struct StandIn {
    child: Child,
    pub url: String,
    /// Its label value on the containers and images it makes.
    pub instance: String,
}

impl StandIn {
    pub fn start() -> StandIn {
        StandIn::start_with(&[])
    }

    /// With extra stand-in flags (such as `--unavailable RPC=N`).
    pub fn start_with(extra: &[&str]) -> StandIn {
        let instance = format!("mngr-test-{}", uuid::Uuid::new_v4().simple());
        // With a certificate the stand-in serves TLS and announces an https URL.
        let scheme = if extra.contains(&"--tls-cert") {
            "https"
        } else {
            "http"
        };
        let prefix = format!("{scheme}://127.0.0.1:");
        let mut args = vec!["--listen", "127.0.0.1:0", "--instance", &instance];
        args.extend_from_slice(extra);
        let (child, url) = spawn_announcing(
            &built("modal-standin", "cargo build -p mngr-modal-standin"),
            &args,
            &[
                ("MODAL_STANDIN_TOKEN_ID", TOKEN_ID),
                ("MODAL_STANDIN_TOKEN_SECRET", TOKEN_SECRET),
            ],
            &prefix,
        );
        StandIn {
            child,
            url,
            instance,
        }
    }

    fn label(&self) -> String {
        format!("label=mngr-modal-standin={}", self.instance)
    }

    /// The stand-in's sandbox containers that still exist.
    pub fn sandboxes(&self) -> Vec<String> {
        docker_lines(&[
            "ps",
            "-a",
            "--filter",
            &self.label(),
            "--format",
            "{{.Names}}",
        ])
    }

    /// The stand-in's images (built layers and snapshots).
    pub fn images(&self) -> Vec<String> {
        docker_lines(&["images", "--filter", &self.label(), "--format", "{{.Tag}}"])
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A mngr world (the real binary) with the modal provider enabled and pointed at `standin`.
pub fn modal_world(standin: &StandIn) -> AgentWorld {
    plugin_path();
    let mut w = AgentWorld::new();
    w.set_env("MNGR__PROVIDERS__MODAL__IS_ENABLED", "true");
    w.set_env("MODAL_SERVER_URL", &standin.url);
    w.set_env("MODAL_TOKEN_ID", TOKEN_ID);
    w.set_env("MODAL_TOKEN_SECRET", TOKEN_SECRET);
    let home = w.path("home");
    w.set_env(
        "MODAL_CONFIG_PATH",
        home.join("no-modal.toml").to_str().expect("utf8"),
    );
    w
}

/// The SSH key files a world's mngr keeps.
pub fn key_files(w: &AgentWorld) -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.to_string_lossy().contains("/keys/") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(w.dir.path(), &mut out);
    out
}

/// What a failed create must leave: no sandbox, no key file, no agent listed.
#[track_caller]
pub fn assert_nothing_left(standin: &StandIn, w: &AgentWorld) {
    assert!(standin.sandboxes().is_empty(), "{:?}", standin.sandboxes());
    assert!(key_files(w).is_empty(), "{:?}", key_files(w));
    assert!(
        w.run(&["list", "--format", "json"]).json()["agents"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// Poll `check` once a second for up to `secs` seconds (Modal-side changes take seconds).
#[track_caller]
pub fn wait_for(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
