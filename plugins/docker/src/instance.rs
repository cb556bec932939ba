//! A docker provider instance: hosts are containers running sshd, found again through labels
//! and the records on the state volume.

use crate::build_args::{BuildPlan, parse_build};
use crate::config::DockerConfig;
use crate::engine::{Engine, block_on};
use crate::keys;
use crate::labels;
use crate::record::{CertifiedHostData, ContainerSettings, StoredHost, StoredKeys, StoredSnapshot};
use crate::run_args::parse_run_args;
use crate::scripts;
use crate::state::{StateStore, missing_image};
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, ContainerSummaryStateEnum,
    PortBinding,
};
use bollard::query_parameters::{
    BuildImageOptions, CommitContainerOptions, CreateContainerOptions, ListContainersOptions,
    ListImagesOptions, RemoveContainerOptions, RemoveImageOptions, StopContainerOptions,
    UploadToContainerOptions,
};
use futures_util::StreamExt;
use mngr_plugin_api::*;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The activity sources of the default idle mode (io).
const DEFAULT_SOURCES: [&str; 6] = ["USER", "AGENT", "SSH", "CREATE", "START", "BOOT"];
const SSHD_WAIT: Duration = Duration::from_secs(60);
const TAGS_IMMUTABLE: &str = "docker tags are immutable: they are stored as container labels, which Docker cannot change after the container is created";

pub struct DockerInstance {
    pub name: String,
    pub prefix: String,
    pub state_dir: PathBuf,
    pub config: DockerConfig,
    pub engine: Engine,
    pub store: StateStore,
    pub services: Arc<dyn HostServices>,
    cache: Mutex<HashMap<String, StoredHost>>,
    /// Persisted agent records as of the last full read in this run, by host id.
    agent_cache: Mutex<Option<HashMap<String, Vec<serde_json::Value>>>>,
}

fn not_found(what: &str) -> ProviderError {
    ProviderError::not_found(format!("no docker host '{what}'"))
}

fn tar_file(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32) {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder
        .append_data(&mut header, path, data)
        .expect("in-memory tar");
}

fn tar_dir(builder: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) {
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Directory);
    header.set_cksum();
    builder
        .append_data(&mut header, path, std::io::empty())
        .expect("in-memory tar");
}

/// `Exited (75) 2 minutes ago` => 75.
fn exit_code_of(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split(')').next()?.parse().ok()
}

impl DockerInstance {
    pub fn new(ctx: InstanceContext, config: DockerConfig) -> ProviderResult<DockerInstance> {
        let engine = Engine::connect(&config.host, Some(ctx.services.clone()))?;
        let store = StateStore::new(
            engine.clone(),
            &ctx.prefix,
            &ctx.instance_name,
            config.state_image(),
        );
        Ok(DockerInstance {
            name: ctx.instance_name,
            prefix: ctx.prefix,
            state_dir: ctx.state_dir,
            config,
            engine,
            store,
            services: ctx.services,
            cache: Mutex::new(HashMap::new()),
            agent_cache: Mutex::new(None),
        })
    }

    fn container_name(&self, host_name: &str) -> String {
        format!("{}{host_name}", self.prefix)
    }

    fn image_repo(&self, kind: &str) -> String {
        let clean: String = self
            .prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        format!("{}{kind}", clean.trim_start_matches(['-', '_', '.']))
    }

    /// This instance's host containers (any state).
    async fn host_containers(&self) -> ProviderResult<Vec<ContainerSummary>> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{}={}", labels::PROVIDER, self.name),
                labels::HOST_ID.to_string(),
            ],
        )]);
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let list = self
            .engine
            .call(
                "listing containers",
                self.engine.docker.list_containers(Some(options)),
            )
            .await?;
        let prefix = format!("/{}", self.prefix);
        Ok(list
            .into_iter()
            .filter(|c| c.names.iter().flatten().any(|n| n.starts_with(&prefix)))
            .collect())
    }

    /// All host records with their containers. Empty when nothing was ever created here.
    async fn load(&self) -> ProviderResult<Vec<(StoredHost, Option<ContainerSummary>)>> {
        let containers = self.host_containers().await?;
        if !self.store.ensure(false).await? {
            return Ok(Vec::new());
        }
        let (hosts, agents) = self.store.read_all().await?;
        *self.agent_cache.lock().expect("cache lock") = Some(agents);
        let mut by_id: HashMap<String, ContainerSummary> = HashMap::new();
        for c in containers {
            if let Some(id) = c.labels.as_ref().and_then(|l| l.get(labels::HOST_ID)) {
                by_id.insert(id.clone(), c);
            }
        }
        let mut cache = self.cache.lock().expect("cache lock");
        Ok(hosts
            .into_iter()
            .map(|h| {
                cache.insert(h.host_id().to_string(), h.clone());
                let c = by_id.remove(h.host_id());
                (h, c)
            })
            .collect())
    }

    async fn find(
        &self,
        id_or_name: &str,
    ) -> ProviderResult<(StoredHost, Option<ContainerSummary>)> {
        let all = self.load().await?;
        let mut by_name = None;
        for (h, c) in all {
            if h.host_id() == id_or_name {
                return Ok((h, c));
            }
            if h.name() == id_or_name {
                by_name = Some((h, c));
            }
        }
        by_name.ok_or_else(|| not_found(id_or_name))
    }

    /// A host's record, from this run's cache when possible.
    async fn stored(&self, host: &HostId) -> ProviderResult<StoredHost> {
        if let Some(h) = self.cache.lock().expect("cache lock").get(host.as_str()) {
            return Ok(h.clone());
        }
        Ok(self.find(host.as_str()).await?.0)
    }

    async fn save(&self, host: &mut StoredHost) -> ProviderResult<()> {
        host.touch();
        self.store.write_host(host).await?;
        self.cache
            .lock()
            .expect("cache lock")
            .insert(host.host_id().to_string(), host.clone());
        Ok(())
    }

    fn to_record(&self, h: &StoredHost, c: Option<&ContainerSummary>) -> HostRecord {
        let data = &h.certified_host_data;
        let (state, stop_reason) = if data.failure_reason.is_some() {
            (HostState::Failed, None)
        } else {
            match c.and_then(|c| c.state) {
                Some(ContainerSummaryStateEnum::RUNNING) => (HostState::Running, None),
                Some(
                    ContainerSummaryStateEnum::CREATED | ContainerSummaryStateEnum::RESTARTING,
                ) => (HostState::Starting, None),
                Some(ContainerSummaryStateEnum::PAUSED) => {
                    (HostState::Stopped, Some("STOPPED".to_string()))
                }
                Some(ContainerSummaryStateEnum::REMOVING | ContainerSummaryStateEnum::STOPPING) => {
                    (HostState::Stopping, None)
                }
                Some(ContainerSummaryStateEnum::EXITED) => {
                    let code = c.and_then(|c| c.status.as_deref()).and_then(exit_code_of);
                    match (data.stop_reason.as_deref(), code) {
                        (Some(reason), _) => (state_of_reason(reason), Some(reason.to_string())),
                        (None, Some(labels::EXIT_IDLE_PAUSED)) => {
                            (HostState::Paused, Some("PAUSED".to_string()))
                        }
                        (None, Some(labels::EXIT_NO_AGENTS_STOPPED)) => {
                            (HostState::Stopped, Some("STOPPED".to_string()))
                        }
                        // `docker stop` from outside mngr: PID 1 exits 0 on SIGTERM.
                        (None, Some(0)) => (HostState::Stopped, Some("STOPPED".to_string())),
                        _ => (HostState::Crashed, None),
                    }
                }
                Some(ContainerSummaryStateEnum::DEAD) => (HostState::Crashed, None),
                _ if !data.snapshots.is_empty() => (
                    HostState::Stopped,
                    Some(data.stop_reason.clone().unwrap_or_else(|| "STOPPED".into())),
                ),
                _ => (HostState::Crashed, None),
            }
        };
        let mut details = BTreeMap::new();
        details.insert(
            "daemon".to_string(),
            serde_json::Value::from(self.engine.daemon.clone()),
        );
        details.insert(
            "container".to_string(),
            serde_json::Value::from(self.container_name_of(h, c)),
        );
        if let Some(id) = &h.container_id {
            details.insert(
                "container_id".to_string(),
                serde_json::Value::from(id.clone()),
            );
        }
        HostRecord {
            id: HostId::parse(h.host_id()).unwrap_or_else(|_| HostId::generate()),
            name: HostName::parse(h.name())
                .unwrap_or_else(|_| HostName::parse("invalid-name").expect("valid")),
            provider: self.name.clone(),
            state,
            image: data.image.clone(),
            tags: data.user_tags.clone(),
            created_at: Some(data.created_at.clone()),
            stop_reason,
            failure_reason: data.failure_reason.clone(),
            host_dir: h
                .config
                .as_ref()
                .map(|c| c.host_dir.clone())
                .unwrap_or_else(|| self.config.host_dir.clone()),
            details,
        }
    }

    fn container_name_of(&self, h: &StoredHost, c: Option<&ContainerSummary>) -> String {
        c.and_then(|c| c.names.as_ref())
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_else(|| self.container_name(h.name()))
    }

    /// The container of a host: the recorded id, else by label.
    async fn container_of(&self, h: &StoredHost) -> ProviderResult<Option<ContainerSummary>> {
        let list = self.host_containers().await?;
        Ok(list.into_iter().find(|c| {
            c.labels
                .as_ref()
                .and_then(|l| l.get(labels::HOST_ID))
                .map(String::as_str)
                == Some(h.host_id())
        }))
    }

    async fn ssh_port(&self, container: &str) -> ProviderResult<u16> {
        let info = self
            .engine
            .call(
                "inspecting the container",
                self.engine.docker.inspect_container(container, None),
            )
            .await?;
        info.network_settings
            .and_then(|n| n.ports)
            .and_then(|p| p.get("22/tcp").cloned().flatten())
            .and_then(|b| {
                b.iter()
                    .find_map(|b| b.host_port.as_deref().and_then(|p| p.parse().ok()))
            })
            .ok_or_else(|| {
                ProviderError::internal(format!("container {container} has no published SSH port"))
            })
    }

    /// Wait until sshd sends its banner (a TCP accept alone may be Docker's proxy).
    async fn wait_for_sshd(&self, address: &str, port: u16) -> ProviderResult<()> {
        use tokio::io::AsyncReadExt;
        let start = Instant::now();
        let mut last_error = String::from("no answer");
        while start.elapsed() < SSHD_WAIT {
            let attempt = async {
                let mut stream = tokio::net::TcpStream::connect((address, port)).await?;
                let mut buf = [0u8; 8];
                let mut got = 0;
                while got < 4 {
                    let n = stream.read(&mut buf[got..]).await?;
                    if n == 0 {
                        return Err(std::io::Error::other(
                            "connection closed before the SSH banner",
                        ));
                    }
                    got += n;
                }
                if &buf[..4] == b"SSH-" {
                    Ok(())
                } else {
                    Err(std::io::Error::other("not an SSH banner"))
                }
            };
            match tokio::time::timeout(Duration::from_secs(3), attempt).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => last_error = e.to_string(),
                Err(_) => last_error = "timed out".to_string(),
            }
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        Err(ProviderError::new(
            ErrorKind::Timeout,
            format!(
                "sshd in the container did not answer at {address}:{port} within 60 s: {last_error}"
            ),
        ))
    }

    /// Files injected into a container before it starts: keys, the sshd marker, the idle
    /// watcher and data.json.
    fn provisioning_tar(&self, h: &StoredHost) -> ProviderResult<Vec<u8>> {
        let keys = h
            .mngr_keys
            .as_ref()
            .ok_or_else(|| ProviderError::internal("host record has no keys"))?;
        let host_pub = h.ssh_host_public_key.clone().unwrap_or_default();
        let data = &h.certified_host_data;
        let host_dir = h
            .config
            .as_ref()
            .map(|c| c.host_dir.clone())
            .unwrap_or_else(|| self.config.host_dir.clone());
        let hd = host_dir.trim_start_matches('/');
        let watcher = scripts::activity_watcher(
            data.idle_timeout_seconds,
            &data.activity_sources,
            data.tmux_session_prefix.as_deref().unwrap_or(&self.prefix),
        );
        let data_json = serde_json::json!({
            "idle_timeout_seconds": data.idle_timeout_seconds,
            "activity_sources": data.activity_sources,
            "created_at": data.created_at,
            "updated_at": data.updated_at,
            "max_host_age": data.max_host_age,
            "plugin": {},
            "image": data.image,
            "generated_work_dirs": [],
            "generated_source_dirs": [],
            "host_id": data.host_id,
            "host_name": data.host_name,
            "user_tags": data.user_tags,
            "snapshots": data.snapshots,
            "tmux_session_prefix": data.tmux_session_prefix,
            "stop_reason": null,
            "failure_reason": null,
            "build_log": null,
        });
        let mut b = tar::Builder::new(Vec::new());
        tar_file(
            &mut b,
            "etc/ssh/ssh_host_ed25519_key",
            keys.host_private_key.as_bytes(),
            0o600,
        );
        tar_file(
            &mut b,
            "etc/ssh/ssh_host_ed25519_key.pub",
            format!("{host_pub}\n").as_bytes(),
            0o644,
        );
        tar_file(&mut b, "etc/ssh/mngr_host_provisioned", b"", 0o644);
        tar_dir(&mut b, "root/.ssh", 0o700);
        tar_file(
            &mut b,
            "root/.ssh/authorized_keys",
            format!("{}\n", keys.client_public_key).as_bytes(),
            0o600,
        );
        tar_dir(&mut b, hd, 0o755);
        tar_dir(&mut b, &format!("{hd}/commands"), 0o755);
        tar_file(
            &mut b,
            &format!("{hd}/commands/activity_watcher.sh"),
            watcher.as_bytes(),
            0o755,
        );
        tar_file(
            &mut b,
            &format!("{hd}/commands/shutdown.sh"),
            scripts::SHUTDOWN_SCRIPT.as_bytes(),
            0o755,
        );
        tar_file(
            &mut b,
            &format!("{hd}/data.json"),
            serde_json::to_string_pretty(&data_json)
                .expect("json")
                .as_bytes(),
            0o644,
        );
        b.into_inner()
            .map_err(|e| ProviderError::internal(format!("packing provisioning files: {e}")))
    }

    /// Create the container for `h` from `image`, inject its files, start it, wait for sshd.
    /// Returns the container id. On failure the container is removed.
    async fn run_container(
        &self,
        h: &mut StoredHost,
        image: &str,
        save_record: bool,
    ) -> ProviderResult<String> {
        let settings = h
            .config
            .clone()
            .ok_or_else(|| ProviderError::internal("host record has no container settings"))?;
        let mut run = parse_run_args(&settings.start_args)?;
        let mut container_labels = std::mem::take(&mut run.labels);
        container_labels.insert(labels::HOST_ID.into(), h.host_id().to_string());
        container_labels.insert(labels::HOST_NAME.into(), h.name().to_string());
        container_labels.insert(labels::PROVIDER.into(), self.name.clone());
        container_labels.insert(
            labels::TAGS.into(),
            serde_json::to_string(&h.certified_host_data.user_tags).expect("tags serialize"),
        );
        let mut host_config = run.host_config;
        host_config
            .port_bindings
            .get_or_insert_with(HashMap::new)
            .insert(
                "22/tcp".into(),
                Some(vec![PortBinding {
                    host_ip: Some(String::new()),
                    host_port: Some(String::new()),
                }]),
            );
        let mut exposed = run.exposed_ports;
        exposed.push("22/tcp".into());
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            entrypoint: Some(vec!["sh".into(), "-c".into()]),
            cmd: Some(vec![scripts::entrypoint(&settings.host_dir)]),
            labels: Some(container_labels),
            env: if run.env.is_empty() {
                None
            } else {
                Some(run.env)
            },
            exposed_ports: Some(exposed),
            hostname: run.hostname,
            domainname: run.domainname,
            user: run.user,
            working_dir: run.working_dir,
            stop_signal: run.stop_signal,
            stop_timeout: run.stop_timeout,
            host_config: Some(host_config),
            ..Default::default()
        };
        let started = Instant::now();
        let name = self.container_name(h.name());
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        let created = self
            .engine
            .call(
                "creating the container",
                self.engine.docker.create_container(Some(options), body),
            )
            .await
            .map_err(|e| match e.kind {
                ErrorKind::AlreadyExists => ProviderError::already_exists(format!(
                    "a container named '{name}' already exists on the Docker daemon"
                ))
                .with_hint(format!(
                    "choose another name, or remove it: docker rm -f {name}"
                )),
                ErrorKind::InvalidInput | ErrorKind::Internal => ProviderError::invalid_input(
                    format!("Docker refused to create the container: {}", e.message),
                ),
                _ => e,
            })?;
        let id = created.id;
        h.container_id = Some(id.clone());
        h.ssh_host = Some(self.config.ssh_address());
        // The record is written while the container starts (the SSH port in it is only a
        // hint; mngr always asks the daemon for the live one).
        let mut record = h.clone();
        let record_write = async {
            if save_record {
                self.store.ensure(true).await?;
                self.save(&mut record).await
            } else {
                Ok(())
            }
        };
        let tar = self.provisioning_tar(h);
        let bring_up = async {
            let tar = tar?;
            let upload = UploadToContainerOptions {
                path: "/".into(),
                ..Default::default()
            };
            self.engine
                .call(
                    "injecting keys into the container",
                    self.engine.docker.upload_to_container(
                        &id,
                        Some(upload),
                        bollard::body_full(tar.into()),
                    ),
                )
                .await?;
            self.engine
                .call(
                    "starting the container",
                    self.engine.docker.start_container(&id, None),
                )
                .await
                .map_err(|e| {
                    if e.kind == ErrorKind::Unavailable {
                        e
                    } else {
                        ProviderError::invalid_input(format!(
                            "Docker could not start the container: {}",
                            e.message
                        ))
                    }
                })?;
            self.engine
                .timing("creating, provisioning and starting the container", started);
            let port = self.ssh_port(&id).await?;
            let waited = Instant::now();
            self.wait_for_sshd(&self.config.ssh_address(), port).await?;
            self.engine.timing("waiting for sshd", waited);
            Ok::<u16, ProviderError>(port)
        };
        let (written, port) = tokio::join!(record_write, bring_up);
        match (written, port) {
            (Ok(()), Ok(port)) => {
                h.ssh_port = Some(port);
                h.certified_host_data.updated_at = record.certified_host_data.updated_at;
                Ok(id)
            }
            (Err(e), _) | (_, Err(e)) => {
                self.remove_container(&id).await.ok();
                Err(e)
            }
        }
    }

    async fn remove_container(&self, id: &str) -> ProviderResult<()> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.engine.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let err = self.engine.error("removing the container", e);
                if err.kind == ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }

    async fn image_exists(&self, image: &str) -> ProviderResult<bool> {
        match self.engine.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) => {
                let err = self.engine.error("looking up the image", e);
                if err.kind == ErrorKind::NotFound {
                    Ok(false)
                } else {
                    Err(err)
                }
            }
        }
    }

    async fn build(&self, plan: &BuildPlan, tag: &str, host_id: &str) -> ProviderResult<()> {
        self.services.progress(&format!(
            "building image from {}",
            plan.dockerfile.display()
        ));
        let (tar, dockerfile) = plan.context_tar()?;
        let mut image_labels: HashMap<String, String> = plan.labels.clone().into_iter().collect();
        image_labels.insert(labels::IMAGE_PROVIDER.into(), self.name.clone());
        image_labels.insert(labels::IMAGE_HOST.into(), host_id.to_string());
        let small = |v: Option<i64>| v.and_then(|v| i32::try_from(v).ok());
        let options = BuildImageOptions {
            dockerfile,
            t: Some(tag.to_string()),
            nocache: plan.no_cache,
            buildargs: Some(plan.build_args.clone()),
            labels: Some(image_labels),
            target: plan.target.clone(),
            networkmode: plan.network.clone(),
            extrahosts: if plan.extra_hosts.is_empty() {
                None
            } else {
                Some(plan.extra_hosts.join(","))
            },
            shmsize: small(plan.shm_size),
            memory: small(plan.memory),
            cpushares: small(plan.cpu_shares),
            cpusetcpus: plan.cpuset_cpus.clone(),
            cpuperiod: small(plan.cpu_period),
            cpuquota: small(plan.cpu_quota),
            cachefrom: if plan.cache_from.is_empty() {
                None
            } else {
                Some(plan.cache_from.clone())
            },
            q: plan.quiet,
            rm: true,
            forcerm: true,
            ..Default::default()
        };
        let mut log = String::new();
        let mut stream =
            self.engine
                .docker
                .build_image(options, None, Some(bollard::body_full(tar.into())));
        let deadline = Duration::from_secs(self.config.build_timeout_seconds);
        let run = async {
            while let Some(item) = stream.next().await {
                let info = item.map_err(|e| match self.engine.error("building the image", e) {
                    err if err.kind == ErrorKind::Unavailable => err,
                    err => {
                        ProviderError::invalid_input(format!("image build failed: {}", err.message))
                    }
                })?;
                if let Some(line) = info.stream.as_deref() {
                    log.push_str(line);
                    if !line.trim().is_empty() {
                        self.services.log(LogLevel::Debug, line.trim_end());
                    }
                }
                if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                    return Err(ProviderError::invalid_input(format!(
                        "image build failed: {}",
                        detail.trim()
                    )));
                }
            }
            Ok(())
        };
        let outcome = match tokio::time::timeout(deadline, run).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "docker build timed out after {} seconds",
                    deadline.as_secs()
                ),
            )
            .with_hint(format!(
                "raise providers.{}.build_timeout_seconds",
                self.name
            ))),
        };
        outcome.map_err(|e| {
            let tail: Vec<&str> = log
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            e.with_details(serde_json::json!({ "build_log_tail": tail.join("\n") }))
        })?;
        if !self.image_exists(tag).await? {
            return Err(ProviderError::invalid_input(
                "image build finished without producing an image",
            ));
        }
        Ok(())
    }

    /// The tag through which a host holds the image its container runs from, when mngr made
    /// or chose that image for it (a build, or a snapshot it was created or restored from).
    /// Holding a tag per host lets snapshots be shared: removing one host's tag never deletes
    /// an image another host still runs.
    fn held_tag(&self, host_id: &str) -> String {
        format!("{}:{host_id}", self.image_repo("build"))
    }

    async fn hold_image(&self, image: &str, host_id: &str) -> ProviderResult<String> {
        let tag = self.held_tag(host_id);
        let (repo, t) = tag.split_once(':').expect("tag has a colon");
        let options = bollard::query_parameters::TagImageOptions {
            repo: Some(repo.to_string()),
            tag: Some(t.to_string()),
        };
        self.engine
            .call(
                "tagging the image",
                self.engine.docker.tag_image(image, Some(options)),
            )
            .await?;
        Ok(tag)
    }

    /// Images mngr made for a host (its build image and snapshots).
    async fn images_of(&self, host_id: &str) -> ProviderResult<Vec<String>> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{}={}", labels::IMAGE_PROVIDER, self.name),
                format!("{}={host_id}", labels::IMAGE_HOST),
            ],
        )]);
        let options = ListImagesOptions {
            all: false,
            filters: Some(filters),
            ..Default::default()
        };
        let images = self
            .engine
            .call(
                "listing images",
                self.engine.docker.list_images(Some(options)),
            )
            .await?;
        Ok(images.into_iter().map(|i| i.id).collect())
    }

    async fn image_is_tagged(&self, image: &str) -> ProviderResult<bool> {
        let info = self
            .engine
            .call(
                "inspecting an image",
                self.engine.docker.inspect_image(image),
            )
            .await?;
        Ok(info.repo_tags.is_some_and(|t| !t.is_empty()))
    }

    async fn remove_image(&self, image: &str, force: bool) -> ProviderResult<()> {
        let options = RemoveImageOptions {
            force,
            noprune: false,
            ..Default::default()
        };
        match self
            .engine
            .docker
            .remove_image(image, Some(options), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = self.engine.error("removing an image", e);
                if err.kind == ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Find a snapshot image by id, id prefix, or name, across this instance's hosts.
    async fn resolve_snapshot(
        &self,
        wanted: &str,
        only_host: Option<&StoredHost>,
    ) -> ProviderResult<StoredSnapshot> {
        let hosts: Vec<StoredHost> = match only_host {
            Some(h) => vec![h.clone()],
            None => self.load().await?.into_iter().map(|(h, _)| h).collect(),
        };
        let short = wanted.trim_start_matches("sha256:");
        for h in &hosts {
            for s in &h.certified_host_data.snapshots {
                let id = s.id.trim_start_matches("sha256:");
                if s.id == wanted || s.name == wanted || (short.len() >= 6 && id.starts_with(short))
                {
                    return Ok(s.clone());
                }
            }
        }
        Err(ProviderError::not_found(format!("no snapshot '{wanted}'"))
            .with_hint("list snapshots with: mngr snapshot list AGENT"))
    }

    async fn create(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
        let name = request.name.as_str().to_string();
        // Validate everything before making anything.
        let mut start_args = self.config.default_start_args.clone();
        start_args.extend(request.start_args.iter().cloned());
        parse_run_args(&start_args)?;
        let dockerfile = match request.flags.get("dockerfile") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(ProviderError::invalid_input(format!(
                    "--dockerfile must be a path, got {other}"
                )));
            }
        };
        if let Some(flag) = request.flags.keys().find(|k| k.as_str() != "dockerfile") {
            return Err(ProviderError::invalid_input(format!(
                "the docker backend has no flag --{flag}"
            )));
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let plan = parse_build(dockerfile.as_deref(), &request.build_args, &cwd)?;
        if plan.is_some() && request.snapshot.is_some() {
            return Err(ProviderError::invalid_input(
                "--snapshot cannot be combined with --dockerfile or -b",
            ));
        }
        for (k, v) in &request.tags {
            if k.is_empty() || k.contains('=') || v.contains('\n') {
                return Err(ProviderError::invalid_input(format!(
                    "invalid tag '{k}={v}'"
                )));
            }
        }
        let host_id = HostId::generate();
        let mut built_image = None;
        let clash = |existing: &[(StoredHost, Option<ContainerSummary>)]| {
            existing
                .iter()
                .any(|(h, _)| h.name() == name && h.host_id() != host_id.as_str())
        };
        let taken = || {
            ProviderError::already_exists(format!(
                "a docker host named '{name}' already exists on provider '{}'",
                self.name
            ))
        };
        let result = async {
            if request.snapshot.is_none() && plan.is_none() {
                // The common case: look for a name clash while the container starts (the
                // container name is taken atomically anyway; this catches renamed hosts).
                let image = request
                    .image
                    .clone()
                    .unwrap_or_else(|| self.config.default_image.clone());
                if !self.image_exists(&image).await? {
                    return Err(missing_image(&image));
                }
                // The state container (made on first use) comes up at the same time too.
                let existing = async {
                    self.store.ensure(true).await?;
                    self.load().await
                };
                let (existing, created) = tokio::join!(
                    existing,
                    self.create_from_image(&request, &host_id, &image, start_args.clone(), None)
                );
                let created = created?;
                if clash(&existing?) {
                    if let Some(id) = self.stored(&host_id).await?.container_id {
                        self.remove_container(&id).await.ok();
                    }
                    return Err(taken());
                }
                return Ok(created);
            }
            self.store.ensure(true).await?;
            let existing = self.load().await?;
            if clash(&existing) {
                return Err(taken());
            }
            let image = if let Some(wanted) = &request.snapshot {
                let snap = self.resolve_snapshot(wanted, None).await?;
                let tag = self.hold_image(&snap.id, host_id.as_str()).await?;
                built_image = Some(tag.clone());
                tag
            } else if let Some(plan) = &plan {
                let tag = format!("{}:{}", self.image_repo("build"), host_id.as_str());
                built_image = Some(tag.clone());
                self.build(plan, &tag, host_id.as_str()).await?;
                tag
            } else {
                let image = request
                    .image
                    .clone()
                    .unwrap_or_else(|| self.config.default_image.clone());
                if !self.image_exists(&image).await? {
                    return Err(missing_image(&image));
                }
                image
            };
            self.create_from_image(&request, &host_id, &image, start_args, built_image.clone())
                .await
        }
        .await;
        if result.is_err() {
            if let Some(built) = &built_image {
                self.remove_image(built, true).await.ok();
            }
            self.store.delete_host(host_id.as_str()).await.ok();
            keys::remove_local(&self.state_dir, host_id.as_str()).ok();
            self.remove_store_if_empty().await.ok();
        }
        result
    }

    async fn create_from_image(
        &self,
        request: &CreateHostRequest,
        host_id: &HostId,
        image: &str,
        start_args: Vec<String>,
        built_image: Option<String>,
    ) -> ProviderResult<HostRecord> {
        let client = keys::generate()?;
        let host_key = keys::generate()?;
        let now = mngr_plugin_api::time::now_iso8601_utc_micros();
        let sources = request
            .lifecycle
            .activity_sources
            .clone()
            .unwrap_or_else(|| DEFAULT_SOURCES.iter().map(|s| s.to_string()).collect());
        let mut h = StoredHost {
            certified_host_data: CertifiedHostData {
                host_id: host_id.to_string(),
                host_name: request.name.to_string(),
                user_tags: request.tags.clone(),
                snapshots: Vec::new(),
                stop_reason: None,
                failure_reason: None,
                build_log: None,
                idle_timeout_seconds: request
                    .lifecycle
                    .idle_timeout_seconds
                    .unwrap_or(self.config.default_idle_timeout),
                activity_sources: sources,
                max_host_age: None,
                tmux_session_prefix: Some(self.prefix.clone()),
                image: Some(image.to_string()),
                plugin: serde_json::Map::new(),
                created_at: now.clone(),
                updated_at: now,
            },
            ssh_host: Some(self.config.ssh_address()),
            ssh_port: None,
            ssh_host_public_key: Some(host_key.public_openssh.clone()),
            container_id: None,
            config: Some(ContainerSettings {
                start_args,
                image: Some(image.to_string()),
                host_dir: self.config.host_dir.clone(),
                built_image,
            }),
            mngr_keys: Some(StoredKeys {
                client_private_key: client.private_openssh.clone(),
                client_public_key: client.public_openssh.clone(),
                host_private_key: host_key.private_openssh.clone(),
            }),
        };
        let mut authorized = vec![client.public_openssh.clone()];
        authorized.extend(request.authorized_keys.iter().cloned());
        h.mngr_keys.as_mut().expect("set above").client_public_key = authorized.join("\n");
        self.services.progress(&format!(
            "starting container {}",
            self.container_name(h.name())
        ));
        let id = self.run_container(&mut h, image, true).await?;
        if request.snapshot.is_some() {
            // The snapshot's files come along, but its agents belong to the host it was
            // taken from: the new host starts with none.
            let hd = crate::engine::shell_quote(&self.config.host_dir);
            let script =
                format!("rm -rf {hd}/agents {hd}/host_lock.generation && mkdir -p {hd}/agents");
            let cleared = self.engine.exec(&id, &script).await;
            if !matches!(cleared, Ok((0, _))) {
                self.remove_container(&id).await.ok();
                return Err(ProviderError::internal(
                    "could not clear the snapshot's agent records in the new host",
                ));
            }
        }
        if let Err(e) = keys::materialize(&self.state_dir, h.host_id(), &client.private_openssh) {
            self.remove_container(&id).await.ok();
            return Err(e);
        }
        self.cache
            .lock()
            .expect("cache lock")
            .insert(h.host_id().to_string(), h.clone());
        let mut record = self.to_record(&h, None);
        record.state = HostState::Running;
        record.stop_reason = None;
        Ok(record)
    }

    async fn remove_store_if_empty(&self) -> ProviderResult<()> {
        if self.store.ensure(false).await? && self.store.read_hosts().await?.is_empty() {
            let leftover = self.host_containers().await?;
            if leftover.is_empty() {
                self.store.remove().await?;
                let _ = std::fs::remove_dir(self.state_dir.join("keys"));
            }
        }
        Ok(())
    }

    async fn destroy(&self, host: &HostId) -> ProviderResult<()> {
        let found = match self.find(host.as_str()).await {
            Ok((h, _)) => Some(h),
            Err(e) if e.kind == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let mut problems = Vec::new();
        // Containers by label, so one whose record is gone is removed too.
        for c in self.host_containers().await? {
            let ours = c
                .labels
                .as_ref()
                .and_then(|l| l.get(labels::HOST_ID))
                .map(String::as_str)
                == Some(host.as_str());
            if ours
                && let Some(id) = &c.id
                && let Err(e) = self.remove_container(id).await
            {
                problems.push(format!("container {id}: {}", e.message));
            }
        }
        if let Some(h) = &found {
            let snapshot_repo = self.image_repo("snapshot");
            let mut tags: Vec<String> = h
                .certified_host_data
                .snapshots
                .iter()
                .map(|s| format!("{snapshot_repo}:{}-{}", h.host_id(), s.name))
                .collect();
            if let Some(built) = h.config.as_ref().and_then(|c| c.built_image.clone()) {
                tags.push(built);
            }
            for tag in tags {
                if let Err(e) = self.remove_image(&tag, false).await {
                    problems.push(format!("image {tag}: {}", e.message));
                }
            }
        }
        // Anything else labelled for this host that no tag holds any more (a build whose
        // record was lost, say).
        for image in self.images_of(host.as_str()).await? {
            let held = self.image_is_tagged(&image).await.unwrap_or(true);
            if !held && let Err(e) = self.remove_image(&image, false).await {
                problems.push(format!("image {image}: {}", e.message));
            }
        }
        if found.is_some()
            && let Err(e) = self.store.delete_host(host.as_str()).await
        {
            problems.push(format!("record: {}", e.message));
        }
        self.cache.lock().expect("cache lock").remove(host.as_str());
        if let Err(e) = keys::remove_local(&self.state_dir, host.as_str()) {
            problems.push(format!("local keys: {e}"));
        }
        if problems.is_empty()
            && let Err(e) = self.remove_store_if_empty().await
        {
            problems.push(format!("state container: {}", e.message));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ProviderError::new(
                ErrorKind::CleanupFailed,
                format!(
                    "destroying host {host} left resources behind: {}",
                    problems.join("; ")
                ),
            )
            .with_details(serde_json::json!({ "remaining": problems })))
        }
    }

    async fn start(&self, host: &HostId, snapshot: Option<&str>) -> ProviderResult<HostRecord> {
        let (mut h, container) = self.find(host.as_str()).await?;
        if let Some(reason) = &h.certified_host_data.failure_reason {
            return Err(ProviderError::invalid_input(format!(
                "host {host} failed during creation and cannot be started: {reason}"
            )));
        }
        let restore = match snapshot {
            Some(wanted) => Some(self.resolve_snapshot(wanted, Some(&h)).await?),
            None if container.is_none() => match h
                .certified_host_data
                .snapshots
                .iter()
                .max_by(|a, b| a.created_at.cmp(&b.created_at))
            {
                Some(newest) => Some(newest.clone()),
                None => {
                    return Err(ProviderError::not_found(format!(
                        "the container of host {host} is gone and it has no snapshots to start from"
                    ))
                    .with_hint("destroy it and create a new host"));
                }
            },
            None => None,
        };
        if let Some(snap) = restore {
            self.services.progress(&format!(
                "starting host {} from snapshot {}",
                h.name(),
                snap.name
            ));
            if let Some(c) = container.as_ref().and_then(|c| c.id.clone()) {
                self.remove_container(&c).await?;
            }
            if let Some(old) = h.config.as_ref().and_then(|c| c.built_image.clone()) {
                self.remove_image(&old, false).await.ok();
            }
            let tag = self.hold_image(&snap.id, h.host_id()).await?;
            if let Some(config) = h.config.as_mut() {
                config.built_image = Some(tag.clone());
            }
            self.save(&mut h).await?;
            self.run_container(&mut h, &tag, false).await?;
        } else {
            let c = container.expect("checked above");
            let id = c.id.clone().unwrap_or_default();
            if c.state != Some(ContainerSummaryStateEnum::RUNNING) {
                self.engine
                    .call(
                        "starting the container",
                        self.engine.docker.start_container(&id, None),
                    )
                    .await?;
            }
            let port = self.ssh_port(&id).await?;
            self.wait_for_sshd(&self.config.ssh_address(), port).await?;
            h.ssh_port = Some(port);
        }
        h.certified_host_data.stop_reason = None;
        self.save(&mut h).await?;
        let c = self.container_of(&h).await?;
        Ok(self.to_record(&h, c.as_ref()))
    }

    async fn stop(&self, host: &HostId) -> ProviderResult<()> {
        let (mut h, container) = self.find(host.as_str()).await?;
        if let Some(id) = container.and_then(|c| c.id) {
            let options = StopContainerOptions {
                t: Some(10),
                ..Default::default()
            };
            match self.engine.docker.stop_container(&id, Some(options)).await {
                Ok(()) => {}
                Err(e) => {
                    let err = self.engine.error("stopping the container", e);
                    if err.kind == ErrorKind::Unavailable {
                        return Err(err);
                    }
                }
            }
        }
        h.certified_host_data.stop_reason = Some("STOPPED".into());
        self.save(&mut h).await
    }

    async fn access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        let h = self.stored(host).await?;
        let container = h
            .container_id
            .clone()
            .ok_or_else(|| not_found(host.as_str()))?;
        let info = self
            .engine
            .call(
                "inspecting the container",
                self.engine.docker.inspect_container(&container, None),
            )
            .await?;
        let running = info.state.as_ref().and_then(|s| s.running).unwrap_or(false);
        if !running {
            return Err(ProviderError::new(
                ErrorKind::Unavailable,
                format!("host '{}' is not running", h.name()),
            )
            .with_hint(format!("start it with: mngr start {}", h.name())));
        }
        let direct_routes = self.direct_routes(&info);
        let port = info
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|p| p.get("22/tcp").cloned().flatten())
            .and_then(|b| {
                b.iter()
                    .find_map(|b| b.host_port.as_deref().and_then(|p| p.parse().ok()))
            })
            .ok_or_else(|| {
                ProviderError::internal(format!("container {container} has no published SSH port"))
            })?;
        let keys_stored = h
            .mngr_keys
            .as_ref()
            .ok_or_else(|| ProviderError::internal("host record has no keys"))?;
        let key_path = keys::materialize(
            &self.state_dir,
            h.host_id(),
            &keys_stored.client_private_key,
        )?;
        Ok(HostAccess::Ssh(SshEndpoint {
            address: self.config.ssh_address(),
            port,
            user: "root".into(),
            private_key_path: key_path.to_string_lossy().into_owned(),
            host_public_key: h.ssh_host_public_key.clone().unwrap_or_default(),
            host_dir: h
                .config
                .as_ref()
                .map(|c| c.host_dir.clone())
                .unwrap_or_else(|| self.config.host_dir.clone()),
            direct_routes,
        }))
    }

    /// The container's own addresses on its networks, port 22, when this machine can reach
    /// them: a connection there skips Docker's port proxy, whose delayed ACKs meet sshd's
    /// Nagle and stall the first command of every connection by about 40 ms.
    fn direct_routes(&self, info: &ContainerInspectResponse) -> Vec<SshRoute> {
        if !self.config.direct_routes_possible() {
            return Vec::new();
        }
        let networks = info
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref());
        networks
            .into_iter()
            .flat_map(|n| n.values())
            .filter_map(|endpoint| endpoint.ip_address.clone())
            .filter(|ip| !ip.is_empty())
            .map(|address| SshRoute { address, port: 22 })
            .collect()
    }

    async fn snapshot(&self, host: &HostId, name: Option<&str>) -> ProviderResult<SnapshotInfo> {
        let (mut h, container) = self.find(host.as_str()).await?;
        let container = container.and_then(|c| c.id).ok_or_else(|| {
            ProviderError::not_found(format!("host {host} has no container to snapshot"))
        })?;
        let name = name.map(str::to_string).unwrap_or_else(|| {
            format!(
                "snapshot-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            )
        });
        let valid = !name.is_empty()
            && name.len() <= 60
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric());
        if !valid {
            return Err(ProviderError::invalid_input(format!(
                "invalid snapshot name '{name}': use up to 60 letters, digits, '-', '_' or '.', starting with a letter or digit"
            )));
        }
        if h.certified_host_data
            .snapshots
            .iter()
            .any(|s| s.name == name)
        {
            return Err(ProviderError::already_exists(format!(
                "host {} already has a snapshot named '{name}'",
                h.name()
            )));
        }
        let has_volumes = h
            .config
            .as_ref()
            .map(|c| {
                parse_run_args(&c.start_args)
                    .map(|r| r.has_volumes)
                    .unwrap_or(false)
            })
            .unwrap_or(false);
        if has_volumes {
            self.services.log(LogLevel::Warn, "volume mounts (-v/--mount) are not captured in snapshots; only the container's own filesystem is");
        }
        let options = CommitContainerOptions {
            container: Some(container.clone()),
            repo: Some(self.image_repo("snapshot")),
            tag: Some(format!("{}-{name}", h.host_id())),
            pause: true,
            changes: Some(format!(
                "LABEL {}={}\nLABEL {}={}",
                labels::IMAGE_PROVIDER,
                self.name,
                labels::IMAGE_HOST,
                h.host_id()
            )),
            ..Default::default()
        };
        let committed = self
            .engine
            .call(
                "committing the container",
                self.engine
                    .docker
                    .commit_container(options, bollard::models::ContainerConfig::default()),
            )
            .await?;
        let snap = StoredSnapshot {
            id: committed.id,
            name,
            created_at: mngr_plugin_api::time::now_iso8601_utc_micros(),
        };
        h.certified_host_data.snapshots.push(snap.clone());
        if let Err(e) = self.save(&mut h).await {
            self.remove_image(&snap.id, true).await.ok();
            return Err(e);
        }
        Ok(SnapshotInfo {
            id: snap.id,
            name: snap.name,
            created_at: snap.created_at,
            size_bytes: None,
        })
    }

    async fn delete_snap(&self, host: &HostId, wanted: &str) -> ProviderResult<()> {
        let (mut h, _) = self.find(host.as_str()).await?;
        let snap = self.resolve_snapshot(wanted, Some(&h)).await?;
        let options = RemoveImageOptions {
            force: false,
            noprune: false,
            ..Default::default()
        };
        // By tag: an image another host was created from keeps that host's own tag.
        let tag = format!(
            "{}:{}-{}",
            self.image_repo("snapshot"),
            h.host_id(),
            snap.name
        );
        if let Err(e) = self
            .engine
            .docker
            .remove_image(&tag, Some(options), None)
            .await
        {
            let err = self.engine.error("removing the snapshot image", e);
            match err.kind {
                ErrorKind::NotFound => {}
                ErrorKind::AlreadyExists => {
                    return Err(ProviderError::invalid_input(format!(
                        "snapshot '{}' is in use by a container that mngr did not start from it",
                        snap.name
                    )));
                }
                _ => return Err(err),
            }
        }
        h.certified_host_data.snapshots.retain(|s| s.id != snap.id);
        self.save(&mut h).await
    }

    async fn rename(&self, host: &HostId, new_name: &HostName) -> ProviderResult<HostRecord> {
        let all = self.load().await?;
        if all
            .iter()
            .any(|(h, _)| h.name() == new_name.as_str() && h.host_id() != host.as_str())
        {
            return Err(ProviderError::already_exists(format!(
                "a docker host named '{new_name}' already exists"
            )));
        }
        let (mut h, c) = all
            .into_iter()
            .find(|(h, _)| h.host_id() == host.as_str())
            .ok_or_else(|| not_found(host.as_str()))?;
        h.certified_host_data.host_name = new_name.to_string();
        self.save(&mut h).await?;
        Ok(self.to_record(&h, c.as_ref()))
    }
}

fn state_of_reason(reason: &str) -> HostState {
    match reason {
        "PAUSED" => HostState::Paused,
        "DESTROYED" => HostState::Destroyed,
        _ => HostState::Stopped,
    }
}

impl ProviderInstance for DockerInstance {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            snapshots: true,
            stop_start: true,
            mutable_tags: false,
            volumes: false,
            rename: true,
            create_hosts: true,
            destroy_hosts: true,
        }
    }

    fn create_host(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
        block_on(self.create(request))
    }

    fn stop_host(&self, host: &HostId) -> ProviderResult<()> {
        block_on(self.stop(host))
    }

    fn start_host(&self, host: &HostId, snapshot: Option<&str>) -> ProviderResult<HostRecord> {
        block_on(self.start(host, snapshot))
    }

    fn destroy_host(&self, host: &HostId) -> ProviderResult<()> {
        block_on(self.destroy(host))
    }

    fn delete_host(&self, host: &HostId) -> ProviderResult<()> {
        block_on(self.destroy(host))
    }

    fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
        block_on(async {
            let (h, c) = self.find(id_or_name).await?;
            Ok(self.to_record(&h, c.as_ref()))
        })
    }

    fn discover_hosts(&self, include_destroyed: bool) -> ProviderResult<Vec<HostRecord>> {
        let _ = include_destroyed; // destroyed hosts leave no record behind
        block_on(async {
            let all = self.load().await?;
            Ok(all
                .iter()
                .map(|(h, c)| self.to_record(h, c.as_ref()))
                .collect())
        })
    }

    fn host_access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        block_on(self.access(host))
    }

    fn create_snapshot(&self, host: &HostId, name: Option<&str>) -> ProviderResult<SnapshotInfo> {
        block_on(self.snapshot(host, name))
    }

    fn list_snapshots(&self, host: &HostId) -> ProviderResult<Vec<SnapshotInfo>> {
        block_on(async {
            let (h, _) = self.find(host.as_str()).await?;
            let mut list: Vec<SnapshotInfo> = h
                .certified_host_data
                .snapshots
                .iter()
                .map(|s| SnapshotInfo {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    created_at: s.created_at.clone(),
                    size_bytes: None,
                })
                .collect();
            list.sort_by(|a, b| b.created_at.cmp(&a.created_at));
            Ok(list)
        })
    }

    fn delete_snapshot(&self, host: &HostId, snapshot_id: &str) -> ProviderResult<()> {
        block_on(self.delete_snap(host, snapshot_id))
    }

    fn get_tags(&self, host: &HostId) -> ProviderResult<BTreeMap<String, String>> {
        block_on(async { Ok(self.stored(host).await?.certified_host_data.user_tags) })
    }

    fn set_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        let _ = (host, tags);
        Err(ProviderError::unsupported(TAGS_IMMUTABLE)
            .with_hint("set tags when creating the host: mngr create NAME --in docker --tag K=V"))
    }

    fn add_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        self.set_tags(host, tags)
    }

    fn remove_tags(&self, host: &HostId, keys: Vec<String>) -> ProviderResult<()> {
        let _ = keys;
        self.set_tags(host, BTreeMap::new())
    }

    fn rename_host(&self, host: &HostId, new_name: &HostName) -> ProviderResult<HostRecord> {
        block_on(self.rename(host, new_name))
    }

    fn persisted_agent_records(&self, host: &HostId) -> ProviderResult<Vec<serde_json::Value>> {
        block_on(async {
            if let Some(cached) = self.agent_cache.lock().expect("cache lock").as_ref() {
                return Ok(cached.get(host.as_str()).cloned().unwrap_or_default());
            }
            if !self.store.ensure(false).await? {
                return Ok(Vec::new());
            }
            self.store.read_agents(host.as_str()).await
        })
    }

    fn persist_agent_record(&self, host: &HostId, record: serde_json::Value) -> ProviderResult<()> {
        let Some(id) = record
            .get("id")
            .and_then(|v| v.as_str())
            .and_then(|s| AgentId::parse(s).ok())
        else {
            return Err(ProviderError::invalid_input(
                "agent record has no valid 'id'",
            ));
        };
        *self.agent_cache.lock().expect("cache lock") = None;
        block_on(
            self.store
                .write_host_file(host.as_str(), &format!("{id}.json"), &record),
        )
    }

    fn remove_persisted_agent_record(&self, host: &HostId, agent_id: &str) -> ProviderResult<()> {
        let id =
            AgentId::parse(agent_id).map_err(|e| ProviderError::invalid_input(e.to_string()))?;
        *self.agent_cache.lock().expect("cache lock") = None;
        block_on(
            self.store
                .remove_host_file(host.as_str(), &format!("{id}.json")),
        )
    }

    /// The host record on the state volume already holds what offline views need (name,
    /// tags, snapshots, stop reason), so the host's data.json is not mirrored: that would be
    /// one more write to the volume on every change for nothing read back.
    fn persist_host_record(&self, host: &HostId, record: serde_json::Value) -> ProviderResult<()> {
        let _ = (host, record);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exit_codes_from_status() {
        assert_eq!(super::exit_code_of("Exited (75) 2 minutes ago"), Some(75));
        assert_eq!(super::exit_code_of("Up 3 seconds"), None);
    }
}
