//! Helpers shared by the integration tests: run the real `mngr` binary in an isolated world
//! (its own MNGR_ROOT, HOME and working directory, no inherited MNGR* variables).

pub mod agents;
pub mod fixtures;
pub mod footprint;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tempfile::TempDir;

/// One isolated mngr world.
pub struct World {
    pub dir: TempDir,
    /// Extra environment for every run.
    pub env: Vec<(String, String)>,
    /// Working directory of every run (default: `<dir>/work`, not inside a git repository).
    pub cwd: PathBuf,
    /// The `mngr` binary every run starts (default: the one under test, in `target/debug`).
    pub binary: PathBuf,
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Assert success and return stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "mngr failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Assert the run failed with `code` and printed exactly one `Error:` line; return it.
    #[track_caller]
    pub fn error_line(&self, code: i32) -> String {
        assert_eq!(
            self.code, code,
            "exit code\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("Error: "))
            .collect();
        assert_eq!(
            errors.len(),
            1,
            "expected one Error: line, got:\n{}",
            self.stderr
        );
        errors[0].to_string()
    }
}

impl World {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let cwd = dir.path().join("work");
        std::fs::create_dir_all(&cwd).expect("work dir");
        std::fs::create_dir_all(dir.path().join("home")).expect("home dir");
        World {
            dir,
            env: Vec::new(),
            cwd,
            binary: PathBuf::from(env!("CARGO_BIN_EXE_mngr")),
        }
    }

    /// The mngr root of this world (`MNGR_ROOT`).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn remove_env(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
    }

    /// A `mngr` command with this world's environment, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        for (key, _) in std::env::vars() {
            if key.starts_with("MNGR") || key == "TMUX" || key == "EDITOR" || key == "VISUAL" {
                cmd.env_remove(key);
            }
        }
        cmd.env("MNGR_ROOT", self.root());
        self.in_world(cmd, args)
    }

    /// Any program with this world's environment (tmux server, git identity, HOME), not yet run.
    pub fn program(&self, program: &str, args: &[&str]) -> Command {
        self.in_world(Command::new(program), args)
    }

    fn in_world(&self, mut cmd: Command, args: &[&str]) -> Command {
        cmd.env_remove("TMUX")
            .env("HOME", self.path("home"))
            .current_dir(&self.cwd)
            .args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run mngr"))
    }

    /// Run mngr with `input` on its stdin (for `-` and `--stdin`).
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run mngr");
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(input)
            .expect("write stdin");
        Run::from(child.wait_with_output().expect("run mngr"))
    }

    /// Make `<dir>/repo` a real git repository and run mngr inside it. Returns the repo path.
    pub fn git_repo(&mut self) -> PathBuf {
        let repo = self.path("repo");
        std::fs::create_dir_all(&repo).expect("repo dir");
        let status = Command::new("git")
            .args(["init", "-q"])
            .current_dir(&repo)
            .status()
            .expect("git init");
        assert!(status.success());
        self.cwd = repo.clone();
        repo
    }

    pub fn write(&self, path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    /// Run a copy of the binary under test from `<dir>/bin`, where no plugin sits beside it:
    /// only the plugins this world installs load (not the workspace's, in `target/debug`).
    pub fn use_lonely_binary(&mut self) {
        let bin = self.path("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        let lonely = bin.join("mngr");
        // A hard link costs nothing; a copy works across file systems.
        if std::fs::hard_link(&self.binary, &lonely).is_err() {
            std::fs::copy(&self.binary, &lonely).expect("copy the mngr binary");
        }
        self.binary = lonely;
    }

    pub fn user_settings(&self) -> PathBuf {
        self.root().join("settings.toml")
    }
}

/// How many trials a kill loop runs per operation: `MNGR_KILL_TRIALS`, 3 when unset
/// (`scripts/kill-loop.sh` sets 20).
pub fn kill_trials() -> usize {
    std::env::var("MNGR_KILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}
