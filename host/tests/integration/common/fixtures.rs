//! Plugin libraries for tests: the example plugin the workspace builds, and deliberately bad
//! plugins built from `tests/fixtures/plugins/*.rs` into `target/fixtures/` (never beside the
//! `mngr` binary, where plugins are loaded from). Each fixture is built once; later calls find
//! cargo's output fresh.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (the parent of `host/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// The directory of the `mngr` binary under test (`target/debug`).
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_mngr"))
        .parent()
        .expect("binary dir")
        .to_path_buf()
}

fn fixtures_dir() -> PathBuf {
    bin_dir().parent().expect("target dir").join("fixtures")
}

/// The example plugin as the workspace built it (beside the binary).
pub fn example_plugin() -> PathBuf {
    let path = bin_dir().join(format!("libmngr_example_dirs.{}", so_ext()));
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        path.display()
    );
    path
}

/// A workspace plugin's library (`file_name`) beside the `mngr` binary, where mngr finds it.
/// `cargo test` builds the newest copy into `deps/` without copying it up, so copy it up
/// (atomically) when it is newer.
pub fn plugin_beside_mngr(file_name: &str) -> PathBuf {
    let lib = bin_dir().join(file_name);
    let built = bin_dir().join("deps").join(file_name);
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let Some(new) = mtime(&built)
        && mtime(&lib).is_none_or(|old| old < new)
    {
        let tmp = bin_dir().join(format!(".{file_name}.{}", std::process::id()));
        std::fs::copy(&built, &tmp).expect("copy the plugin beside mngr");
        std::fs::rename(&tmp, &lib).expect("move the plugin beside mngr");
    }
    assert!(
        lib.exists(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        lib.display()
    );
    lib
}

pub fn so_ext() -> &'static str {
    if cfg!(target_os = "macos") {
        "dylib"
    } else {
        "so"
    }
}

/// Write a file only when its content differs, so cargo sees unchanged sources as fresh.
fn write_if_changed(path: &Path, content: &str) {
    if std::fs::read_to_string(path).is_ok_and(|old| old == content) {
        return;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn toml_string(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

/// Holds an exclusive lock on `target/fixtures/.lock` while alive: test processes running in
/// parallel build fixtures one at a time (cargo's own lock does not cover the lock file and
/// sources written here).
struct FixtureLock(
    #[expect(
        dead_code,
        reason = "never read: closing the file on drop releases the lock"
    )]
    std::fs::File,
);

impl FixtureLock {
    fn take() -> Self {
        std::fs::create_dir_all(fixtures_dir()).unwrap();
        let file = std::fs::File::create(fixtures_dir().join(".lock")).unwrap();
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock on a file descriptor we own; released when the file is closed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {}", std::io::Error::last_os_error());
        FixtureLock(file)
    }
}

/// Build the fixture plugin `tests/fixtures/plugins/<name>.rs`; returns its library.
pub fn fixture_plugin(name: &str) -> PathBuf {
    let _lock = FixtureLock::take();
    let api = match name {
        "old_api" => next_major_plugin_api(),
        "layout_drift" => drifted_plugin_api(),
        _ => workspace_root().join("plugin-api"),
    };
    let source = workspace_root().join(format!("host/tests/fixtures/plugins/{name}.rs"));
    let crate_dir = fixtures_dir().join("crates").join(name);
    let manifest = format!(
        "[package]\nname = \"fixture_{name}\"\nversion = \"0.0.1\"\nedition = \"2021\"\npublish = false\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\npath = \"src/lib.rs\"\n\n\
         [dependencies]\nmngr-plugin-api = {{ path = {} }}\nserde_json = \"1\"\n\n\
         [profile.dev]\ndebug = false\n\n[workspace]\n",
        toml_string(&api)
    );
    write_if_changed(&crate_dir.join("Cargo.toml"), &manifest);
    write_if_changed(
        &crate_dir.join("src/lib.rs"),
        &std::fs::read_to_string(&source).unwrap(),
    );
    // What fixtures share, for those that declare `mod support;`.
    write_if_changed(
        &crate_dir.join("src/support.rs"),
        &std::fs::read_to_string(source.with_file_name("support.rs")).unwrap(),
    );
    // The workspace's lock file pins the same dependency versions (and needs no network).
    let lock = crate_dir.join("Cargo.lock");
    if !lock.exists() {
        write_if_changed(
            &lock,
            &std::fs::read_to_string(workspace_root().join("Cargo.lock")).unwrap(),
        );
    }
    let target = fixtures_dir().join("target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building fixture {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target
        .join("debug")
        .join(format!("libfixture_{name}.{}", so_ext()))
}

/// A copy of plugin-api (under `target/fixtures/`) whose version is the next major of the
/// real one. Returns its directory.
pub fn next_major_plugin_api() -> PathBuf {
    plugin_api_copy(
        "next-major",
        |current| semver::Version::new(current.major + 1, 0, 0),
        |_, text| text,
    )
}

/// A copy of plugin-api with the same version but one FFI signature changed (the log level of
/// the host context is a `u16`), so only abi_stable's layout check can tell.
pub fn drifted_plugin_api() -> PathBuf {
    plugin_api_copy(
        "layout-drift",
        |current| current.clone(),
        |file, text| {
            if file.ends_with("abi.rs") {
                let drifted = text
                    .replace("fn log(&self, level: u8,", "fn log(&self, level: u16,")
                    .replace(
                        "fn log_level_code(level: crate::LogLevel) -> u8",
                        "fn log_level_code(level: crate::LogLevel) -> u16",
                    )
                    .replace(
                        "fn log_level_from_code(code: u8)",
                        "fn log_level_from_code(code: u16)",
                    );
                assert_eq!(
                    drifted.matches("u16").count(),
                    3,
                    "abi.rs changed: update the layout-drift fixture"
                );
                drifted
            } else {
                text
            }
        },
    )
}

/// A copy of plugin-api under `target/fixtures/plugin-api-<label>` with workspace-inherited
/// fields written out, its version chosen by `version` and its sources passed through `edit`.
fn plugin_api_copy(
    label: &str,
    version: impl Fn(&semver::Version) -> semver::Version,
    edit: impl Fn(&Path, String) -> String,
) -> PathBuf {
    let root = workspace_root();
    let workspace: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let ws = workspace["workspace"].as_table().unwrap();
    let ws_package = ws["package"].as_table().unwrap();
    let ws_deps = ws["dependencies"].as_table().unwrap();
    let mut manifest: toml::Table = std::fs::read_to_string(root.join("plugin-api/Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let inherits = |v: &toml::Value| {
        v.get("workspace")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false)
    };
    let package = manifest["package"].as_table_mut().unwrap();
    for (key, value) in package.iter_mut() {
        if inherits(value) {
            *value = ws_package[key.as_str()].clone();
        }
    }
    let current = semver::Version::parse(package["version"].as_str().unwrap()).unwrap();
    let next = version(&current);
    package.insert("version".into(), toml::Value::String(next.to_string()));
    for section in ["dependencies", "dev-dependencies"] {
        let Some(deps) = manifest
            .get_mut(section)
            .and_then(toml::Value::as_table_mut)
        else {
            continue;
        };
        for (name, dep) in deps.iter_mut() {
            if !inherits(dep) {
                continue;
            }
            let mut resolved = match &ws_deps[name.as_str()] {
                toml::Value::String(version) => toml::Table::from_iter([(
                    "version".to_string(),
                    toml::Value::String(version.clone()),
                )]),
                other => other.as_table().unwrap().clone(),
            };
            for (key, value) in dep.as_table().unwrap() {
                if key != "workspace" {
                    resolved.insert(key.clone(), value.clone());
                }
            }
            *dep = toml::Value::Table(resolved);
        }
    }
    manifest.remove("lints");
    manifest.insert("workspace".into(), toml::Value::Table(toml::Table::new()));

    let dir = fixtures_dir().join(format!("plugin-api-{label}"));
    write_if_changed(&dir.join("Cargo.toml"), &manifest.to_string());
    copy_tree(&root.join("plugin-api/src"), &dir.join("src"), &edit);
    dir
}

fn copy_tree(from: &Path, to: &Path, edit: &dyn Fn(&Path, String) -> String) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let dst = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dst, edit);
        } else {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            write_if_changed(&dst, &edit(&entry.path(), text));
        }
    }
}

/// A real shared library that is not an mngr plugin (a one-function cdylib built by rustc).
pub fn not_a_plugin_library() -> PathBuf {
    let _lock = FixtureLock::take();
    let dir = fixtures_dir().join("not-a-plugin");
    let source = dir.join("lib.rs");
    write_if_changed(
        &source,
        "#[no_mangle]\npub extern \"C\" fn answer() -> i32 {\n    42\n}\n",
    );
    let lib = dir.join(format!("libnot_a_plugin.{}", so_ext()));
    if !lib.exists() {
        let tmp = dir.join(format!("tmp{}.{}", std::process::id(), so_ext()));
        let out = Command::new("rustc")
            .args(["--edition", "2021", "--crate-type", "cdylib", "-o"])
            .arg(&tmp)
            .arg(&source)
            .output()
            .expect("run rustc");
        assert!(
            out.status.success(),
            "rustc failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::rename(&tmp, &lib).unwrap();
    }
    lib
}

/// The example plugin as a tagged plugin-api release built it.
pub struct TaggedPlugin {
    /// The release's tag (`plugin-api-v0.1.0`).
    pub tag: String,
    /// The commit its tree was taken from.
    pub commit: String,
    /// The plugin-api version of that tree, which the plugin records.
    pub plugin_api_version: String,
    /// The built library.
    pub library: PathBuf,
}

/// Every release listed in `plugin-api/COMPATIBILITY`, each with the example plugin built from
/// that release's tree (plugin-api and example-dirs as they were) under
/// `target/fixtures/tagged/`, so a later run finds cargo's output fresh.
pub fn tagged_example_plugins() -> Vec<TaggedPlugin> {
    let root = workspace_root();
    let list = std::fs::read_to_string(root.join("plugin-api/COMPATIBILITY"))
        .expect("plugin-api/COMPATIBILITY lists the tagged plugin-api releases");
    let releases: Vec<(&str, &str)> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.split_once(' ')
                .unwrap_or_else(|| panic!("COMPATIBILITY line '{l}' is not 'TAG COMMIT'"))
        })
        .collect();
    assert!(
        !releases.is_empty(),
        "plugin-api/COMPATIBILITY lists no release"
    );
    let _lock = FixtureLock::take();
    releases
        .into_iter()
        .map(|(tag, recorded)| build_tagged_example(&root, tag, recorded.trim()))
        .collect()
}

/// `git` in the workspace; `None` when it fails.
fn git(root: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// The commit of `tag`, or, in a clone without tags, the commit recorded beside it.
fn resolve_release(root: &Path, tag: &str, recorded: &str) -> String {
    let commit_of = |rev: &str| {
        git(
            root,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{rev}^{{commit}}"),
            ],
        )
        .map(|out| String::from_utf8_lossy(&out).trim().to_string())
    };
    if let Some(commit) = commit_of(&format!("refs/tags/{tag}")) {
        assert_eq!(
            commit, recorded,
            "tag {tag} points to {commit}, but plugin-api/COMPATIBILITY records {recorded}; \
             correct the file (tags of released versions never move)"
        );
        return commit;
    }
    commit_of(recorded).unwrap_or_else(|| {
        panic!(
            "neither the tag {tag} nor its recorded commit {recorded} is in this clone of {}; \
             fetch them (git fetch --tags, or a clone with full history) to run the \
             compatibility test",
            root.display()
        )
    })
}

fn build_tagged_example(root: &Path, tag: &str, recorded: &str) -> TaggedPlugin {
    let commit = resolve_release(root, tag, recorded);
    let dir = fixtures_dir().join("tagged").join(tag);
    let tree = dir.join("tree");
    // The release's own sources, extracted once per commit.
    let stamp = dir.join("commit");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(commit.as_str()) {
        let _ = std::fs::remove_dir_all(&tree);
        std::fs::create_dir_all(&tree).unwrap();
        let archive = git(
            root,
            &[
                "archive",
                "--format=tar",
                &commit,
                "plugin-api",
                "plugins/example-dirs",
            ],
        )
        .unwrap_or_else(|| panic!("git archive {commit} failed"));
        let mut tar = Command::new("tar")
            .arg("-x")
            .arg("-C")
            .arg(&tree)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("run tar");
        use std::io::Write;
        tar.stdin.take().unwrap().write_all(&archive).unwrap();
        assert!(tar.wait().unwrap().success(), "tar -x of {commit} failed");
        write_if_changed(&stamp, &commit);
    }
    write_if_changed(
        &tree.join("Cargo.toml"),
        &tagged_workspace_manifest(root, &commit),
    );
    // The workspace's lock file pins the same dependency versions (and needs no network);
    // cargo only adjusts the entries of the two path crates.
    let lock = tree.join("Cargo.lock");
    if !lock.exists() {
        write_if_changed(
            &lock,
            &std::fs::read_to_string(root.join("Cargo.lock")).unwrap(),
        );
    }
    let api_manifest: toml::Table = std::fs::read_to_string(tree.join("plugin-api/Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let plugin_api_version = api_manifest["package"]["version"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| tagged_workspace_version(root, &commit));

    let target = fixtures_dir().join("target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--offline",
            "-p",
            "mngr-example-dirs",
            "--manifest-path",
        ])
        .arg(tree.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building the example plugin of {tag} ({commit}) failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built = target
        .join("debug")
        .join(format!("libmngr_example_dirs.{}", so_ext()));
    // Kept apart: the next tagged build writes the same file name.
    let library = dir.join(built.file_name().unwrap());
    std::fs::copy(&built, &library).unwrap();
    TaggedPlugin {
        tag: tag.to_string(),
        commit,
        plugin_api_version,
        library,
    }
}

/// The release's root manifest with only its two crates as members, and without workspace
/// dependencies on crates the archive does not hold.
fn tagged_workspace_manifest(root: &Path, commit: &str) -> String {
    let mut manifest = tagged_root_manifest(root, commit);
    let ws = manifest["workspace"].as_table_mut().unwrap();
    ws.insert(
        "members".into(),
        toml::Value::Array(vec!["plugin-api".into(), "plugins/example-dirs".into()]),
    );
    if let Some(deps) = ws
        .get_mut("dependencies")
        .and_then(toml::Value::as_table_mut)
    {
        deps.retain(|_, dep| {
            dep.get("path")
                .and_then(toml::Value::as_str)
                .is_none_or(|path| path == "plugin-api")
        });
    }
    manifest.to_string()
}

fn tagged_root_manifest(root: &Path, commit: &str) -> toml::Table {
    let text = git(root, &["show", &format!("{commit}:Cargo.toml")])
        .unwrap_or_else(|| panic!("git show {commit}:Cargo.toml failed"));
    String::from_utf8_lossy(&text).parse().unwrap()
}

/// The workspace version of the release, for a plugin-api that inherits it.
fn tagged_workspace_version(root: &Path, commit: &str) -> String {
    tagged_root_manifest(root, commit)["workspace"]["package"]["version"]
        .as_str()
        .expect("a workspace version")
        .to_string()
}
