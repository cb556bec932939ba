//! Trust for project settings that choose programs to run.
//!
//! A repository's `.mngr/settings.toml` (and `settings.local.toml` beside it) could redefine
//! the `claude` agent type, point a provider at another daemon or add start arguments: running
//! mngr in a freshly cloned repository must not run what it says. Such a file is used only once
//! the user trusted it (`mngr config trust`, as `direnv allow` does): mngr records the file's
//! path and the SHA-256 of its content in `<mngr root>/trusted_settings.toml`, and a changed
//! file needs trust again. Settings that run nothing (`prefix`, `headless`, enabled plugins and
//! instances, most command defaults) need no trust.

use super::files;
use super::keys::base_key;
use crate::error::{MngrError, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The file of trusted project settings, in the mngr root.
pub const TRUST_FILE: &str = "trusted_settings.toml";

/// Options of `[commands.NAME]` that decide what runs, or what a host is made from.
const RUNNING_OPTIONS: [&str; 10] = [
    "command",
    "agent_args",
    "args",
    "env",
    "env_files",
    "build_args",
    "start_args",
    "dockerfile",
    "snapshot",
    "from",
];

/// The dotted keys of `table` (one project layer) that choose programs to run: agent types,
/// provider settings (a backend's keys decide daemons, images and arguments; only
/// `is_enabled` is harmless) and the command defaults in [`RUNNING_OPTIONS`].
pub fn keys_needing_trust(table: &Table) -> Vec<String> {
    let mut keys = Vec::new();
    let entries = |value: &Value| -> Vec<(String, Table)> {
        value
            .as_table()
            .map(|t| {
                t.iter()
                    .map(|(k, v)| (k.clone(), v.as_table().cloned().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (key, value) in table {
        match base_key(key) {
            "prefix" | "headless" | "enabled_backends" | "plugins" => {}
            "agent_types" => {
                for (name, entry) in entries(value) {
                    keys.extend(entry.keys().map(|field| format!("{key}.{name}.{field}")));
                }
            }
            "providers" => {
                for (name, entry) in entries(value) {
                    keys.extend(
                        entry
                            .keys()
                            .filter(|field| base_key(field) != "is_enabled")
                            .map(|field| format!("{key}.{name}.{field}")),
                    );
                }
            }
            "commands" => {
                for (name, entry) in entries(value) {
                    keys.extend(
                        entry
                            .keys()
                            .filter(|option| RUNNING_OPTIONS.contains(&base_key(option)))
                            .map(|option| format!("{key}.{name}.{option}")),
                    );
                }
            }
            // Not a key mngr knows (kept in lenient mode): assume it matters.
            _ => keys.push(key.clone()),
        }
    }
    keys
}

/// SHA-256 of a file's text, in hex.
pub fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The path a trust record names: absolute, symbolic links resolved where the file exists.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn store(root: &Path) -> PathBuf {
    root.join(TRUST_FILE)
}

/// `(path, sha256)` of every trusted file.
fn read_store(root: &Path) -> Result<Vec<(String, String)>> {
    let path = store(root);
    let Some(text) = files::read_file(&path)? else {
        return Ok(Vec::new());
    };
    let table = files::parse(&path, &text)?;
    let records = table
        .get("trusted")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    let t = item.as_table()?;
                    Some((
                        t.get("path")?.as_str()?.to_string(),
                        t.get("sha256")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(records)
}

/// Whether this exact content of `file` was trusted.
pub fn is_trusted(root: &Path, file: &Path, text: &str) -> Result<bool> {
    let path = canonical(file).display().to_string();
    let sum = digest(text);
    Ok(read_store(root)?
        .iter()
        .any(|(p, s)| *p == path && *s == sum))
}

/// Record `text` as the trusted content of `file`, replacing what was trusted before.
pub fn trust(root: &Path, file: &Path, text: &str) -> Result<()> {
    let path = canonical(file).display().to_string();
    let mut records = read_store(root)?;
    records.retain(|(p, _)| *p != path);
    records.push((path, digest(text)));
    let mut out = String::from(
        "# Project settings files trusted with `mngr config trust`: their path and the SHA-256\n\
         # of the content you trusted. A file whose content changed needs trust again.\n",
    );
    for (path, sum) in &records {
        let mut entry = Table::new();
        entry.insert("path".into(), Value::String(path.clone()));
        entry.insert("sha256".into(), Value::String(sum.clone()));
        let mut doc = Table::new();
        doc.insert("trusted".into(), Value::Array(vec![Value::Table(entry)]));
        out.push('\n');
        out.push_str(&toml::to_string(&doc).expect("trust records serialize"));
    }
    crate::paths::private_dir(root)
        .map_err(|e| MngrError::failure(format!("cannot create {}: {e}", root.display())))?;
    files::write_atomic(&store(root), &out)
}

/// Refuse a project layer whose program-choosing keys the user has not trusted (exit 8).
pub fn check(root: &Path, file: &Path, text: &str, table: &Table, scope: &str) -> Result<()> {
    let keys = keys_needing_trust(table);
    if keys.is_empty() || is_trusted(root, file, text)? {
        return Ok(());
    }
    Err(MngrError::settings(format!(
        "{}: these {scope} settings choose programs to run and are not trusted: {}",
        file.display(),
        keys.join(", ")
    ))
    .with_hint(format!(
        "read the file; if you trust it, run `mngr config trust --scope {scope}` (a changed file needs trust again)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_settings_that_choose_programs_need_trust() {
        let table: Table = "prefix = 'p-'\nheadless = true\n[plugins.x]\nenabled = false\n\
             [providers.docker]\nis_enabled = false\n[commands.create]\nprovider = 'local'\nno_connect = true\n"
            .parse()
            .unwrap();
        assert!(keys_needing_trust(&table).is_empty());
        let table: Table = "[agent_types.claude]\ncommand = 'sh'\nargs = ['-c', 'x']\n\
             [providers.docker]\nhost = 'tcp://elsewhere:2375'\nis_enabled = true\n\
             [commands.create]\nstart_args__extend = ['--privileged']\ntype = 'claude'\n"
            .parse()
            .unwrap();
        assert_eq!(
            keys_needing_trust(&table),
            vec![
                "agent_types.claude.args",
                "agent_types.claude.command",
                "commands.create.start_args__extend",
                "providers.docker.host",
            ]
        );
    }

    #[test]
    fn trust_is_for_one_content_of_one_path() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("settings.toml");
        std::fs::write(&file, "x").unwrap();
        assert!(!is_trusted(root.path(), &file, "a").unwrap());
        trust(root.path(), &file, "a").unwrap();
        assert!(is_trusted(root.path(), &file, "a").unwrap());
        assert!(!is_trusted(root.path(), &file, "b").unwrap());
        trust(root.path(), &file, "b").unwrap();
        assert!(!is_trusted(root.path(), &file, "a").unwrap());
        assert!(is_trusted(root.path(), &file, "b").unwrap());
        assert!(!is_trusted(root.path(), &root.path().join("other.toml"), "b").unwrap());
    }
}
