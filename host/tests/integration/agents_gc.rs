//! gc never deletes work the user may still want, and an agent record mngr cannot read never
//! makes its agent vanish: real tmux, real git, the real binary, an isolated mngr root per test.

use crate::common;
use common::Run;
use common::agents::AgentWorld;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// An agent's id and work dir, as `list` shows them.
fn id_and_work_dir(w: &AgentWorld, name: &str) -> (String, PathBuf) {
    let agent = w.agent(name).expect("listed");
    (
        agent["id"].as_str().unwrap().to_string(),
        PathBuf::from(agent["work_dir"].as_str().unwrap()),
    )
}

/// The items of a gc json run under `key` (`removed` or `kept`) as (kind, what, reason).
fn items(v: &Value, key: &str) -> Vec<(String, String, String)> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .iter()
        .map(|i| {
            let text = |k: &str| i[k].as_str().unwrap_or_default().to_string();
            (text("kind"), text("what"), text("reason"))
        })
        .collect()
}

fn find<'a>(list: &'a [(String, String, String)], kind: &str, what: &str) -> Option<&'a str> {
    list.iter()
        .find(|(k, w, _)| k == kind && w == what)
        .map(|(_, _, reason)| reason.as_str())
}

fn branch_exists(w: &AgentWorld, repo: &Path, branch: &str) -> bool {
    !w.git(repo, &["branch", "--list", branch]).trim().is_empty()
}

#[test]
fn gc_keeps_commits_and_uncommitted_work_of_agents_whose_record_is_gone() {
    let mut w = AgentWorld::new();
    let repo = w.repo_with_commit();
    for name in ["worker", "dirty", "idle", "lost"] {
        w.create(&[name, "--", "sleep", "1000"]);
    }
    let (worker_id, worker_wd) = id_and_work_dir(&w, "worker");
    let (dirty_id, dirty_wd) = id_and_work_dir(&w, "dirty");
    let (idle_id, idle_wd) = id_and_work_dir(&w, "idle");
    let (lost_id, lost_wd) = id_and_work_dir(&w, "lost");
    // worker committed on its branch; dirty has a file it never committed; idle did nothing.
    std::fs::write(worker_wd.join("result.txt"), "done\n").unwrap();
    w.git(&worker_wd, &["add", "result.txt"]);
    w.git(&worker_wd, &["commit", "-q", "-m", "agent work"]);
    std::fs::write(dirty_wd.join("notes.txt"), "draft\n").unwrap();
    // lost's worktree points at a repository git cannot find: nobody can tell what it holds.
    std::fs::write(
        lost_wd.join(".git"),
        "gitdir: /nonexistent/worktrees/lost\n",
    )
    .unwrap();
    // What an interrupted destroy leaves: the agents' record dirs are gone.
    for id in [&worker_id, &dirty_id, &idle_id, &lost_id] {
        std::fs::remove_dir_all(w.root().join("agents").join(id)).unwrap();
    }

    let human = w.run(&["gc", "--dry-run"]);
    let dry = w.run(&["gc", "--dry-run", "--format", "json"]).json();
    let real = w.run(&["gc", "--format", "json"]).json();

    // The commit survives on its branch, and gc says why it kept the branch.
    assert!(branch_exists(&w, &repo, "mngr/worker"), "{real}");
    assert_eq!(
        w.git(&repo, &["log", "-1", "--format=%s", "mngr/worker"])
            .trim(),
        "agent work"
    );
    let kept = items(&real, "kept");
    let removed = items(&real, "removed");
    let reason = find(&kept, "branch", "mngr/worker").unwrap_or_else(|| panic!("{real}"));
    assert!(
        reason.contains("holds 1 commit(s) on no other branch or remote"),
        "{reason}"
    );
    // Its clean worktree goes: the commit lives in the repository.
    assert!(find(&removed, "work_dir", worker_wd.to_str().unwrap()).is_some());
    assert!(!worker_wd.exists());
    // The uncommitted file stays, in its work dir, on its branch.
    let reason =
        find(&kept, "work_dir", dirty_wd.to_str().unwrap()).unwrap_or_else(|| panic!("{real}"));
    assert!(reason.contains("1 uncommitted change(s)"), "{reason}");
    assert_eq!(
        std::fs::read_to_string(dirty_wd.join("notes.txt")).unwrap(),
        "draft\n"
    );
    assert!(branch_exists(&w, &repo, "mngr/dirty"));
    // What holds no work goes, each with the reason.
    assert!(find(&removed, "work_dir", idle_wd.to_str().unwrap()).is_some());
    let reason = find(&removed, "branch", "mngr/idle").unwrap_or_else(|| panic!("{real}"));
    assert!(
        reason.contains("each of its commits is on another branch"),
        "{reason}"
    );
    assert!(!idle_wd.exists() && !branch_exists(&w, &repo, "mngr/idle"));
    let reason =
        find(&kept, "work_dir", lost_wd.to_str().unwrap()).unwrap_or_else(|| panic!("{real}"));
    assert!(reason.contains("a .git that git cannot read"), "{reason}");
    assert!(lost_wd.join("README").exists());
    for (name, id) in [
        ("worker", &worker_id),
        ("dirty", &dirty_id),
        ("idle", &idle_id),
        ("lost", &lost_id),
    ] {
        let reason =
            find(&removed, "session", &format!("mngr-{name}")).unwrap_or_else(|| panic!("{real}"));
        assert_eq!(reason, format!("its agent {id} has no record"));
    }
    assert!(w.sessions().is_empty());

    // The dry run listed exactly what the real run removed and kept, and said why.
    assert_eq!(dry["removed"], real["removed"]);
    assert_eq!(dry["kept"], real["kept"]);
    assert_eq!(
        (dry["dry_run"].as_bool(), real["dry_run"].as_bool()),
        (Some(true), Some(false))
    );
    let out = human.ok();
    assert!(
        out.contains(
            "Would keep branch: mngr/worker (host localhost): it holds 1 commit(s) on no other branch or remote"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Would remove session: mngr-idle (host localhost): its agent {idle_id} has no record"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Would keep work dir: {} (host localhost): it has 1 uncommitted change(s)",
            dirty_wd.display()
        )),
        "{out}"
    );
    // Once committed, the dirty work dir is collected like the others: its branch stays.
    w.git(&dirty_wd, &["add", "notes.txt"]);
    w.git(&dirty_wd, &["commit", "-q", "-m", "notes"]);
    let again = w.run(&["gc", "--format", "json"]).json();
    assert!(
        find(
            &items(&again, "removed"),
            "work_dir",
            dirty_wd.to_str().unwrap()
        )
        .is_some()
    );
    assert!(find(&items(&again, "kept"), "branch", "mngr/dirty").is_some());
    assert!(!dirty_wd.exists() && branch_exists(&w, &repo, "mngr/dirty"));
}

/// Everything of a live worktree agent that gc must leave alone.
struct Footprint {
    session: String,
    work_dir: PathBuf,
    branch: String,
    record: PathBuf,
    record_bytes: Vec<u8>,
}

impl Footprint {
    fn of(w: &AgentWorld, name: &str) -> Footprint {
        let (id, work_dir) = id_and_work_dir(w, name);
        let record = w.root().join("agents").join(&id).join("data.json");
        Footprint {
            session: format!("mngr-{name}"),
            work_dir,
            branch: format!("mngr/{name}"),
            record_bytes: std::fs::read(&record).unwrap(),
            record,
        }
    }

    /// Replace the record's bytes (and remember them).
    fn rewrite(&mut self, bytes: Vec<u8>) {
        std::fs::write(&self.record, &bytes).unwrap();
        self.record_bytes = bytes;
    }

    #[track_caller]
    fn assert_untouched(&self, w: &AgentWorld, repo: &Path) {
        assert!(
            w.sessions().contains(&self.session),
            "{} is gone",
            self.session
        );
        assert_eq!(
            std::fs::read_to_string(self.work_dir.join("wip.txt")).unwrap(),
            "uncommitted\n"
        );
        assert!(
            branch_exists(w, repo, &self.branch),
            "{} is gone",
            self.branch
        );
        assert_eq!(std::fs::read(&self.record).unwrap(), self.record_bytes);
    }
}

#[test]
fn an_unreadable_record_is_listed_as_unknown_and_gc_leaves_its_agent_alone() {
    let mut w = AgentWorld::new();
    let repo = w.repo_with_commit();
    for name in ["cut", "changed", "newer"] {
        w.create(&[name, "--", "sleep", "1000"]);
    }
    let mut cut = Footprint::of(&w, "cut");
    let mut changed = Footprint::of(&w, "changed");
    let mut newer = Footprint::of(&w, "newer");
    for agent in [&cut, &changed, &newer] {
        std::fs::write(agent.work_dir.join("wip.txt"), "uncommitted\n").unwrap();
    }
    // A record cut short; one whose work_dir a newer mngr made an object (mngr cannot manage
    // the agent without it); one where a newer mngr changed optional fields and added one.
    let half = cut.record_bytes[..cut.record_bytes.len() / 2].to_vec();
    cut.rewrite(half);
    let mut v: Value = serde_json::from_slice(&changed.record_bytes).unwrap();
    v["work_dir"] = serde_json::json!({"path": changed.work_dir});
    changed.rewrite(serde_json::to_vec_pretty(&v).unwrap());
    let mut v: Value = serde_json::from_slice(&newer.record_bytes).unwrap();
    v["labels"] = serde_json::json!(["project=repo"]);
    v["tmux"]["width"] = "wide".into();
    v["start_on_boot"] = "on login".into();
    v["from_a_newer_mngr"] = serde_json::json!({"k": 1});
    newer.rewrite(serde_json::to_vec_pretty(&v).unwrap());

    // list shows all three; the two it cannot read as UNKNOWN, with the reason in errors.
    let run = w.run(&["list", "--format", "json"]);
    let listed = run.json();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let state = |name: &str| {
        listed["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {listed}"))["state"]
            .clone()
    };
    assert_eq!(state("cut"), "UNKNOWN");
    assert_eq!(state("changed"), "UNKNOWN");
    assert_eq!(state("newer"), "WAITING");
    let errors: Vec<String> = listed["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    let cut_path = cut.record.display().to_string();
    assert!(
        errors.iter().any(|e| e.starts_with(&format!(
            "agent record {cut_path} on host 'localhost' cannot be read: EOF while parsing"
        ))),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("its 'work_dir' is not a string")),
        "{errors:?}"
    );
    let human = w.run(&["list"]);
    let row = human
        .ok()
        .lines()
        .find(|l| l.starts_with("cut "))
        .unwrap_or_default()
        .to_string();
    assert!(row.contains("UNKNOWN"), "{}", human.stdout);
    assert!(
        human.stderr.contains(&format!(
            "Warning: agent record {cut_path} on host 'localhost' cannot be read"
        )),
        "{}",
        human.stderr
    );
    assert!(
        w.run(&["list", "--state", "UNKNOWN", "--ids"])
            .ok()
            .lines()
            .count()
            == 2
    );

    // gc keeps every part of the three agents, and says why for the two it cannot read.
    let dry = w.run(&["gc", "--dry-run", "--format", "json"]).json();
    let real = w.run(&["gc", "--format", "json"]).json();
    assert_eq!(real["removed"], serde_json::json!([]), "{real}");
    assert_eq!(dry["removed"], real["removed"]);
    assert_eq!(dry["kept"], real["kept"]);
    let kept = items(&real, "kept");
    let cut_dir = cut.record.parent().unwrap().to_str().unwrap();
    let reason = find(&kept, "agent_dir", cut_dir).unwrap_or_else(|| panic!("{real}"));
    assert!(reason.contains("cannot be read") && reason.contains("gc leaves this agent alone"));
    for agent in [&cut, &changed, &newer] {
        agent.assert_untouched(&w, &repo);
    }
    // Commands that name it say why they cannot act, and change nothing.
    let line = w.run(&["destroy", "cut", "--force"]).error_line(1);
    assert!(line.contains("cannot be read"), "{line}");
    cut.assert_untouched(&w, &repo);

    // A rewrite by this mngr keeps what the newer one wrote.
    w.run(&["label", "newer", "-l", "team=web"]).ok();
    let v: Value = serde_json::from_slice(&std::fs::read(&newer.record).unwrap()).unwrap();
    assert_eq!(v["labels"], serde_json::json!({"team": "web"}));
    assert_eq!(v["tmux"]["width"], "wide");
    assert_eq!(v["start_on_boot"], "on login");
    assert_eq!(v["from_a_newer_mngr"], serde_json::json!({"k": 1}));
}

#[test]
fn gc_with_another_prefix_leaves_live_agents_alone() {
    let mut w = AgentWorld::new();
    let repo = w.repo_with_commit();
    w.create(&["one", "--", "sleep", "1000"]);
    w.create(&["two", "--in-place", "--", "sleep", "1000"]);
    let (_, one_wd) = id_and_work_dir(&w, "one");
    let sessions = w.sessions();
    assert_eq!(
        sessions,
        vec!["mngr-one".to_string(), "mngr-two".to_string()]
    );

    let mut by_env = w.command(&["gc"]);
    by_env.env("MNGR_PREFIX", "mngr");
    let runs = [
        Run::from(by_env.output().unwrap()),
        w.run(&["gc", "-S", "prefix=other-"]),
        w.run(&["gc", "-S", "prefix=m"]),
    ];
    for run in &runs {
        assert_eq!(run.ok(), "Nothing to collect\n");
        assert_eq!(w.sessions(), sessions);
    }
    assert!(one_wd.exists() && branch_exists(&w, &repo, "mngr/one"));
    w.wait_state("one", "WAITING");
    w.wait_state("two", "WAITING");
}
