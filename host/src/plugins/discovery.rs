//! Where plugin libraries are looked for, and which files count.
//!
//! Order (first found wins when two files hold the same plugin): every directory in
//! `MNGR_PLUGIN_PATH` (colon-separated, in order), then `<mngr root>/plugins`, then the
//! directory of the `mngr` executable. Within a directory, files load in name order.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The shared-library extension of this platform.
#[cfg(target_os = "macos")]
pub const LIBRARY_EXTENSION: &str = "dylib";
#[cfg(not(target_os = "macos"))]
pub const LIBRARY_EXTENSION: &str = "so";

/// One directory to scan, and why.
#[derive(Debug, Clone)]
pub struct PluginDir {
    pub path: PathBuf,
    /// Where this directory came from, for messages.
    pub source: &'static str,
    /// A missing directory is worth a warning only when the user named it.
    pub warn_if_missing: bool,
}

/// The plugin directories of this run, in load order.
pub fn plugin_dirs() -> Vec<PluginDir> {
    let mut dirs = Vec::new();
    if let Some(raw) = std::env::var_os("MNGR_PLUGIN_PATH") {
        for path in std::env::split_paths(&raw).filter(|p| !p.as_os_str().is_empty()) {
            dirs.push(PluginDir {
                path,
                source: "MNGR_PLUGIN_PATH",
                warn_if_missing: true,
            });
        }
    }
    dirs.push(PluginDir {
        path: crate::paths::user_plugin_dir(),
        source: "the mngr root",
        warn_if_missing: false,
    });
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        dirs.push(PluginDir {
            path: dir,
            source: "beside the mngr executable",
            warn_if_missing: false,
        });
    }
    dirs
}

/// A file named like a plugin library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    /// Why it cannot be opened as a library (a directory, a FIFO, a dangling link, ...).
    pub unusable: Option<String>,
}

/// The plugin files found, each once (by canonical path), plus one warning line per directory
/// that could not be read.
pub fn scan(dirs: &[PluginDir]) -> (Vec<Candidate>, Vec<String>) {
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    let mut seen = HashSet::new();
    for dir in dirs {
        let entries = match std::fs::read_dir(&dir.path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if dir.warn_if_missing {
                    warnings.push(format!(
                        "plugin directory {} (from {}) does not exist; skipped",
                        dir.path.display(),
                        dir.source
                    ));
                }
                continue;
            }
            Err(e) => {
                warnings.push(format!(
                    "plugin directory {} (from {}) cannot be read: {e}; skipped",
                    dir.path.display(),
                    dir.source
                ));
                continue;
            }
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|ext| ext == LIBRARY_EXTENSION))
            .collect();
        found.sort();
        for path in found {
            let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if seen.insert(key) {
                files.push(Candidate {
                    unusable: unusable(&path),
                    path,
                });
            }
        }
    }
    (files, warnings)
}

/// Why `path` cannot be a library, from its metadata alone: opening a FIFO would block.
fn unusable(path: &Path) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => {
            let link = std::fs::read_link(path).ok();
            return Some(match (link, e.raw_os_error()) {
                (Some(_), Some(libc::ELOOP)) => "a symbolic link loop".to_string(),
                (Some(target), _) if e.kind() == std::io::ErrorKind::NotFound => format!(
                    "a dangling symbolic link (to {}, which does not exist)",
                    target.display()
                ),
                _ => format!("cannot be read: {e}"),
            });
        }
    };
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return None;
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a device file"
    };
    Some(format!("{what}, not a library file"))
}

/// The plugin name a file's name suggests: `libmngr_docker.so` -> `docker`,
/// `libexample_dirs.so` -> `example-dirs`. A disabled name that matches it means the file is
/// not even opened.
pub fn name_from_file(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem.strip_prefix("lib").unwrap_or(&stem);
    let stem = stem
        .strip_prefix("mngr_plugin_")
        .or_else(|| stem.strip_prefix("mngr_"))
        .unwrap_or(stem);
    stem.replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_suggest_plugin_names() {
        assert_eq!(name_from_file(Path::new("/x/libmngr_docker.so")), "docker");
        assert_eq!(
            name_from_file(Path::new("libmngr_example_dirs.so")),
            "example-dirs"
        );
        assert_eq!(
            name_from_file(Path::new("libmngr_plugin_vultr.so")),
            "vultr"
        );
        assert_eq!(name_from_file(Path::new("other.so")), "other");
    }

    #[test]
    fn the_same_file_found_twice_is_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("libmngr_a.so");
        std::fs::write(&file, b"x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let link_dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(&file, link_dir.path().join("libmngr_b.so")).unwrap();
        let dirs = [dir.path(), dir.path(), link_dir.path()].map(|p| PluginDir {
            path: p.to_path_buf(),
            source: "test",
            warn_if_missing: true,
        });
        let (files, warnings) = scan(&dirs);
        assert_eq!(
            files,
            vec![Candidate {
                path: file,
                unusable: None
            }]
        );
        assert!(warnings.is_empty());
    }
}
