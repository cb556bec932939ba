//! Where mngr keeps its files on this machine, and how it writes them: private directories and
//! the one atomic write of the host. The whole root is relocatable with `MNGR_ROOT`, so tests and
//! users can keep separate worlds.

use std::path::{Path, PathBuf};

/// `MNGR_ROOT`, else `~/.mngr`.
pub fn mngr_root() -> PathBuf {
    if let Some(root) = std::env::var_os("MNGR_ROOT").filter(|v| !v.is_empty()) {
        return PathBuf::from(root);
    }
    home_dir().join(".mngr")
}

pub use mngr_plugin_api::fs::{expand_tilde, home_dir};

/// The directory of plugin libraries inside the root.
pub fn user_plugin_dir() -> PathBuf {
    mngr_root().join("plugins")
}

/// Per-instance state on this machine (keys, caches): `<root>/providers/<instance>`.
pub fn provider_state_dir(instance: &str) -> PathBuf {
    mngr_root().join("providers").join(instance)
}

/// Make `dir` and any missing parents, each `0700`: what mngr keeps (records, env files, keys)
/// may hold secrets. An existing `dir` that others can enter (made by an older mngr, say) is
/// narrowed to `0700` when it is ours alone to narrow: owned by this user, not sticky (as
/// `/tmp` is), not `/` or the home directory. Existing parents are left as they are.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    let mode = meta.permissions().mode();
    // SAFETY: geteuid has no preconditions.
    let ours = meta.uid() == unsafe { libc::geteuid() };
    let shared = mode & 0o1000 != 0 || dir == Path::new("/") || dir == home_dir();
    if mode & 0o077 != 0 && ours && !shared {
        // Best effort: the files inside are private either way.
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700));
    }
    Ok(())
}

/// Write `data` to `path` atomically (plugin-api's one atomic write). Without a `mode` the
/// file is `0600`, and directories it needs are `0700` (see [`private_dir`]): mngr's files may
/// hold secrets.
pub fn write_atomic(path: &Path, data: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        private_dir(parent)?;
    }
    mngr_plugin_api::fs::write_atomic(path, data, mode.unwrap_or(0o600))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn private_dirs_are_made_0700_and_open_ones_narrowed_but_never_shared_ones() {
        let base = tempfile::tempdir().unwrap();
        let made = base.path().join("a/b");
        private_dir(&made).unwrap();
        assert_eq!(mode(&made), 0o700);
        assert_eq!(mode(&base.path().join("a")), 0o700);
        let open = base.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&open).unwrap();
        assert_eq!(mode(&open), 0o700);
        // A sticky directory is shared, as /tmp is: left alone.
        let shared = base.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        private_dir(&shared).unwrap();
        assert_eq!(mode(&shared), 0o1777);
    }
}
