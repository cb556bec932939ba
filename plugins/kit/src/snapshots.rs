//! Snapshots as the host record keeps them ([`HostSnapshot`]): names, lookup by id, id prefix
//! or name, and listing newest first. Taking and restoring them is the provider's.

use crate::record::HostSnapshot;
use mngr_plugin_api::{ProviderError, ProviderResult, SnapshotInfo};

/// The shortest id prefix that finds a snapshot (`sha256:` not counted).
const MIN_ID_PREFIX: usize = 6;
const MAX_NAME_LEN: usize = 60;

pub fn info(s: &HostSnapshot) -> SnapshotInfo {
    SnapshotInfo::new(s.id.clone(), s.name.clone(), s.created_at.clone())
}

/// Up to 60 letters, digits, `-`, `_` or `.`, starting with a letter or digit (valid in an
/// image tag and a file name alike).
pub fn check_name(name: &str) -> ProviderResult<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(ProviderError::invalid_input(format!(
            "invalid snapshot name '{name}': use up to 60 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )))
    }
}

/// A name for a snapshot the user did not name.
pub fn generated_name() -> String {
    format!(
        "snapshot-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// The name a new snapshot of host `host_name` gets: the `requested` one, checked, or a
/// generated one; refused when a snapshot in `taken` (the host's own) already has it.
pub fn new_name(
    requested: Option<&str>,
    host_name: &str,
    taken: &[HostSnapshot],
) -> ProviderResult<String> {
    let name = requested.map(str::to_string).unwrap_or_else(generated_name);
    check_name(&name)?;
    if taken.iter().any(|s| s.name == name) {
        return Err(ProviderError::already_exists(format!(
            "host '{host_name}' already has a snapshot named '{name}'"
        )));
    }
    Ok(name)
}

/// The snapshot `wanted` names, by id, name or id prefix (of at least six characters), in the
/// order the snapshots come.
pub fn resolve<'a>(
    wanted: &str,
    snapshots: impl IntoIterator<Item = &'a HostSnapshot>,
) -> ProviderResult<HostSnapshot> {
    let short = wanted.trim_start_matches("sha256:");
    snapshots
        .into_iter()
        .find(|s| {
            let id = s.id.trim_start_matches("sha256:");
            s.id == wanted
                || s.name == wanted
                || (short.len() >= MIN_ID_PREFIX && id.starts_with(short))
        })
        .cloned()
        .ok_or_else(|| {
            ProviderError::not_found(format!("no snapshot '{wanted}'"))
                .with_hint("list snapshots with: mngr snapshot list AGENT")
        })
}

/// The list `list_snapshots` answers with: newest first.
pub fn newest_first(snapshots: &[HostSnapshot]) -> Vec<SnapshotInfo> {
    let mut list: Vec<SnapshotInfo> = snapshots.iter().map(info).collect();
    list.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    list
}

/// The newest snapshot, if any.
pub fn newest(snapshots: &[HostSnapshot]) -> Option<&HostSnapshot> {
    snapshots
        .iter()
        .max_by(|a, b| a.created_at.cmp(&b.created_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, name: &str, at: &str) -> HostSnapshot {
        HostSnapshot::new(id, name, at)
    }

    #[test]
    fn found_by_id_name_or_a_long_enough_id_prefix() {
        let all = [
            snap("sha256:abcdef123456", "first", "2024-01-01T00:00:00Z"),
            snap("sha256:0123456789ab", "second", "2024-02-01T00:00:00Z"),
        ];
        assert_eq!(resolve("sha256:abcdef123456", &all).unwrap().name, "first");
        assert_eq!(resolve("second", &all).unwrap().name, "second");
        assert_eq!(resolve("012345", &all).unwrap().name, "second");
        assert_eq!(resolve("sha256:abcdef", &all).unwrap().name, "first");
        let err = resolve("01234", &all).unwrap_err();
        assert_eq!(err.kind, mngr_plugin_api::ErrorKind::NotFound);
        assert!(
            err.message.contains("no snapshot '01234'"),
            "{}",
            err.message
        );
    }

    #[test]
    fn listed_newest_first() {
        let all = [
            snap("a", "old", "2024-01-01T00:00:00Z"),
            snap("c", "newest", "2024-03-01T00:00:00Z"),
            snap("b", "mid", "2024-02-01T00:00:00Z"),
        ];
        let names: Vec<String> = newest_first(&all).into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["newest", "mid", "old"]);
        assert_eq!(newest(&all).unwrap().name, "newest");
        assert!(newest(&[]).is_none());
    }

    #[test]
    fn names_are_checked() {
        for good in ["a", "nightly-2024.01_x", &"x".repeat(60)] {
            check_name(good).unwrap();
        }
        for bad in [
            "",
            "-lead",
            ".dot",
            "has space",
            "semi;colon",
            &"x".repeat(61),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        let taken = [snap("a", "nightly", "2024-01-01T00:00:00Z")];
        assert_eq!(new_name(Some("weekly"), "box", &taken).unwrap(), "weekly");
        let err = new_name(Some("nightly"), "box", &taken).unwrap_err();
        assert_eq!(err.kind, mngr_plugin_api::ErrorKind::AlreadyExists);
        assert_eq!(
            err.message,
            "host 'box' already has a snapshot named 'nightly'"
        );
        assert!(new_name(Some("-bad"), "box", &taken).is_err());
        check_name(&new_name(None, "box", &taken).unwrap()).unwrap();
        let generated = generated_name();
        check_name(&generated).unwrap();
        assert_eq!(generated.len(), "snapshot-".len() + 12);
    }
}
