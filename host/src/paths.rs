//! Where mngr keeps its files on this machine. The whole root is relocatable with `MNGR_ROOT`,
//! so tests and users can keep separate worlds.

use std::path::PathBuf;

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
