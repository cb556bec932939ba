//! A stand-in process per test and a runner for the official-client check script.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

pub const TOKEN_ID: &str = "ak-standin-test";
pub const TOKEN_SECRET: &str = "as-standin-test-secret";

pub struct StandIn {
    child: Child,
    /// `http://127.0.0.1:PORT`, for MODAL_SERVER_URL.
    pub url: String,
}

impl StandIn {
    /// Starts `modal-standin` with extra flags and waits for the URL it prints when ready.
    pub fn start(extra: &[&str]) -> StandIn {
        let mut args = vec!["--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let (child, url) = mngr_docker_testing::spawn_announcing(
            Path::new(env!("CARGO_BIN_EXE_modal-standin")),
            &args,
            &[
                ("MODAL_STANDIN_TOKEN_ID", TOKEN_ID),
                ("MODAL_STANDIN_TOKEN_SECRET", TOKEN_SECRET),
            ],
            "http://127.0.0.1:",
        );
        StandIn { child, url }
    }

    /// Sends SIGTERM and waits for the stand-in to clean up and exit; returns its exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        self.child.wait().expect("waiting for modal-standin")
    }

    /// Runs the check script in `mode` with the given token secret.
    pub fn run_check(&self, mode: &str, secret: &str) -> Output {
        self.run_check_with(mode, secret, &[])
    }

    /// As [`StandIn::run_check`], with extra environment variables.
    pub fn run_check_with(&self, mode: &str, secret: &str, env: &[(&str, &str)]) -> Output {
        let output = Command::new(modal_python())
            .arg(manifest_dir().join("tests/modal_client_check.py"))
            .arg(mode)
            .env("MODAL_SERVER_URL", &self.url)
            .env("MODAL_TOKEN_ID", TOKEN_ID)
            .env("MODAL_TOKEN_SECRET", secret)
            .env("MODAL_DISABLE_API_PROXY", "1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env_remove("MODAL_CONFIG_PATH")
            .env("HOME", std::env::temp_dir())
            .envs(env.iter().copied())
            .output()
            .expect("running the check script");
        eprintln!(
            "--- check {mode} stdout ---\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        eprintln!(
            "--- check {mode} stderr ---\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let _ = self.child.wait();
        }
    }
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv python with `modal==1.6.4`, made once per test run by scripts/modal-venv.sh.
fn modal_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let script = manifest_dir().join("../../../scripts/modal-venv.sh");
        let output = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .expect("modal-venv.sh");
        assert!(output.status.success(), "scripts/modal-venv.sh failed");
        PathBuf::from(String::from_utf8(output.stdout).expect("utf-8 path").trim())
    })
}

/// The lines of `stdout` that start with `prefix `, without it.
pub fn lines_after<'a>(stdout: &'a str, prefix: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix(prefix)?.strip_prefix(' '))
        .collect()
}

pub fn docker_output(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().expect("docker");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
