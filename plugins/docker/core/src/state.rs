//! The state volume: every host record and persisted agent record of an instance lives on a
//! named volume on the daemon, served by a small always-on state container. Any mngr pointed
//! at the same daemon (and prefix and instance name) therefore sees the same hosts; mngr keeps
//! nothing but a copy of each client key.
//!
//! Layout under `/mngr-state`:
//! `host_state/<host_id>.json` (the host record) and `host_state/<host_id>/<agent_id>.json`
//! (agent records, for listing while the host is stopped), `host_state/<host_id>/host_data.json`
//! (a copy of the host's data.json).

use crate::engine::Engine;
use crate::images::missing_image;
use crate::labels;
use bollard::models::{ContainerCreateBody, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::query_parameters::CreateContainerOptions;
use mngr_plugin_api::shell::quote as shell_quote;
use mngr_plugin_api::{AgentId, PersistedAgentRecord};
use mngr_plugin_api::{ErrorKind, ProviderError, ProviderResult};
use mngr_provider_kit::agents::AgentBlobStore;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

const ROOT: &str = "/mngr-state";

/// The command of the state container: idle until stopped.
const STATE_CONTAINER_CMD: &str = "trap 'exit 0' TERM; tail -f /dev/null & wait";

pub struct StateStore {
    engine: Engine,
    /// Container and volume share this name: `<prefix>docker-state-<instance>`.
    pub name: String,
    instance: String,
    image: String,
    ready: AtomicBool,
    /// Held while the state container is looked up or made, so concurrent steps of one
    /// operation wait for each other instead of racing to create it.
    init: tokio::sync::Mutex<()>,
}

impl StateStore {
    pub fn new(engine: Engine, prefix: &str, instance: &str, image: &str) -> StateStore {
        StateStore {
            engine,
            name: format!("{prefix}docker-state-{instance}"),
            instance: instance.to_string(),
            image: image.to_string(),
            ready: AtomicBool::new(false),
            init: tokio::sync::Mutex::new(()),
        }
    }

    /// Make sure the state container runs. With `create == false` (read paths) a store that
    /// was never made answers `Ok(false)`; a volume whose container is missing (removed by
    /// hand) gets its container back, so its hosts are not silently lost from view.
    ///
    /// Other mngr processes may be making or removing the same container at the same time:
    /// a conflict or a container that vanished between two calls means someone else acted,
    /// so look again, a bounded number of times.
    pub async fn ensure(&self, create: bool) -> ProviderResult<bool> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(true);
        }
        let _init = self.init.lock().await;
        if self.ready.load(Ordering::Acquire) {
            return Ok(true);
        }
        let mut last = String::new();
        for attempt in 0..ENSURE_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let inspect = self.engine.docker.inspect_container(&self.name, None).await;
            match inspect {
                Ok(info) => {
                    if info.state.and_then(|s| s.running).unwrap_or(false) {
                        self.ready.store(true, Ordering::Release);
                        return Ok(true);
                    }
                    // Our own infrastructure: bring it back rather than fail the listing.
                    match self.start().await {
                        Ok(()) => {
                            self.ready.store(true, Ordering::Release);
                            return Ok(true);
                        }
                        Err(e) if someone_else(&e) => last = e.message,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => {
                    let err = self.engine.error("looking up the state container", e);
                    if err.kind != ErrorKind::NotFound {
                        return Err(err);
                    }
                    if !create && !self.volume_kept().await? {
                        return Ok(false);
                    }
                    match self.create_container().await {
                        Ok(()) => {
                            self.ready.store(true, Ordering::Release);
                            return Ok(true);
                        }
                        Err(e) if someone_else(&e) => last = e.message,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Err(ProviderError::internal(format!(
            "the state container {} could not be brought up: it kept changing under this mngr ({last})",
            self.name
        ))
        .with_hint("another mngr may be removing it; try again"))
    }

    /// Whether the state volume exists and stays: a volume whose container is missing is
    /// either being removed by another mngr (it goes a moment later) or was left by someone
    /// removing the container by hand.
    async fn volume_kept(&self) -> ProviderResult<bool> {
        for wait in [0, 300] {
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            let found = self
                .engine
                .unless_gone(
                    "looking up the state volume",
                    self.engine.docker.inspect_volume(&self.name),
                )
                .await?;
            if found.is_none() {
                return Ok(false);
            }
        }
        if let Some(services) = &self.engine.services {
            services.log(
                mngr_plugin_api::LogLevel::Warn,
                &format!(
                    "the state container {} was missing (its volume is intact): recreating it",
                    self.name
                ),
            );
        }
        Ok(true)
    }

    async fn start(&self) -> ProviderResult<()> {
        let started = self.engine.docker.start_container(&self.name, None).await;
        match started {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => {
                let err = self.engine.error("starting the state container", e);
                if err.message.contains("already started") {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Run a step against the state container. If the container went away or stopped under
    /// it (another mngr removed the store, or someone did by hand), look again once: with
    /// `create` the store is made anew; without, a store that is gone answers `None`.
    async fn on_store<T, F, Fut>(&self, create: bool, step: F) -> ProviderResult<Option<T>>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ProviderResult<T>>,
    {
        match step().await {
            Err(e) if container_unusable(&e) => {
                self.ready.store(false, Ordering::Release);
                if !self.ensure(create).await? {
                    return Ok(None);
                }
                step().await.map(Some)
            }
            other => other.map(Some),
        }
    }

    async fn create_container(&self) -> ProviderResult<()> {
        let image_ok = self.engine.docker.inspect_image(&self.image).await;
        if let Err(e) = image_ok {
            let err = self.engine.error("looking up the state image", e);
            return Err(if err.kind == ErrorKind::NotFound {
                missing_image(&self.image)
            } else {
                err
            });
        }
        let labels = HashMap::from([
            (
                labels::TYPE.to_string(),
                labels::STATE_CONTAINER.to_string(),
            ),
            (labels::PROVIDER.to_string(), self.instance.clone()),
        ]);
        let body = ContainerCreateBody {
            image: Some(self.image.clone()),
            entrypoint: Some(vec!["sh".into(), "-c".into()]),
            cmd: Some(vec![STATE_CONTAINER_CMD.to_string()]),
            labels: Some(labels),
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{}:{ROOT}:rw", self.name)]),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(self.name.clone()),
            ..Default::default()
        };
        // The volume is made (labelled) first, so it is findable as mngr's from its first moment.
        let volume = bollard::models::VolumeCreateRequest {
            name: Some(self.name.clone()),
            labels: Some(HashMap::from([
                (labels::TYPE.to_string(), labels::STATE_VOLUME.to_string()),
                (labels::PROVIDER.to_string(), self.instance.clone()),
            ])),
            ..Default::default()
        };
        self.engine
            .call(
                "creating the state volume",
                self.engine.docker.create_volume(volume),
            )
            .await?;
        self.engine
            .call(
                "creating the state container",
                self.engine.docker.create_container(Some(options), body),
            )
            .await?;
        self.start().await
    }

    /// Run a script in the state container; a store that is gone has nothing to change.
    async fn exec_ok(&self, what: &str, script: &str) -> ProviderResult<Vec<u8>> {
        let ran = self
            .on_store(false, || self.engine.exec(&self.name, script))
            .await?;
        let Some((code, output)) = ran else {
            return Ok(Vec::new());
        };
        if code != 0 {
            return Err(ProviderError::internal(format!(
                "{what} on the state volume failed (exit {code}): {}",
                String::from_utf8_lossy(&output).trim()
            )));
        }
        Ok(output)
    }

    /// Write files through the Engine's archive API (no process is started in the container,
    /// which makes a write a few milliseconds). Readers never act on a half-written record:
    /// they re-read anything that does not parse (see [`StateStore::read_tree`]).
    async fn write_files(&self, files: &[(String, Vec<u8>)]) -> ProviderResult<()> {
        self.on_store(true, || self.upload(files)).await.map(|_| ())
    }

    async fn upload(&self, files: &[(String, Vec<u8>)]) -> ProviderResult<()> {
        let started = std::time::Instant::now();
        let mut builder = tar::Builder::new(Vec::new());
        let mut dirs: Vec<String> = Vec::new();
        for (path, _) in files {
            let mut dir = String::new();
            for part in path
                .split('/')
                .collect::<Vec<_>>()
                .split_last()
                .map(|(_, d)| d.to_vec())
                .unwrap_or_default()
            {
                if !dir.is_empty() {
                    dir.push('/');
                }
                dir.push_str(part);
                if !dirs.contains(&dir) {
                    dirs.push(dir.clone());
                }
            }
        }
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        for dir in &dirs {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            header.set_mtime(mtime);
            header.set_cksum();
            builder
                .append_data(&mut header, format!("{dir}/"), std::io::empty())
                .map_err(|e| ProviderError::internal(format!("packing records: {e}")))?;
        }
        for (path, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o644);
            header.set_size(data.len() as u64);
            header.set_mtime(mtime);
            header.set_cksum();
            builder
                .append_data(&mut header, path, data.as_slice())
                .map_err(|e| ProviderError::internal(format!("packing records: {e}")))?;
        }
        let tar = builder
            .into_inner()
            .map_err(|e| ProviderError::internal(format!("packing records: {e}")))?;
        let options = bollard::query_parameters::UploadToContainerOptions {
            path: ROOT.to_string(),
            ..Default::default()
        };
        self.engine
            .call(
                "writing records to the state volume",
                self.engine.docker.upload_to_container(
                    &self.name,
                    Some(options),
                    bollard::body_full(tar.into()),
                ),
            )
            .await?;
        self.engine.timing("writing records", started);
        Ok(())
    }

    /// Every file under `ROOT/<dir>`, as (path relative to ROOT, bytes), through the archive
    /// API. A missing directory is empty.
    async fn download(&self, dir: &str) -> ProviderResult<Vec<(String, Vec<u8>)>> {
        Ok(self
            .on_store(false, || self.download_once(dir))
            .await?
            .unwrap_or_default())
    }

    async fn download_once(&self, dir: &str) -> ProviderResult<Vec<(String, Vec<u8>)>> {
        use futures_util::StreamExt;
        let started = std::time::Instant::now();
        let options = bollard::query_parameters::DownloadFromContainerOptions {
            path: format!("{ROOT}/{dir}"),
        };
        let mut stream = self
            .engine
            .docker
            .download_from_container(&self.name, Some(options));
        let mut tar_bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => tar_bytes.extend_from_slice(&bytes),
                Err(e) => {
                    let err = self.engine.error("reading the state volume", e);
                    if err.kind == ErrorKind::NotFound && !container_unusable(&err) {
                        // The directory does not exist yet: nothing recorded there.
                        return Ok(Vec::new());
                    }
                    return Err(err);
                }
            }
        }
        let mut files = Vec::new();
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        let entries = archive
            .entries()
            .map_err(|e| ProviderError::internal(format!("reading the state volume: {e}")))?;
        for entry in entries {
            let mut entry = entry
                .map_err(|e| ProviderError::internal(format!("reading the state volume: {e}")))?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let path = entry
                .path()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut data = Vec::new();
            use std::io::Read;
            entry
                .read_to_end(&mut data)
                .map_err(|e| ProviderError::internal(format!("reading the state volume: {e}")))?;
            files.push((path, data));
        }
        self.engine.timing(&format!("reading {dir}"), started);
        Ok(files)
    }

    /// The JSON files under a directory; a file that does not parse (caught mid-write) is read
    /// again once the writer is done.
    async fn read_tree(&self, dir: &str) -> ProviderResult<Vec<(String, serde_json::Value)>> {
        for attempt in 0..3 {
            let files = match self.download(dir).await {
                Ok(files) => files,
                Err(e) if attempt < 2 && vanished_during_walk(&e) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut parsed = Vec::new();
            let mut torn = false;
            for (path, data) in files {
                if !path.ends_with(".json") {
                    continue;
                }
                match serde_json::from_slice(&data) {
                    Ok(value) => parsed.push((path, value)),
                    Err(_) => torn = true,
                }
            }
            if !torn || attempt == 2 {
                return Ok(parsed);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        unreachable!("the loop returns on its last attempt")
    }

    pub async fn write_host(&self, host_id: &str, host: &impl Serialize) -> ProviderResult<()> {
        let body = serde_json::to_vec_pretty(host).expect("records serialize");
        self.write_files(&[(format!("host_state/{host_id}.json"), body)])
            .await
    }

    /// Every host record (those that read as `H`), and the persisted agent records of each
    /// host (by host id).
    pub async fn read_all<H: DeserializeOwned>(
        &self,
    ) -> ProviderResult<(Vec<H>, HashMap<String, Vec<PersistedAgentRecord>>)> {
        let mut hosts = Vec::new();
        let mut agents: HashMap<String, Vec<PersistedAgentRecord>> = HashMap::new();
        for (path, value) in self.read_tree("host_state").await? {
            let parts: Vec<&str> = path.trim_start_matches("./").split('/').collect();
            match parts.as_slice() {
                [_, file] => {
                    if let Ok(host) = serde_json::from_value::<H>(value) {
                        let _ = file;
                        hosts.push(host);
                    }
                }
                // Like a host file that does not parse, one that is not an object is skipped.
                [_, host_id, file] if file.starts_with("agent-") => {
                    if let Ok(record) = PersistedAgentRecord::try_from(value) {
                        agents.entry(host_id.to_string()).or_default().push(record);
                    }
                }
                _ => {}
            }
        }
        Ok((hosts, agents))
    }

    pub async fn read_hosts<H: DeserializeOwned>(&self) -> ProviderResult<Vec<H>> {
        Ok(self.read_all().await?.0)
    }

    pub async fn read_agents(&self, host_id: &str) -> ProviderResult<Vec<PersistedAgentRecord>> {
        Ok(self
            .read_tree(&format!("host_state/{host_id}"))
            .await?
            .into_iter()
            .filter(|(path, _)| {
                path.rsplit('/')
                    .next()
                    .is_some_and(|f| f.starts_with("agent-"))
            })
            .filter_map(|(_, v)| PersistedAgentRecord::try_from(v).ok())
            .collect())
    }

    pub async fn write_host_file(
        &self,
        host_id: &str,
        file: &str,
        value: &serde_json::Value,
    ) -> ProviderResult<()> {
        let body = serde_json::to_vec_pretty(value).expect("json serializes");
        self.write_files(&[(format!("host_state/{host_id}/{file}"), body)])
            .await
    }

    pub async fn remove_host_file(&self, host_id: &str, file: &str) -> ProviderResult<()> {
        let path = format!("{ROOT}/host_state/{host_id}/{file}");
        self.exec_ok(
            "removing a record",
            &format!("rm -f {}", shell_quote(&path)),
        )
        .await
        .map(|_| ())
    }

    pub async fn delete_host(&self, host_id: &str) -> ProviderResult<()> {
        let script = format!("rm -rf {ROOT}/host_state/{host_id} {ROOT}/host_state/{host_id}.json");
        self.exec_ok("deleting a host record", &script)
            .await
            .map(|_| ())
    }

    /// Remove the state container (first step of removing the store, see
    /// `DockerInstance::remove_store_if_empty`). `false` when another mngr is already
    /// removing it: the rest is theirs to do.
    pub async fn remove_container(&self) -> ProviderResult<bool> {
        self.ready.store(false, Ordering::Release);
        match self
            .engine
            .remove_container("removing the state container", &self.name)
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if e.kind == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Remove the state volume, unless a state container (another mngr's, made a moment
    /// ago) uses it again: then it is theirs and stays.
    pub async fn remove_volume(&self) -> ProviderResult<()> {
        let removed = self
            .engine
            .unless_gone(
                "removing the state volume",
                self.engine.docker.remove_volume(
                    &self.name,
                    None::<bollard::query_parameters::RemoveVolumeOptions>,
                ),
            )
            .await;
        match removed {
            Err(e) if e.kind == ErrorKind::AlreadyExists => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

/// Agent records live beside their host's record: `host_state/<host_id>/<agent_id>.json`.
impl AgentBlobStore for StateStore {
    async fn read_agent_records(&self, host_id: &str) -> ProviderResult<Vec<PersistedAgentRecord>> {
        if !self.ensure(false).await? {
            return Ok(Vec::new());
        }
        self.read_agents(host_id).await
    }

    async fn write_agent_record(
        &self,
        host_id: &str,
        agent: &AgentId,
        record: &PersistedAgentRecord,
    ) -> ProviderResult<()> {
        let record = serde_json::Value::from(record.clone());
        self.write_host_file(host_id, &format!("{agent}.json"), &record)
            .await
    }

    async fn remove_agent_record(&self, host_id: &str, agent: &AgentId) -> ProviderResult<()> {
        self.remove_host_file(host_id, &format!("{agent}.json"))
            .await
    }
}

/// The daemon archives a directory by walking it; a file removed during the walk (a
/// concurrent destroy dropping its records) fails the whole archive. The next walk sees the
/// tree without it, so such a read is worth repeating.
fn vanished_during_walk(err: &ProviderError) -> bool {
    err.message.contains("error processing tar file") && err.message.contains("no such file")
}

const ENSURE_ATTEMPTS: usize = 10;

/// A conflict or a vanished container while making or starting the state container: another
/// mngr is doing the same (or the opposite) right now.
fn someone_else(err: &ProviderError) -> bool {
    matches!(err.kind, ErrorKind::AlreadyExists | ErrorKind::NotFound)
}

/// The state container is gone, stopped or being removed: the call may work once it is
/// brought back.
fn container_unusable(err: &ProviderError) -> bool {
    match err.kind {
        ErrorKind::NotFound => err.message.contains("No such container"),
        ErrorKind::AlreadyExists => {
            let m = err.message.to_ascii_lowercase();
            m.contains("not running") || m.contains("removal") || m.contains("restarting")
        }
        _ => false,
    }
}
