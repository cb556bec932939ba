//! Helpers for agent tests: a [`World`] with its own tmux server (TMUX_TMPDIR), git identity,
//! and the docker provider disabled, so agent tests touch nothing outside their temp dir.

use super::{Run, World};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct AgentWorld {
    pub world: World,
}

impl Deref for AgentWorld {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl DerefMut for AgentWorld {
    fn deref_mut(&mut self) -> &mut World {
        &mut self.world
    }
}

impl Drop for AgentWorld {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

impl AgentWorld {
    pub fn new() -> Self {
        let mut world = World::new();
        let tmux_dir = world.path("tmux");
        std::fs::create_dir_all(&tmux_dir).expect("tmux dir");
        world.set_env("TMUX_TMPDIR", tmux_dir.to_str().expect("utf8"));
        let gitconfig = world.path("gitconfig");
        std::fs::write(
            &gitconfig,
            "[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n",
        )
        .expect("gitconfig");
        world.set_env("GIT_CONFIG_GLOBAL", gitconfig.to_str().expect("utf8"));
        world.set_env("GIT_CONFIG_NOSYSTEM", "1");
        world.set_env("MNGR__PROVIDERS__DOCKER__IS_ENABLED", "false");
        AgentWorld { world }
    }

    /// Run tmux against this world's server.
    pub fn tmux(&self, args: &[&str]) -> std::process::Output {
        self.program("tmux", args).output().expect("run tmux")
    }

    /// Run git in `dir`; panics on failure; returns stdout.
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = self
            .program("git", args)
            .current_dir(dir)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A git repository with one commit (`README`), used as the working directory.
    pub fn repo_with_commit(&mut self) -> PathBuf {
        let repo = self.git_repo();
        std::fs::write(repo.join("README"), "hello\n").expect("write");
        self.git(&repo, &["add", "-A"]);
        self.git(&repo, &["commit", "-q", "-m", "first"]);
        repo
    }

    /// `mngr list --format json`'s agents.
    pub fn agents(&self) -> Vec<serde_json::Value> {
        let run = self.run(&["list", "--format", "json"]);
        run.ok();
        run.json()["agents"].as_array().expect("agents").clone()
    }

    pub fn agent(&self, name: &str) -> Option<serde_json::Value> {
        self.agents().into_iter().find(|a| a["name"] == name)
    }

    /// Poll until the agent reaches `state` (10 s at most).
    #[track_caller]
    pub fn wait_state(&self, name: &str, state: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let agent = self.agent(name);
            if let Some(a) = &agent
                && a["state"] == state
            {
                return a.clone();
            }
            if Instant::now() > deadline {
                panic!("agent {name} never reached {state}; last seen: {agent:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Poll until `check` holds (10 s at most).
    #[track_caller]
    pub fn wait_until(&self, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check() {
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Create a command agent with `--no-connect`; asserts success.
    #[track_caller]
    pub fn create(&self, args: &[&str]) -> Run {
        let mut all = vec!["create", "--no-connect"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        run.ok();
        run
    }

    /// tmux session names of this world's server.
    pub fn sessions(&self) -> Vec<String> {
        let out = self.tmux(&["list-sessions", "-F", "#{session_name}"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Entries of a directory under the mngr root (empty when it does not exist).
    pub fn root_entries(&self, rel: &str) -> Vec<String> {
        match std::fs::read_dir(self.root().join(rel)) {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names
            }
            Err(_) => Vec::new(),
        }
    }

    /// A PATH that has every program of the usual bin dirs except `missing`.
    pub fn path_without(&self, missing: &[&str]) -> String {
        let dir = self.path(&format!("bin-without-{}", missing.join("-")));
        std::fs::create_dir_all(&dir).expect("bin dir");
        for bin in ["/usr/local/bin", "/usr/bin", "/bin"] {
            let Ok(entries) = std::fs::read_dir(bin) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                if missing.iter().any(|m| name.to_str() == Some(*m)) {
                    continue;
                }
                let link = dir.join(&name);
                if !link.exists() {
                    let _ = std::os::unix::fs::symlink(entry.path(), link);
                }
            }
        }
        dir.to_string_lossy().into_owned()
    }
}
