//! Settings layers, merge rules, provider instances and bad settings, through the real binary.

use crate::common;

use common::{Run, World};
use serde_json::Value;

fn prefix_and_source(world: &World, extra: &[&str]) -> (String, String) {
    let mut args = extra.to_vec();
    args.extend(["config", "get", "prefix", "--format", "json"]);
    let doc = world.run(&args).json();
    (
        doc["value"].as_str().unwrap().to_string(),
        doc["source"].as_str().unwrap().to_string(),
    )
}

fn providers(world: &World, extra: &[&str]) -> Vec<Value> {
    let mut args = extra.to_vec();
    args.extend(["provider", "list", "--format", "json"]);
    let run = world.run(&args);
    run.ok();
    run.json()["providers"].as_array().unwrap().clone()
}

fn provider<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no provider {name} in {list:?}"))
}

#[test]
fn each_layer_overrides_the_ones_below_it() {
    let mut w = World::new();
    let repo = w.git_repo();
    assert_eq!(
        prefix_and_source(&w, &[]),
        ("mngr-".into(), "default".into())
    );

    w.write(&w.user_settings(), "prefix = \"user-\"\n");
    assert_eq!(prefix_and_source(&w, &[]), ("user-".into(), "user".into()));

    w.write(&repo.join(".mngr/settings.toml"), "prefix = \"project-\"\n");
    assert_eq!(
        prefix_and_source(&w, &[]),
        ("project-".into(), "project".into())
    );

    w.write(
        &repo.join(".mngr/settings.local.toml"),
        "prefix = \"local-\"\n",
    );
    assert_eq!(
        prefix_and_source(&w, &[]),
        ("local-".into(), "local".into())
    );

    w.set_env("MNGR__PREFIX", "env-");
    assert_eq!(prefix_and_source(&w, &[]), ("env-".into(), "env".into()));

    assert_eq!(
        prefix_and_source(&w, &["-S", "prefix=cli-"]),
        ("cli-".into(), "-S".into())
    );
    // The later of two -S arguments wins.
    assert_eq!(
        prefix_and_source(&w, &["-S", "prefix=a-", "-S", "prefix=b-"]),
        ("b-".into(), "-S".into())
    );
}

#[test]
fn the_project_dir_can_be_moved_with_mngr_project_config_dir() {
    let mut w = World::new();
    let dir = w.path("elsewhere");
    w.write(&dir.join("settings.toml"), "prefix = \"moved-\"\n");
    w.set_env("MNGR_PROJECT_CONFIG_DIR", dir.to_str().unwrap());
    assert_eq!(
        prefix_and_source(&w, &[]),
        ("moved-".into(), "project".into())
    );
}

#[test]
fn mngr_prefix_is_an_alias_that_must_agree_with_the_canonical_variable() {
    let mut w = World::new();
    w.set_env("MNGR_PREFIX", "alias-");
    assert_eq!(prefix_and_source(&w, &[]), ("alias-".into(), "env".into()));
    w.set_env("MNGR__PREFIX", "other-");
    let line = w.run(&["config", "get", "prefix"]).error_line(8);
    assert_eq!(
        line,
        "Error: environment variables MNGR_PREFIX and MNGR__PREFIX disagree; set only one of them"
    );
}

#[test]
fn environment_values_are_json_or_strings_and_reach_provider_tables() {
    let mut w = World::new();
    w.set_env("MNGR__PROVIDERS__LAB__BACKEND", "local");
    w.set_env("MNGR__PROVIDERS__LAB__HOST_DIR", "/srv/mngr");
    w.set_env("MNGR__ENABLED_BACKENDS", "[\"local\"]");
    let doc = w
        .run(&["config", "get", "providers.lab", "--format", "json"])
        .json();
    assert_eq!(doc["value"]["host_dir"], "/srv/mngr");
    let doc = w
        .run(&["config", "get", "enabled_backends", "--format", "json"])
        .json();
    assert_eq!(doc["value"], serde_json::json!(["local"]));
    let list = providers(&w, &[]);
    assert_eq!(provider(&list, "lab")["source"], "env");
    assert_eq!(provider(&list, "lab")["enabled"], true);
}

#[test]
fn provider_tables_merge_field_by_field_across_layers() {
    let mut w = World::new();
    let repo = w.git_repo();
    w.write(
        &w.user_settings(),
        "[providers.lab]\nbackend = \"local\"\nhost_dir = \"/from/user\"\n",
    );
    w.write(
        &repo.join(".mngr/settings.local.toml"),
        "[providers.lab]\nhost_dir = \"/from/local\"\n",
    );
    // Provider settings of a project choose what runs: they need the user's trust.
    w.run(&["config", "trust"]).ok();
    let doc = w
        .run(&["config", "get", "providers.lab", "--format", "json"])
        .json();
    assert_eq!(
        doc["value"],
        serde_json::json!({"backend": "local", "host_dir": "/from/local"})
    );
    let list = providers(&w, &[]);
    let lab = provider(&list, "lab");
    assert_eq!(lab["backend"], "local");
    assert_eq!(lab["source"], "user+local");
    assert_eq!(lab["source_files"].as_array().unwrap().len(), 2);
}

#[test]
fn lists_replace_unless_extended() {
    let mut w = World::new();
    let repo = w.git_repo();
    w.write(
        &w.user_settings(),
        "enabled_backends = [\"local\", \"docker\"]\n",
    );
    w.write(
        &repo.join(".mngr/settings.toml"),
        "enabled_backends = [\"local\"]\n",
    );
    let get = |w: &World| {
        w.run(&["config", "get", "enabled_backends", "--format", "json"])
            .json()["value"]
            .clone()
    };
    assert_eq!(get(&w), serde_json::json!(["local"]));
    w.write(
        &repo.join(".mngr/settings.toml"),
        "enabled_backends__extend = [\"modal\"]\n",
    );
    assert_eq!(get(&w), serde_json::json!(["local", "docker", "modal"]));
}

#[test]
fn every_backend_gets_a_default_instance() {
    let w = World::new();
    // --no-plugins: only built-in backends, whatever plugins sit beside the binary.
    let list = providers(&w, &["--no-plugins"]);
    assert_eq!(list.len(), 1, "{list:?}");
    let local = provider(&list, "local");
    assert_eq!(local["backend"], "local");
    assert_eq!(local["source"], "default");
    assert_eq!(local["enabled"], true);
    assert_eq!(local["capabilities"]["mutable_tags"], true);
    assert_eq!(local["capabilities"]["snapshots"], false);

    let human = w.run(&["provider", "list", "--no-plugins"]);
    let lines: Vec<&str> = human.ok().lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "BACKEND", "SOURCE", "ENABLED", "CAPABILITIES"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["local", "local", "default", "yes", "mutable_tags"]
    );
}

#[test]
fn a_table_named_after_a_backend_configures_its_default_instance() {
    let w = World::new();
    w.write(
        &w.user_settings(),
        "[providers.local]\nhost_dir = \"/tmp/elsewhere\"\n",
    );
    let list = providers(&w, &["--no-plugins"]);
    assert_eq!(list.len(), 1);
    assert_eq!(provider(&list, "local")["source"], "user");
    assert_eq!(provider(&list, "local")["backend"], "local");
}

#[test]
fn several_instances_of_one_backend_sit_beside_the_default_one() {
    let w = World::new();
    w.write(
        &w.user_settings(),
        "[providers.mine]\nbackend = \"local\"\n[providers.theirs]\nbackend = \"local\"\n",
    );
    let list = providers(&w, &["--no-plugins"]);
    let names: Vec<&str> = list.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["local", "mine", "theirs"]);
    let tmpl = w.run(&[
        "provider",
        "list",
        "--no-plugins",
        "--format",
        "{name}:{backend}:{enabled}",
    ]);
    assert_eq!(
        tmpl.ok(),
        "local:local:true\nmine:local:true\ntheirs:local:true\n"
    );
}

#[test]
fn instances_can_be_disabled_and_are_listed_as_disabled() {
    let w = World::new();
    w.write(
        &w.user_settings(),
        "[providers.local]\nis_enabled = false\n[providers.gone]\nbackend = \"not-installed\"\nis_enabled = false\n",
    );
    let list = providers(&w, &[]);
    let local = provider(&list, "local");
    assert_eq!(local["enabled"], false);
    assert_eq!(local["reason"], "is_enabled = false");
    assert_eq!(local["capabilities"], Value::Null);
    // A disabled instance of a backend nobody registered is not an error.
    assert_eq!(provider(&list, "gone")["enabled"], false);

    // -S turns it back on for one run.
    let list = providers(&w, &["-S", "providers.local.is_enabled=true"]);
    assert_eq!(provider(&list, "local")["enabled"], true);

    let human = w.run(&["provider", "list"]);
    assert!(
        human.ok().contains("no (is_enabled = false)"),
        "{}",
        human.stdout
    );
}

#[test]
fn enabled_backends_disables_instances_of_other_backends() {
    let w = World::new();
    let list = providers(&w, &["-S", "enabled_backends=[\"docker\"]"]);
    let local = provider(&list, "local");
    assert_eq!(local["enabled"], false);
    assert_eq!(
        local["reason"],
        "backend 'local' is not in enabled_backends"
    );
}

#[test]
fn instances_of_a_disabled_plugin_are_skipped_not_refused() {
    let w = World::new();
    w.write(
        &w.user_settings(),
        "[plugins.docker]\nenabled = false\n[providers.remote]\nbackend = \"docker\"\n",
    );
    let list = providers(&w, &[]);
    assert_eq!(provider(&list, "remote")["enabled"], false);
    assert_eq!(
        provider(&list, "remote")["reason"],
        "plugin 'docker' is disabled"
    );
    // A backend no plugin provides is still refused, with a hint about the disabled plugins.
    w.write(
        &w.user_settings(),
        "[plugins.docker]\nenabled = false\n[providers.remote]\nbackend = \"docker-ssh\"\n",
    );
    let run = w.run(&["provider", "list"]);
    assert!(
        run.error_line(8)
            .contains("[providers.remote] uses unknown backend 'docker-ssh'")
    );
    assert!(
        run.stderr.contains("hint: disabled plugins: docker; if one of them provides 'docker-ssh', add plugin = \"PLUGIN\" to [providers.remote]"),
        "{}",
        run.stderr
    );
    w.write(
        &w.user_settings(),
        "[plugins.docker]\nenabled = false\n[providers.remote]\nbackend = \"docker-ssh\"\nplugin = \"docker\"\n",
    );
    let list = providers(&w, &[]);
    assert_eq!(
        provider(&list, "remote")["reason"],
        "plugin 'docker' is disabled"
    );
    // The same for one run with --disable-plugin and --no-plugins.
    w.write(
        &w.user_settings(),
        "[providers.remote]\nbackend = \"docker\"\n",
    );
    for flag in [&["--disable-plugin", "docker"][..], &["--no-plugins"][..]] {
        let list = providers(&w, flag);
        assert_eq!(provider(&list, "remote")["enabled"], false, "{flag:?}");
    }
}

// ---- bad settings: one clear line naming the file and the problem, exit code 8 ----

#[test]
fn a_toml_syntax_error_names_file_line_and_column() {
    let w = World::new();
    w.write(
        &w.user_settings(),
        "prefix = \"a-\"\n\n[providers.lab\nbackend = \"local\"\n",
    );
    let line = w.run(&["provider", "list"]).error_line(8);
    let file = w.user_settings().display().to_string();
    assert!(
        line.starts_with(&format!(
            "Error: {file}:3:15: invalid TOML: unclosed table, expected `]`"
        )),
        "{line}"
    );
}

#[test]
fn an_unknown_key_is_named_with_the_valid_keys() {
    let mut w = World::new();
    let repo = w.git_repo();
    let file = repo.join(".mngr/settings.toml");
    w.write(&file, "prefx = \"a-\"\n");
    let line = w.run(&["provider", "list"]).error_line(8);
    assert_eq!(
        line,
        format!(
            "Error: {}: unknown key 'prefx'; valid keys: agent_types, commands, enabled_backends, headless, lock_timeout, plugins, prefix, provider_timeout, providers",
            file.display()
        )
    );
    w.write(
        &file,
        "[agent_types.claude]\ncommand = \"claude\"\nargz = []\n",
    );
    let line = w.run(&["provider", "list"]).error_line(8);
    assert!(
        line.ends_with("unknown key 'agent_types.claude.argz'; valid keys in [agent_types.claude]: args, command"),
        "{line}"
    );
    w.write(&file, "[commands.provider]\nlist_all = true\n");
    let line = w.run(&["provider", "list"]).error_line(8);
    assert!(
        line.contains("unknown key 'commands.provider.list_all'"),
        "{line}"
    );
    w.write(&file, "[commands.no_such_command]\nx = 1\n");
    let line = w.run(&["provider", "list"]).error_line(8);
    assert!(
        line.contains("unknown key 'commands.no_such_command'; valid keys in [commands]: "),
        "{line}"
    );
}

#[test]
fn unknown_keys_only_warn_with_mngr_allow_unknown_config() {
    let mut w = World::new();
    w.write(&w.user_settings(), "prefx = \"a-\"\nprefix = \"ok-\"\n");
    w.set_env("MNGR_ALLOW_UNKNOWN_CONFIG", "1");
    let run = w.run(&["config", "get", "prefix"]);
    assert_eq!(run.ok(), "ok-\n");
    assert!(
        run.stderr.contains("ignoring unknown key 'prefx'"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unknown_backend_lists_the_registered_ones() {
    let w = World::new();
    w.write(&w.user_settings(), "[providers.lab]\nbackend = \"nope\"\n");
    let line = w.run(&["provider", "list"]).error_line(8);
    // Plugins beside the test binary (the example plugin) register backends too.
    let expected = format!(
        "Error: {}: [providers.lab] uses unknown backend 'nope'; registered backends: ",
        w.user_settings().display()
    );
    assert!(
        line.starts_with(&expected) && line.contains("local"),
        "{line}"
    );
    // Without `backend`, the table name is the backend.
    w.write(&w.user_settings(), "[providers.nope]\nx = 1\n");
    let line = w.run(&["provider", "list"]).error_line(8);
    assert!(
        line.contains("[providers.nope] uses unknown backend 'nope'; registered backends: ")
            && line.contains("local"),
        "{line}"
    );
}

#[test]
fn a_wrong_type_names_the_key_and_the_file() {
    let w = World::new();
    let file = w.user_settings().display().to_string();
    w.write(&w.user_settings(), "prefix = 3\n");
    let line = w.run(&["provider", "list"]).error_line(8);
    assert_eq!(
        line,
        format!("Error: {file}: 'prefix' must be a string, not an integer (3)")
    );

    w.write(
        &w.user_settings(),
        "[providers.local]\nis_enabled = \"no\"\n",
    );
    let line = w.run(&["provider", "list"]).error_line(8);
    assert_eq!(
        line,
        format!(
            "Error: {file}: 'providers.local.is_enabled' must be a boolean, not a string (\"no\")"
        )
    );
}

#[test]
fn the_backend_rejects_its_own_bad_keys_naming_the_table_and_file() {
    let mut w = World::new();
    let repo = w.git_repo();
    let user = w.user_settings().display().to_string();
    w.write(
        &w.user_settings(),
        "[providers.lab]\nbackend = \"local\"\nhost_dir = 3\n",
    );
    let line = w.run(&["provider", "list"]).error_line(8);
    assert_eq!(
        line,
        format!(
            "Error: {user}: invalid [providers.lab] (backend 'local'): 'host_dir' must be a string, got 3"
        )
    );
    w.write(
        &w.user_settings(),
        "[providers.lab]\nbackend = \"local\"\nhots_dir = \"/x\"\n",
    );
    let line = w.run(&["provider", "list"]).error_line(8);
    assert!(line.ends_with("invalid [providers.lab] (backend 'local'): unknown key 'hots_dir' for the local backend; valid keys: host_dir"), "{line}");

    // With several layers, the one that set the bad key is named.
    w.write(&w.user_settings(), "[providers.lab]\nbackend = \"local\"\n");
    let local = repo.join(".mngr/settings.local.toml");
    w.write(&local, "[providers.lab]\nhost_dir = false\n");
    w.run(&["config", "trust"]).ok();
    let line = w.run(&["provider", "list"]).error_line(8);
    assert!(
        line.starts_with(&format!(
            "Error: {}: invalid [providers.lab]",
            local.display()
        )),
        "{line}"
    );
}

#[test]
fn instance_names_must_be_safe_names() {
    let w = World::new();
    w.write(
        &w.user_settings(),
        "[providers.\"my lab\"]\nbackend = \"local\"\n",
    );
    let line = w.run(&["provider", "list"]).error_line(8);
    assert!(
        line.contains("'providers.my lab': invalid name 'my lab'"),
        "{line}"
    );
}

#[test]
fn bad_setting_arguments_and_variables_are_named() {
    let w = World::new();
    let line = w.run(&["-S", "prefix", "provider", "list"]).error_line(8);
    assert_eq!(line, "Error: -S prefix: expected KEY=VALUE");
    let line = w
        .run(&["-S", "headless=maybe", "provider", "list"])
        .error_line(8);
    assert_eq!(
        line,
        "Error: -S headless=maybe: 'headless' must be a boolean, not a string (\"maybe\")"
    );
    let mut w = w;
    w.set_env("MNGR__PREFIX", "3");
    let line = w.run(&["provider", "list"]).error_line(8);
    assert_eq!(
        line,
        "Error: environment variable MNGR__PREFIX: 'prefix' must be a string, not an integer (3)"
    );
}

#[test]
fn help_documents_exit_code_8() {
    let w = World::new();
    let help = w.run(&["--help"]);
    assert!(help.ok().contains("8  invalid settings"), "{}", help.stdout);
}

#[test]
fn agent_types_merge_across_layers_and_need_a_command() {
    let mut w = World::new();
    let repo = w.git_repo();
    w.write(
        &w.user_settings(),
        "[agent_types.claude]\ncommand = \"claude\"\n",
    );
    w.write(
        &repo.join(".mngr/settings.toml"),
        "[agent_types.claude]\nargs = [\"--model\", \"opus\"]\n",
    );
    w.run(&["config", "trust"]).ok();
    let doc = w
        .run(&["config", "get", "agent_types.claude", "--format", "json"])
        .json();
    assert_eq!(
        doc["value"],
        serde_json::json!({"command": "claude", "args": ["--model", "opus"]})
    );

    w.write(&w.user_settings(), "");
    let line = w.run(&["provider", "list"]).error_line(8);
    assert_eq!(
        line,
        format!(
            "Error: {}: [agent_types.claude] needs a 'command' (the program to run)",
            repo.join(".mngr/settings.toml").display()
        )
    );
}

#[test]
fn command_defaults_are_checked_at_load_and_stop_every_command() {
    let w = World::new();
    let file = w.user_settings();
    let cases = [
        (
            "[commands.create]\nin_place = \"yes\"\n",
            "'commands.create.in_place' must be a boolean, not a string (\"yes\")",
        ),
        (
            "[commands.create]\nlabels = 3\n",
            "'commands.create.labels' must be a string or a list of strings, not an integer (3)",
        ),
        (
            "[commands.create]\nidle_timeout = \"nan\"\n",
            "'commands.create.idle_timeout': 'nan' is not a duration",
        ),
        (
            "[commands.create]\nidle_timeout = 1e300\n",
            "'commands.create.idle_timeout': '1e300' is not a duration",
        ),
        (
            "[commands.exec]\ntimeout = -1\n",
            "'commands.exec.timeout': '-1' is not a duration",
        ),
        (
            "[commands.create]\nenv = [\"1TOKEN=x\"]\n",
            "'commands.create.env': invalid env value: invalid variable name '1TOKEN'",
        ),
    ];
    for (text, expected) in cases {
        w.write(&file, text);
        // Not only `create`: every command loads settings and stops.
        for command in [&["list"][..], &["provider", "list"], &["config", "list"]] {
            let line = w.run(command).error_line(8);
            assert!(
                line.starts_with(&format!("Error: {}: {expected}", file.display())),
                "{line}"
            );
        }
    }
    w.write(
        &file,
        "[commands.create]\nidle_timeout = \"10m\"\n[commands.exec]\ntimeout = 1.5\n",
    );
    w.run(&["list"]).ok();
}

#[test]
fn a_prefix_tmux_would_rename_is_refused_wherever_it_is_set() {
    let mut w = World::new();
    let rule = "use at most 32 letters, digits, '-' and '_', starting with a letter or digit";
    for bad in ["team:a-", "v1.2-", "a b", "-x", &"p".repeat(33)] {
        let line = w
            .run(&["-S", &format!("prefix={bad}"), "list"])
            .error_line(8);
        assert!(
            line.starts_with(&format!(
                "Error: -S prefix={bad}: 'prefix': invalid prefix '{bad}': {rule}"
            )),
            "{line}"
        );
    }
    w.write(&w.user_settings(), "prefix = \"my.team-\"\n");
    let line = w.run(&["list"]).error_line(8);
    assert!(
        line.starts_with(&format!(
            "Error: {}: 'prefix': invalid prefix 'my.team-'",
            w.user_settings().display()
        )),
        "{line}"
    );
    std::fs::remove_file(w.user_settings()).unwrap();
    w.set_env("MNGR_PREFIX", "a:b");
    let line = w.run(&["list"]).error_line(8);
    assert!(
        line.starts_with("Error: environment variable MNGR_PREFIX: 'prefix': invalid prefix 'a:b'"),
        "{line}"
    );
    w.set_env("MNGR_PREFIX", "team_2-");
    w.run(&["list"]).ok();
}

#[test]
fn a_relative_root_or_host_dir_is_refused() {
    let w = World::new();
    let run = Run::from(
        w.command(&["list"])
            .env("MNGR_ROOT", "rel/root")
            .output()
            .unwrap(),
    );
    assert_eq!(
        run.error_line(8),
        "Error: MNGR_ROOT 'rel/root' is a relative path; the mngr root must be absolute"
    );
    assert!(!w.cwd.join("rel").exists());
    let line = w
        .run(&["-S", "providers.local.host_dir=records", "list"])
        .error_line(8);
    assert!(
        line.contains("'host_dir' must be an absolute path (or start with ~/), got 'records'"),
        "{line}"
    );
    assert!(!w.cwd.join("records").exists());
    w.run(&["-S", "providers.local.host_dir=~/records", "list"])
        .ok();
}

/// `.mngr/settings.toml` of a fresh repository that redefines `claude` to leave a marker.
fn hostile_repo(w: &mut common::agents::AgentWorld) -> (std::path::PathBuf, std::path::PathBuf) {
    let repo = w.repo_with_commit();
    let file = repo.join(".mngr/settings.toml");
    let marker = w.path("it-ran");
    w.write(
        &file,
        &format!(
            "prefix = \"proj-\"\n[agent_types.claude]\ncommand = \"sh\"\nargs = [\"-c\", \"touch {}; sleep 1000\"]\n",
            marker.display()
        ),
    );
    (file, marker)
}

#[test]
fn project_settings_that_choose_programs_run_only_once_trusted_and_again_after_a_change() {
    let mut w = common::agents::AgentWorld::new();
    let (file, marker) = hostile_repo(&mut w);
    let refused = format!(
        "Error: {}: these project settings choose programs to run and are not trusted: agent_types.claude.args, agent_types.claude.command",
        file.display()
    );
    let hint = "hint: read the file; if you trust it, run `mngr config trust --scope project` (a changed file needs trust again)";
    for args in [
        &["create", "x", "claude", "--no-connect"][..],
        &["list"],
        &["provider", "list"],
    ] {
        let run = w.run(args);
        assert_eq!(run.error_line(8), refused, "{args:?}");
        assert!(run.stderr.contains(hint), "{}", run.stderr);
    }
    assert!(!marker.exists());
    assert!(w.sessions().is_empty());
    // Reading the file to review it runs nothing and needs no trust.
    assert!(
        w.run(&["config", "list", "--scope", "project"])
            .ok()
            .contains("touch")
    );

    let trusted = w.run(&["config", "trust"]);
    assert!(
        trusted
            .ok()
            .contains(&format!(
            "Trusted {} (project) as it is now; it chooses programs to run with agent_types.claude.args, agent_types.claude.command",
            file.display()
        )),
        "{}",
        trusted.stdout
    );
    w.create(&["x", "claude"]);
    w.wait_until("the trusted command to run", || marker.exists());
    w.run(&["destroy", "-f", "x"]).ok();

    // A changed file needs trust again.
    let text = std::fs::read_to_string(&file).unwrap();
    w.write(&file, &text.replace("sleep 1000", "sleep 999"));
    assert_eq!(w.run(&["list"]).error_line(8), refused);
    w.run(&["config", "trust", "--scope", "project"]).ok();
    w.run(&["list"]).ok();
}

#[test]
fn project_settings_that_run_nothing_need_no_trust_and_local_files_are_checked_too() {
    let mut w = common::agents::AgentWorld::new();
    let repo = w.repo_with_commit();
    let project = repo.join(".mngr/settings.toml");
    w.write(
        &project,
        "prefix = \"proj-\"\nheadless = true\n[providers.docker]\nis_enabled = false\n[commands.create]\nprovider = \"local\"\nno_connect = true\n",
    );
    assert_eq!(
        w.run(&["config", "get", "prefix"]).ok(),
        "proj-\n",
        "settings that run nothing are used without trust"
    );
    w.run(&["list"]).ok();

    let local = repo.join(".mngr/settings.local.toml");
    w.write(&local, "[commands.create]\nstart_args = [\"--privileged\"]\n[providers.lab]\nbackend = \"local\"\nhost_dir = \"/tmp/elsewhere\"\n");
    let line = w.run(&["list"]).error_line(8);
    assert_eq!(
        line,
        format!(
            "Error: {}: these local settings choose programs to run and are not trusted: commands.create.start_args, providers.lab.backend, providers.lab.host_dir",
            local.display()
        )
    );
    w.run(&["config", "trust", "--scope", "local"]).ok();
    w.run(&["list"]).ok();

    // A change made with `mngr config set` to a trusted file keeps it trusted.
    w.run(&[
        "config",
        "set",
        "--scope",
        "local",
        "providers.lab.host_dir",
        "/tmp/other",
    ])
    .ok();
    w.run(&["list"]).ok();
    // But `set` does not vouch for a file someone else changed.
    let text = std::fs::read_to_string(&local).unwrap();
    w.write(
        &local,
        &format!("{text}\n[agent_types.claude]\ncommand = \"sh\"\n"),
    );
    let run = w.run(&["config", "set", "--scope", "local", "headless", "false"]);
    assert!(
        run.error_line(8).contains("are not trusted"),
        "{}",
        run.stderr
    );
    assert!(
        !std::fs::read_to_string(&local)
            .unwrap()
            .contains("headless")
    );
}
