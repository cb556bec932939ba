//! Helpers for tests against the real Docker engine. Every test gets its own prefix and
//! instance name, removes what it made, and checks that nothing is left. The helpers shared
//! with the host's docker tests live in `mngr-docker-testing`.

pub use mngr_docker_testing::*;
use mngr_plugin_api::*;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

/// The docker plugin as this crate's `cargo test` built it. The test binary sits in
/// target/<profile>/deps beside the freshly built plugin (`cargo build` later copies it up to
/// target/<profile>, which may still hold an older copy).
pub fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let lib = exe.parent().unwrap().join(docker_plugin_file_name());
    assert!(
        lib.exists(),
        "{} is missing: build the docker plugin (cargo build -p mngr-docker)",
        lib.display()
    );
    lib
}

/// The docker plugin as mngr loads it: from its shared library, through the FFI layer.
pub fn backend() -> Arc<dyn ProviderBackend> {
    docker_backend(plugin_path)
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
        let ctx = InstanceContext::new(
            name,
            self.state_dir.path().join(name),
            self.prefix.clone(),
            Arc::new(QuietServices),
        );
        backend().build_instance(ctx, config.as_object().cloned().unwrap_or_default())
    }

    /// Containers, volumes and images with this world's prefix or labels, and local keys.
    pub fn leftovers(&self) -> Vec<String> {
        let mut out = docker_leftovers(&self.prefix);
        let label = "label=com.imbue.mngr.image-provider".to_string();
        for line in docker_lines(&[
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
        for entry in files_under(self.state_dir.path()) {
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

    /// Force-remove everything of this world (used when a test fails midway): what carries
    /// its prefix, and the images the plugin labelled with its instance name.
    pub fn force_cleanup(&self) {
        force_cleanup(&self.prefix);
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "docker images -q --filter label=com.imbue.mngr.image-provider={i} | xargs -r docker rmi -f >/dev/null 2>&1",
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

/// For a test that changes what the whole process sees (its environment): whether this
/// process should run the test's body. nextest gives every test a process of its own, so
/// under it (and in the child started here) the answer is yes. `cargo test` runs the tests of
/// this binary as threads of one process; then the test `name` (its full path, as `cargo test
/// --exact` takes it) is run alone in a child process of this binary, it must pass there, and
/// the answer is no.
pub fn in_own_process(name: &str) -> bool {
    const CHILD: &str = "MNGR_TEST_IN_OWN_PROCESS";
    let nextest =
        std::env::var_os("NEXTEST_EXECUTION_MODE").is_some_and(|m| m == "process-per-test");
    if nextest || std::env::var_os(CHILD).is_some() {
        return true;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--test-threads", "1", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} in a process of its own: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}
