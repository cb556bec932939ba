//! Bad input to agent commands: one `Error:` line, a documented exit code, nothing half-made.

use crate::common;
use common::agents::AgentWorld;

/// Nothing of an agent exists: no record, no session, no work dir, no branch.
#[track_caller]
fn assert_nothing_made(w: &AgentWorld) {
    assert_eq!(w.agents(), Vec::<serde_json::Value>::new());
    assert!(
        w.root_entries("agents").is_empty(),
        "{:?}",
        w.root_entries("agents")
    );
    assert!(w.root_entries("worktrees").is_empty());
    assert!(w.root_entries("copies").is_empty());
    assert!(w.sessions().is_empty(), "{:?}", w.sessions());
}

#[test]
fn invalid_names_types_providers_and_commands_are_usage_errors() {
    let w = AgentWorld::new();
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["create", "bad name", "--", "true"],
            2,
            "invalid name 'bad name'",
        ),
        (&["create", "a.b", "--", "true"], 2, "invalid name 'a.b'"),
        (
            &["create", "--name=-x-", "--", "true"],
            2,
            "invalid name '-x-'",
        ),
        (&["create", "x@h.p.q", "--", "true"], 2, "exactly one dot"),
        (
            &["create", "x", "nosuch"],
            2,
            "unknown agent type 'nosuch'; known types: claude, codex, command",
        ),
        (&["create", "x"], 2, "no agent type and no command given"),
        (
            &["create", "x", "command"],
            2,
            "agent type 'command' has no command to run",
        ),
        (
            &["create", "x", "--in", "nowhere", "--", "true"],
            9,
            "unknown provider 'nowhere'",
        ),
        (
            &["create", "x@.nowhere", "--", "true"],
            9,
            "unknown provider 'nowhere'",
        ),
        (
            &["create", "x@nohost", "--", "true"],
            9,
            "no host named 'nohost'",
        ),
        (
            &["create", "x", "--from", "/does/not/exist", "--", "true"],
            9,
            "work dir source '/does/not/exist' does not exist",
        ),
        (
            &["create", "x", "--env", "1A=b", "--", "true"],
            2,
            "invalid --env: invalid variable name '1A'",
        ),
        (
            &["create", "x", "--idle-timeout", "5m", "--", "true"],
            2,
            "does not create hosts",
        ),
        (
            &["create", "x", "--idle-mode", "agent", "--", "true"],
            2,
            "its hosts never shut down when idle, so --idle-timeout, --idle-mode and --activity-sources do not apply",
        ),
        (
            &[
                "create",
                "x",
                "--activity-sources",
                "user,ssh",
                "--",
                "true",
            ],
            2,
            "provider 'local' does not create hosts and its hosts never shut down when idle",
        ),
        (
            &["create", "x", "--idle-mode", "sleepy", "--", "true"],
            2,
            "unknown idle mode 'sleepy'; idle modes: io, user, agent, ssh, create, boot, start, run, disabled",
        ),
        (
            &[
                "create",
                "x",
                "--activity-sources",
                "user,typing",
                "--",
                "true",
            ],
            2,
            "unknown activity source 'typing'",
        ),
        (&["list", "--state", "sleepy"], 2, "unknown state 'sleepy'"),
        (
            &["list", "--provider", "nowhere"],
            9,
            "unknown provider 'nowhere'",
        ),
        (&["exec", "ghost", "true"], 9, "no agent with name 'ghost'"),
        (
            &["message", "ghost@localhost.local", "-m", "hi"],
            9,
            "no agent with name 'ghost' on host 'localhost' of provider 'local'",
        ),
        (&["stop", "@x"], 2, "invalid agent address '@x'"),
        (
            &["rename", "ghost", "bad name"],
            2,
            "invalid name 'bad name'",
        ),
        (
            &["capture", "ghost", "--format", "{x}"],
            2,
            "not supported by 'capture'",
        ),
    ];
    for (args, code, text) in cases {
        let run = w.run(args);
        let line = run.error_line(*code);
        assert!(line.contains(text), "{args:?}: {line}");
    }
    assert_nothing_made(&w);
}

#[test]
fn a_taken_name_is_refused_and_the_first_agent_untouched() {
    let mut w = AgentWorld::new();
    w.repo_with_commit();
    w.create(&["dup", "--", "sleep", "1000"]);
    let before = w.agent("dup").unwrap();
    let line = w
        .run(&["create", "dup", "--no-connect", "--", "sleep", "5"])
        .error_line(11);
    assert_eq!(
        line,
        "Error: an agent named 'dup' already exists on host 'localhost'"
    );
    assert_eq!(w.agents(), vec![before.clone()]);
    assert_eq!(w.root_entries("worktrees").len(), 1);
    // The branch of a destroyed agent that kept it blocks a new worktree of that name.
    w.run(&["destroy", "dup"]).ok();
    let line = w
        .run(&["create", "dup", "--no-connect", "--", "true"])
        .error_line(11);
    assert!(line.contains("branch 'mngr/dup' already exists"), "{line}");
    assert_nothing_made(&w);
}

#[test]
fn missing_tmux_or_git_is_named_and_nothing_is_made() {
    let mut w = AgentWorld::new();
    let repo = w.repo_with_commit();
    let no_tmux = w.path_without(&["tmux"]);
    let out = w
        .command(&["create", "t1", "--no-connect", "--", "sleep", "1"])
        .env("PATH", &no_tmux)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(12));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("Error: tmux is not installed on host 'localhost'\n"),
        "{stderr}"
    );
    assert_nothing_made(&w);
    assert!(
        w.git(&repo, &["branch", "--list", "mngr/*"])
            .trim()
            .is_empty()
    );

    let no_git = w.path_without(&["git"]);
    let out = w
        .command(&["create", "g1", "--no-connect", "--", "sleep", "1"])
        .env("PATH", &no_git)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(12));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("Error: git is not installed on this machine"),
        "{stderr}"
    );
    assert_nothing_made(&w);
    // In place needs no git.
    let out = w
        .command(&[
            "create",
            "g2",
            "--in-place",
            "--no-connect",
            "--",
            "sleep",
            "1000",
        ])
        .env("PATH", &no_git)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_ambiguous_name_lists_every_full_address() {
    let w = AgentWorld::new();
    w.create(&["twin", "--in-place", "--", "sleep", "1000"]);
    // Both hosts live on this machine and share its tmux server, so one twin is stopped.
    w.run(&["stop", "twin"]).ok();
    w.create(&[
        "twin",
        "--in",
        "dirs",
        "--from",
        w.cwd.to_str().unwrap(),
        "--",
        "sleep",
        "1000",
    ]);
    // Each host sees only the sessions it started, though both share the tmux server.
    let states: Vec<(String, String)> = w
        .agents()
        .iter()
        .map(|a| {
            (
                a["address"].as_str().unwrap().to_string(),
                a["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        states.contains(&("twin@localhost.local".into(), "STOPPED".into())),
        "{states:?}"
    );
    w.wait_until("the dirs twin to wait", || {
        w.agents()
            .iter()
            .any(|a| a["address"] == "twin@twin.dirs" && a["state"] == "WAITING")
    });
    let run = w.run(&["exec", "twin", "true"]);
    let line = run.error_line(2);
    assert!(
        line.starts_with("Error: 'twin' matches 2 agents: "),
        "{line}"
    );
    assert!(line.contains("twin@localhost.local (agent-"), "{line}");
    assert!(line.contains("twin@twin.dirs (agent-"), "{line}");
    assert!(run.stderr.contains("NAME@HOST.PROVIDER"));
    // A full address picks one.
    assert_eq!(
        w.run(&["exec", "twin@twin.dirs", "echo $MNGR_AGENT_NAME"])
            .ok(),
        "twin\n"
    );
    w.run(&["destroy", "twin@twin.dirs", "twin@localhost"]).ok();
}

#[test]
fn an_unreachable_provider_is_not_reported_as_not_found() {
    let mut w = AgentWorld::new();
    w.create(&["here", "--in-place", "--", "sleep", "1000"]);
    // A docker provider pointed at a port where no daemon listens.
    w.set_env("MNGR__PROVIDERS__DOCKER__IS_ENABLED", "true");
    w.set_env("MNGR__PROVIDERS__DOCKER__HOST", "tcp://127.0.0.1:9");
    let providers = w.run(&["provider", "list", "--format", "json"]);
    assert!(
        providers.stdout.contains("\"docker\""),
        "the docker plugin must be built beside the binary (cargo build --workspace): {}",
        providers.stdout
    );
    let line = w.run(&["message", "ghost", "-m", "hi"]).error_line(6);
    assert!(
        line.starts_with(
            "Error: cannot tell whether agent 'ghost' exists: provider 'docker' is unreachable"
        ),
        "{line}"
    );
    // Agents elsewhere still resolve and list; list says which provider failed and exits 6.
    assert_eq!(w.run(&["exec", "here", "echo ok"]).ok(), "ok\n");
    let run = w.run(&["list", "--format", "json"]);
    assert_eq!(run.code, 6);
    let v = run.json();
    assert_eq!(v["agents"][0]["name"], "here");
    assert_eq!(v["errors"][0]["provider_name"], "docker");
    assert_eq!(v["errors"][0]["unreachable"], true);
    let run = w.run(&["list"]);
    assert_eq!(run.code, 6);
    assert!(run.stdout.contains("here"));
    assert!(
        run.stderr.contains("Error: provider 'docker' unreachable"),
        "{}",
        run.stderr
    );
}

#[test]
fn list_and_gc_errors_keep_what_the_provider_said() {
    let mut w = AgentWorld::new();
    w.create(&["here", "--in-place", "--", "sleep", "1000"]);
    // No daemon listens there: the docker plugin answers "unavailable", which may pass.
    w.set_env("MNGR__PROVIDERS__DOCKER__IS_ENABLED", "true");
    w.set_env("MNGR__PROVIDERS__DOCKER__HOST", "tcp://127.0.0.1:9");
    let retry_hint = "  hint: this may be temporary; retrying may help";
    let list = w.run(&["list", "--format", "json"]);
    assert_eq!(list.code, 6, "{list:?}");
    let error = &list.json()["errors"][0];
    assert_eq!(error["provider_name"], "docker", "{error}");
    assert_eq!(error["retryable"], true, "{error}");
    assert!(error.get("details").is_some(), "{error}");
    let gc = w.run(&["gc", "--format", "json"]);
    assert_eq!(gc.code, 6, "{gc:?}");
    let error = &gc.json()["errors"][0];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("provider 'docker': "),
        "{error}"
    );
    assert_eq!(error["retryable"], true, "{error}");
    assert!(error.get("details").is_some(), "{error}");
    for args in [&["list"][..], &["gc"]] {
        let run = w.run(args);
        assert_eq!(run.code, 6, "{run:?}");
        let lines: Vec<&str> = run.stderr.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("Error: provider 'docker'"))
            .unwrap_or_else(|| panic!("{args:?}: no error line:\n{}", run.stderr));
        assert_eq!(
            lines.get(at + 1),
            Some(&retry_hint),
            "{args:?}:\n{}",
            run.stderr
        );
    }
}

/// A port that accepts connections and never answers, for as long as the test runs.
fn silent_listener() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    port
}

/// Run mngr and say how long it took.
fn timed(w: &AgentWorld, args: &[&str]) -> (common::Run, std::time::Duration) {
    let started = std::time::Instant::now();
    let run = w.run(args);
    (run, started.elapsed())
}

#[test]
fn a_provider_that_never_answers_slows_no_command_on_other_providers() {
    let mut w = AgentWorld::new();
    w.create(&["here", "--in-place", "--", "sleep", "1000"]);
    let id = w.agent("here").unwrap()["id"].as_str().unwrap().to_string();
    let port = silent_listener();
    // Far longer than any command here may take: the fast ones must not wait for it.
    let timeout = std::time::Duration::from_secs(60);
    let fast = timeout / 3;
    w.set_env("MNGR__PROVIDER_TIMEOUT", "60");
    w.set_env("MNGR__PROVIDERS__DOCKER__IS_ENABLED", "true");
    w.set_env(
        "MNGR__PROVIDERS__DOCKER__HOST",
        &format!("tcp://127.0.0.1:{port}"),
    );

    let (run, took) = timed(&w, &["exec", "here", "echo ok"]);
    assert_eq!(run.ok(), "ok\n");
    assert!(took < fast, "exec waited {took:?} for the silent provider");
    assert!(
        run.stderr
            .contains("Warning: provider 'docker' has not answered after ")
            && run.stderr.contains("(its provider_timeout is 60 s)"),
        "the slow provider is named: {}",
        run.stderr
    );
    // An id is unique: found, it needs no other provider, and nothing is said.
    let (run, took) = timed(&w, &["exec", &id, "echo ok"]);
    assert_eq!(run.ok(), "ok\n");
    assert!(took < fast, "exec by id waited {took:?}");
    assert!(!run.stderr.contains("Warning"), "{}", run.stderr);
    let (run, took) = timed(&w, &["message", "here", "-m", "hi"]);
    run.ok();
    assert!(took < fast, "message waited {took:?}");
    let (run, took) = timed(&w, &["stop", "here"]);
    run.ok();
    assert!(took < fast, "stop waited {took:?}");

    // list needs every provider: it waits provider_timeout (here 2 s), then names the slow one.
    let (run, took) = timed(
        &w,
        &["-S", "provider_timeout=2", "list", "--format", "json"],
    );
    assert!(took < fast, "list waited {took:?}");
    assert_eq!(run.code, 6, "{run:?}");
    let v = run.json();
    assert_eq!(v["agents"][0]["name"], "here");
    assert_eq!(v["errors"][0]["provider_name"], "docker");
    assert_eq!(v["errors"][0]["unreachable"], true);
    assert!(
        run.stderr
            .contains("Warning: provider 'docker' did not answer within 2 s (listing hosts)"),
        "{}",
        run.stderr
    );
    // -v shows how long the provider took.
    let run = w.run(&["-v", "-S", "provider_timeout=2", "list"]);
    assert!(
        run.stderr
            .contains("debug: provider 'docker': listing hosts took 2"),
        "{}",
        run.stderr
    );

    // A name found nowhere: the slow provider may hold it (exit 6, named), bounded by the
    // instance's own timeout.
    let (run, took) = timed(
        &w,
        &[
            "-S",
            "providers.docker.provider_timeout=2",
            "exec",
            "ghost",
            "true",
        ],
    );
    let line = run.error_line(6);
    assert!(took < fast, "not found waited {took:?}");
    assert!(
        line.starts_with("Error: cannot tell whether agent 'ghost' exists: provider 'docker' is unreachable (no answer within 2 s"),
        "{line}"
    );

    // A refused port and a daemon socket that does not exist say the same.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for host in [
        format!("tcp://127.0.0.1:{closed}"),
        "unix:///nonexistent/docker.sock".to_string(),
    ] {
        w.set_env("MNGR__PROVIDERS__DOCKER__HOST", &host);
        let (run, took) = timed(&w, &["stop", "ghost"]);
        let line = run.error_line(6);
        assert!(took < fast, "{host}: {took:?}");
        assert!(
            line.contains(
                "cannot tell whether agent 'ghost' exists: provider 'docker' is unreachable"
            ),
            "{host}: {line}"
        );
        assert_eq!(w.run(&["exec", "here", "echo ok"]).ok(), "ok\n", "{host}");
    }
    w.run(&["destroy", "here", "-f"]).ok();
}

#[test]
fn a_bad_provider_timeout_is_refused() {
    let w = AgentWorld::new();
    for bad in ["0", "-1", "nan", "1e300", "\"soon\""] {
        let line = w
            .run(&["-S", &format!("provider_timeout={bad}"), "list"])
            .error_line(8);
        assert!(line.contains("'provider_timeout'"), "{bad}: {line}");
    }
    let line = w
        .run(&["-S", "providers.local.provider_timeout=0", "list"])
        .error_line(8);
    assert!(
        line.contains("'providers.local.provider_timeout' = 0"),
        "{line}"
    );
}

#[test]
fn durations_out_of_form_or_range_are_usage_errors_never_a_panic() {
    let w = AgentWorld::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["exec", "a", "true", "--timeout", "nan"],
            "'nan' is not a duration",
        ),
        (
            &["exec", "a", "true", "--timeout", "inf"],
            "'inf' is not a duration",
        ),
        (
            &["exec", "a", "true", "--timeout", "1e300"],
            "'1e300' is not a duration",
        ),
        (
            &["exec", "a", "true", "--timeout=-1"],
            "'-1' is not a duration",
        ),
        (
            &["exec", "a", "true", "--timeout=-0.5"],
            "'-0.5' is not a duration",
        ),
        (
            &["exec", "a", "true", "--timeout", "0"],
            "between 0.001s and 7d",
        ),
        (
            &["exec", "a", "true", "--timeout", "8d"],
            "between 0.001s and 7d",
        ),
        (
            &[
                "create",
                "x",
                "--idle-timeout",
                "99999999999999999999d",
                "--",
                "true",
            ],
            "is out of range: between 1s and 365d",
        ),
        (
            &["create", "x", "--idle-timeout", "1.5", "--", "true"],
            "not a whole number of seconds",
        ),
        (
            &["create", "x", "--idle-timeout", "400d", "--", "true"],
            "between 1s and 365d",
        ),
    ];
    for (args, expected) in cases {
        let run = w.run(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(expected) && run.stderr.contains("DURATION"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert_nothing_made(&w);
}

#[test]
fn agent_names_longer_than_the_limit_are_refused_before_anything_is_made() {
    let mut w = AgentWorld::new();
    w.repo_with_commit();
    let long = "a".repeat(300);
    let expected = "300 characters, but an agent name has at most 200";
    for args in [
        vec!["create", long.as_str(), "--no-connect", "--", "true"],
        vec![
            "create",
            "--name",
            long.as_str(),
            "--no-connect",
            "--",
            "true",
        ],
    ] {
        let line = w.run(&args).error_line(2);
        assert!(line.contains(expected), "{line}");
        assert_nothing_made(&w);
    }
    assert_eq!(w.git(&w.cwd.clone(), &["branch", "--list", "mngr/*"]), "");
    // The longest name allowed makes its worktree and branch.
    let longest = "b".repeat(200);
    w.create(&[&longest, "--", "sleep", "1000"]);
    assert_eq!(w.agents().len(), 1);
    let line = w.run(&["rename", &longest, &long]).error_line(2);
    assert!(line.contains(expected), "{line}");
    assert!(w.agent(&longest).is_some());
}

#[test]
fn a_name_an_unreadable_record_may_hold_is_refused_by_create_and_rename() {
    let w = AgentWorld::new();
    w.create(&["cut", "--in-place", "--", "sleep", "1000"]);
    w.create(&["other", "--in-place", "--", "sleep", "1000"]);
    let id = w.agent("cut").expect("listed")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let record = w.root().join("agents").join(&id).join("data.json");
    let bytes = std::fs::read(&record).unwrap();
    let name_at = String::from_utf8_lossy(&bytes).find("\"name\"").unwrap();
    // Cut short after its name: the name still reads, the record does not.
    std::fs::write(&record, &bytes[..name_at + 20]).unwrap();
    let path = record.display().to_string();
    let refused = format!(
        "an agent named 'cut' may exist on host 'localhost': agent record {path} cannot be read: EOF while parsing"
    );
    let hint = "  hint: repair that record or remove its agent dir (gc leaves unreadable records alone), or choose another name";
    for args in [
        vec!["create", "cut", "--no-connect", "--in-place", "--", "true"],
        vec!["rename", "other", "cut"],
    ] {
        let run = w.run(&args);
        let line = run.error_line(11);
        assert!(line.starts_with(&format!("Error: {refused}")), "{line}");
        assert!(run.stderr.contains(hint), "{}", run.stderr);
    }
    assert!(w.agent("other").is_some(), "other was renamed");
    assert_eq!(std::fs::read(&record).unwrap(), &bytes[..name_at + 20]);
    // Other names stay free.
    w.create(&["fresh", "--in-place", "--", "sleep", "1000"]);

    // Cut short before its name: no name is known to be free on that host.
    std::fs::write(&record, &bytes[..name_at]).unwrap();
    let run = w.run(&[
        "create",
        "newer",
        "--no-connect",
        "--in-place",
        "--",
        "true",
    ]);
    let line = run.error_line(1);
    assert!(
        line.starts_with(&format!(
            "Error: cannot tell whether the name 'newer' is free on host 'localhost': agent record {path} cannot be read"
        )),
        "{line}"
    );
    assert!(run.stderr.contains(hint), "{}", run.stderr);
    assert!(w.agent("newer").is_none());
}
