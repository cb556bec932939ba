//! `VolumeListFiles2`: a volume keeps only files, so directories are the prefixes of their paths.

use crate::volumes::StoredFile;
use mngr_modal_proto::client::FileEntry;
use mngr_modal_proto::client::file_entry::FileType;
use std::collections::{BTreeMap, BTreeSet};

/// The entries under `prefix` ("" = the root), one level deep unless `recursive`; a prefix
/// naming a file lists that file. Paths come back without a leading `/`, as Modal sends them.
pub fn entries(
    files: &BTreeMap<String, StoredFile>,
    prefix: &str,
    recursive: bool,
) -> Result<Vec<FileEntry>, String> {
    let prefix = prefix.trim_end_matches('/');
    if let Some(file) = files.get(prefix) {
        return Ok(vec![file_entry(prefix, file)]);
    }
    let dir = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    let mut dirs = BTreeSet::new();
    let mut out = Vec::new();
    for (path, file) in files
        .range(dir.clone()..)
        .take_while(|(p, _)| p.starts_with(&dir))
    {
        let parts: Vec<&str> = path[dir.len()..].split('/').collect();
        if recursive {
            for level in 1..parts.len() {
                dirs.insert(format!("{dir}{}", parts[..level].join("/")));
            }
            out.push(file_entry(path, file));
        } else if parts.len() == 1 {
            out.push(file_entry(path, file));
        } else {
            dirs.insert(format!("{dir}{}", parts[0]));
        }
    }
    if out.is_empty() && dirs.is_empty() && !prefix.is_empty() {
        return Err(format!("No such file or directory: {prefix}"));
    }
    out.extend(dirs.into_iter().map(|path| FileEntry {
        path,
        r#type: FileType::Directory.into(),
        mtime: 0,
        size: 0,
    }));
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn file_entry(path: &str, file: &StoredFile) -> FileEntry {
    FileEntry {
        path: path.to_string(),
        r#type: FileType::File.into(),
        mtime: file.mtime,
        size: file.size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(paths: &[&str]) -> BTreeMap<String, StoredFile> {
        paths
            .iter()
            .map(|p| {
                (
                    p.to_string(),
                    StoredFile {
                        size: 1,
                        mtime: 0,
                        blocks: Vec::new(),
                    },
                )
            })
            .collect()
    }

    fn paths(entries: Vec<FileEntry>) -> Vec<String> {
        entries.into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn lists_one_level_or_all_levels() {
        let files = files(&["a.txt", "d/b.txt", "d/e/c.txt"]);
        assert_eq!(paths(entries(&files, "", false).unwrap()), ["a.txt", "d"]);
        assert_eq!(
            paths(entries(&files, "d", false).unwrap()),
            ["d/b.txt", "d/e"]
        );
        assert_eq!(
            paths(entries(&files, "/", true).unwrap()),
            ["a.txt", "d", "d/b.txt", "d/e", "d/e/c.txt"]
        );
        assert_eq!(paths(entries(&files, "a.txt", false).unwrap()), ["a.txt"]);
        assert!(entries(&files, "nope", false).is_err());
    }
}
