//! An agent on a Vultr VPS through the real `mngr` binary (which loads the plugin from beside
//! itself): created with a VPS build arg and a start arg, it runs and execs; stopping the host
//! stops its container while the VPS keeps running; starting brings it back with its files;
//! a snapshot restores its files; destroying leaves no instance, SSH key, machine or local key file. A bad API key is one
//! clear line and exit 6.

use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

struct Mngr {
    root: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl Mngr {
    fn new(s: &StandIn) -> Mngr {
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

    fn run(&self, args: &[&str]) -> Output {
        let mngr = target_dir().join("mngr");
        assert!(mngr.exists(), "build mngr first: cargo build -p mngr");
        Command::new(mngr)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.root.path())
            .env("MNGR_ROOT", self.root.path())
            .env("MNGR_HEADLESS", "1")
            .current_dir(self.work.path())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "mngr {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn host_state(&self, name: &str) -> String {
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

fn key_files(root: &Path) -> Vec<std::path::PathBuf> {
    files_under(root)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/keys/"))
        .collect()
}

#[test]
fn an_agent_on_a_vps_runs_stops_starts_with_its_files_and_is_destroyed_leaving_nothing() {
    let rt = runtime();
    let s = StandIn::start(&[]);
    let m = Mngr::new(&s);

    let created = m.ok(&[
        "create",
        "box",
        "--in",
        "vultr",
        "--build-arg=--vps-plan=vc2-2c-4gb",
        "--start-arg=--memory=1g",
        "--",
        "sh",
        "-c",
        "echo started; sleep 1000",
    ]);
    assert!(
        created.starts_with("Created agent: box@box.vultr"),
        "{created}"
    );
    let vps = rt.block_on(s.get("/instances"))["instances"][0].clone();
    assert_eq!(vps["plan"], "vc2-2c-4gb", "the -b VPS flag chose the plan");
    assert!(
        vps["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "mngr-provider=vultr")
    );
    assert!(
        !key_files(m.root.path()).is_empty(),
        "the host's keys are kept locally"
    );

    // The repository came along, and the container got the -s flag.
    let out = m.ok(&["exec", "box", "cat README; echo kept > /root/kept; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"]);
    assert_eq!(out, "from the laptop\n1073741824\n");

    // Stopping the host stops its container; the VPS keeps running.
    m.ok(&["stop", "--stop-host", "box"]);
    assert_eq!(m.host_state("box"), "STOPPED");
    let id = vps["id"].as_str().unwrap();
    let now = rt.block_on(s.get(&format!("/instances/{id}")))["instance"].clone();
    assert_eq!(now["power_status"], "running", "the VPS keeps running");

    m.ok(&["start", "box"]);
    assert_eq!(m.host_state("box"), "RUNNING");
    assert_eq!(m.ok(&["exec", "box", "cat /root/kept"]), "kept\n");

    // A snapshot (docker commit on the VPS), a change after it, and a start from it: the
    // container is replaced, the file is as it was at the snapshot.
    m.ok(&["snapshot", "create", "box", "--name", "first"]);
    assert!(m.ok(&["snapshot", "list", "box"]).contains("first"));
    m.ok(&["exec", "box", "echo changed > /root/kept"]);
    m.ok(&["stop", "--stop-host", "box"]);
    m.ok(&["start", "box", "--snapshot", "first"]);
    assert_eq!(m.ok(&["exec", "box", "cat /root/kept"]), "kept\n");
    m.ok(&["snapshot", "destroy", "box", "--snapshot", "first"]);
    assert!(!m.ok(&["snapshot", "list", "box"]).contains("first"));

    // A wrong key: one error line (and a hint), exit 6.
    let bad = m.run(&["-S", "providers.vultr.api_key=wrong", "list", "--hosts"]);
    assert_eq!(bad.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("Error:")).collect();
    assert_eq!(
        errors,
        vec![
            "Error: provider 'vultr' unreachable: Vultr refused listing instances: 401 Invalid API token."
        ],
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong"),
        "the key is never printed: {stderr}"
    );

    m.ok(&["destroy", "box", "--force"]);
    assert_eq!(m.host_state("box"), "absent");
    assert_eq!(rt.block_on(s.leftovers()), Vec::<String>::new());
    assert_eq!(key_files(m.root.path()), Vec::<std::path::PathBuf>::new());
}
