//! Where mngr keeps its files on this machine. The whole root is relocatable with `MNGR_ROOT`,
//! so tests and users can keep separate worlds.

use std::path::{Path, PathBuf};

/// `MNGR_ROOT`, else `~/.mngr`.
pub fn mngr_root() -> PathBuf {
    if let Some(root) = std::env::var_os("MNGR_ROOT").filter(|v| !v.is_empty()) {
        return PathBuf::from(root);
    }
    home_dir().join(".mngr")
}

pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// `~` or `~/...` expanded against `$HOME`.
pub fn expand_tilde(path: &str) -> PathBuf {
    if path == "~" {
        home_dir()
    } else if let Some(rest) = path.strip_prefix("~/") {
        home_dir().join(rest)
    } else {
        PathBuf::from(path)
    }
}

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
/// narrowed to `0700`; existing parents are left as they are.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}
