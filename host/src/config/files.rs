//! Where the settings files are, and reading one into a TOML table with one-line errors.
//!
//! - user: `<mngr root>/settings.toml` (`MNGR_ROOT` or `~/.mngr`)
//! - project: `<project dir>/settings.toml`
//! - local: `<project dir>/settings.local.toml`
//!
//! The project dir is `MNGR_PROJECT_CONFIG_DIR`, else `.mngr` in the git worktree root of the
//! current directory; outside a git repository there are no project layers.

use super::source::Scope;
use crate::error::{MngrError, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const USER_FILE: &str = "settings.toml";
pub const PROJECT_FILE: &str = "settings.toml";
pub const LOCAL_FILE: &str = "settings.local.toml";
pub const PROJECT_DIR_NAME: &str = ".mngr";

/// The directories the settings files live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locations {
    /// The mngr root (user settings live directly in it).
    pub root: PathBuf,
    /// The project settings directory, if the current directory is in a project.
    pub project_dir: Option<PathBuf>,
}

impl Locations {
    /// From the process: `MNGR_ROOT`, `MNGR_PROJECT_CONFIG_DIR`, the current directory.
    pub fn from_process() -> Self {
        let project_dir =
            match std::env::var_os("MNGR_PROJECT_CONFIG_DIR").filter(|v| !v.is_empty()) {
                Some(dir) => Some(PathBuf::from(dir)),
                None => std::env::current_dir()
                    .ok()
                    .and_then(|cwd| git_worktree_root(&cwd))
                    .map(|root| root.join(PROJECT_DIR_NAME)),
            };
        Locations {
            root: crate::paths::mngr_root(),
            project_dir,
        }
    }

    /// The file of a scope; `None` for project and local scopes outside a project.
    pub fn file(&self, scope: Scope) -> Option<PathBuf> {
        match scope {
            Scope::User => Some(self.root.join(USER_FILE)),
            Scope::Project => self.project_dir.as_ref().map(|d| d.join(PROJECT_FILE)),
            Scope::Local => self.project_dir.as_ref().map(|d| d.join(LOCAL_FILE)),
        }
    }

    /// Like `file`, but an error explaining why a project scope has no file.
    pub fn require_file(&self, scope: Scope) -> Result<PathBuf> {
        self.file(scope).ok_or_else(|| {
            MngrError::usage(format!(
                "the {} scope needs a project: the current directory is not inside a git repository",
                scope.as_str()
            ))
            .with_hint("run mngr inside a git repository, or set MNGR_PROJECT_CONFIG_DIR")
        })
    }
}

/// The nearest directory at or above `start` holding `.git` (a directory, or a file in a
/// linked worktree). Walking up is enough and avoids spawning git on every run.
pub fn git_worktree_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}

/// Read a settings file; a missing file is `None`.
pub fn read_file(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(MngrError::settings(format!(
            "{}: cannot read settings file: {e}",
            path.display()
        ))),
    }
}

/// Parse settings text. A syntax error becomes one line: `FILE:LINE:COLUMN: invalid TOML: ...`.
pub fn parse(path: &Path, text: &str) -> Result<toml::Table> {
    text.parse::<toml::Table>().map_err(|err| {
        let at = err
            .span()
            .map(|span| {
                let (line, column) = line_column(text, span.start);
                format!(":{line}:{column}")
            })
            .unwrap_or_default();
        let message = err.message().trim().replace('\n', "; ");
        MngrError::settings(format!("{}{at}: invalid TOML: {message}", path.display()))
            .with_hint("fix the file, or open it with `mngr config edit`")
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Write a file atomically (temp file, rename). A new file is 0600 (settings may hold
/// secrets); an existing one keeps its mode.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let mode = std::fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    crate::paths::write_atomic(path, text.as_bytes(), Some(mode))
        .map_err(|e| MngrError::failure(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_file_line_and_column_on_one_line() {
        let err = parse(Path::new("/x/settings.toml"), "prefix = 'a'\nbad = = 1\n").unwrap_err();
        assert!(
            err.message
                .starts_with("/x/settings.toml:2:7: invalid TOML:"),
            "{}",
            err.message
        );
        assert!(!err.message.contains('\n'));
    }
}
