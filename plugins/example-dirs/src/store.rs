//! Small filesystem helpers: atomic writes, directory copies, timestamps.

use mngr_plugin_api::{ProviderError, ProviderResult};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn io_error(what: &str, path: &Path, err: std::io::Error) -> ProviderError {
    ProviderError::internal(format!("{what} {}: {err}", path.display()))
}

/// Write through a temporary file and a rename, so readers never see half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> ProviderResult<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| io_error("writing", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error("replacing", path, e))
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
    let secs = (nanos / 1_000_000_000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant's published algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
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
