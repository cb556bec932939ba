//! Several small files for a host, written by one command instead of one command each: over
//! SSH every command is a round trip and a few process starts, and `create` writes six files.
//! Each file is written atomically (temp file, then rename) and in the order added, so the
//! last one can be the commit point.

use super::host::Host;
use crate::error::Result;
use crate::shell::quote;
use std::collections::BTreeSet;

/// A batch travels inside one command line, which Linux caps at 128 KiB per argument, and the
/// transport quotes the script once more (each `'` becomes four bytes). A batch whose script
/// is longer than this (or holds a NUL byte, which no shell word can) is written file by file.
const INLINE_LIMIT: usize = 24 * 1024;

/// Exit code of a batch script whose write failed.
pub const WRITE_FAILED: i32 = 71;

struct PendingFile {
    path: String,
    text: String,
    mode: Option<u32>,
}

#[derive(Default)]
pub struct FileBatch {
    files: Vec<PendingFile>,
}

impl FileBatch {
    pub fn new() -> FileBatch {
        FileBatch::default()
    }

    /// Add a file (absolute path on the host); `mode` as for `Transport::write_file`.
    pub fn add(&mut self, path: impl Into<String>, text: impl Into<String>, mode: Option<u32>) {
        self.files.push(PendingFile {
            path: path.into(),
            text: text.into(),
            mode,
        });
    }

    /// The script, when it can travel inside one command line.
    fn inline_script(&self) -> Option<String> {
        if self.files.iter().any(|f| f.text.contains('\0')) {
            return None;
        }
        Some(self.render()).filter(|script| script.len() <= INLINE_LIMIT)
    }

    /// The shell that writes the batch, to run before whatever depends on it. On this machine
    /// (writes in process cost less than the processes a script starts), and for a batch too
    /// big for a command line, the files are written here and now, in order, and the script
    /// is empty.
    pub fn into_script(self, host: &Host) -> Result<String> {
        if !host.transport.is_local()
            && let Some(script) = self.inline_script()
        {
            return Ok(script);
        }
        for file in &self.files {
            host.write_file(&file.path, file.text.as_bytes(), file.mode)?;
        }
        Ok(String::new())
    }

    fn render(&self) -> String {
        if self.files.is_empty() {
            return String::new();
        }
        let dirs: BTreeSet<&str> = self
            .files
            .iter()
            .map(|f| f.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("."))
            .filter(|d| !d.is_empty())
            .collect();
        let dirs: Vec<String> = dirs.into_iter().map(quote).collect();
        // Files 0600 and directories 0700 (they may hold secrets); the caller's umask comes
        // back afterwards, so what runs next (the agent) is not affected.
        let mut script = format!(
            "mngr_umask=$(umask); umask 077\nmkdir -p {} || {{ echo 'cannot make the agent directories' >&2; exit {WRITE_FAILED}; }}\n",
            dirs.join(" ")
        );
        for file in &self.files {
            let (dir, name) = file.path.rsplit_once('/').unwrap_or((".", &file.path));
            // The shell's pid makes the temp name unique among concurrent writers.
            let tmp = format!("{}\"$$\"", quote(&format!("{dir}/.{name}.mngr-tmp.")));
            let chmod = file
                .mode
                .map(|m| format!(" && chmod {m:o} {tmp}"))
                .unwrap_or_default();
            script.push_str(&format!(
                "{{ printf '%s' {text} > {tmp}{chmod} && mv -f {tmp} {path}; }} || {{ rm -f {tmp}; echo {err} >&2; exit {WRITE_FAILED}; }}\n",
                text = quote(&file.text),
                path = quote(&file.path),
                err = quote(&format!("writing {} failed", file.path)),
            ));
        }
        script.push_str("umask \"$mngr_umask\"\n");
        script
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn run(script: &str) -> std::process::Output {
        Command::new("sh").arg("-c").arg(script).output().unwrap()
    }

    #[test]
    fn writes_every_file_with_its_bytes_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("it's here");
        let mut batch = FileBatch::new();
        let awkward = "a 'quoted' $HOME `x` %s \\n\nline two\n\n";
        batch.add(format!("{}/a/env", root.display()), awkward, None);
        batch.add(format!("{}/a/empty", root.display()), "", None);
        batch.add(
            format!("{}/run.sh", root.display()),
            "echo hi\n",
            Some(0o755),
        );
        let out = run(&batch.render());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(root.join("a/env")).unwrap(),
            awkward
        );
        assert_eq!(std::fs::read_to_string(root.join("a/empty")).unwrap(), "");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.join("run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        // Everything else may hold secrets: files 0600, directories 0700.
        let mode_of =
            |p: std::path::PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode_of(root.join("a/env")), 0o600);
        assert_eq!(mode_of(root.join("a")), 0o700);
        assert_eq!(mode_of(root.clone()), 0o700);
        let leftovers: Vec<_> = std::fs::read_dir(root.join("a"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("mngr-tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn the_callers_umask_is_restored_for_what_runs_after_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut batch = FileBatch::new();
        batch.add(format!("{}/x", dir.path().display()), "1", None);
        let out = run(&format!("umask 022\n{}umask", batch.render()));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0022");
    }

    #[test]
    fn a_failed_write_stops_the_batch_before_later_files() {
        let dir = tempfile::tempdir().unwrap();
        // A file where a directory must go makes the first write fail.
        std::fs::write(dir.path().join("blocker"), "").unwrap();
        let mut batch = FileBatch::new();
        batch.add(format!("{}/blocker/x", dir.path().display()), "1", None);
        batch.add(format!("{}/commit.json", dir.path().display()), "{}", None);
        let out = run(&batch.render());
        assert_eq!(out.status.code(), Some(WRITE_FAILED));
        assert!(!dir.path().join("commit.json").exists());
    }

    #[test]
    fn big_or_binary_batches_do_not_go_inline() {
        let mut batch = FileBatch::new();
        batch.add("/x/a", "small", None);
        assert!(batch.inline_script().is_some());
        batch.add("/x/b", "y".repeat(INLINE_LIMIT), None);
        assert!(batch.inline_script().is_none());
        // Quotes count as the script they become, not as the bytes they were.
        let mut quotes = FileBatch::new();
        quotes.add("/x/q", "'".repeat(INLINE_LIMIT / 3), None);
        assert!(quotes.inline_script().is_none());
        let mut nul = FileBatch::new();
        nul.add("/x/c", "a\0b", None);
        assert!(nul.inline_script().is_none());
    }
}
