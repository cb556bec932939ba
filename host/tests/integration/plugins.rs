//! Plugin loading through the real binary and the real load-from-shared-library path: the
//! example plugin, `mngr plugin list|show`, disabling, and every kind of bad plugin. A bad
//! plugin costs one warning line naming the file and the problem; the command still runs and
//! exits 0; the other plugins keep working.

use crate::common;

use common::World;
use common::fixtures::{example_plugin, fixture_plugin, not_a_plugin_library};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn plugins(run: &common::Run) -> Vec<Value> {
    run.json()["plugins"]
        .as_array()
        .expect("plugins array")
        .clone()
}

fn by_path<'a>(list: &'a [Value], path: &Path) -> &'a Value {
    let path = path.display().to_string();
    list.iter()
        .find(|p| p["path"] == path.as_str())
        .unwrap_or_else(|| panic!("no plugin at {path} in {list:?}"))
}

fn by_name<'a>(list: &'a [Value], name: &str) -> Vec<&'a Value> {
    list.iter().filter(|p| p["name"] == name).collect()
}

/// The warning lines of a run.
fn warnings(run: &common::Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("Warning: "))
        .map(str::to_string)
        .collect()
}

/// Put a file into `<root>/plugins/`.
fn install(w: &World, from: &Path, file_name: &str) -> PathBuf {
    let dir = w.root().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let to = dir.join(file_name);
    std::fs::copy(from, &to).unwrap();
    to
}

/// The example plugin still loads and its backend still gets an instance.
#[track_caller]
fn example_still_works(w: &World, list: &[Value]) {
    let example = by_path(list, &example_plugin());
    assert_eq!(example["status"], "loaded", "{example}");
    assert_eq!(example["backends"], serde_json::json!(["dirs"]));
    let providers = w.run(&["provider", "list", "--format", "json"]).json();
    let names: Vec<&str> = providers["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"dirs") && names.contains(&"local"),
        "{names:?}"
    );
}

/// One warning line, naming `file`; returns it.
#[track_caller]
fn one_warning_about(run: &common::Run, file: &Path) -> String {
    let lines = warnings(run);
    assert_eq!(lines.len(), 1, "expected one warning:\n{}", run.stderr);
    assert!(
        lines[0].starts_with(&format!("Warning: plugin {}: ", file.display())),
        "{}",
        lines[0]
    );
    lines[0].clone()
}

/// `mngr plugin list --format json` with `extra` arguments; it must exit 0.
fn list_plugins(w: &World, extra: &[&str]) -> common::Run {
    let args = [&["plugin", "list", "--format", "json"], extra].concat();
    let run = w.run(&args);
    run.ok();
    run
}

/// An installed plugin after `mngr plugin list`: where it was installed, the run, its one
/// warning line and the plugin list.
struct Installed {
    file: PathBuf,
    run: common::Run,
    line: String,
    list: Vec<Value>,
}

/// Install `from` as `<root>/plugins/<file_name>` and list plugins: exactly one warning, about
/// that file; the file is listed as refused and the example plugin still works.
#[track_caller]
fn install_refused(w: &World, from: &Path, file_name: &str) -> Installed {
    let file = install(w, from, file_name);
    let run = list_plugins(w, &[]);
    let line = one_warning_about(&run, &file);
    let list = plugins(&run);
    assert_eq!(by_path(&list, &file)["status"], "refused", "{list:?}");
    example_still_works(w, &list);
    Installed {
        file,
        run,
        line,
        list,
    }
}

/// Install `from` as `<root>/plugins/<file_name>`, which loads before the binary's directory and
/// so wins over the example plugin: the installed file is loaded, and the example plugin refused
/// with exactly one warning naming it.
#[track_caller]
fn install_ahead_of_example(w: &World, from: &Path, file_name: &str) -> Installed {
    let file = install(w, from, file_name);
    let run = list_plugins(w, &[]);
    let line = one_warning_about(&run, &example_plugin());
    let list = plugins(&run);
    assert_eq!(by_path(&list, &file)["status"], "loaded", "{list:?}");
    assert_eq!(by_path(&list, &example_plugin())["status"], "refused");
    Installed {
        file,
        run,
        line,
        list,
    }
}

#[test]
fn the_example_plugin_is_listed_with_its_metadata() {
    let w = World::new();
    let run = list_plugins(&w, &[]);
    assert!(warnings(&run).is_empty(), "{}", run.stderr);
    let list = plugins(&run);
    let example = by_path(&list, &example_plugin());
    assert_eq!(example["name"], "example-dirs");
    assert_eq!(example["version"], "0.1.0");
    assert_eq!(
        example["plugin_api_version"],
        mngr_plugin_api::PLUGIN_API_VERSION
    );
    assert_eq!(example["backends"], serde_json::json!(["dirs"]));
    assert_eq!(example["status"], "loaded");

    let human = w.run(&["plugin", "list"]);
    let lines: Vec<&str> = human.ok().lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "NAME",
            "VERSION",
            "PLUGIN-API",
            "BACKENDS",
            "STATUS",
            "PATH"
        ]
    );
    let row = lines
        .iter()
        .find(|l| l.starts_with("example-dirs "))
        .expect("example row");
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        [
            "example-dirs",
            "0.1.0",
            mngr_plugin_api::PLUGIN_API_VERSION,
            "dirs",
            "loaded",
            &example_plugin().display().to_string()
        ]
    );

    let jsonl = w.run(&["plugin", "list", "--format", "jsonl"]);
    let first: Value = serde_json::from_str(jsonl.ok().lines().next().unwrap()).unwrap();
    assert!(first["name"].is_string());

    let show = w.run(&["plugin", "show", "example-dirs"]);
    assert!(show.ok().contains("backends:    dirs"), "{}", show.stdout);
    let missing = w.run(&["plugin", "show", "nope"]).error_line(9);
    assert!(
        missing.contains("no plugin named 'nope'; plugins found: "),
        "{missing}"
    );
}

#[test]
fn plugins_can_be_disabled_for_a_run_or_in_settings() {
    let w = World::new();
    // The example plugin's entry, listed as disabled for `reason`.
    let disabled_example = |extra: &[&str], reason: &str| {
        let list = plugins(&list_plugins(&w, extra));
        let example = by_path(&list, &example_plugin()).clone();
        assert_eq!(example["status"], "disabled", "{example}");
        assert_eq!(example["reason"], reason);
        example
    };
    let example = disabled_example(&["--no-plugins"], "--no-plugins");
    assert!(example["version"].is_null(), "never opened: {example}");

    disabled_example(
        &["--disable-plugin", "example-dirs"],
        "--disable-plugin example-dirs",
    );
    let providers = w.run(&["provider", "list", "--disable-plugin", "example-dirs"]);
    assert!(!providers.ok().contains("dirs"), "{}", providers.stdout);

    w.write(
        &w.user_settings(),
        "[plugins.example-dirs]\nenabled = false\n",
    );
    disabled_example(&[], "[plugins.example-dirs] enabled = false");

    let unknown = w.run(&["plugin", "list", "--disable-plugin", "nosuch"]);
    unknown.ok();
    assert_eq!(
        warnings(&unknown),
        ["Warning: --disable-plugin nosuch: no plugin of that name was found"]
    );
}

#[test]
fn the_same_file_found_twice_loads_once_and_a_second_copy_is_refused() {
    let mut w = World::new();
    // The binary's own directory again through MNGR_PLUGIN_PATH, and a symlink to the example.
    let dir = w.root().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(example_plugin(), dir.join("libmngr_example_link.so")).unwrap();
    w.set_env(
        "MNGR_PLUGIN_PATH",
        &example_plugin().parent().unwrap().display().to_string(),
    );
    let run = list_plugins(&w, &[]);
    assert!(warnings(&run).is_empty(), "{}", run.stderr);
    assert_eq!(by_name(&plugins(&run), "example-dirs").len(), 1);

    // A real copy is a second file holding the same plugin: the first found wins.
    let w = World::new();
    let copy = install_ahead_of_example(&w, &example_plugin(), "libmngr_example_copy.so");
    assert!(
        copy.line.ends_with(&format!(
            "plugin 'example-dirs' is already loaded from {}; remove one of the two files",
            copy.file.display()
        )),
        "{}",
        copy.line
    );
}

#[test]
fn a_shared_library_that_is_not_a_plugin_is_skipped_with_a_warning() {
    let w = World::new();
    let Installed { line, .. } = install_refused(&w, &not_a_plugin_library(), "libnot_a_plugin.so");
    assert!(
        line.ends_with("not an mngr plugin (a shared library without the mngr plugin root module); remove it from the plugin directory"),
        "{line}"
    );
}

#[test]
fn a_truncated_library_is_skipped_with_a_warning() {
    let w = World::new();
    let bytes = std::fs::read(example_plugin()).unwrap();
    let dir = w.root().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("libmngr_truncated.so");
    std::fs::write(&file, &bytes[..bytes.len() / 3]).unwrap();
    let tiny = dir.join("libmngr_tiny.so");
    std::fs::write(&tiny, &bytes[..10]).unwrap();

    let run = list_plugins(&w, &[]);
    let lines = warnings(&run);
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    // Files load in name order: libmngr_tiny.so, then libmngr_truncated.so.
    for (line, file) in lines.iter().zip([&tiny, &file]) {
        assert_eq!(
            *line,
            format!(
                "Warning: plugin {}: truncated or damaged file (its ELF headers describe data past its end); reinstall the plugin",
                file.display()
            )
        );
    }
    example_still_works(&w, &plugins(&run));
}

#[test]
fn a_plugin_built_against_another_major_plugin_api_is_refused_naming_both_versions() {
    let w = World::new();
    let Installed {
        file, line, list, ..
    } = install_refused(&w, &fixture_plugin("old_api"), "libmngr_old_api.so");
    let host = semver::Version::parse(mngr_plugin_api::PLUGIN_API_VERSION).unwrap();
    let plugin = semver::Version::new(host.major + 1, 0, 0);
    let line_of = if host.major > 0 {
        format!("{}.x", host.major)
    } else {
        format!("0.{}.x", host.minor)
    };
    assert!(
        line.ends_with(&format!(
            "refused: it was built against mngr-plugin-api {plugin}, but this mngr provides mngr-plugin-api {host}; rebuild the plugin against mngr-plugin-api {line_of}"
        )),
        "{line}"
    );
    assert_eq!(
        by_path(&list, &file)["name"],
        "old-api",
        "the name comes from the file"
    );

    // An instance configured for the refused plugin's backend is skipped, not fatal.
    w.write(
        &w.user_settings(),
        "[providers.legacy]\nbackend = \"old\"\nplugin = \"old-api\"\n",
    );
    let run = w.run(&["provider", "list", "--format", "json"]);
    run.ok();
    let providers = run.json()["providers"].as_array().unwrap().clone();
    let legacy = providers.iter().find(|p| p["name"] == "legacy").unwrap();
    assert_eq!(legacy["enabled"], false);
    assert_eq!(
        legacy["reason"],
        "plugin 'old-api' failed to load (see `mngr plugin list`)"
    );
    assert_eq!(warnings(&run).len(), 1, "{}", run.stderr);
}

#[test]
fn a_plugin_whose_ffi_layout_differs_is_refused_by_the_layout_check() {
    let w = World::new();
    let Installed { line, .. } = install_refused(
        &w,
        &fixture_plugin("layout_drift"),
        "libmngr_layout_drift.so",
    );
    assert!(
        line.contains("refused: its plugin interface layout differs from this mngr's (mismatched type at on_startup > obj > vtable > log > param_1: expected u8, found u16)"),
        "{line}"
    );
    assert!(
        line.ends_with(&format!(
            "; rebuild it against mngr-plugin-api {}",
            mngr_plugin_api::PLUGIN_API_VERSION
        )),
        "{line}"
    );
}

#[test]
fn a_plugin_that_panics_in_on_startup_is_skipped_and_mngr_keeps_going() {
    let w = World::new();
    let Installed {
        file,
        run,
        line,
        list,
    } = install_refused(
        &w,
        &fixture_plugin("panic_on_startup"),
        "libmngr_panic_on_startup.so",
    );
    assert!(
        line.contains("on_startup failed: the plugin panicked in on_startup: fixture: on_startup exploded (at src/lib.rs:"),
        "{line}"
    );
    assert!(
        !run.stderr.contains("panicked at"),
        "no raw panic text: {}",
        run.stderr
    );
    let refused = by_path(&list, &file);
    assert_eq!(refused["name"], "panic-on-startup");
    assert_eq!(refused["version"], "0.0.1");
}

#[test]
fn a_plugin_that_panics_building_an_instance_is_skipped_and_mngr_keeps_going() {
    let w = World::new();
    install(&w, &fixture_plugin("panic_in_call"), "libmngr_panicky.so");
    let run = w.run(&["provider", "list", "--format", "json"]);
    run.ok();
    let lines = warnings(&run);
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with("Warning: provider 'panicky-build' is skipped: the plugin panicked in build_instance: fixture: build_instance exploded (at src/lib.rs:"),
        "{}",
        lines[0]
    );
    let providers = run.json()["providers"].as_array().unwrap().clone();
    let get = |name: &str| {
        providers
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {providers:?}"))
            .clone()
    };
    assert_eq!(get("panicky-build")["enabled"], false);
    assert_eq!(get("panicky-calls")["enabled"], true);
    assert_eq!(get("dirs")["enabled"], true);
}

#[test]
fn a_plugin_whose_capabilities_call_panics_is_warned_about_and_claims_nothing() {
    let w = World::new();
    install(&w, &fixture_plugin("panic_in_call"), "libmngr_panicky.so");
    w.write(
        &w.user_settings(),
        "[providers.shaky]\nbackend = \"panicky-calls\"\npanic_in_capabilities = true\n",
    );
    let run = w.run(&["provider", "list", "--format", "json"]);
    run.ok();
    let lines = warnings(&run);
    let shaky: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("Warning: provider 'shaky'"))
        .collect();
    assert_eq!(shaky.len(), 1, "{}", run.stderr);
    assert!(
        shaky[0].starts_with("Warning: provider 'shaky' (plugin 'panicky'): cannot read its capabilities, treating it as supporting none: the plugin panicked in capabilities: fixture: capabilities exploded (at src/lib.rs:"),
        "{}",
        shaky[0]
    );
    assert!(
        !run.stderr.contains("panicked at"),
        "no raw panic text: {}",
        run.stderr
    );
    let providers = run.json()["providers"].as_array().unwrap().clone();
    let shaky = providers.iter().find(|p| p["name"] == "shaky").unwrap();
    assert_eq!(shaky["enabled"], true, "{shaky}");
    assert_eq!(
        shaky["capabilities"],
        serde_json::to_value(mngr_plugin_api::Capabilities::default()).unwrap()
    );
    // The same instance without the switch reads its capabilities without a warning.
    assert!(
        !lines.iter().any(|l| l.contains("'panicky-calls'")),
        "{}",
        run.stderr
    );
}

#[test]
fn two_plugins_registering_one_backend_name_keep_the_first() {
    let w = World::new();
    // <root>/plugins loads before the binary's directory, so this one registers `dirs` first.
    let Installed {
        file, line, list, ..
    } = install_ahead_of_example(&w, &fixture_plugin("same_backend"), "libmngr_dirs_again.so");
    assert!(
        line.ends_with(&format!(
            "backend 'dirs' is already registered by plugin 'dirs-again' ({}); disable one of the two plugins",
            file.display()
        )),
        "{line}"
    );
    assert_eq!(
        by_path(&list, &file)["backends"],
        serde_json::json!(["dirs"])
    );

    // Disabling the first lets the example plugin have its backend again.
    let run = list_plugins(&w, &["--disable-plugin", "dirs-again"]);
    assert!(warnings(&run).is_empty(), "{}", run.stderr);
    assert_eq!(
        by_path(&plugins(&run), &example_plugin())["status"],
        "loaded"
    );
}

#[test]
fn a_plugin_directory_that_is_missing_or_unreadable_is_a_warning() {
    let mut w = World::new();
    let missing = w.path("no-such-dir");
    let not_a_dir = w.path("a-file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    w.set_env(
        "MNGR_PLUGIN_PATH",
        &format!("{}:{}", missing.display(), not_a_dir.display()),
    );
    let run = list_plugins(&w, &[]);
    let lines = warnings(&run);
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    assert_eq!(
        lines[0],
        format!(
            "Warning: plugin directory {} (from MNGR_PLUGIN_PATH) does not exist; skipped",
            missing.display()
        )
    );
    assert!(
        lines[1].starts_with(&format!(
            "Warning: plugin directory {} (from MNGR_PLUGIN_PATH) cannot be read: ",
            not_a_dir.display()
        )),
        "{}",
        lines[1]
    );
    example_still_works(&w, &plugins(&run));

    // Without read permission (root reads anything, so only checked as another user).
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        let locked = w.path("locked");
        std::fs::create_dir_all(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        w.set_env("MNGR_PLUGIN_PATH", &locked.display().to_string());
        let run = w.run(&["plugin", "list"]);
        run.ok();
        assert_eq!(warnings(&run).len(), 1, "{}", run.stderr);
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn the_failure_behaviour_is_documented_in_help() {
    let w = World::new();
    let help = w.run(&["plugin", "list", "--help"]);
    let text = help.ok();
    assert!(text.contains("MNGR_PLUGIN_PATH"), "{text}");
    assert!(
        text.contains(
            "one warning line on stderr; the command still runs and its exit code is unchanged"
        ),
        "{text}"
    );
    let top = w.run(&["--help"]);
    assert!(
        top.ok().contains(
            "is skipped with one `Warning:` line on stderr and never changes the\nexit code"
        ),
        "{}",
        top.stdout
    );
}

#[test]
fn files_named_like_libraries_that_are_none_get_a_warning_and_a_row_and_never_hang() {
    let w = World::new();
    let dir = w.root().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let looped = dir.join("libmngr_loop.so");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let dangling = dir.join("libmngr_dangling.so");
    std::os::unix::fs::symlink(dir.join("gone.so.missing"), &dangling).unwrap();
    let directory = dir.join("libmngr_dir.so");
    std::fs::create_dir(&directory).unwrap();
    let fifo = dir.join("libmngr_fifo.so");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);

    // Opening the FIFO would block forever: the run must finish on its own.
    let mut child = w
        .command(&["plugin", "list", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            panic!("mngr plugin list hangs on a FIFO named *.so");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let run = common::Run::from(child.wait_with_output().unwrap());
    run.ok();
    let lines = warnings(&run);
    let list = plugins(&run);
    let expected = [
        (&dangling, "unusable: a dangling symbolic link (to "),
        (&directory, "unusable: a directory, not a library file"),
        (&fifo, "unusable: a FIFO (named pipe), not a library file"),
        (&looped, "unusable: a symbolic link loop"),
    ];
    assert_eq!(lines.len(), expected.len(), "{}", run.stderr);
    for (line, (file, reason)) in lines.iter().zip(expected) {
        assert!(
            line.starts_with(&format!("Warning: plugin {}: {reason}", file.display())),
            "{line}"
        );
        let row = by_path(&list, file);
        assert_eq!(row["status"], "refused", "{row}");
        assert!(row["reason"].as_str().unwrap().starts_with(reason), "{row}");
    }
    example_still_works(&w, &list);
}

/// The compatibility promise (docs/plugins.md), kept: the example plugin built from each
/// tagged plugin-api release's tree, against that release's plugin-api, loads into this mngr
/// and works (its backend gets an instance, which makes a host for an agent and destroys it).
/// The mngr under test runs from a directory of its own, so the workspace's current build of
/// the same plugin (beside `target/debug/mngr`) is not loaded instead.
#[test]
fn plugins_built_against_a_tagged_plugin_api_still_load_and_work() {
    for tagged in common::fixtures::tagged_example_plugins() {
        let context = format!("{} ({})", tagged.tag, tagged.commit);
        let mut w = common::agents::AgentWorld::new();
        w.use_lonely_binary();
        let installed = install(&w, &tagged.library, "libmngr_example_dirs.so");

        let run = list_plugins(&w, &[]);
        assert!(warnings(&run).is_empty(), "{context}: {}", run.stderr);
        let list = plugins(&run);
        assert_eq!(
            list.len(),
            1,
            "{context}: only the tagged plugin loads: {list:?}"
        );
        let example = by_path(&list, &installed);
        assert_eq!(example["name"], "example-dirs", "{context}");
        assert_eq!(example["status"], "loaded", "{context}: {example}");
        assert_eq!(
            example["plugin_api_version"], tagged.plugin_api_version,
            "{context}: the plugin records the release's plugin-api"
        );
        assert_eq!(
            example["backends"],
            serde_json::json!(["dirs"]),
            "{context}"
        );

        let providers = w.run(&["provider", "list", "--format", "json"]).json();
        let dirs = providers["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "dirs")
            .unwrap_or_else(|| panic!("{context}: no dirs provider in {providers}"));
        assert_eq!(dirs["backend"], "dirs", "{context}: {dirs}");
        assert_eq!(dirs["enabled"], true, "{context}: {dirs}");

        let created = w.create(&[
            "compat",
            "--in",
            "dirs",
            "--note",
            "old plugin",
            "--format",
            "json",
            "--",
            "sleep",
            "1000",
        ]);
        assert_eq!(created.json()["provider"], "dirs", "{context}");
        let agent = w.wait_state("compat", "WAITING");
        assert_eq!(agent["address"], "compat@compat.dirs", "{context}");
        // The plugin's own create flag still reached its create_host.
        let work_dir = PathBuf::from(agent["work_dir"].as_str().unwrap());
        let host_dir = work_dir.parent().unwrap().parent().unwrap();
        assert_eq!(
            std::fs::read_to_string(host_dir.join("NOTE.txt")).unwrap(),
            "old plugin",
            "{context}"
        );
        w.run(&["destroy", "compat", "--force"]).ok();
        assert!(w.agent("compat").is_none(), "{context}: the agent is gone");
        assert!(w.sessions().is_empty(), "{context}: {:?}", w.sessions());
    }
}
