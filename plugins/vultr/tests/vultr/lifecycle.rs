//! An agent on a Vultr VPS through the real `mngr` binary (which loads the plugin from beside
//! itself): created with a VPS build arg, a Dockerfile built on the VPS and a start arg, it
//! runs and execs; stopping the host stops its container while the VPS keeps running;
//! starting brings it back with its files; a snapshot restores its files; destroying leaves no
//! instance, SSH key, machine or local key file. A bad API key is one clear line and exit 6.

use crate::common::*;

#[test]
fn an_agent_on_a_vps_runs_stops_starts_with_its_files_and_is_destroyed_leaving_nothing() {
    let rt = runtime();
    let s = StandIn::start(&[]);
    let m = Mngr::new(&s);
    // A Dockerfile beside the work: `-b --file=... -b .` builds the image on the VPS, from
    // the context packed here.
    std::fs::write(
        m.work.path().join("Dockerfile"),
        "FROM mngr-base:bookworm\nCOPY README /built-from-context\n",
    )
    .unwrap();

    let created = m.ok(&[
        "create",
        "box",
        "--in",
        "vultr",
        "--build-arg=--vps-plan=vc2-2c-4gb",
        "--start-arg=--memory=1g",
        "--build-arg=--file=Dockerfile",
        "--build-arg=.",
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
    // Its agent record arrived: the host is no one's leftover once the create has ended.
    let hosts: serde_json::Value =
        serde_json::from_str(&m.ok(&["list", "--hosts", "--format", "json"])).unwrap();
    let listed = hosts["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "box")
        .cloned();
    assert_eq!(
        listed.expect("box is listed")["abandoned"],
        serde_json::Value::Null
    );

    // The repository came along, and the container got the -s flag.
    let out = m.ok(&["exec", "box", "cat README /built-from-context; echo kept > /root/kept; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"]);
    assert_eq!(out, "from the laptop\nfrom the laptop\n1073741824\n");

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
