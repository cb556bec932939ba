//! Agent commands end to end on the local provider: real tmux (a private server per test),
//! real git, the real binary, an isolated mngr root per test.

use crate::common;
use common::agents::AgentWorld;
use std::process::Stdio;

#[test]
fn create_in_a_repo_makes_a_worktree_and_list_shows_the_agent() {
    let mut w = AgentWorld::new();
    let repo = w.repo_with_commit();
    std::fs::write(repo.join("README"), "changed\n").unwrap();
    std::fs::write(repo.join("new.txt"), "untracked\n").unwrap();

    let run = w.create(&["fixer", "--", "sleep", "1000"]);
    assert!(
        run.stdout
            .starts_with("Created agent: fixer@localhost.local (agent-"),
        "{}",
        run.stdout
    );
    let agent = w.wait_state("fixer", "WAITING");
    assert_eq!(agent["type"], "command");
    assert_eq!(agent["command"], "sleep 1000");
    assert_eq!(agent["initial_branch"], "mngr/fixer");
    assert_eq!(agent["labels"]["project"], "repo");
    assert_eq!(agent["host"]["name"], "localhost");
    assert_eq!(agent["host"]["provider_name"], "local");
    assert_eq!(agent["address"], "fixer@localhost.local");
    let work_dir = agent["work_dir"].as_str().unwrap().to_string();
    let worktrees = w.root().join("worktrees");
    assert!(
        work_dir.starts_with(worktrees.to_str().unwrap()),
        "{work_dir}"
    );
    // The worktree is on the agent's branch and carries the uncommitted work along.
    let wd = std::path::Path::new(&work_dir);
    assert_eq!(
        w.git(wd, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "mngr/fixer"
    );
    assert_eq!(
        std::fs::read_to_string(wd.join("README")).unwrap(),
        "changed\n"
    );
    assert_eq!(
        std::fs::read_to_string(wd.join("new.txt")).unwrap(),
        "untracked\n"
    );
    assert_eq!(w.sessions(), vec!["mngr-fixer".to_string()]);

    // Records on the host keep the shared layout.
    let id = agent["id"].as_str().unwrap();
    let state_dir = w.root().join("agents").join(id);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_dir.join("data.json")).unwrap()).unwrap();
    for key in [
        "id",
        "name",
        "type",
        "work_dir",
        "create_time",
        "command",
        "labels",
        "tmux",
        "created_branch_name",
        "start_on_boot",
    ] {
        assert!(record.get(key).is_some(), "data.json lacks {key}: {record}");
    }
    assert!(state_dir.join("env").exists() && state_dir.join("launch_agent.sh").exists());
    assert!(
        state_dir.join("activity/create").exists() && state_dir.join("activity/start").exists()
    );
    let host: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.root().join("data.json")).unwrap()).unwrap();
    assert_eq!(host["generated_work_dirs"][0], work_dir.as_str());
    assert_eq!(host["host_name"], "localhost");

    // Human list.
    let out = w.run(&["list"]);
    let lines: Vec<&str> = out.ok().lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("STATE"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("fixer") && lines[1].contains("WAITING"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("localhost") && lines[1].contains("repo"));
}

#[test]
fn agents_get_the_documented_environment() {
    let w = AgentWorld::new();
    w.create(&[
        "envy",
        "--in-place",
        "--env",
        "GREETING=hi there",
        "--",
        "sleep",
        "1000",
    ]);
    let agent = w.wait_state("envy", "WAITING");
    let id = agent["id"].as_str().unwrap();
    let out = w.run(&[
        "exec",
        "envy",
        "echo $MNGR_HOST_DIR; echo $MNGR_AGENT_ID; echo $MNGR_AGENT_NAME; echo $MNGR_AGENT_STATE_DIR; echo $MNGR_AGENT_WORK_DIR; echo $GREETING; pwd",
    ]);
    let root = w.root().to_string_lossy().into_owned();
    let cwd = w.cwd.canonicalize().unwrap().to_string_lossy().into_owned();
    let expected = format!("{root}\n{id}\nenvy\n{root}/agents/{id}\n{cwd}\nhi there\n{cwd}\n");
    assert_eq!(out.ok(), expected);
    // The agent's own process sees them too.
    w.create(&[
        "printer",
        "--in-place",
        "--",
        "sh",
        "-c",
        "echo NAME=$MNGR_AGENT_NAME; sleep 1000",
    ]);
    w.wait_until("the agent to print its name", || {
        w.run(&["capture", "printer"])
            .stdout
            .contains("NAME=printer")
    });
}

#[test]
fn states_follow_the_agent_process() {
    let w = AgentWorld::new();
    w.create(&["st", "--in-place", "--", "sleep", "1000"]);
    let agent = w.wait_state("st", "WAITING");
    let id = agent["id"].as_str().unwrap();
    std::fs::write(w.root().join("agents").join(id).join("active"), "").unwrap();
    w.wait_state("st", "RUNNING");

    // A command that ends leaves a shell in the pane: DONE.
    w.create(&["quick", "--in-place", "--", "true"]);
    w.wait_state("quick", "DONE");

    // A command that is itself only shells (a script waiting on a builtin) is not done while
    // it runs, nor is any agent in the moment before its command starts.
    w.create(&["shelly", "--in-place", "--command", "sh -c 'read line'"]);
    assert_eq!(w.agent("shelly").unwrap()["state"], "WAITING");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(w.agent("shelly").unwrap()["state"], "WAITING");
    w.run(&["message", "shelly", "-m", "go"]).ok();
    w.wait_state("shelly", "DONE");

    let run = w.run(&["stop", "st"]);
    assert_eq!(run.ok(), "Stopped agent: st@localhost.local\n");
    w.wait_state("st", "STOPPED");
    assert!(!w.sessions().contains(&"mngr-st".to_string()));
    let run = w.run(&["start", "st"]);
    assert_eq!(run.ok(), "Started agent: st@localhost.local\n");
    w.wait_state("st", "RUNNING");
    // start is idempotent.
    w.run(&["start", "st"]).ok();
    assert_eq!(w.sessions().iter().filter(|s| *s == "mngr-st").count(), 1);

    // JSON forms.
    let run = w.run(&["stop", "st", "quick", "--format", "json"]);
    let v = run.json();
    assert_eq!(v["stopped_agents"], serde_json::json!(["st", "quick"]));
    assert_eq!(v["count"], 2);
    let run = w.run(&["start", "st", "--format", "json"]);
    assert_eq!(run.json()["started_agents"], serde_json::json!(["st"]));
    let run = w.run(&["stop", "st", "--format", "jsonl"]);
    let v: serde_json::Value = serde_json::from_str(run.ok().trim()).unwrap();
    assert_eq!(v["event"], "stop_result");
    let run = w.run(&["start", "st", "--format", "{name}"]);
    assert_eq!(run.ok(), "st\n");
    let run = w.run(&["start", "st", "--restart", "--dry-run"]);
    assert_eq!(run.ok(), "Would start agent: st@localhost.local\n");
}

#[test]
fn message_and_capture_reach_the_pane() {
    let w = AgentWorld::new();
    // `cat` echoes what it reads, so typed messages show up in the pane.
    w.create(&["talker", "--in-place", "--", "cat"]);
    w.wait_state("talker", "WAITING");
    let run = w.run(&["message", "talker", "-m", "hello agent"]);
    assert_eq!(run.ok(), "Message sent to: talker\n");
    w.wait_until("the message in the pane", || {
        w.run(&["capture", "talker"])
            .stdout
            .matches("hello agent")
            .count()
            >= 2
    });
    // From stdin, and as JSON.
    let out = w.run_with_stdin(&["message", "talker", "--format", "json"], b"from stdin\n");
    assert_eq!(out.code, 0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["successful_agents"], serde_json::json!(["talker"]));
    assert_eq!(v["total_failed"], 0);
    w.wait_until("the piped message", || {
        w.run(&["capture", "talker"]).stdout.contains("from stdin")
    });
    // A long multi-line message goes through a paste buffer.
    let long = format!("{}\nsecond line", "x".repeat(2000));
    w.run(&["message", "talker", "-m", &long]).ok();
    w.wait_until("the long message", || {
        w.run(&["capture", "talker", "--full"])
            .stdout
            .contains("second line")
    });
    let run = w.run(&["capture", "talker", "--format", "json"]);
    let v = run.json();
    assert_eq!(v["agent"], "talker");
    assert!(v["content"].as_str().unwrap().contains("hello agent"));
    // --full includes scrollback beyond the visible 50 lines.
    w.create(&[
        "scroller",
        "--in-place",
        "--",
        "sh",
        "-c",
        "seq 1 300; sleep 1000",
    ]);
    w.wait_until("the output", || {
        w.run(&["capture", "scroller"]).stdout.contains("300")
    });
    assert!(
        !w.run(&["capture", "scroller"])
            .stdout
            .lines()
            .any(|l| l == "5")
    );
    assert!(
        w.run(&["capture", "scroller", "--full"])
            .stdout
            .lines()
            .any(|l| l == "5")
    );
}

#[test]
fn a_stopped_agent_cannot_be_messaged_or_captured() {
    let w = AgentWorld::new();
    w.create(&["idle", "--in-place", "--", "sleep", "1000"]);
    // The local host cannot be stopped; nothing is stopped then.
    let line = w.run(&["stop", "idle", "--stop-host"]).error_line(10);
    assert_eq!(
        line,
        "Error: provider 'local' cannot stop its hosts (host 'localhost')"
    );
    w.wait_state("idle", "WAITING");
    w.run(&["stop", "idle"]).ok();
    let run = w.run(&["message", "idle", "-m", "hi"]);
    let line = run.error_line(13);
    assert!(
        line.contains("'idle' is not running (state STOPPED)"),
        "{line}"
    );
    let line = w.run(&["capture", "idle"]).error_line(13);
    assert!(line.contains("not running"), "{line}");
}

#[test]
fn exec_runs_in_the_work_dir_in_every_format() {
    let w = AgentWorld::new();
    w.create(&["a1", "--in-place", "--", "sleep", "1000"]);
    w.create(&["a2", "--in-place", "--", "sleep", "1000"]);
    let run = w.run(&["exec", "a1", "echo out; echo err >&2"]);
    assert_eq!(run.ok(), "out\n");
    assert!(run.stderr.contains("err"));
    let run = w.run(&["exec", "a1", "a2", "echo $MNGR_AGENT_NAME"]);
    assert_eq!(run.ok(), "--- a1 ---\na1\n--- a2 ---\na2\n");
    let run = w.run(&["exec", "a1", "exit 3"]);
    assert_eq!(run.code, 1);
    let run = w.run(&[
        "exec",
        "a1",
        "a2",
        "echo $MNGR_AGENT_NAME",
        "--format",
        "json",
    ]);
    let v = run.json();
    assert_eq!(v["total_executed"], 2);
    assert_eq!(v["results"][1]["stdout"], "a2\n");
    assert_eq!(v["results"][0]["success"], true);
    let run = w.run(&["exec", "a1", "echo hi", "--format", "jsonl"]);
    let v: serde_json::Value = serde_json::from_str(run.ok().trim()).unwrap();
    assert_eq!(
        (v["event"].as_str(), v["stdout"].as_str()),
        (Some("exec_result"), Some("hi\n"))
    );
    let run = w.run(&["exec", "a1", "echo hi", "--format", "{agent}:{success}"]);
    assert_eq!(run.ok(), "a1:true\n");
    // Agents from stdin with '-'.
    let out = w.run_with_stdin(&["exec", "-", "echo $MNGR_AGENT_NAME"], b"a2\na1\n");
    assert_eq!(out.stdout, "--- a2 ---\na2\n--- a1 ---\na1\n");
    let run = w.run(&["exec", "a1", "pwd", "--cwd", "/"]);
    assert_eq!(run.ok(), "/\n");
}

#[test]
fn list_sorts_limits_filters_by_project_and_host_tag_and_lists_hosts() {
    let w = AgentWorld::new();
    w.create(&["bravo", "--in-place", "--", "sleep", "1000"]);
    w.create(&["alpha", "--in-place", "--", "sleep", "1000"]);
    w.create(&["charlie", "--in-place", "--", "true"]);
    w.wait_state("charlie", "DONE");
    w.wait_state("alpha", "WAITING");
    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["list", "--format", "{name}"];
        all.extend_from_slice(args);
        w.run(&all).ok().lines().map(str::to_string).collect()
    };
    // Creation order by default; --sort takes fields of the JSON output, then --limit cuts.
    assert_eq!(names(&[]), ["bravo", "alpha", "charlie"]);
    assert_eq!(names(&["--sort", "name"]), ["alpha", "bravo", "charlie"]);
    assert_eq!(
        names(&["--sort", "name desc", "--limit", "2"]),
        ["charlie", "bravo"]
    );
    assert_eq!(
        names(&["--sort", "state, name desc"]),
        ["charlie", "bravo", "alpha"]
    );
    assert_eq!(
        w.run(&["list", "--sort", "name sideways"]).error_line(2),
        "Error: --sort 'name sideways': 'sideways' is not asc or desc"
    );

    // --project: the agents' project label; `.` is the project of the current directory.
    assert_eq!(names(&["--project", ".", "--sort", "name"]).len(), 3);
    assert!(names(&["--project", "no-such-project"]).is_empty());

    // --host-label: tags of the agent's host.
    w.run(&["label", "alpha", "--host-tag", "team=infra"]).ok();
    assert_eq!(names(&["--host-label", "team=infra"]).len(), 3);
    assert!(names(&["--host-label", "team=web"]).is_empty());

    // --hosts: each host once, with its tags and agents.
    let v = w.run(&["list", "--hosts", "--format", "json"]).json();
    let hosts = v["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0]["name"], "localhost");
    assert_eq!(hosts[0]["tags"]["team"], "infra");
    let mut agents: Vec<&str> = hosts[0]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    agents.sort();
    assert_eq!(agents, ["alpha", "bravo", "charlie"]);
    let human = w.run(&["list", "--hosts"]);
    let table = human.ok();
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("team=infra"), "{table}");
    assert_eq!(
        w.run(&["list", "--hosts", "--running"]).code,
        2,
        "--hosts lists hosts, so agent filters are refused"
    );
}

#[test]
fn list_filters_and_formats() {
    let w = AgentWorld::new();
    w.create(&["one", "--in-place", "-l", "team=web", "--", "sleep", "1000"]);
    w.create(&["two", "--in-place", "-l", "team=db", "--", "sleep", "1000"]);
    w.wait_state("one", "WAITING");
    w.wait_state("two", "WAITING");
    w.run(&["stop", "two"]).ok();

    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["list", "--format", "{name}"];
        all.extend_from_slice(args);
        w.run(&all).ok().lines().map(str::to_string).collect()
    };
    assert_eq!(names(&[]), vec!["one", "two"]);
    assert_eq!(names(&["--stopped"]), vec!["two"]);
    assert_eq!(names(&["--state", "waiting"]), vec!["one"]);
    assert_eq!(names(&["--label", "team=db"]), vec!["two"]);
    assert_eq!(names(&["--provider", "local"]), vec!["one", "two"]);
    assert_eq!(names(&["--local"]), vec!["one", "two"]);
    assert!(names(&["--remote"]).is_empty());
    assert!(names(&["--running"]).is_empty());

    let ids = w.run(&["list", "--ids"]);
    let ids: Vec<&str> = ids.ok().lines().collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|i| i.starts_with("agent-")));
    assert_eq!(
        w.run(&["list", "--addrs"]).ok(),
        "one@localhost.local\ntwo@localhost.local\n"
    );
    let run = w.run(&["list", "--format", "jsonl"]);
    let lines: Vec<serde_json::Value> = run
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["state"], "STOPPED");
    let v = w.run(&["list", "--format", "json"]).json();
    assert_eq!(v["errors"], serde_json::json!([]));
    // --stdin keeps the named agents.
    let out = w.run_with_stdin(&["list", "--stdin", "--format", "{name}"], b"two\n");
    assert_eq!(out.stdout, "two\n");
    // The `mngr list --ids | mngr stop -` idiom.
    let stopped = w.run_with_stdin(&["stop", "-"], format!("{}\n", ids[0]).as_bytes());
    assert_eq!(stopped.code, 0);
    assert_eq!(names(&["--stopped"]).len(), 2);
    assert_eq!(
        w.run(&["list", "--ids", "--format", "json"]).error_line(2),
        "Error: --ids and --addrs cannot be combined with --format"
    );
    let empty = AgentWorld::new();
    assert_eq!(empty.run(&["list"]).ok(), "No agents found\n");
    assert_eq!(
        empty.run(&["ls", "--format", "json"]).json()["agents"],
        serde_json::json!([])
    );
}

#[test]
fn rename_and_label() {
    let w = AgentWorld::new();
    w.create(&["old", "--in-place", "--", "sleep", "1000"]);
    w.create(&["other", "--in-place", "--", "sleep", "1000"]);
    let id = w.wait_state("old", "WAITING")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = w.run(&["rename", "old", "new"]);
    assert_eq!(run.ok(), "Renamed agent: old -> new\n");
    let agent = w.wait_state("new", "WAITING");
    assert_eq!(agent["id"], id.as_str());
    assert!(w.sessions().contains(&"mngr-new".to_string()));
    assert_eq!(
        w.run(&["exec", "new", "echo $MNGR_AGENT_NAME"]).ok(),
        "new\n"
    );
    let line = w.run(&["mv", "new", "other"]).error_line(11);
    assert!(line.contains("'other' already exists"), "{line}");
    let v = w
        .run(&["rename", "new", "newer", "--format", "json"])
        .json();
    assert_eq!(v["old_name"], "new");
    assert_eq!(v["new_name"], "newer");
    assert_eq!(v["agent_id"], id.as_str());

    let run = w.run(&["label", "newer", "other", "-l", "tier=gold", "-l", "x=1"]);
    assert_eq!(
        run.ok(),
        "Updated labels for agent newer\nUpdated labels for agent other\n"
    );
    assert_eq!(w.agent("other").unwrap()["labels"]["tier"], "gold");
    let v = w
        .run(&["label", "newer", "-l", "tier=silver", "--format", "json"])
        .json();
    assert_eq!(v["count"], 1);
    assert_eq!(v["changes"][0]["labels"]["tier"], "silver");
    assert_eq!(v["changes"][0]["labels"]["x"], "1");
    assert_eq!(
        w.run(&["label", "newer", "-l", "novalue"]).error_line(2),
        "Error: invalid --label 'novalue': expected KEY=VALUE"
    );
}

#[test]
fn host_tags_are_added_updated_and_removed_on_the_local_host() {
    let w = AgentWorld::new();
    w.create(&["one", "--in-place", "--", "sleep", "1000"]);
    w.create(&["two", "--in-place", "--", "sleep", "1000"]);
    w.wait_state("one", "WAITING");
    assert_eq!(
        w.agent("one").unwrap()["host"]["tags"],
        serde_json::json!({})
    );

    // Both agents share the local host: it is changed once.
    let run = w.run(&[
        "label",
        "one",
        "two",
        "--host-tag",
        "team=web",
        "--host-tag",
        "env=dev",
    ]);
    assert_eq!(run.ok(), "Updated tags for host localhost\n");
    let tags = serde_json::json!({"team": "web", "env": "dev"});
    assert_eq!(w.agent("one").unwrap()["host"]["tags"], tags);
    assert_eq!(w.agent("two").unwrap()["host"]["tags"], tags);
    assert!(
        w.agent("one").unwrap()["labels"].get("team").is_none(),
        "host tags are not agent labels"
    );

    // Update one, remove another, and label the agent in the same run.
    let v = w
        .run(&[
            "label",
            "one",
            "--host-tag",
            "team=infra",
            "--remove-host-tag",
            "env",
            "-l",
            "x=1",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(v["count"], 1);
    assert_eq!(v["changes"][0]["labels"]["x"], "1");
    assert_eq!(v["host_changes"][0]["provider"], "local");
    assert_eq!(
        v["host_changes"][0]["tags"],
        serde_json::json!({"team": "infra"})
    );
    assert_eq!(
        w.agent("two").unwrap()["host"]["tags"],
        serde_json::json!({"team": "infra"})
    );
    let stored: serde_json::Value = serde_json::from_slice(
        &std::fs::read(w.root().join("providers/local/labels.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(stored, serde_json::json!({"team": "infra"}));

    assert_eq!(
        w.run(&["label", "one", "--host-tag", "novalue"])
            .error_line(2),
        "Error: invalid --host-tag 'novalue': expected KEY=VALUE"
    );
    let line = w
        .run(&[
            "label",
            "one",
            "--host-tag",
            "a=1",
            "--remove-host-tag",
            "a",
        ])
        .error_line(2);
    assert!(line.contains("tag 'a' is both set"), "{line}");
    assert_eq!(
        w.agent("one").unwrap()["host"]["tags"],
        serde_json::json!({"team": "infra"}),
        "refused runs change nothing"
    );
}

#[test]
fn destroy_refuses_to_lose_work_unless_forced() {
    let mut w = AgentWorld::new();
    let repo = w.repo_with_commit();
    w.create(&["keeper", "--", "sleep", "1000"]);
    let agent = w.wait_state("keeper", "WAITING");
    let wd = std::path::PathBuf::from(agent["work_dir"].as_str().unwrap());
    std::fs::write(wd.join("README"), "edited by the agent\n").unwrap();
    let line = w.run(&["destroy", "keeper"]).error_line(14);
    assert!(line.contains("1 uncommitted change(s)"), "{line}");
    assert!(
        w.agent("keeper").is_some(),
        "a refused destroy changes nothing"
    );
    // Committed on the agent's branch: the branch survives destroy, so that is allowed, but
    // deleting the branch too would lose the commit.
    w.git(&wd, &["commit", "-qam", "agent work"]);
    let line = w.run(&["destroy", "keeper", "-b"]).error_line(14);
    assert!(line.contains("1 commit(s) not pushed anywhere"), "{line}");
    let run = w.run(&["rm", "keeper", "--format", "json"]);
    assert_eq!(
        run.json()["destroyed_agents"],
        serde_json::json!(["keeper"])
    );
    assert!(!wd.exists());
    assert!(w.root_entries("worktrees").is_empty());
    assert_eq!(
        w.git(&repo, &["log", "-1", "--format=%s", "mngr/keeper"])
            .trim(),
        "agent work"
    );
    assert!(w.sessions().is_empty());
    assert!(w.root_entries("agents").is_empty());

    // --force destroys despite uncommitted work, and -b deletes the branch.
    w.create(&["loser", "--", "sleep", "1000"]);
    let wd = std::path::PathBuf::from(w.agent("loser").unwrap()["work_dir"].as_str().unwrap());
    std::fs::write(wd.join("scratch"), "x").unwrap();
    let run = w.run(&["destroy", "loser", "--force", "-b"]);
    assert_eq!(run.ok(), "Destroyed agent: loser@localhost.local\n");
    assert!(
        w.git(&repo, &["branch", "--list", "mngr/loser"])
            .trim()
            .is_empty()
    );
    let host: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.root().join("data.json")).unwrap()).unwrap();
    assert_eq!(host["generated_work_dirs"], serde_json::json!([]));
    // Not found: an error without --force, a note with it.
    let line = w.run(&["destroy", "ghost"]).error_line(9);
    assert!(line.contains("no agent with name 'ghost'"), "{line}");
    assert_eq!(w.run(&["destroy", "ghost", "-f"]).code, 0);
}

#[test]
fn copies_bring_files_or_a_whole_repository() {
    let mut w = AgentWorld::new();
    // A plain directory: copied with rsync.
    let plain = w.path("plain");
    std::fs::create_dir_all(plain.join("sub")).unwrap();
    std::fs::write(plain.join("sub/data.txt"), "data").unwrap();
    w.create(&[
        "copier",
        "--from",
        plain.to_str().unwrap(),
        "--",
        "sleep",
        "1000",
    ]);
    let agent = w.agent("copier").unwrap();
    let wd = std::path::PathBuf::from(agent["work_dir"].as_str().unwrap());
    assert_eq!(
        wd,
        w.root().join("copies").join(agent["id"].as_str().unwrap())
    );
    assert_eq!(
        std::fs::read_to_string(wd.join("sub/data.txt")).unwrap(),
        "data"
    );
    assert_eq!(agent["labels"]["project"], "plain");
    // The default in a plain directory is a copy too.
    w.cwd = plain.clone();
    w.create(&["copier2", "--", "sleep", "1000"]);
    let wd2 = w.agent("copier2").unwrap()["work_dir"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(wd2.contains("/copies/"), "{wd2}");
    w.run(&["destroy", "copier", "copier2"]).ok();
    assert!(!wd.exists());

    // A repository copy has its history, its uncommitted work, and a branch for the agent.
    let repo = w.repo_with_commit();
    std::fs::write(repo.join("README"), "dirty\n").unwrap();
    std::fs::write(repo.join("extra.txt"), "new\n").unwrap();
    std::fs::write(repo.join(".gitignore"), "ignored/\n").unwrap();
    std::fs::create_dir_all(repo.join("ignored")).unwrap();
    std::fs::write(repo.join("ignored/big"), "skip me").unwrap();
    w.create(&["cloned", "--copy", "--", "sleep", "1000"]);
    let wd = std::path::PathBuf::from(w.agent("cloned").unwrap()["work_dir"].as_str().unwrap());
    assert_eq!(w.git(&wd, &["log", "--format=%s"]).trim(), "first");
    assert_eq!(
        w.git(&wd, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "mngr/cloned"
    );
    assert_eq!(
        std::fs::read_to_string(wd.join("README")).unwrap(),
        "dirty\n"
    );
    assert!(wd.join("extra.txt").exists());
    assert!(!wd.join("ignored").exists());
    let status = w.git(&wd, &["status", "--porcelain"]);
    assert!(
        status.contains(" M README") && status.contains("?? extra.txt"),
        "{status}"
    );
    // A copy's uncommitted work is at risk on destroy.
    assert_eq!(w.run(&["destroy", "cloned"]).code, 14);
    w.run(&["destroy", "cloned", "-f"]).ok();

    // In place: the source directory itself.
    w.create(&["inplace", "--in-place", "--", "sleep", "1000"]);
    let agent = w.agent("inplace").unwrap();
    assert_eq!(
        agent["work_dir"],
        repo.canonicalize().unwrap().to_str().unwrap()
    );
    assert_eq!(agent["initial_branch"], serde_json::Value::Null);
    w.run(&["destroy", "inplace"]).ok();
    assert!(
        repo.join("README").exists(),
        "destroy leaves an in-place work dir alone"
    );
}

#[test]
fn create_generates_names_and_sends_an_initial_message() {
    let w = AgentWorld::new();
    let run = w.create(&[
        "--in-place",
        "--format",
        "json",
        "-m",
        "first words",
        "--",
        "cat",
    ]);
    let v = run.json();
    let name = v["agent_name"].as_str().unwrap().to_string();
    assert!(mngr_plugin_api::SafeName::parse(&name).is_ok(), "{name}");
    assert!(name.contains('-'));
    assert!(v["agent_id"].as_str().unwrap().starts_with("agent-"));
    assert_eq!(v["provider"], "local");
    assert_eq!(v["host_name"], "localhost");
    w.wait_until("the initial message", || {
        w.run(&["capture", &name]).stdout.contains("first words")
    });
    let run = w.create(&[
        "jl",
        "--in-place",
        "--format",
        "jsonl",
        "--command",
        "sleep 1000",
    ]);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(v["event"], "created");
    assert_eq!(w.agent("jl").unwrap()["command"], "sleep 1000");
    // --env-file, then --env (later wins).
    let env_file = w.path("agent.env");
    std::fs::write(&env_file, "# comment\nA=from-file\nB='two words'\n").unwrap();
    w.create(&[
        "envs",
        "--in-place",
        "--env-file",
        env_file.to_str().unwrap(),
        "--env",
        "A=from-flag",
        "--",
        "sleep",
        "1000",
    ]);
    assert_eq!(
        w.run(&["exec", "envs", "echo $A/$B"]).ok(),
        "from-flag/two words\n"
    );
}

#[test]
fn agent_types_from_settings_and_tools() {
    let w = AgentWorld::new();
    std::fs::create_dir_all(w.root()).unwrap();
    std::fs::write(
        w.user_settings(),
        "[agent_types.sleeper]\ncommand = \"sleep\"\nargs = [\"1000\"]\n",
    )
    .unwrap();
    w.create(&["s1", "sleeper", "--in-place"]);
    let agent = w.wait_state("s1", "WAITING");
    assert_eq!(agent["type"], "sleeper");
    assert_eq!(agent["command"], "sleep 1000");
    // [commands.create] gives defaults for options the command line leaves out.
    std::fs::write(
        w.user_settings(),
        "[agent_types.sleeper]\ncommand = \"sleep\"\nargs = [\"1000\"]\n\n\
         [commands.create]\ntype = \"sleeper\"\nconnect = false\nin_place = true\nlabels = [\"team=x\"]\n",
    )
    .unwrap();
    w.run(&["create", "s2"]).ok();
    let agent = w.wait_state("s2", "WAITING");
    assert_eq!(agent["type"], "sleeper");
    assert_eq!(agent["labels"]["team"], "x");
    assert_eq!(
        agent["work_dir"],
        w.cwd.canonicalize().unwrap().to_str().unwrap()
    );
    w.run(&["destroy", "s2"]).ok();
    std::fs::write(
        w.user_settings(),
        "[agent_types.sleeper]\ncommand = \"sleep\"\nargs = [\"1000\"]\n",
    )
    .unwrap();
    // claude and codex fail clearly where they are not installed, leaving nothing behind.
    let path = w.path_without(&["claude", "codex"]);
    let mut cmd = w.command(&["create", "c1", "claude", "--in-place", "--no-connect"]);
    let out = cmd.env("PATH", &path).output().unwrap();
    assert_eq!(out.status.code(), Some(12));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("Error: claude is not installed on host 'localhost'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("npm install -g @anthropic-ai/claude-code"),
        "{stderr}"
    );
    // Where the tool exists, `mngr create NAME claude` runs it.
    let bin = w.path("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let tool = bin.join("codex");
    std::fs::write(&tool, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = w
        .command(&["create", "cx", "codex", "--in-place", "--no-connect"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let agent = w.agent("cx").unwrap();
    assert_eq!(
        (agent["type"].as_str(), agent["command"].as_str()),
        (Some("codex"), Some("codex"))
    );
    assert_eq!(w.agents().len(), 2);
}

#[test]
fn connect_attaches_a_terminal_to_the_session() {
    let w = AgentWorld::new();
    w.create(&["conn", "--in-place", "--", "sleep", "1000"]);
    w.run(&["stop", "conn"]).ok();
    // `script` gives mngr a terminal; connect starts the stopped agent and attaches.
    let mngr = env!("CARGO_BIN_EXE_mngr");
    let mut child = w
        .program(
            "script",
            &["-qec", &format!("{mngr} connect conn"), "/dev/null"],
        )
        .env("MNGR_ROOT", w.root())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    w.wait_until("a client on the session", || {
        let out = w.tmux(&["list-clients", "-t", "=mngr-conn", "-F", "#{client_tty}"]);
        !String::from_utf8_lossy(&out.stdout).trim().is_empty()
    });
    w.wait_state("conn", "WAITING");
    assert!(
        w.tmux(&["detach-client", "-s", "=mngr-conn"])
            .status
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success());
    let line = w.run(&["connect", "ghost"]).error_line(9);
    assert!(line.contains("ghost"), "{line}");
    w.run(&["stop", "conn"]).ok();
    let line = w.run(&["connect", "conn", "--no-start"]).error_line(13);
    assert!(line.contains("stopped"), "{line}");
}

#[test]
fn gc_removes_orphaned_sessions_records_and_work_dirs() {
    let mut w = AgentWorld::new();
    let repo = w.repo_with_commit();
    w.create(&["keep", "--", "sleep", "1000"]);
    // An orphaned session (its agent's record is gone), an agent dir without a record, and a
    // worktree recorded on the host that no agent uses.
    w.create(&["orphan", "--in-place", "--", "sleep", "1000"]);
    let orphan_id = w.agent("orphan").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_dir_all(w.root().join("agents").join(&orphan_id)).unwrap();
    // A session with mngr's prefix that this host dir did not start is left alone.
    assert!(
        w.tmux(&["new-session", "-d", "-s", "mngr-foreign", "sleep 1000"])
            .status
            .success()
    );
    let stray = w
        .root()
        .join("agents")
        .join(format!("agent-{}", "0".repeat(32)));
    std::fs::create_dir_all(stray.join("activity")).unwrap();
    let orphan_wt = w.root().join("worktrees").join("gone-1234");
    w.git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            "-b",
            "mngr/gone",
            orphan_wt.to_str().unwrap(),
        ],
    );
    let host_path = w.root().join("data.json");
    let mut host: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&host_path).unwrap()).unwrap();
    host["generated_work_dirs"]
        .as_array_mut()
        .unwrap()
        .push(orphan_wt.to_str().unwrap().into());
    std::fs::write(&host_path, serde_json::to_vec_pretty(&host).unwrap()).unwrap();

    let run = w.run(&["gc", "--dry-run", "--format", "json"]);
    let v = run.json();
    // The session, the stray dir, the worktree and its branch mngr/gone, which holds no commit
    // of its own.
    assert_eq!(v["count"], 4);
    assert!(
        v["removed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "branch" && i["what"] == "mngr/gone"),
        "{v}"
    );
    assert!(orphan_wt.exists(), "dry run removes nothing");
    let run = w.run(&["gc"]);
    let out = run.ok();
    assert!(out.contains("Removed session: mngr-orphan"), "{out}");
    assert!(
        out.contains(&format!("Removed agent dir: {}", stray.display())),
        "{out}"
    );
    assert!(
        out.contains(&format!("Removed work dir: {}", orphan_wt.display())),
        "{out}"
    );
    assert!(out.contains("Removed branch: mngr/gone"), "{out}");
    assert!(!orphan_wt.exists() && !stray.exists());
    assert_eq!(
        w.sessions(),
        vec!["mngr-foreign".to_string(), "mngr-keep".to_string()]
    );
    assert!(
        w.git(&repo, &["branch", "--list", "mngr/gone"])
            .trim()
            .is_empty()
    );
    assert!(!w.git(&repo, &["worktree", "list"]).contains("gone-1234"));
    // The live agent is untouched.
    assert_eq!(w.agents().len(), 1);
    assert!(std::path::Path::new(w.agent("keep").unwrap()["work_dir"].as_str().unwrap()).exists());
    assert_eq!(w.run(&["gc"]).ok(), "Nothing to collect\n");
}

#[test]
fn agents_on_a_provider_that_makes_hosts_get_a_host_each() {
    let w = AgentWorld::new();
    let plain = w.path("src");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::write(plain.join("file.txt"), "shipped").unwrap();
    let run = w.create(&[
        "boxed",
        "--in",
        "dirs",
        "--from",
        plain.to_str().unwrap(),
        "--tag",
        "team=x",
        "--note",
        "from a backend flag",
        "--format",
        "json",
        "--",
        "sleep",
        "1000",
    ]);
    let v = run.json();
    assert_eq!(v["provider"], "dirs");
    assert_eq!(v["host_name"], "boxed");
    let agent = w.wait_state("boxed", "WAITING");
    assert_eq!(agent["address"], "boxed@boxed.dirs");
    assert_eq!(agent["host"]["tags"]["team"], "x");
    let wd = std::path::PathBuf::from(agent["work_dir"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(wd.join("file.txt")).unwrap(),
        "shipped"
    );
    // The backend's own flag (--note) reached its create_host: NOTE.txt in the host's dir.
    let host_dir = wd.parent().unwrap().parent().unwrap();
    assert_eq!(
        std::fs::read_to_string(host_dir.join("NOTE.txt")).unwrap(),
        "from a backend flag"
    );
    let help = w.run(&["create", "--help"]);
    assert!(
        help.ok().contains("Provider dirs options"),
        "{}",
        help.stdout
    );
    let line = w
        .run(&[
            "create",
            "y",
            "--in-place",
            "--note",
            "x",
            "--no-connect",
            "--",
            "true",
        ])
        .error_line(2);
    assert_eq!(
        line,
        "Error: --note is a flag of backend 'dirs', but the agent goes to a 'local' provider"
    );
    // A second agent on that existing host with @HOST.
    w.create(&[
        "guest@boxed.dirs",
        "--from",
        plain.to_str().unwrap(),
        "--",
        "sleep",
        "1000",
    ]);
    assert_eq!(w.agent("guest").unwrap()["host"]["id"], agent["host"]["id"]);
    assert_eq!(
        w.run(&["exec", "guest@boxed.dirs", "cat file.txt"]).ok(),
        "shipped"
    );
    // Host options only apply to new hosts; local makes none.
    let line = w
        .run(&[
            "create",
            "x",
            "--in-place",
            "-s",
            "--cpus=2",
            "--no-connect",
            "--",
            "true",
        ])
        .error_line(2);
    assert!(line.contains("does not create hosts"), "{line}");
    // The host goes when its last agent goes.
    w.run(&["destroy", "boxed", "guest"]).ok();
    let hosts = w.run(&["list", "--format", "json"]).json();
    assert_eq!(hosts["agents"], serde_json::json!([]));
}

#[test]
fn a_compound_command_agent_is_waiting_while_it_runs_and_done_after() {
    let mut w = AgentWorld::new();
    w.repo_with_commit();
    // The first word (`echo`) finishes at once; the agent is still at work in `sleep`.
    w.create(&["chain", "--command", "echo started; sleep 1000"]);
    w.wait_state("chain", "WAITING");
    // Once only the pane's shell is left, the agent is done.
    w.create(&["brief", "--command", "echo started; sleep 0.2"]);
    w.wait_state("brief", "DONE");
}
