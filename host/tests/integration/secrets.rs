//! What mngr keeps may hold secrets (`--env TOKEN=...`, keys, records): on this machine every
//! file it writes is `0600` (or `0700` for scripts) and every directory `0700`, from the root
//! down; and no error ever echoes a secret value.

use crate::common;
use common::agents::AgentWorld;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Every entry under `dir` (itself included) that group or others can read or enter.
fn open_to_others(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let meta = std::fs::symlink_metadata(dir).unwrap();
    if !meta.file_type().is_symlink() && meta.permissions().mode() & 0o077 != 0 {
        found.push(format!(
            "{} {:o}",
            dir.display(),
            meta.permissions().mode() & 0o777
        ));
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            found.extend(open_to_others(&entry.path()));
        }
    }
    found
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_env_file_and_everything_under_the_root_is_the_users_alone() {
    let w = AgentWorld::new();
    w.create(&[
        "keeper",
        "--in-place",
        "--env",
        "TOKEN=s3cret",
        "--",
        "sleep",
        "1000",
    ]);
    let agent = w.wait_state("keeper", "WAITING");
    w.run(&["label", "keeper", "-l", "team=a", "--host-tag", "k=v"])
        .ok();
    let root = w.root();
    let agent_dir = root.join("agents").join(agent["id"].as_str().unwrap());
    let env = std::fs::read_to_string(agent_dir.join("env")).unwrap();
    assert!(env.contains("TOKEN=s3cret"), "{env}");
    assert_eq!(mode(&agent_dir.join("env")), 0o600);
    assert_eq!(mode(&agent_dir.join("data.json")), 0o600);
    assert_eq!(mode(&agent_dir.join("launch_agent.sh")), 0o700);
    for dir in [&root, &root.join("agents"), &agent_dir] {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }
    // Only the markers of the agent's session (timestamps the session script touches) may
    // follow the shell's umask; they sit in the 0700 agent dir.
    let markers = ["launching", "activity/start", "activity/process"];
    let open: Vec<String> = open_to_others(&root)
        .into_iter()
        .filter(|entry| {
            !markers
                .iter()
                .any(|m| entry.contains(&format!("{}/{m} ", agent_dir.display())))
        })
        .collect();
    assert_eq!(open, Vec::<String>::new());
}

#[test]
fn a_root_left_open_by_an_older_mngr_is_narrowed() {
    let w = AgentWorld::new();
    let root = w.root();
    std::fs::create_dir_all(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    w.run(&["list"]).ok();
    assert_eq!(mode(&root), 0o700);
}

#[test]
fn bad_env_assignments_and_secret_settings_are_named_never_echoed() {
    let w = AgentWorld::new();
    let secret = "s3cretVALUE";
    let env_file = w.path("bad.env");
    let create = |extra: &[&str]| {
        let mut args = vec!["create", "leaky", "--no-connect", "--in-place"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "true"]);
        w.run(&args)
    };
    let env = |value: String| create(&["--env", &value]);
    let cases: Vec<(common::Run, i32, &str)> = vec![
        (
            env(format!("1TOKEN={secret}")),
            2,
            "invalid variable name '1TOKEN'",
        ),
        (env(secret.to_string()), 2, "expected KEY=VALUE"),
        (env(format!("={secret}")), 2, "invalid variable name ''"),
        (
            env(format!("MY TOKEN={secret}")),
            2,
            "invalid variable name 'MY TOKEN'",
        ),
        (
            {
                w.write(&env_file, &format!("OK=1\n{secret}\n"));
                create(&["--env-file", env_file.to_str().unwrap()])
            },
            2,
            "line 2: expected KEY=VALUE",
        ),
        (
            {
                w.write(&env_file, &format!("2X={secret}\n"));
                create(&["--env-file", env_file.to_str().unwrap()])
            },
            2,
            "line 1: invalid variable name '2X'",
        ),
        (
            w.run(&["-S", &format!("providers.local.api_token={secret}"), "list"]),
            8,
            "-S providers.local.api_token=<secret, not shown>",
        ),
        (
            w.run(&[
                "-S",
                &format!("commands.create.env={{x = \"{secret}\"}}"),
                "list",
            ]),
            8,
            "'commands.create.env' must be a string or a list of strings, not a table (value not shown",
        ),
        (
            w.run(&[
                "-S",
                &format!("commands.create.env=[\"9A={secret}\"]"),
                "list",
            ]),
            8,
            "invalid variable name '9A'",
        ),
    ];
    for (run, code, expected) in cases {
        let line = run.error_line(code);
        assert!(line.contains(expected), "{line}");
        assert!(
            !run.stderr.contains(secret) && !run.stdout.contains(secret),
            "a secret was printed:\n{}{}",
            run.stdout,
            run.stderr
        );
    }
}
