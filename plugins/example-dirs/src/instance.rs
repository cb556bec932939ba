//! A `dirs` provider instance: every host is a directory under `base_dir`.

use crate::store::{copy_dir, io_error, iso_utc, now_nanos, remove_dir, write_atomic};
use mngr_plugin_api::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct DirsInstance {
    name: String,
    base_dir: PathBuf,
    /// The host's progress and log lines (through the FFI layer when loaded as a plugin).
    services: Arc<dyn HostServices>,
}

/// `host.json`: what the directory itself cannot tell.
#[derive(Serialize, Deserialize)]
struct StoredHost {
    id: HostId,
    name: HostName,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    created_at: String,
}

/// `snapshots/<id>/snapshot.json`.
#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    id: String,
    name: String,
    created_at: String,
    /// Orders snapshots taken within the same second.
    created_nanos: u128,
    size_bytes: u64,
}

impl DirsInstance {
    pub fn new(name: String, base_dir: PathBuf, services: Arc<dyn HostServices>) -> Self {
        DirsInstance {
            name,
            base_dir,
            services,
        }
    }

    fn host_path(&self, id: &HostId) -> PathBuf {
        self.base_dir.join(id.as_str())
    }
    fn root(&self, id: &HostId) -> PathBuf {
        self.host_path(id).join("root")
    }
    fn record_path(&self, id: &HostId) -> PathBuf {
        self.host_path(id).join("host.json")
    }
    fn stopped_marker(&self, id: &HostId) -> PathBuf {
        self.host_path(id).join("stopped")
    }
    fn snapshots_dir(&self, id: &HostId) -> PathBuf {
        self.host_path(id).join("snapshots")
    }
    fn names_dir(&self) -> PathBuf {
        self.base_dir.join(".names")
    }
    fn name_claim(&self, name: &HostName) -> PathBuf {
        self.names_dir().join(name.as_str())
    }

    fn not_found(&self, what: &str) -> ProviderError {
        ProviderError::not_found(format!("no host '{what}' on provider '{}'", self.name))
    }

    fn read_stored(&self, id: &HostId) -> ProviderResult<StoredHost> {
        let path = self.record_path(id);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                ProviderError::internal(format!("{}: {e}", path.display()))
                    .with_hint("the host record is damaged; destroy the host and create it again")
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(self.not_found(id.as_str())),
            Err(e) => Err(io_error("reading", &path, e)),
        }
    }

    fn write_stored(&self, stored: &StoredHost) -> ProviderResult<()> {
        let body = serde_json::to_vec_pretty(stored).expect("host record serializes");
        write_atomic(&self.record_path(&stored.id), &body)
    }

    fn record(&self, stored: StoredHost) -> HostRecord {
        let stopped = self.stopped_marker(&stored.id).exists();
        let root = self.root(&stored.id);
        let state = if stopped {
            HostState::Stopped
        } else {
            HostState::Running
        };
        let path = self.host_path(&stored.id).to_string_lossy().into_owned();
        let mut record = HostRecord::new(
            stored.id,
            stored.name,
            self.name.clone(),
            state,
            root.to_string_lossy(),
        )
        .with_tags(stored.tags)
        .with_created_at(stored.created_at)
        .with_details(BTreeMap::from([("path".to_string(), path.into())]));
        record.image = stored.image;
        record.stop_reason = stopped.then_some(StopReason::Stopped);
        record
    }

    /// The host id a name is claimed by, if the claim is live.
    fn claimed_by(&self, name: &HostName) -> Option<HostId> {
        let text = std::fs::read_to_string(self.name_claim(name)).ok()?;
        let id = HostId::parse(text.trim()).ok()?;
        self.record_path(&id).exists().then_some(id)
    }

    /// Claim a name for a host atomically; a stale claim (its host is gone) is taken over.
    fn claim_name(&self, name: &HostName, id: &HostId) -> ProviderResult<()> {
        let dir = self.names_dir();
        std::fs::create_dir_all(&dir).map_err(|e| io_error("creating", &dir, e))?;
        let path = self.name_claim(name);
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    return file
                        .write_all(id.as_str().as_bytes())
                        .map_err(|e| io_error("writing", &path, e));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if let Some(owner) = self.claimed_by(name) {
                        return Err(ProviderError::already_exists(format!(
                            "a host named '{name}' already exists on provider '{}' ({owner})",
                            self.name
                        ))
                        .with_hint("choose another name, or destroy the existing host first"));
                    }
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(io_error("creating", &path, e)),
            }
        }
        Err(ProviderError::internal(format!(
            "could not claim the name '{name}' in {}",
            dir.display()
        )))
    }

    fn release_name(&self, name: &HostName, id: &HostId) {
        let path = self.name_claim(name);
        if std::fs::read_to_string(&path).is_ok_and(|owner| owner.trim() == id.as_str()) {
            let _ = std::fs::remove_file(path);
        }
    }

    fn find_snapshot(&self, snapshot_id: &str) -> ProviderResult<PathBuf> {
        for host in self.discover_hosts(false)? {
            let path = self.snapshots_dir(&host.id).join(snapshot_id);
            if path.join("snapshot.json").exists() {
                return Ok(path.join("root"));
            }
        }
        Err(ProviderError::not_found(format!(
            "no snapshot '{snapshot_id}' on provider '{}'",
            self.name
        )))
    }

    /// Fill a new host's root directory as the request asks.
    fn populate(&self, id: &HostId, request: &CreateHostRequest) -> ProviderResult<()> {
        let root = self.root(id);
        if let Some(snapshot) = &request.snapshot {
            copy_dir(&self.find_snapshot(snapshot)?, &root)?;
        } else if let Some(image) = &request.image {
            let image = Path::new(image);
            if !image.is_dir() {
                return Err(ProviderError::invalid_input(format!(
                    "image '{}' is not a directory; the dirs backend copies a directory as the image",
                    image.display()
                )));
            }
            copy_dir(image, &root)?;
        } else {
            std::fs::create_dir_all(&root).map_err(|e| io_error("creating", &root, e))?;
        }
        if let Some(note) = request.flags.get("note") {
            let text = note
                .as_str()
                .ok_or_else(|| ProviderError::invalid_input("--note takes text".to_string()))?;
            let path = root.join("NOTE.txt");
            std::fs::write(&path, text).map_err(|e| io_error("writing", &path, e))?;
        }
        Ok(())
    }

    fn check_request(request: &CreateHostRequest) -> ProviderResult<()> {
        if let Some(arg) = request.build_args.first().or(request.start_args.first()) {
            return Err(ProviderError::invalid_input(format!(
                "the dirs backend takes no build or start arguments (got '{arg}')"
            )));
        }
        if let Some(flag) = request.flags.keys().find(|k| k.as_str() != "note") {
            return Err(ProviderError::invalid_input(format!(
                "the dirs backend has no flag '--{flag}'; its only flag is --note"
            )));
        }
        Ok(())
    }
}

impl ProviderInstance for DirsInstance {
    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::none();
        caps.snapshots = true;
        caps.stop_start = true;
        caps.mutable_tags = true;
        caps.rename = true;
        caps.create_hosts = true;
        caps.destroy_hosts = true;
        caps
    }

    fn create_host(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
        Self::check_request(&request)?;
        self.services.progress(&format!(
            "creating directory host '{}' in {}",
            request.name,
            self.base_dir.display()
        ));
        let id = HostId::generate();
        self.claim_name(&request.name, &id)?;
        let made = self.populate(&id, &request).and_then(|()| {
            let stored = StoredHost {
                id: id.clone(),
                name: request.name.clone(),
                image: request.image.clone(),
                tags: request.tags.clone(),
                created_at: iso_utc(now_nanos()),
            };
            // The record is written last: a host exists once its record does.
            self.write_stored(&stored)?;
            Ok(stored)
        });
        match made {
            Ok(stored) => Ok(self.record(stored)),
            Err(err) => {
                // Leave nothing half-made behind.
                let _ = remove_dir(&self.host_path(&id));
                self.release_name(&request.name, &id);
                Err(err)
            }
        }
    }

    fn stop_host(&self, host: &HostId) -> ProviderResult<()> {
        self.read_stored(host)?;
        let marker = self.stopped_marker(host);
        std::fs::write(&marker, b"").map_err(|e| io_error("writing", &marker, e))
    }

    fn start_host(&self, host: &HostId, snapshot: Option<&str>) -> ProviderResult<HostRecord> {
        let stored = self.read_stored(host)?;
        if let Some(snapshot_id) = snapshot {
            let source = self.snapshots_dir(host).join(snapshot_id).join("root");
            if !source.is_dir() {
                return Err(ProviderError::not_found(format!(
                    "no snapshot '{snapshot_id}' of host '{host}'"
                )));
            }
            let root = self.root(host);
            remove_dir(&root)?;
            copy_dir(&source, &root)?;
        }
        match std::fs::remove_file(self.stopped_marker(host)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("removing", &self.stopped_marker(host), e)),
        }
        Ok(self.record(stored))
    }

    fn destroy_host(&self, host: &HostId) -> ProviderResult<()> {
        let name = self.read_stored(host).ok().map(|s| s.name);
        // Remove the record first, so a half-finished destroy never looks like a live host.
        match std::fs::remove_file(self.record_path(host)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("removing", &self.record_path(host), e)),
        }
        remove_dir(&self.host_path(host))?;
        if let Some(name) = name {
            self.release_name(&name, host);
        }
        Ok(())
    }

    fn delete_host(&self, host: &HostId) -> ProviderResult<()> {
        // Destroy keeps nothing, so there is nothing more to forget.
        self.destroy_host(host)
    }

    fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
        let id = match HostId::parse(id_or_name) {
            Ok(id) => id,
            Err(_) => HostName::parse(id_or_name)
                .ok()
                .and_then(|name| self.claimed_by(&name))
                .ok_or_else(|| self.not_found(id_or_name))?,
        };
        Ok(self.record(self.read_stored(&id)?))
    }

    fn discover_hosts(&self, _include_destroyed: bool) -> ProviderResult<Vec<HostRecord>> {
        let entries = match std::fs::read_dir(&self.base_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("reading", &self.base_dir, e)),
        };
        let mut hosts = Vec::new();
        for entry in entries.flatten() {
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| HostId::parse(n).ok())
            else {
                continue;
            };
            match self.read_stored(&id) {
                Ok(stored) => hosts.push(self.record(stored)),
                // Half-made or half-destroyed: not a host.
                Err(e) if e.kind == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(hosts)
    }

    fn host_access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        self.read_stored(host)?;
        Ok(HostAccess::local(self.root(host).to_string_lossy()))
    }

    fn create_snapshot(&self, host: &HostId, name: Option<&str>) -> ProviderResult<SnapshotInfo> {
        self.read_stored(host)?;
        let id = format!("snap-{}", uuid::Uuid::new_v4().simple());
        let dir = self.snapshots_dir(host).join(&id);
        let size = copy_dir(&self.root(host), &dir.join("root")).inspect_err(|_| {
            let _ = remove_dir(&dir);
        })?;
        let nanos = now_nanos();
        let stored = StoredSnapshot {
            name: name.map(str::to_string).unwrap_or_else(|| id.clone()),
            id,
            created_at: iso_utc(nanos),
            created_nanos: nanos,
            size_bytes: size,
        };
        write_atomic(
            &dir.join("snapshot.json"),
            &serde_json::to_vec_pretty(&stored).expect("snapshot serializes"),
        )?;
        Ok(snapshot_info(stored))
    }

    fn list_snapshots(&self, host: &HostId) -> ProviderResult<Vec<SnapshotInfo>> {
        self.read_stored(host)?;
        let dir = self.snapshots_dir(host);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("reading", &dir, e)),
        };
        let mut snapshots: Vec<StoredSnapshot> = entries
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("snapshot.json")).ok())
            .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
            .collect();
        snapshots.sort_by_key(|s| std::cmp::Reverse(s.created_nanos));
        Ok(snapshots.into_iter().map(snapshot_info).collect())
    }

    fn delete_snapshot(&self, host: &HostId, snapshot_id: &str) -> ProviderResult<()> {
        self.read_stored(host)?;
        let dir = self.snapshots_dir(host).join(snapshot_id);
        if snapshot_id.contains(['/', '.']) || !dir.join("snapshot.json").exists() {
            return Err(ProviderError::not_found(format!(
                "no snapshot '{snapshot_id}' of host '{host}'"
            )));
        }
        remove_dir(&dir)
    }

    fn get_tags(&self, host: &HostId) -> ProviderResult<BTreeMap<String, String>> {
        Ok(self.read_stored(host)?.tags)
    }

    fn set_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        let mut stored = self.read_stored(host)?;
        stored.tags = tags;
        self.write_stored(&stored)
    }

    fn rename_host(&self, host: &HostId, new_name: &HostName) -> ProviderResult<HostRecord> {
        let mut stored = self.read_stored(host)?;
        if stored.name == *new_name {
            return Ok(self.record(stored));
        }
        self.claim_name(new_name, host)?;
        let old = std::mem::replace(&mut stored.name, new_name.clone());
        if let Err(err) = self.write_stored(&stored) {
            self.release_name(new_name, host);
            return Err(err);
        }
        self.release_name(&old, host);
        Ok(self.record(stored))
    }
}

fn snapshot_info(stored: StoredSnapshot) -> SnapshotInfo {
    SnapshotInfo::new(stored.id, stored.name, stored.created_at).with_size_bytes(stored.size_bytes)
}
