//! `mngr config list|get|set|unset|path|edit`, in human and JSON output, through the real binary.

use crate::common;

use common::World;
use serde_json::json;
use std::path::Path;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn path_shows_every_scope_and_whether_its_file_exists() {
    let mut w = World::new();
    let user = w.user_settings().display().to_string();

    let human = w.run(&["config", "path"]);
    let lines: Vec<Vec<&str>> = human
        .ok()
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["SCOPE", "PATH", "EXISTS"]);
    assert_eq!(lines[1], ["user", &user, "no"]);
    assert_eq!(lines[2][0], "project");
    assert!(human.stdout.contains("not in a git repository"));

    let line = w
        .run(&["config", "path", "--scope", "project"])
        .error_line(2);
    assert_eq!(
        line,
        "Error: the project scope needs a project: the current directory is not inside a git repository"
    );

    let repo = w.git_repo();
    std::fs::create_dir_all(repo.join("sub/dir")).unwrap();
    w.cwd = repo.join("sub/dir");
    w.write(&w.user_settings(), "");
    let doc = w.run(&["config", "path", "--format", "json"]).json();
    assert_eq!(
        doc,
        json!({"paths": [
            {"scope": "user", "path": user, "exists": true},
            {"scope": "project", "path": repo.join(".mngr/settings.toml").display().to_string(), "exists": false},
            {"scope": "local", "path": repo.join(".mngr/settings.local.toml").display().to_string(), "exists": false},
        ]})
    );
    let local = w.run(&["config", "path", "--scope", "local"]);
    assert_eq!(
        local.ok().trim(),
        repo.join(".mngr/settings.local.toml").display().to_string()
    );
}

#[test]
fn set_creates_the_file_and_keeps_comments_of_an_existing_one() {
    let w = World::new();
    let file = w.user_settings();
    let run = w.run(&["config", "set", "prefix", "team-"]);
    assert_eq!(
        run.ok(),
        format!("Set prefix = \"team-\" in {} (user)\n", file.display())
    );
    assert_eq!(read(&file), "prefix = \"team-\"\n");

    w.write(&file, "# my settings\nprefix = \"a-\" # short one\n");
    let run = w.run(&[
        "config",
        "set",
        "providers.lab.backend",
        "local",
        "--format",
        "json",
    ]);
    assert_eq!(
        run.json(),
        json!({"key": "providers.lab.backend", "value": "local", "scope": "user", "path": file.display().to_string()})
    );
    w.run(&["config", "set", "prefix", "b-"]).ok();
    w.run(&["config", "set", "enabled_backends", "[\"local\"]"])
        .ok();
    w.run(&["config", "set", "headless", "true"]).ok();
    assert_eq!(
        read(&file),
        "# my settings\nprefix = \"b-\" # short one\nenabled_backends = [\"local\"]\nheadless = true\n\n[providers.lab]\nbackend = \"local\"\n"
    );
}

#[test]
fn set_writes_project_and_local_scopes_inside_a_git_repository() {
    let mut w = World::new();
    let repo = w.git_repo();
    w.run(&["config", "set", "--scope", "project", "prefix", "proj-"])
        .ok();
    w.run(&[
        "config",
        "set",
        "--scope",
        "local",
        "providers.local.host_dir",
        "/tmp/x",
    ])
    .ok();
    assert_eq!(
        read(&repo.join(".mngr/settings.toml")),
        "prefix = \"proj-\"\n"
    );
    assert_eq!(
        read(&repo.join(".mngr/settings.local.toml")),
        "[providers.local]\nhost_dir = \"/tmp/x\"\n"
    );
    assert_eq!(w.run(&["config", "get", "prefix"]).ok(), "proj-\n");
}

#[test]
fn set_refuses_a_change_that_makes_settings_invalid_and_leaves_the_file_alone() {
    let w = World::new();
    let file = w.user_settings();
    let before = "# keep me\nprefix = \"a-\"\n";
    w.write(&file, before);
    let path = file.display().to_string();

    let line = w.run(&["config", "set", "prefix", "3"]).error_line(8);
    assert_eq!(
        line,
        format!("Error: {path}: 'prefix' must be a string, not an integer (3)")
    );
    let line = w.run(&["config", "set", "prefx", "a"]).error_line(8);
    assert!(line.contains("unknown key 'prefx'; valid keys: "), "{line}");
    let line = w
        .run(&["config", "set", "providers.lab.backend", "nope"])
        .error_line(8);
    // Plugins beside the test binary (the example plugin) register backends too.
    assert!(
        line.contains("[providers.lab] uses unknown backend 'nope'; registered backends: ")
            && line.contains("local"),
        "{line}"
    );
    let run = w.run(&["config", "set", "providers.local.host_dir", "3"]);
    let line = run.error_line(8);
    assert_eq!(
        line,
        format!(
            "Error: {path}: invalid [providers.local] (backend 'local'): 'host_dir' must be a string, got 3"
        )
    );
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    let line = w.run(&["config", "set", "prefix.x", "1"]).error_line(8);
    assert_eq!(
        line,
        format!(
            "Error: {path}: cannot set 'prefix.x': 'prefix' is a string (\"a-\"), not a table; unset it first"
        )
    );

    assert_eq!(read(&file), before);
    let leftovers: Vec<_> = std::fs::read_dir(w.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp") || n.contains("settings") && n != "settings.toml")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn get_prints_merged_values_or_one_scope() {
    let mut w = World::new();
    let repo = w.git_repo();
    w.write(
        &w.user_settings(),
        "prefix = \"u-\"\n[providers.lab]\nbackend = \"local\"\nhost_dir = \"/u\"\n",
    );
    w.write(&repo.join(".mngr/settings.toml"), "prefix = \"p-\"\n");

    assert_eq!(w.run(&["config", "get", "prefix"]).ok(), "p-\n");
    assert_eq!(
        w.run(&["config", "get", "prefix", "--scope", "user"]).ok(),
        "u-\n"
    );
    assert_eq!(w.run(&["config", "get", "headless"]).ok(), "false\n");
    assert_eq!(
        w.run(&["config", "get", "providers.lab"]).ok(),
        "backend = \"local\"\nhost_dir = \"/u\"\n"
    );
    let doc = w
        .run(&[
            "config",
            "get",
            "providers.lab.host_dir",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(
        doc,
        json!({"key": "providers.lab.host_dir", "value": "/u", "source": "user", "origin": w.user_settings().display().to_string()})
    );
    let tmpl = w.run(&[
        "config",
        "get",
        "prefix",
        "--format",
        "{key}={value} ({source})",
    ]);
    assert_eq!(tmpl.ok(), "prefix=p- (project)\n");

    let line = w.run(&["config", "get", "providers.nope"]).error_line(9);
    assert_eq!(
        line,
        "Error: setting 'providers.nope' is not set in the merged settings"
    );
    let line = w
        .run(&["config", "get", "prefix", "--scope", "local"])
        .error_line(9);
    assert!(
        line.starts_with("Error: setting 'prefix' is not set in the local settings ("),
        "{line}"
    );
}

#[test]
fn list_shows_merged_settings_with_their_sources() {
    let mut w = World::new();
    let repo = w.git_repo();
    let user = w.user_settings().display().to_string();
    w.write(
        &w.user_settings(),
        "prefix = \"u-\"\n[providers.lab]\nbackend = \"local\"\n",
    );
    w.write(
        &repo.join(".mngr/settings.local.toml"),
        "[providers.lab]\nhost_dir = \"/l\"\n",
    );
    let local = repo.join(".mngr/settings.local.toml").display().to_string();

    let human = w.run(&["-S", "headless=true", "config", "list"]);
    assert_eq!(
        human.ok(),
        format!(
            "enabled_backends = []  # default\nheadless = true  # -S headless=true\nprefix = \"u-\"  # user: {user}\nproviders.lab.backend = \"local\"  # user: {user}\nproviders.lab.host_dir = \"/l\"  # local: {local}\n"
        )
    );
    let doc = w.run(&["config", "list", "--format", "json"]).json();
    let settings = doc["settings"].as_array().unwrap();
    assert_eq!(settings.len(), 5);
    assert_eq!(
        settings[4],
        json!({"key": "providers.lab.host_dir", "value": "/l", "source": "local", "origin": local})
    );
    let jsonl = w.run(&["config", "list", "--format", "jsonl"]);
    assert_eq!(jsonl.ok().lines().count(), 5);
    let one: serde_json::Value =
        serde_json::from_str(jsonl.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(one["key"], "enabled_backends");

    let scoped = w.run(&["config", "list", "--scope", "local"]);
    assert_eq!(scoped.ok(), "providers.lab.host_dir = \"/l\"  # local\n");
    let scoped = w
        .run(&["config", "list", "--scope", "project", "--format", "json"])
        .json();
    assert_eq!(scoped, json!({"settings": []}));
}

#[test]
fn unset_removes_a_key_and_tables_it_empties() {
    let w = World::new();
    let file = w.user_settings();
    w.write(
        &file,
        "# top\nprefix = \"a-\"\n\n[providers.local]\nhost_dir = \"/x\"\n",
    );
    let run = w.run(&["config", "unset", "providers.local.host_dir"]);
    assert_eq!(
        run.ok(),
        format!(
            "Unset providers.local.host_dir in {} (user)\n",
            file.display()
        )
    );
    assert_eq!(read(&file), "# top\nprefix = \"a-\"\n");
    let doc = w
        .run(&["config", "unset", "prefix", "--format", "json"])
        .json();
    assert_eq!(
        doc,
        json!({"key": "prefix", "scope": "user", "path": file.display().to_string()})
    );
    // A comment right above a key goes with it.
    assert_eq!(read(&file), "");
    let line = w.run(&["config", "unset", "prefix"]).error_line(9);
    assert!(
        line.starts_with("Error: setting 'prefix' is not set in the user settings"),
        "{line}"
    );
}

#[test]
fn unset_can_remove_a_bad_key_but_not_make_settings_invalid() {
    let w = World::new();
    let file = w.user_settings();
    w.write(&file, "prefx = 1\n");
    w.run(&["config", "unset", "prefx"]).ok();
    assert_eq!(read(&file), "");
    // Removing `backend` would leave a table whose name is not a backend.
    w.write(
        &file,
        "[providers.lab]\nbackend = \"local\"\nhost_dir = \"/x\"\n",
    );
    let line = w
        .run(&["config", "unset", "providers.lab.backend"])
        .error_line(8);
    assert!(
        line.contains("[providers.lab] uses unknown backend 'lab'; registered backends: ")
            && line.contains("local"),
        "{line}"
    );
    assert_eq!(
        read(&file),
        "[providers.lab]\nbackend = \"local\"\nhost_dir = \"/x\"\n"
    );
}

#[test]
fn a_file_with_a_syntax_error_is_reported_by_set_and_left_alone() {
    let w = World::new();
    let file = w.user_settings();
    w.write(&file, "prefix = \n");
    let line = w.run(&["config", "set", "headless", "true"]).error_line(8);
    assert!(
        line.starts_with(&format!("Error: {}:1:10: invalid TOML:", file.display())),
        "{line}"
    );
    assert_eq!(read(&file), "prefix = \n");
}

fn editor_script(w: &World, body: &str) -> String {
    let script = w.path("editor.sh");
    w.write(&script, &format!("#!/bin/sh\n{body}\n"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

#[test]
fn edit_saves_a_valid_edit() {
    let mut w = World::new();
    let file = w.user_settings();
    w.write(&file, "# mine\nprefix = \"a-\"\n");
    let editor = editor_script(&w, "printf 'headless = false\\n' >> \"$1\"");
    w.set_env("EDITOR", &editor);
    let run = w.run(&["config", "edit"]);
    assert_eq!(run.ok(), format!("Saved {} (user)\n", file.display()));
    assert_eq!(read(&file), "# mine\nprefix = \"a-\"\nheadless = false\n");

    // VISUAL wins over EDITOR; no change is reported as such.
    w.set_env("VISUAL", "true");
    let doc = w.run(&["config", "edit", "--format", "json"]).json();
    assert_eq!(
        doc,
        json!({"scope": "user", "path": file.display().to_string(), "changed": false})
    );
}

#[test]
fn edit_creates_a_project_file() {
    let mut w = World::new();
    let repo = w.git_repo();
    let editor = editor_script(&w, "printf 'prefix = \"p-\"\\n' > \"$1\"");
    w.set_env("EDITOR", &editor);
    w.run(&["config", "edit", "--scope", "project"]).ok();
    assert_eq!(read(&repo.join(".mngr/settings.toml")), "prefix = \"p-\"\n");
}

#[test]
fn edit_refuses_an_invalid_result_and_keeps_the_edit_aside() {
    let mut w = World::new();
    let file = w.user_settings();
    w.write(&file, "prefix = \"a-\"\n");
    let editor = editor_script(&w, "printf 'prefix = 3\\n' > \"$1\"");
    w.set_env("EDITOR", &editor);
    let run = w.run(&["config", "edit"]);
    let line = run.error_line(8);
    assert_eq!(
        line,
        format!(
            "Error: {}: 'prefix' must be a string, not an integer (3)",
            file.display()
        )
    );
    let rejected = w.root().join("settings.toml.rejected");
    assert!(
        run.stderr.contains(&rejected.display().to_string()),
        "{}",
        run.stderr
    );
    assert_eq!(read(&file), "prefix = \"a-\"\n");
    assert_eq!(read(&rejected), "prefix = 3\n");
}

#[test]
fn edit_is_refused_in_headless_mode_and_when_the_editor_fails() {
    let mut w = World::new();
    let file = w.user_settings();
    w.write(&file, "prefix = \"a-\"\n");
    let editor = editor_script(&w, "printf 'prefix = \"b-\"\\n' > \"$1\"");
    w.set_env("EDITOR", &editor);
    let line = w.run(&["--headless", "config", "edit"]).error_line(2);
    assert_eq!(
        line,
        "Error: config edit opens an editor, which headless mode forbids"
    );
    let line = w
        .run(&["-S", "headless=true", "config", "edit"])
        .error_line(2);
    assert_eq!(
        line,
        "Error: config edit opens an editor, which headless mode forbids"
    );
    w.set_env("MNGR_HEADLESS", "1");
    w.run(&["config", "edit"]).error_line(2);
    w.remove_env("MNGR_HEADLESS");

    w.set_env("EDITOR", "false");
    let line = w.run(&["config", "edit"]).error_line(1);
    assert!(
        line.starts_with("Error: the editor (false) exited with"),
        "{line}"
    );
    assert_eq!(read(&file), "prefix = \"a-\"\n");
    let names: Vec<String> = std::fs::read_dir(w.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".edit.")), "{names:?}");
}
