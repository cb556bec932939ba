//! Agents in docker through the real binary: the docker plugin is loaded from its shared
//! library beside `mngr`, the engine is real, and every test checks nothing is left behind.

use crate::common;
use crate::docker_common;
use common::agents::AgentWorld;
use docker_common::*;
use std::time::{Duration, Instant};

/// The modes of the host dir, and of the agent's dir, env file, record and launch script.
const PRIVATE_MODES: &str =
    "cd \"$MNGR_AGENT_STATE_DIR\" && stat -c %a \"$MNGR_HOST_DIR\" . env data.json launch_agent.sh";

fn host_state(w: &AgentWorld, name: &str) -> String {
    let agent = w
        .agent(name)
        .unwrap_or_else(|| panic!("agent {name} not listed"));
    agent["host"]["state"].as_str().unwrap_or("").to_string()
}

#[test]
fn an_agent_in_docker_runs_survives_stop_start_is_snapshotted_restored_and_destroyed() {
    let mut d = DockerWorld::new();
    let repo = d.w.repo_with_commit();
    std::fs::write(repo.join("README"), "uncommitted\n").unwrap();
    std::fs::write(repo.join("new.txt"), "untracked\n").unwrap();

    // An environment too big to travel inline in one command is written file by file.
    let big = format!("BIG={}", "x".repeat(30_000));
    let run = d.w.create(&[
        "boxed",
        "--in",
        "docker",
        "--tag",
        "team=infra",
        "--env",
        &big,
        "--",
        "sh",
        "-c",
        "echo agent-started; sleep 1000",
    ]);
    assert!(
        run.stdout.starts_with("Created agent: boxed@boxed.docker"),
        "{}",
        run.stdout
    );
    let agent = d.w.wait_state("boxed", "WAITING");
    assert_eq!(agent["host"]["provider_name"], "docker");
    assert_eq!(agent["host"]["tags"]["team"], "infra");

    // The repository came along: history, uncommitted and untracked work.
    let out = d.w.run(&[
        "exec",
        "boxed",
        "git log --oneline | wc -l; cat README new.txt",
    ]);
    assert_eq!(out.ok(), "1\nuncommitted\nuntracked\n");
    assert_eq!(d.w.run(&["exec", "boxed", "echo ${#BIG}"]).ok(), "30000\n");
    // Written file by file (too big for one command line): still the agent's alone.
    assert_eq!(
        d.w.run(&["exec", "boxed", PRIVATE_MODES]).ok(),
        "700\n700\n600\n600\n700\n"
    );
    d.w.wait_until("the command's output in the pane", || {
        d.w.run(&["capture", "boxed"])
            .stdout
            .contains("agent-started")
    });

    // Files survive stopping and starting the host (the container keeps its filesystem).
    d.w.run(&["exec", "boxed", "echo kept > data.txt"]).ok();
    d.w.run(&["stop", "boxed", "--stop-host"]).ok();
    assert_eq!(host_state(&d.w, "boxed"), "STOPPED");
    assert_eq!(d.w.agent("boxed").unwrap()["state"], "STOPPED");
    // Labels set while the host is down go into the provider's copy, then onto the host.
    d.w.run(&["label", "boxed", "-l", "phase=offline"]).ok();
    assert_eq!(d.w.agent("boxed").unwrap()["labels"]["phase"], "offline");
    d.w.run(&["start", "boxed"]).ok();
    assert_eq!(host_state(&d.w, "boxed"), "RUNNING");
    assert_eq!(d.w.agent("boxed").unwrap()["labels"]["phase"], "offline");
    let on_host =
        d.w.run(&["exec", "boxed", "cat \"$MNGR_AGENT_STATE_DIR/data.json\""]);
    assert!(
        on_host.ok().contains("\"phase\": \"offline\""),
        "{}",
        on_host.stdout
    );
    assert_eq!(d.w.run(&["exec", "boxed", "cat data.txt"]).ok(), "kept\n");
    d.w.wait_state("boxed", "WAITING");

    // Snapshot, change the file, restore the snapshot: the file is as it was.
    let snap = d.w.run(&[
        "snapshot", "create", "boxed", "--name", "before", "--format", "json",
    ]);
    assert_eq!(snap.json()["count"], 1, "{}", snap.stdout);
    let listed = d.w.run(&["snapshot", "list", "boxed", "--format", "json"]);
    assert_eq!(listed.json()["snapshots"][0]["name"], "before");
    d.w.run(&["exec", "boxed", "echo changed > data.txt"]).ok();
    d.w.run(&["start", "boxed", "--snapshot", "before"]).ok();
    assert_eq!(d.w.run(&["exec", "boxed", "cat data.txt"]).ok(), "kept\n");
    d.w.wait_state("boxed", "WAITING");

    // A new host from the snapshot has the files but none of the old host's agents.
    d.w.create(&[
        "copy",
        "--in",
        "docker",
        "--snapshot",
        "before",
        "--",
        "sleep",
        "1000",
    ]);
    let names: Vec<String> =
        d.w.agents()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect();
    assert_eq!(
        names.iter().filter(|n| n.as_str() == "boxed").count(),
        1,
        "{names:?}"
    );
    let copied = d.w.run(&[
        "exec",
        "copy",
        "cat /mngr/projects/*/data.txt 2>/dev/null || cat /mngr/worktrees/*/data.txt",
    ]);
    assert_eq!(copied.ok(), "kept\n");

    d.w.run(&["destroy", "boxed", "copy", "-f"]).ok();
    assert!(d.w.agents().is_empty());
    d.assert_clean();
}

#[test]
fn an_unreachable_daemon_is_reported_while_other_providers_list() {
    let d = DockerWorld::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::create_dir_all(d.w.root()).unwrap();
    std::fs::write(
        d.w.root().join("settings.toml"),
        format!("[providers.far]\nbackend = \"docker\"\nhost = \"tcp://127.0.0.1:{closed}\"\n"),
    )
    .unwrap();
    d.w.create(&["nearby", "--", "sleep", "1000"]);
    let run = d.w.run(&["list"]);
    assert!(run.stdout.contains("nearby"), "{run:?}");
    assert!(
        run.stderr.contains("far"),
        "the unreachable provider is named: {run:?}"
    );
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{closed}")),
        "{run:?}"
    );
    let create = d.w.run(&[
        "create",
        "--no-connect",
        "lost",
        "--in",
        "far",
        "--",
        "sleep",
        "1",
    ]);
    let line = create.error_line(6);
    assert!(line.contains("cannot reach the Docker daemon"), "{line}");
    d.w.run(&["destroy", "nearby", "-f"]).ok();
    d.assert_clean();
}

#[test]
fn bad_start_args_and_a_bad_dockerfile_fail_with_one_clear_line() {
    let d = DockerWorld::new();
    let run = d.w.run(&[
        "create",
        "--no-connect",
        "x",
        "--in",
        "docker",
        "-s",
        "--cpuz=2",
        "--",
        "sleep",
        "1",
    ]);
    let line = run.error_line(2);
    assert!(line.contains("unknown docker run flag '--cpuz'"), "{line}");

    let dockerfile = d.w.path("Dockerfile");
    std::fs::write(&dockerfile, format!("FROM {BASE_IMAGE}\nRUN exit 9\n")).unwrap();
    let run = d.w.run(&[
        "create",
        "--no-connect",
        "y",
        "--in",
        "docker",
        "--dockerfile",
        dockerfile.to_str().unwrap(),
        "-b",
        "--no-cache",
        "--",
        "sleep",
        "1",
    ]);
    let line = run.error_line(2);
    assert!(line.contains("image build failed"), "{line}");
    assert!(d.w.agents().is_empty());
    d.assert_clean();
}

#[test]
fn a_failed_build_shows_the_providers_details_short_and_in_full_with_verbose() {
    let d = DockerWorld::new();
    let dockerfile = d.w.path("Dockerfile");
    std::fs::write(
        &dockerfile,
        format!("FROM {BASE_IMAGE}\nRUN echo build-said-this-before-failing && exit 9\n"),
    )
    .unwrap();
    let create = |extra: &[&str]| {
        let mut args = vec![
            "create",
            "--no-connect",
            "z",
            "--in",
            "docker",
            "--dockerfile",
            dockerfile.to_str().unwrap(),
            "-b",
            "--no-cache",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "sleep", "1"]);
        d.w.run(&args)
    };
    // Without -v: one short details line right after the error line.
    let run = create(&[]);
    let line = run.error_line(2);
    let after: Vec<&str> = run
        .stderr
        .lines()
        .skip_while(|l| *l != line)
        .skip(1)
        .collect();
    let details = after.first().copied().unwrap_or_default();
    assert!(
        details.starts_with("  details: {\"build_log_tail\":"),
        "{}",
        run.stderr
    );
    assert!(details.len() < 250, "details line not short: {details}");
    // With -v: the whole build log tail the provider sent, including the failing step's output.
    let run = create(&["-v"]);
    run.error_line(2);
    let full: String = run
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("  details: "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        full.contains("build-said-this-before-failing"),
        "{}",
        run.stderr
    );
    assert!(d.w.agents().is_empty());
    d.assert_clean();
}

#[test]
fn docker_tags_are_set_at_create_and_cannot_change_later() {
    let d = DockerWorld::new();
    d.w.create(&[
        "tagged",
        "--in",
        "docker",
        "--tag",
        "team=infra",
        "--tag",
        "env=test",
        "--",
        "sleep",
        "1000",
    ]);
    let tags = serde_json::json!({"team": "infra", "env": "test"});
    assert_eq!(d.w.agent("tagged").unwrap()["host"]["tags"], tags);
    // Written by one inline script: the host and agent dirs 0700, env and record 0600.
    assert_eq!(
        d.w.run(&["exec", "tagged", PRIVATE_MODES]).ok(),
        "700\n700\n600\n600\n700\n"
    );

    for change in [
        &["--host-tag", "team=web"][..],
        &["--host-tag", "new=1"][..],
        &["--remove-host-tag", "env"][..],
    ] {
        let mut args = vec!["label", "tagged", "-l", "x=1"];
        args.extend_from_slice(change);
        let line = d.w.run(&args).error_line(10);
        assert!(
            line.starts_with("Error: provider 'docker': docker tags are immutable"),
            "{line}"
        );
        let agent = d.w.agent("tagged").unwrap();
        assert_eq!(
            agent["host"]["tags"], tags,
            "a refused change changes nothing"
        );
        assert!(
            agent["labels"].get("x").is_none(),
            "the agent's labels are not changed either"
        );
    }

    d.w.run(&["destroy", "tagged", "-f"]).ok();
    assert!(d.w.agents().is_empty());
    d.assert_clean();
}

#[test]
fn a_second_mngr_sees_the_same_docker_agents() {
    let d = DockerWorld::new();
    d.w.create(&["shared", "--in", "docker", "--", "sleep", "1000"]);
    // Another mngr root (another machine, as far as mngr can tell), same daemon and prefix.
    let mut other = AgentWorld::new();
    other.set_env("MNGR__PROVIDERS__DOCKER__IS_ENABLED", "true");
    other.set_env("MNGR_PREFIX", &d.prefix);
    let seen = other
        .agent("shared")
        .expect("the second mngr lists the agent");
    assert_eq!(seen["host"]["provider_name"], "docker");
    assert_eq!(
        other
            .run(&["exec", "shared", "echo from-the-other-side"])
            .ok(),
        "from-the-other-side\n"
    );
    // Stopped hosts list too, from the records kept with the daemon.
    d.w.run(&["stop", "shared", "--stop-host"]).ok();
    let start = Instant::now();
    let seen = other.agent("shared").expect("listed while stopped");
    assert_eq!(seen["host"]["state"], "STOPPED");
    assert!(start.elapsed() < Duration::from_secs(5));
    d.w.run(&["destroy", "shared", "-f"]).ok();
    assert!(other.agents().is_empty());
    drop(other);
    d.assert_clean();
}

#[test]
fn connect_gives_a_terminal_in_the_agents_tmux_session_in_the_container() {
    let mut d = DockerWorld::new();
    d.w.repo_with_commit();
    d.w.create(&["term", "--in", "docker", "--", "sleep", "1000"]);
    d.w.wait_state("term", "WAITING");
    let session = format!("={}term", d.prefix);

    // `script` gives mngr a terminal, as a user's shell would.
    let mngr = env!("CARGO_BIN_EXE_mngr");
    let mut child =
        d.w.program(
            "script",
            &["-qec", &format!("{mngr} connect term"), "/dev/null"],
        )
        .env("MNGR_ROOT", d.w.root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let clients = |d: &DockerWorld| {
        d.w.run(&[
            "exec",
            "term",
            &format!("tmux list-clients -t '{session}' -F '#{{client_tty}}'"),
        ])
        .stdout
    };
    d.w.wait_until("a client attached inside the container", || {
        !clients(&d).trim().is_empty()
    });
    d.w.run(&[
        "exec",
        "term",
        &format!("tmux detach-client -s '{session}'"),
    ])
    .ok();
    assert!(child.wait().unwrap().success());
    assert!(clients(&d).trim().is_empty());

    d.w.run(&["destroy", "term", "-f"]).ok();
    d.assert_clean();
}

#[test]
fn a_host_whose_ssh_key_changed_is_reported_as_such_by_every_command() {
    let d = DockerWorld::new();
    d.w.create(&["keyed", "--in", "docker", "--", "sleep", "1000"]);
    d.w.wait_state("keyed", "WAITING");
    // The container's sshd gets a new host key: it no longer matches the one mngr pinned.
    let container = format!("{}keyed", d.prefix);
    let out = std::process::Command::new("docker")
        .args([
            "exec",
            &container,
            "sh",
            "-c",
            "rm -f /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key.pub && \
             ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && \
             kill -HUP $(cat /run/sshd.pid)",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    d.w.wait_until("sshd serves the new key", || {
        d.w.run(&["exec", "keyed", "true"]).code == 6
    });

    let list = d.w.run(&["list", "--format", "json"]);
    assert_eq!(list.code, 6, "{list:?}");
    let v = list.json();
    assert_eq!(v["agents"][0]["name"], "keyed");
    assert_eq!(v["agents"][0]["state"], "UNKNOWN", "not STOPPED: {v}");
    assert_eq!(v["agents"][0]["host"]["state"], "RUNNING");
    let error = &v["errors"][0];
    assert_eq!(error["provider_name"], "docker");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("does not match the key pinned"),
        "{error}"
    );
    for args in [
        &["stop", "keyed"][..],
        &["start", "keyed"],
        &["message", "keyed", "-m", "hi"],
        &["exec", "keyed", "true"],
        &["capture", "keyed"],
        &["label", "keyed", "--label", "k=v"],
        &["destroy", "keyed"],
    ] {
        let line = d.w.run(args).error_line(6);
        assert!(
            line.contains("cannot reach host 'keyed' of provider 'docker'")
                && line.contains("does not match the key pinned for this host"),
            "{args:?}: {line}"
        );
    }
    // --force destroys the host through its provider, which needs no SSH.
    d.w.run(&["destroy", "keyed", "-f"]).ok();
    d.assert_clean();
}

#[test]
fn parallel_destroys_of_one_docker_agent_one_succeeds_and_the_others_say_it_is_gone() {
    let d = DockerWorld::new();
    d.w.create(&["racer", "--in", "docker", "--", "sleep", "1000"]);
    let children: Vec<std::process::Child> = (0..3)
        .map(|_| {
            d.w.command(&["destroy", "racer"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn mngr")
        })
        .collect();
    let runs: Vec<common::Run> = children
        .into_iter()
        .map(|c| common::Run::from(c.wait_with_output().unwrap()))
        .collect();
    // The winner destroys the agent and its host; a loser finds the record gone (or the host
    // gone with it) and says so, whenever it looked.
    let destroyed = runs.iter().filter(|r| r.code == 0).count();
    assert_eq!(destroyed, 1, "{runs:?}");
    for run in runs.iter().filter(|r| r.code != 0) {
        let line = run.error_line(9);
        assert!(
            line.contains("already gone") || line.contains("no agent with name 'racer'"),
            "{line}"
        );
    }
    assert!(d.w.agents().is_empty());
    d.assert_clean();
}

#[test]
fn a_docker_host_is_renamed_through_its_provider() {
    let d = DockerWorld::new();
    d.w.create(&["named", "--in", "docker", "--", "sleep", "1000"]);
    let run = d.w.run(&["rename", "--host", "named.docker", "renamed"]);
    assert_eq!(run.ok(), "Renamed host: named -> renamed\n");
    let agent = d.w.agent("named").expect("listed");
    assert_eq!(agent["address"], "named@renamed.docker");
    // The agent is reached by its host's new name.
    let out =
        d.w.run(&["exec", "named@renamed.docker", "echo still-here"]);
    assert_eq!(out.ok(), "still-here\n");
    d.w.run(&["destroy", "named"]).ok();
    d.assert_clean();
}
