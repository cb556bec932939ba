//! Copying a directory on this machine without the `rsync` program: what
//! [`super::Transport::push_dir`] promises (rsync `-a src/ dest/`: modes, symlinks and
//! modification times kept, existing files overwritten, nothing deleted), with rsync-style
//! exclude patterns. Sockets, fifos and devices are skipped quietly, as is a file that
//! vanishes while it is copied (a work dir in use changes under the copy).

use super::PushOptions;
use std::fs::{self, File, Metadata};
use std::io::{self, ErrorKind};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

/// Copy `src`'s contents into `dest` (created if missing) as [`PushOptions`] say.
pub fn copy_tree(src: &Path, dest: &Path, options: &PushOptions) -> io::Result<()> {
    fs::create_dir_all(dest)?;
    let mut copy = TreeCopy {
        excludes: &options.excludes,
        dirs: Vec::new(),
    };
    match &options.files {
        None => copy.dir_contents(src, dest, "")?,
        Some(files) => {
            for rel in files {
                if excluded(copy.excludes, rel, false) {
                    continue;
                }
                let target = dest.join(rel);
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent)?;
                }
                copy.entry(&src.join(rel), &target, rel)?;
            }
        }
    }
    // Directory modes last, deepest first: a read-only directory still receives its contents.
    for (path, meta) in copy.dirs.iter().rev() {
        finish_dir(path, meta)?;
    }
    Ok(())
}

/// One copy in progress: its exclude patterns, and the directories made (with their source
/// metadata) whose modes and times are set at the end.
struct TreeCopy<'a> {
    excludes: &'a [String],
    dirs: Vec<(PathBuf, Metadata)>,
}

impl TreeCopy<'_> {
    fn dir_contents(&mut self, src: &Path, dest: &Path, rel: &str) -> io::Result<()> {
        let Some(entries) = unless_vanished(fs::read_dir(src), src)? else {
            return Ok(());
        };
        let mut names: Vec<_> = entries
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for name in names {
            let name_text = name.to_string_lossy();
            let child_rel = if rel.is_empty() {
                name_text.into_owned()
            } else {
                format!("{rel}/{name_text}")
            };
            self.entry(&src.join(&name), &dest.join(&name), &child_rel)?;
        }
        Ok(())
    }

    /// Copy one entry (a directory with what it holds) unless an exclude pattern matches it.
    fn entry(&mut self, src: &Path, dest: &Path, rel: &str) -> io::Result<()> {
        let Some(meta) = unless_vanished(fs::symlink_metadata(src), src)? else {
            return Ok(());
        };
        let kind = meta.file_type();
        if excluded(self.excludes, rel, kind.is_dir()) {
            return Ok(());
        }
        if kind.is_dir() {
            match fs::symlink_metadata(dest) {
                Ok(existing) if existing.is_dir() => {}
                Ok(_) => {
                    fs::remove_file(dest).map_err(|e| with_path(e, dest))?;
                    fs::create_dir(dest).map_err(|e| with_path(e, dest))?;
                }
                Err(_) => fs::create_dir(dest).map_err(|e| with_path(e, dest))?,
            }
            // Writable by us while its contents arrive; its own mode is set at the end.
            fs::set_permissions(dest, fs::Permissions::from_mode(0o700))?;
            self.dir_contents(src, dest, rel)?;
            self.dirs.push((dest.to_path_buf(), meta));
        } else if kind.is_symlink() {
            let Some(link) = unless_vanished(fs::read_link(src), src)? else {
                return Ok(());
            };
            clear_way(dest)?;
            symlink(link, dest).map_err(|e| with_path(e, dest))?;
        } else if kind.is_file() {
            copy_file(src, dest, &meta)?;
        }
        Ok(())
    }
}

/// `None` for a source that is gone (it vanished while the copy ran), else the result.
fn unless_vanished<T>(result: io::Result<T>, path: &Path) -> io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(with_path(e, path)),
    }
}

/// A regular file through a temp file beside it and a rename, so a reader never sees half.
fn copy_file(src: &Path, dest: &Path, meta: &Metadata) -> io::Result<()> {
    let Some(mut input) = unless_vanished(File::open(src), src)? else {
        return Ok(());
    };
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".mngr-copy.")
        .tempfile_in(dir)
        .map_err(|e| with_path(e, dir))?;
    io::copy(&mut input, temp.as_file_mut()).map_err(|e| with_path(e, src))?;
    let file = temp.as_file();
    file.set_permissions(fs::Permissions::from_mode(
        meta.permissions().mode() & 0o7777,
    ))?;
    if let Ok(modified) = meta.modified() {
        file.set_modified(modified)?;
    }
    clear_way(dest)?;
    temp.persist(dest).map_err(|e| with_path(e.error, dest))?;
    Ok(())
}

/// Remove a directory standing where a file or symlink goes (an existing file is replaced
/// by the rename, a symlink by removing it first).
fn clear_way(dest: &Path) -> io::Result<()> {
    match fs::symlink_metadata(dest) {
        Ok(existing) if existing.is_dir() => fs::remove_dir_all(dest),
        Ok(existing) if existing.file_type().is_symlink() => fs::remove_file(dest),
        _ => Ok(()),
    }
    .map_err(|e| with_path(e, dest))
}

fn finish_dir(path: &Path, meta: &Metadata) -> io::Result<()> {
    if let Ok(modified) = meta.modified() {
        File::open(path)?.set_modified(modified)?;
    }
    fs::set_permissions(
        path,
        fs::Permissions::from_mode(meta.permissions().mode() & 0o7777),
    )
}

fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

/// Whether an rsync-style exclude pattern matches `rel` (a path relative to the copy's root):
/// a pattern ending in `/` matches directories only; one starting with `/` or holding a `/`
/// matches the whole relative path, any other the last component; `*` and `?` stop at `/`,
/// `**` does not.
pub fn excluded(patterns: &[String], rel: &str, is_dir: bool) -> bool {
    patterns.iter().any(|pattern| {
        let dir_only = pattern.ends_with('/');
        if dir_only && !is_dir {
            return false;
        }
        let pattern = pattern.trim_end_matches('/');
        let whole = pattern.starts_with('/') || pattern.contains('/');
        let pattern = pattern.trim_start_matches('/');
        let subject = if whole {
            rel
        } else {
            rel.rsplit('/').next().unwrap_or(rel)
        };
        glob(pattern.as_bytes(), subject.as_bytes())
    })
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern {
        [] => text.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        [b'*', rest @ ..] => (0..=text.len())
            .take_while(|&i| i == 0 || text[i - 1] != b'/')
            .any(|i| glob(rest, &text[i..])),
        [b'?', rest @ ..] => matches!(text, [c, tail @ ..] if *c != b'/' && glob(rest, tail)),
        [c, rest @ ..] => matches!(text, [t, tail @ ..] if t == c && glob(rest, tail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn patterns_match_as_rsync_excludes_do() {
        let p = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(excluded(&p(&["*.log"]), "a/b/x.log", false));
        assert!(!excluded(&p(&["*.log"]), "a/b/x.txt", false));
        assert!(excluded(&p(&["target/"]), "sub/target", true));
        assert!(!excluded(&p(&["target/"]), "sub/target", false));
        assert!(excluded(&p(&["/build"]), "build", true));
        assert!(!excluded(&p(&["/build"]), "sub/build", true));
        assert!(excluded(&p(&["a/*.o"]), "a/x.o", false));
        assert!(!excluded(&p(&["a/*.o"]), "a/b/x.o", false));
        assert!(excluded(&p(&["a/**.o"]), "a/b/x.o", false));
        assert!(excluded(&p(&[".git"]), ".git", true));
        assert!(excluded(&p(&["fil?"]), "file", false));
    }

    #[test]
    fn copies_binary_files_symlinks_modes_and_times_and_overwrites() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let s = src.path();
        fs::create_dir_all(s.join("sub/deep")).unwrap();
        let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        fs::write(s.join("sub/deep/blob.bin"), &binary).unwrap();
        fs::write(s.join("run.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(s.join("run.sh"), fs::Permissions::from_mode(0o751)).unwrap();
        symlink("sub/deep/blob.bin", s.join("link")).unwrap();
        symlink("/nowhere/at/all", s.join("dangling")).unwrap();
        fs::create_dir(s.join("readonly")).unwrap();
        fs::write(s.join("readonly/inside"), "x").unwrap();
        fs::set_permissions(s.join("readonly"), fs::Permissions::from_mode(0o555)).unwrap();
        fs::write(s.join("skip.log"), "no").unwrap();

        let d = dst.path().join("copy");
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("run.sh"), "old").unwrap();
        fs::write(d.join("kept"), "mine").unwrap();
        let options = PushOptions {
            excludes: vec!["*.log".into()],
            files: None,
        };
        copy_tree(s, &d, &options).unwrap();

        assert_eq!(fs::read(d.join("sub/deep/blob.bin")).unwrap(), binary);
        assert_eq!(fs::read_to_string(d.join("run.sh")).unwrap(), "#!/bin/sh\n");
        let mode = |p: &Path| fs::symlink_metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(mode(&d.join("run.sh")), 0o751);
        assert_eq!(mode(&d.join("readonly")), 0o555);
        assert_eq!(
            fs::read_link(d.join("link")).unwrap(),
            Path::new("sub/deep/blob.bin")
        );
        assert_eq!(
            fs::read_link(d.join("dangling")).unwrap(),
            Path::new("/nowhere/at/all")
        );
        let mtime = |p: &Path| fs::metadata(p).unwrap().modified().unwrap();
        assert_eq!(
            mtime(&d.join("sub/deep/blob.bin")),
            mtime(&s.join("sub/deep/blob.bin"))
        );
        assert_eq!(fs::read_to_string(d.join("kept")).unwrap(), "mine");
        assert!(!d.join("skip.log").exists());
        let leftovers: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".mngr-copy."))
            .collect();
        assert!(leftovers.is_empty());
        fs::set_permissions(s.join("readonly"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(d.join("readonly"), fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn copies_only_listed_files_creating_their_directories() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        fs::create_dir_all(src.path().join("a/b")).unwrap();
        fs::write(src.path().join("a/b/one"), "1").unwrap();
        fs::write(src.path().join("two"), "2").unwrap();
        let options = PushOptions {
            excludes: vec![],
            files: Some(vec!["a/b/one".into(), "vanished".into()]),
        };
        copy_tree(src.path(), dst.path(), &options).unwrap();
        assert_eq!(fs::read_to_string(dst.path().join("a/b/one")).unwrap(), "1");
        assert!(!dst.path().join("two").exists());
        assert!(!dst.path().join("vanished").exists());
    }
}
