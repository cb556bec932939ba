//! Small filesystem helpers: atomic writes, directory copies, timestamps.

use mngr_plugin_api::{ProviderError, ProviderResult};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn io_error(what: &str, path: &Path, err: std::io::Error) -> ProviderError {
    ProviderError::internal(format!("{what} {}: {err}", path.display()))
}

/// Write through a temporary file and a rename (plugin-api's atomic write), so readers never
/// see half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> ProviderResult<()> {
    mngr_plugin_api::fs::write_atomic(path, bytes, 0o644).map_err(|e| io_error("writing", path, e))
}

/// Copy a directory tree (files, directories and symlinks).
pub fn copy_dir(from: &Path, to: &Path) -> ProviderResult<u64> {
    std::fs::create_dir_all(to).map_err(|e| io_error("creating", to, e))?;
    let mut bytes = 0;
    let entries = std::fs::read_dir(from).map_err(|e| io_error("reading", from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_error("reading", from, e))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|e| io_error("inspecting", &src, e))?;
        if kind.is_dir() {
            bytes += copy_dir(&src, &dst)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&src).map_err(|e| io_error("reading", &src, e))?;
            std::os::unix::fs::symlink(&target, &dst).map_err(|e| io_error("linking", &dst, e))?;
        } else {
            bytes += std::fs::copy(&src, &dst).map_err(|e| io_error("copying", &src, e))?;
        }
    }
    Ok(bytes)
}

/// Remove a directory tree; already gone is fine.
pub fn remove_dir(path: &Path) -> ProviderResult<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("removing", path, e)),
    }
}

/// Nanoseconds since the epoch: orders snapshots made within one second.
pub fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// ISO-8601 UTC (`2026-11-23T19:04:05Z`) for a time in nanoseconds since the epoch.
pub fn iso_utc(nanos: u128) -> String {
    mngr_plugin_api::time::iso8601_utc((nanos / 1_000_000_000) as i64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates() {
        assert_eq!(super::iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::iso_utc(1_795_461_845 * 1_000_000_000),
            "2026-11-23T19:24:05Z"
        );
    }
}
