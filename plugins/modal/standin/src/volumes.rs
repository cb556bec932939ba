//! Volumes (v2): a file is a list of content-addressed 8 MiB blocks. Blocks live as files in a
//! block store on disk, moved by the client over plain HTTP (`PUT`/`GET /block/<sha256>` on
//! loopback); the volume itself maps paths to block lists.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

pub const BLOCK_SIZE: u64 = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct StoredFile {
    pub size: u64,
    pub mtime: u64,
    pub blocks: Vec<[u8; 32]>,
}

pub struct Volume {
    pub name: String,
    pub created_at: f64,
    pub version: i32,
    /// By path without a leading `/`.
    pub files: BTreeMap<String, StoredFile>,
}

pub struct Volumes {
    blocks_dir: PathBuf,
    /// `http://127.0.0.1:PORT`, where the block store answers.
    pub http_base: String,
    by_id: Mutex<HashMap<String, Volume>>,
    by_name: Mutex<HashMap<(String, String), String>>,
}

/// A file to write, as `VolumePutFiles2` names it.
pub struct NewFile {
    pub path: String,
    pub size: u64,
    pub blocks: Vec<[u8; 32]>,
}

pub enum PutOutcome {
    /// (file index, block index, hash) of each block the store lacks; nothing was written.
    Missing(Vec<(usize, usize, [u8; 32])>),
    Written,
    Exists(String),
}

impl Volumes {
    pub fn new(blocks_dir: PathBuf, http_base: String) -> std::io::Result<Self> {
        std::fs::create_dir_all(&blocks_dir)?;
        Ok(Volumes {
            blocks_dir,
            http_base,
            by_id: Mutex::new(HashMap::new()),
            by_name: Mutex::new(HashMap::new()),
        })
    }

    /// The id of the named volume and whether this call created it.
    pub fn get_or_create(
        &self,
        environment: &str,
        name: &str,
        create: bool,
        version: i32,
    ) -> Option<(String, bool)> {
        let key = (environment.to_string(), name.to_string());
        let mut by_name = self.by_name.lock().unwrap();
        if let Some(id) = by_name.get(&key) {
            return Some((id.clone(), false));
        }
        if !create {
            return None;
        }
        let id = crate::ids::volume();
        let volume = Volume {
            name: name.to_string(),
            created_at: now_secs(),
            version,
            files: BTreeMap::new(),
        };
        self.by_id.lock().unwrap().insert(id.clone(), volume);
        by_name.insert(key, id.clone());
        Some((id, true))
    }

    pub fn with<T>(&self, id: &str, f: impl FnOnce(&mut Volume) -> T) -> Option<T> {
        self.by_id.lock().unwrap().get_mut(id).map(f)
    }

    pub fn delete(&self, id: &str) -> bool {
        let removed = self.by_id.lock().unwrap().remove(id).is_some();
        self.by_name.lock().unwrap().retain(|_, v| v != id);
        removed
    }

    /// Writes the files if every block is in the store, else names the missing ones.
    pub fn put(
        &self,
        id: &str,
        files: Vec<NewFile>,
        disallow_overwrite: bool,
    ) -> Option<PutOutcome> {
        let mut missing = Vec::new();
        for (file_index, file) in files.iter().enumerate() {
            for (block_index, hash) in file.blocks.iter().enumerate() {
                if !self.block_path(hash).exists() {
                    missing.push((file_index, block_index, *hash));
                }
            }
        }
        self.with(id, |volume| {
            if !missing.is_empty() {
                return PutOutcome::Missing(missing);
            }
            if disallow_overwrite
                && let Some(file) = files
                    .iter()
                    .find(|f| volume.files.contains_key(&normalize(&f.path)))
            {
                return PutOutcome::Exists(file.path.clone());
            }
            let mtime = now_secs() as u64;
            for file in files {
                let stored = StoredFile {
                    size: file.size,
                    mtime,
                    blocks: file.blocks,
                };
                volume.files.insert(normalize(&file.path), stored);
            }
            PutOutcome::Written
        })
    }

    /// Removes the file at `path`, or with `recursive` everything under it; says whether
    /// anything was there (`None`: no such volume).
    pub fn remove(&self, id: &str, path: &str, recursive: bool) -> Option<bool> {
        let path = normalize(path);
        let dir = format!("{path}/");
        self.with(id, |volume| {
            let before = volume.files.len();
            volume.files.retain(|p, _| {
                let inside = path.is_empty() || p.starts_with(&dir);
                !(p == &path || (recursive && inside))
            });
            before != volume.files.len()
        })
    }

    pub fn put_url(&self, hash: &[u8; 32]) -> String {
        format!("{}/block/{}", self.http_base, hex(hash))
    }

    /// A URL for bytes `from..to` of the block (the stored, zero-stripped bytes).
    pub fn get_url(&self, hash: &[u8; 32], from: u64, to: u64) -> String {
        format!("{}/block/{}?from={from}&to={to}", self.http_base, hex(hash))
    }

    /// Stores a block whose bytes hash to `name`.
    pub fn store_block(&self, name: &str, body: &[u8]) -> Result<(), String> {
        let actual = hex(&Sha256::digest(body).into());
        if actual != name {
            return Err(format!("block body hashes to {actual}, not {name}"));
        }
        let temp = self
            .blocks_dir
            .join(format!(".{name}.{}", uuid::Uuid::new_v4()));
        std::fs::write(&temp, body).map_err(|e| e.to_string())?;
        std::fs::rename(&temp, self.blocks_dir.join(name)).map_err(|e| e.to_string())
    }

    pub fn read_block(&self, name: &str) -> Option<Vec<u8>> {
        if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        std::fs::read(self.blocks_dir.join(name)).ok()
    }

    fn block_path(&self, hash: &[u8; 32]) -> PathBuf {
        self.blocks_dir.join(hex(hash))
    }
}

/// The byte range `start..start+len` of a file of `size` bytes (`len` 0: to the end), clamped
/// to the file, as (start, length, pieces); each piece is (block index, from, to) with offsets
/// inside that block.
pub fn block_ranges(size: u64, start: u64, len: u64) -> (u64, u64, Vec<(usize, u64, u64)>) {
    let start = start.min(size);
    let end = match len {
        0 => size,
        len => start.saturating_add(len).min(size),
    };
    let mut pieces = Vec::new();
    let mut pos = start;
    while pos < end {
        let index = pos / BLOCK_SIZE;
        let block_start = index * BLOCK_SIZE;
        let piece_end = (block_start + BLOCK_SIZE).min(end);
        pieces.push((index as usize, pos - block_start, piece_end - block_start));
        pos = piece_end;
    }
    (start, end - start, pieces)
}

/// Paths are kept without a leading `/`, as Modal lists them.
pub fn normalize(path: &str) -> String {
    path.trim_start_matches('/').to_string()
}

pub fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_written_only_once_its_blocks_are_stored() {
        let dir = tempfile::tempdir().unwrap();
        let volumes = Volumes::new(dir.path().join("blocks"), "http://127.0.0.1:1".into()).unwrap();
        let (id, created) = volumes.get_or_create("", "v", true, 2).unwrap();
        assert!(created);
        let hash: [u8; 32] = Sha256::digest(b"x").into();
        let file = || {
            vec![NewFile {
                path: "/a.txt".into(),
                size: 1,
                blocks: vec![hash],
            }]
        };
        assert!(
            matches!(volumes.put(&id, file(), true), Some(PutOutcome::Missing(m)) if m.len() == 1)
        );
        assert!(volumes.store_block(&hex(&hash), b"y").is_err());
        volumes.store_block(&hex(&hash), b"x").unwrap();
        assert!(matches!(
            volumes.put(&id, file(), true),
            Some(PutOutcome::Written)
        ));
        assert!(matches!(
            volumes.put(&id, file(), true),
            Some(PutOutcome::Exists(_))
        ));
        assert_eq!(volumes.with(&id, |v| v.files["a.txt"].size), Some(1));
        assert_eq!(volumes.read_block(&hex(&hash)).unwrap(), b"x");
        assert_eq!(volumes.remove(&id, "/a.txt", false), Some(true));
        assert_eq!(volumes.remove(&id, "/a.txt", false), Some(false));
    }

    #[test]
    fn a_range_is_cut_at_block_boundaries() {
        let size = 2 * BLOCK_SIZE + 10;
        assert_eq!(
            block_ranges(size, 0, 0),
            (
                0,
                size,
                vec![(0, 0, BLOCK_SIZE), (1, 0, BLOCK_SIZE), (2, 0, 10)]
            )
        );
        let (start, len, pieces) = block_ranges(size, BLOCK_SIZE - 1, 3);
        assert_eq!((start, len), (BLOCK_SIZE - 1, 3));
        assert_eq!(pieces, vec![(0, BLOCK_SIZE - 1, BLOCK_SIZE), (1, 0, 2)]);
        assert_eq!(block_ranges(5, 9, 0), (5, 0, vec![]));
    }
}
