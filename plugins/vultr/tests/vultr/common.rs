//! A stand-in per test, the plugin as mngr loads it, and what a test must leave behind: no
//! instance, no SSH key, no machine container, no local key file.

use mngr_plugin_api::conformance::RecordedServices;
use mngr_plugin_api::*;
use mngr_plugin_loader::LoadedLibrary;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, OnceLock};

pub const KEY: &str = "vultr-test-key-5c1e";

/// target/<profile>, where cargo puts the workspace's binaries.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn built(name: &str, package: &str) -> PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (cargo build -p {package})",
        path.display()
    );
    path
}

pub struct StandIn {
    child: Child,
    pub url: String,
    http: reqwest::Client,
}

impl StandIn {
    pub fn start(extra: &[&str]) -> StandIn {
        let mut child = Command::new(built("vultr-standin", "mngr-vultr-standin"))
            .args(["--listen", "127.0.0.1:0", "--api-key", KEY])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting vultr-standin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_string();
        assert!(url.ends_with("/v2"), "unexpected first line {line:?}");
        StandIn {
            child,
            url,
            http: reqwest::Client::new(),
        }
    }

    fn root(&self) -> &str {
        self.url.trim_end_matches("/v2")
    }

    /// Set a knob of the test-only control path (`faults`, `latency`, `page-size`).
    pub async fn control(&self, route: &str, body: Value) {
        let answer = self
            .http
            .post(format!("{}/__standin/{route}", self.root()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "control {route}");
    }

    /// What a GET of the control path answers (`boots`, `knobs`).
    pub async fn control_state(&self, route: &str) -> Value {
        json_of(self.http.get(format!("{}/__standin/{route}", self.root()))).await
    }

    /// A GET of the API with the right key.
    pub async fn get(&self, path: &str) -> Value {
        let request = self.http.get(format!("{}{path}", self.url));
        json_of(request.bearer_auth(KEY).query(&[("per_page", "500")])).await
    }

    /// Instances and SSH keys the stand-in still has.
    pub async fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        for (path, field) in [("/instances", "instances"), ("/ssh-keys", "ssh_keys")] {
            let body = self.get(path).await;
            for item in body[field].as_array().cloned().unwrap_or_default() {
                left.push(format!(
                    "{field} {} {}",
                    item["id"],
                    item["label"]
                        .as_str()
                        .or(item["name"].as_str())
                        .unwrap_or("")
                ));
            }
        }
        left
    }

    /// The `[providers.NAME]` table pointing at this stand-in.
    pub fn table(&self) -> serde_json::Map<String, Value> {
        json!({"api_key": KEY, "api_url": self.url, "vps_boot_timeout": 180.0, "docker_install_timeout": 180.0})
            .as_object()
            .cloned()
            .unwrap()
    }
}

/// The JSON body a request answers with.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

impl Drop for StandIn {
    fn drop(&mut self) {
        // SIGTERM: the stand-in removes every machine it made before it exits.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// The vultr plugin as mngr loads it: from its shared library, through the FFI layer.
pub fn backend() -> Arc<dyn ProviderBackend> {
    static BACKEND: OnceLock<Arc<dyn ProviderBackend>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let lib = exe.parent().unwrap().join("libmngr_vultr.so");
            assert!(
                lib.exists(),
                "{} is missing: cargo build -p mngr-vultr",
                lib.display()
            );
            let loaded = LoadedLibrary::open(&lib).unwrap();
            assert_eq!(loaded.info.name, "vultr");
            let started = loaded.start(Arc::new(RecordedServices::default())).unwrap();
            let backend = started
                .backends
                .into_iter()
                .find(|b| b.describe().name == "vultr")
                .expect("vultr backend registered");
            std::mem::forget(loaded); // its code must stay mapped
            backend
        })
        .clone()
}

/// An instance of the loaded backend with its own state directory and log.
pub fn instance(
    name: &str,
    state_dir: &Path,
    table: serde_json::Map<String, Value>,
    services: Arc<RecordedServices>,
) -> Box<dyn ProviderInstance> {
    let ctx = InstanceContext::new(name, state_dir.join(name), "mngrt-".to_string(), services);
    backend().build_instance(ctx, table).unwrap()
}

/// Files left under a directory (local key files, say).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// No log line carries a secret: the API key, a private key, or a VPS's root password.
pub fn assert_no_secrets(lines: &[String]) {
    for line in lines {
        assert!(!line.contains(KEY), "the API key was logged: {line}");
        assert!(
            !line.contains("PRIVATE KEY"),
            "a private key was logged: {line}"
        );
        assert!(
            !line.contains("default_password"),
            "a password was logged: {line}"
        );
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The real `mngr` binary in a world of its own (root, home, a git work dir with a commit),
/// its vultr instance pointed at a stand-in.
pub struct Mngr {
    pub root: tempfile::TempDir,
    pub work: tempfile::TempDir,
}

impl Mngr {
    pub fn new(s: &StandIn) -> Mngr {
        let root = tempfile::tempdir().unwrap();
        let work = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("settings.toml"),
            format!(
                "[providers.vultr]\napi_key = \"{KEY}\"\napi_url = \"{}\"\n",
                s.url
            ),
        )
        .unwrap();
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .args(["-c", "user.email=t@t", "-c", "user.name=t"])
                .args(args)
                .current_dir(work.path())
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q", "."]);
        std::fs::write(work.path().join("README"), "from the laptop\n").unwrap();
        git(&["add", "README"]);
        git(&["commit", "-qm", "init"]);
        Mngr { root, work }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mngr = target_dir().join("mngr");
        assert!(mngr.exists(), "build mngr first: cargo build -p mngr");
        let mut cmd = Command::new(mngr);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.root.path())
            .env("MNGR_ROOT", self.root.path())
            .env("MNGR_HEADLESS", "1")
            .current_dir(self.work.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "mngr {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn host_state(&self, name: &str) -> String {
        let listed: Value =
            serde_json::from_str(&self.ok(&["list", "--hosts", "--format", "json"])).unwrap();
        listed["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .map(|h| h["state"].as_str().unwrap_or("").to_string())
            .unwrap_or_else(|| "absent".into())
    }
}

/// Local key files under a mngr root.
pub fn key_files(root: &Path) -> Vec<std::path::PathBuf> {
    files_under(root)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/keys/"))
        .collect()
}
