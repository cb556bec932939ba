//! A host's life on Modal: create (image, sandbox, tunnel, provisioning, sshd), access,
//! observed state, stop (snapshot, then terminate), start (a new sandbox from the newest
//! snapshot), destroy, rename.

use crate::build_args::{self, BuildPlan};
use crate::instance::{ModalInstance, not_found};
use crate::provision;
use crate::record::{SandboxPart, SandboxSettings, StoredHost, unix_now};
use crate::sandbox::SandboxSpec;
use mngr_modal_proto::client::generic_result::GenericStatus;
use mngr_plugin_api::*;
use mngr_provider_kit::access::{SshTarget, ssh_access, wait_for_sshd};
use mngr_provider_kit::flags::single_path_flag;
use mngr_provider_kit::keys;
use mngr_provider_kit::pending::{Operation, Pending};
use mngr_provider_kit::record::{name_taken_by_another, new_host};
use std::collections::{BTreeMap, HashMap};

const SSH_PORT: u32 = 22;
/// The sandbox tag naming the mngr host it belongs to.
pub const HOST_TAG: &str = "mngr-host-id";

pub fn check_tags(tags: &BTreeMap<String, String>) -> ProviderResult<()> {
    for (k, v) in tags {
        if k.is_empty() || k.contains('=') || v.contains('\n') {
            return Err(ProviderError::invalid_input(format!(
                "invalid tag '{k}={v}'"
            )));
        }
    }
    Ok(())
}

fn not_running(h: &StoredHost) -> ProviderError {
    ProviderError::new(
        ErrorKind::Unavailable,
        format!("modal host '{}' is not running", h.name()),
    )
    .with_hint(format!("start it with: mngr start {}", h.name()))
}

impl ModalInstance {
    pub(crate) async fn create(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
        let name = request.name.as_str().to_string();
        let dockerfile = single_path_flag(&request.flags, "dockerfile", "modal")?;
        if !request.start_args.is_empty() {
            return Err(ProviderError::invalid_input(
                "the modal backend takes no start args (-s); size the sandbox with -b cpu=, memory=, gpu=, timeout=",
            ));
        }
        let plan = build_args::parse(
            &self.config,
            &request.build_args,
            request.image.as_deref(),
            dockerfile.as_deref(),
        )?;
        check_tags(&request.tags)?;
        let (existing, app) = tokio::join!(self.load(), self.app());
        let existing = existing?;
        let app = app?.to_string();
        if existing.iter().any(|h| h.name() == name) {
            return Err(ProviderError::already_exists(format!(
                "a modal host named '{name}' already exists on provider '{}'",
                self.name
            )));
        }
        let from_snapshot = match &request.snapshot {
            Some(wanted) => Some(self.snapshot_anywhere(&existing, wanted)?),
            None => None,
        };
        let host_id = HostId::generate();
        let mut h = self.new_host(&request, &host_id, &plan)?;
        let result = async {
            let image_id = match &from_snapshot {
                Some(snapshot) => snapshot.id.clone(),
                None => self.build_image(&app, &plan).await?,
            };
            if let Some(settings) = h.extra.settings.as_mut() {
                settings.image_id = image_id.clone();
            }
            // The record comes first: from here on, whatever is made is found through it.
            self.save(&mut h).await?;
            self.boot(&mut h, &image_id, from_snapshot.is_none())
                .await?;
            if from_snapshot.is_some() {
                self.clear_agents(&h).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            self.undo_create(&h).await;
            return Err(e);
        }
        Ok(self.to_record(&h, HostState::Running, None))
    }

    /// The snapshot `wanted` names among every host's snapshots.
    fn snapshot_anywhere(
        &self,
        hosts: &[StoredHost],
        wanted: &str,
    ) -> ProviderResult<mngr_provider_kit::record::HostSnapshot> {
        mngr_provider_kit::snapshots::resolve(
            wanted,
            hosts.iter().flat_map(|h| &h.certified_host_data.snapshots),
        )
    }

    fn new_host(
        &self,
        request: &CreateHostRequest,
        host_id: &HostId,
        plan: &BuildPlan,
    ) -> ProviderResult<StoredHost> {
        new_host(
            request,
            host_id,
            &self.prefix,
            self.config.default_idle_timeout,
            &plan.image_label,
            SandboxPart {
                sandbox_id: None,
                task_id: None,
                started_at: None,
                settings: Some(SandboxSettings {
                    image_id: String::new(),
                    milli_cpu: plan.milli_cpu,
                    memory_mb: plan.memory_mb,
                    gpu: plan.gpu.clone(),
                    timeout_secs: plan.timeout_secs,
                    host_dir: self.config.host_dir.clone(),
                }),
                pending: Some(Pending::now(Operation::Creating)),
            },
        )
    }

    /// The host's image: its base, then a layer that adds sshd and tmux where missing.
    async fn build_image(&self, app: &str, plan: &BuildPlan) -> ProviderResult<String> {
        self.services
            .progress(&format!("building modal image from {}", plan.image_label));
        let base = self
            .api
            .image_layer(app, None, plan.base_commands.clone())
            .await?;
        self.api
            .image_layer(app, Some(&base), provision::image_layer())
            .await
    }

    /// Start a sandbox for the host from `image_id`, provision it when `provision` (a
    /// snapshot already holds the files), wait for its sshd and record how to reach it.
    async fn boot(&self, h: &mut StoredHost, image_id: &str, fresh: bool) -> ProviderResult<()> {
        let settings =
            h.extra.settings.clone().ok_or_else(|| {
                ProviderError::internal("modal host record has no sandbox settings")
            })?;
        let app = self.app().await?.to_string();
        let spec = SandboxSpec {
            image_id: image_id.to_string(),
            entrypoint: provision::entrypoint(&settings.host_dir),
            milli_cpu: settings.milli_cpu,
            memory_mb: settings.memory_mb,
            gpu: settings.gpu.clone(),
            timeout_secs: settings.timeout_secs,
            open_port: SSH_PORT,
            tags: BTreeMap::from([(HOST_TAG.to_string(), h.host_id().to_string())]),
        };
        self.services
            .progress(&format!("starting modal sandbox for {}", h.name()));
        let (sandbox_id, task_id) = self.api.create_sandbox(&app, &spec).await?;
        h.extra.sandbox_id = Some(sandbox_id.clone());
        h.extra.task_id = Some(task_id.clone());
        h.extra.started_at = Some(unix_now());
        h.certified_host_data.stop_reason = None;
        self.save(h).await?;
        self.services
            .progress(&format!("opening the tunnel to modal sandbox {sandbox_id}"));
        let (tunnel, provisioned) = tokio::join!(self.api.tunnel(&sandbox_id, SSH_PORT), async {
            if fresh {
                self.provision(h, &task_id).await
            } else {
                Ok(())
            }
        });
        let (address, port) = tunnel?;
        provisioned?;
        self.services
            .progress(&format!("waiting for sshd in modal sandbox {sandbox_id}"));
        wait_for_sshd(&address, port).await?;
        keys::materialize(&self.state_dir, h.host_id(), &h.keys()?.client_private_key)?;
        h.ssh_host = Some(address);
        h.ssh_port = Some(port);
        self.save(h).await
    }

    /// Deliver the kit's files through one command in the sandbox.
    async fn provision(&self, h: &StoredHost, task_id: &str) -> ProviderResult<()> {
        let script = provision::install_script(h, &self.host_dir_of(h), &self.prefix)?;
        let out = self
            .api
            .exec(task_id, vec!["sh".into(), "-c".into(), script])
            .await?;
        if out.code != 0 {
            return Err(ProviderError::internal(format!(
                "provisioning the modal sandbox failed (exit {}): {}",
                out.code,
                out.stderr.trim()
            )));
        }
        Ok(())
    }

    /// A host made from a snapshot starts with the snapshot's files but none of its agents.
    async fn clear_agents(&self, h: &StoredHost) -> ProviderResult<()> {
        let task = h.extra.task_id.clone().unwrap_or_default();
        let hd = provision::quote(&self.host_dir_of(h));
        let script =
            format!("rm -rf {hd}/agents {hd}/host_lock.generation && mkdir -p {hd}/agents");
        let out = self
            .api
            .exec(&task, vec!["sh".into(), "-c".into(), script])
            .await?;
        if out.code != 0 {
            return Err(ProviderError::internal(
                "could not clear the snapshot's agent records in the new host",
            ));
        }
        Ok(())
    }

    /// Remove what a failed create made, its record last.
    async fn undo_create(&self, h: &StoredHost) {
        if let Some(sandbox) = &h.extra.sandbox_id {
            self.api.terminate(sandbox).await.ok();
        }
        keys::remove_local(&self.state_dir, h.host_id()).ok();
        self.store.delete_host(h.host_id()).await.ok();
        self.forget(h.host_id());
    }

    pub(crate) async fn access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        let h = self.stored(host).await?;
        let sandbox = h.extra.sandbox_id.clone().ok_or_else(|| not_running(&h))?;
        let (address, port) = match self.api.tunnel(&sandbox, SSH_PORT).await {
            Ok(tunnel) => tunnel,
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Unavailable) => {
                return Err(not_running(&h));
            }
            Err(e) => return Err(e),
        };
        let target = SshTarget {
            address,
            port,
            user: "root".into(),
            host_dir: self.host_dir_of(&h),
            direct_routes: Vec::new(),
        };
        ssh_access(&self.state_dir, &h, target)
    }

    /// When the host's sandbox reaches its timeout (unix seconds).
    fn deadline(h: &StoredHost) -> Option<u64> {
        let timeout = h.extra.settings.as_ref()?.timeout_secs;
        Some(h.extra.started_at? + u64::from(timeout))
    }

    pub(crate) fn to_record(
        &self,
        h: &StoredHost,
        state: HostState,
        ended: Option<&str>,
    ) -> HostRecord {
        let data = &h.certified_host_data;
        let id = HostId::parse(h.host_id()).unwrap_or_else(|_| HostId::generate());
        let name = HostName::parse(h.name())
            .unwrap_or_else(|_| HostName::parse("unnamed").expect("valid"));
        let mut details = BTreeMap::new();
        if let Some(sandbox) = &h.extra.sandbox_id {
            details.insert("sandbox_id".into(), serde_json::json!(sandbox));
        }
        if let Some(deadline) = Self::deadline(h) {
            let at = mngr_plugin_api::time::iso8601_utc(deadline as i64);
            let key = if state == HostState::Running {
                "timeout_at"
            } else {
                "timed_out_at"
            };
            if state == HostState::Running || ended == Some("timeout") {
                details.insert(key.into(), serde_json::json!(at));
            }
        }
        let mut record = HostRecord::new(id, name, &self.name, state, self.host_dir_of(h))
            .with_tags(data.user_tags.clone())
            .with_created_at(data.created_at.clone())
            .with_details(details);
        record.image = data.image.clone();
        if matches!(state, HostState::Stopped | HostState::Paused) {
            record.stop_reason = Some(data.stop_reason.clone().unwrap_or(StopReason::Stopped));
        }
        if ended == Some("timeout") {
            record.failure_reason = Some(format!(
                "the sandbox reached its timeout of {} s; `mngr start` restores the newest snapshot",
                h.extra.settings.as_ref().map_or(0, |s| s.timeout_secs)
            ));
        }
        record
    }

    /// Why the host is abandoned: its create's process is gone and it holds no agent, in
    /// the volume's records or in the sandbox (an unknown is never abandoned).
    async fn abandonment(&self, h: &StoredHost) -> Option<String> {
        use mngr_provider_kit::agents::AgentBlobStore;
        if h.extra.pending.as_ref()?.holder_alive() {
            return None;
        }
        if !self
            .store
            .read_agent_records(h.host_id())
            .await
            .ok()?
            .is_empty()
        {
            return None;
        }
        if let Some(task) = &h.extra.task_id {
            let agents = format!("{}/agents", self.host_dir_of(h).trim_end_matches('/'));
            let script = format!("ls -A {} 2>/dev/null", provision::quote(&agents));
            if let Ok(out) = self
                .api
                .exec(task, vec!["sh".into(), "-c".into(), script])
                .await
                && !out.stdout.trim().is_empty()
            {
                return None;
            }
        }
        Some("its create was interrupted before its first agent".into())
    }

    /// A host's state now, with why it is abandoned when it is.
    pub(crate) async fn listed(&self, h: &StoredHost) -> ProviderResult<HostRecord> {
        let mut record = self.observed(h).await?;
        record.abandoned = self.abandonment(h).await;
        Ok(record)
    }

    /// A host's state as Modal reports it now.
    pub(crate) async fn observed(&self, h: &StoredHost) -> ProviderResult<HostRecord> {
        let Some(sandbox) = &h.extra.sandbox_id else {
            return Ok(self.to_record(h, HostState::Stopped, None));
        };
        let result = match self.api.sandbox_result(sandbox).await {
            Err(e) if e.kind == ErrorKind::NotFound => {
                return Ok(self.to_record(h, HostState::Stopped, None));
            }
            other => other?,
        };
        Ok(match result {
            None => self.running_or_stopped(h).await?,
            Some(r) if r.status == GenericStatus::Timeout as i32 => {
                self.to_record(h, HostState::Stopped, Some("timeout"))
            }
            Some(_) => self.to_record(h, HostState::Stopped, None),
        })
    }

    /// Every host: one listing of the app's running sandboxes beside the records; only hosts
    /// whose sandbox is not running are asked how it ended (concurrently). Sandboxes are
    /// listed before records are read: a create records its host before it makes a sandbox,
    /// so a tagged sandbox without a record is an orphan (its create was killed while Modal
    /// was still making it) and is terminated.
    pub(crate) async fn discover(&self) -> ProviderResult<Vec<HostRecord>> {
        let app = self.app().await?.to_string();
        let sandboxes = self.api.list_sandboxes(&app).await?;
        let hosts = self.load().await?;
        let known: std::collections::HashSet<&str> = hosts.iter().map(|h| h.host_id()).collect();
        for sandbox in &sandboxes {
            let owner = sandbox.tags.iter().find(|t| t.tag_name == HOST_TAG);
            if owner.is_some_and(|t| !known.contains(t.tag_value.as_str())) {
                self.api.terminate(&sandbox.id).await?;
            }
        }
        let running: HashMap<&str, ()> = sandboxes.iter().map(|s| (s.id.as_str(), ())).collect();
        let views = hosts.iter().map(|h| async {
            let mut record = match &h.extra.sandbox_id {
                Some(id) if running.contains_key(id.as_str()) => self.running_or_stopped(h).await?,
                _ => self.observed(h).await?,
            };
            record.abandoned = self.abandonment(h).await;
            Ok(record)
        });
        futures_util::future::join_all(views)
            .await
            .into_iter()
            .collect()
    }

    /// Snapshot a running host; the snapshot's metadata goes into its record on the volume.
    pub(crate) async fn snapshot(
        &self,
        host: &HostId,
        name: Option<&str>,
    ) -> ProviderResult<SnapshotInfo> {
        let mut h = self.stored(host).await?;
        let name = mngr_provider_kit::snapshots::new_name(
            name,
            h.name(),
            &h.certified_host_data.snapshots,
        )?;
        let task = h.extra.task_id.clone().ok_or_else(|| not_running(&h))?;
        self.services
            .progress(&format!("snapshotting modal host {}", h.name()));
        let image_id = self.api.snapshot_filesystem(&task).await?;
        let snapshot = mngr_provider_kit::record::HostSnapshot::new(
            image_id,
            name,
            mngr_plugin_api::time::now_iso8601_utc_micros(),
        );
        h.certified_host_data.snapshots.push(snapshot.clone());
        self.save(&mut h).await?;
        Ok(mngr_provider_kit::snapshots::info(&snapshot))
    }

    pub(crate) async fn delete_snap(&self, host: &HostId, wanted: &str) -> ProviderResult<()> {
        let mut h = self.stored(host).await?;
        let snapshot =
            mngr_provider_kit::snapshots::resolve(wanted, &h.certified_host_data.snapshots)?;
        self.api.delete_image(&snapshot.id).await?;
        h.certified_host_data
            .snapshots
            .retain(|s| s.id != snapshot.id);
        self.save(&mut h).await
    }

    /// Modal sandboxes cannot pause: stopping snapshots the filesystem, then terminates.
    pub(crate) async fn stop(&self, host: &HostId) -> ProviderResult<()> {
        self.stop_as(host, StopReason::Stopped).await
    }

    async fn stop_as(&self, host: &HostId, reason: StopReason) -> ProviderResult<()> {
        let h = self.stored(host).await?;
        let Some(sandbox) = h.extra.sandbox_id.clone() else {
            return Ok(()); // already stopped
        };
        if self.api.sandbox_result(&sandbox).await?.is_none() {
            self.snapshot(host, None).await?;
        }
        let mut h = self.stored(host).await?;
        self.api.terminate(&sandbox).await?;
        h.extra.sandbox_id = None;
        h.extra.task_id = None;
        h.extra.started_at = None;
        h.certified_host_data.stop_reason = Some(reason);
        self.save(&mut h).await
    }

    /// The reason the host's watcher asked to stop (see `provision::stop_action`), if it did.
    async fn stop_request(&self, h: &StoredHost) -> Option<String> {
        let task = h.extra.task_id.clone()?;
        let file = format!(
            "{}/{}",
            self.host_dir_of(h).trim_end_matches('/'),
            provision::STOP_REQUEST
        );
        let out = self.api.exec(&task, vec!["cat".into(), file]).await.ok()?;
        (out.code == 0).then(|| out.stdout.trim().to_string())
    }

    /// A running host as listed: one whose watcher asked to stop is stopped now (snapshot,
    /// then terminate), so an idle host keeps its work without a process of its own on Modal.
    async fn running_or_stopped(&self, h: &StoredHost) -> ProviderResult<HostRecord> {
        let Some(requested) = self.stop_request(h).await else {
            return Ok(self.to_record(h, HostState::Running, None));
        };
        let (reason, state) = if requested == "idle" {
            (StopReason::Paused, HostState::Paused)
        } else {
            (StopReason::Stopped, HostState::Stopped)
        };
        let host =
            HostId::parse(h.host_id()).map_err(|e| ProviderError::internal(e.to_string()))?;
        self.services.progress(&format!(
            "modal host {} asked to stop ({requested}): snapshotting it",
            h.name()
        ));
        self.stop_as(&host, reason).await?;
        let h = self.stored(&host).await?;
        Ok(self.to_record(&h, state, None))
    }

    /// A new sandbox from the named snapshot, else the newest, else the host's image.
    pub(crate) async fn start(
        &self,
        host: &HostId,
        snapshot: Option<&str>,
    ) -> ProviderResult<HostRecord> {
        let mut h = self.stored(host).await?;
        let current = self.observed(&h).await?;
        if current.state == HostState::Running && snapshot.is_none() {
            return Ok(current);
        }
        if let Some(sandbox) = h.extra.sandbox_id.clone() {
            self.api.terminate(&sandbox).await?;
        }
        let snapshots = &h.certified_host_data.snapshots;
        let chosen = match snapshot {
            Some(wanted) => Some(mngr_provider_kit::snapshots::resolve(wanted, snapshots)?),
            None => mngr_provider_kit::snapshots::newest(snapshots).cloned(),
        };
        let (image, fresh) = match &chosen {
            Some(s) => (s.id.clone(), false),
            None => (
                h.extra
                    .settings
                    .as_ref()
                    .map(|s| s.image_id.clone())
                    .unwrap_or_default(),
                true,
            ),
        };
        self.boot(&mut h, &image, fresh).await?;
        Ok(self.to_record(&h, HostState::Running, None))
    }

    pub(crate) async fn destroy(&self, host: &HostId) -> ProviderResult<()> {
        let h = match self.stored(host).await {
            Ok(h) => h,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        // Its sandboxes by tag too: a create killed before it recorded one leaves it untracked.
        let app = self.app().await?.to_string();
        let mut sandboxes: Vec<String> = self
            .api
            .list_sandboxes(&app)
            .await?
            .into_iter()
            .filter(|s| {
                s.tags
                    .iter()
                    .any(|t| t.tag_name == HOST_TAG && t.tag_value == h.host_id())
            })
            .map(|s| s.id)
            .collect();
        sandboxes.extend(h.extra.sandbox_id.clone());
        sandboxes.sort();
        sandboxes.dedup();
        for sandbox in &sandboxes {
            self.api.terminate(sandbox).await?;
        }
        for snapshot in &h.certified_host_data.snapshots {
            self.api.delete_image(&snapshot.id).await?;
        }
        keys::remove_local(&self.state_dir, h.host_id())
            .map_err(|e| ProviderError::internal(format!("removing the host's local key: {e}")))?;
        self.store.delete_host(h.host_id()).await?;
        self.forget(h.host_id());
        Ok(())
    }

    pub(crate) async fn rename(
        &self,
        host: &HostId,
        new_name: &HostName,
    ) -> ProviderResult<HostRecord> {
        let all = self.load().await?;
        if name_taken_by_another(&all, host, new_name.as_str()) {
            return Err(ProviderError::already_exists(format!(
                "a modal host named '{new_name}' already exists on provider '{}'",
                self.name
            )));
        }
        let mut h = all
            .into_iter()
            .find(|h| h.host_id() == host.as_str())
            .ok_or_else(|| not_found(host.as_str()))?;
        h.certified_host_data.host_name = new_name.as_str().to_string();
        self.save(&mut h).await?;
        self.observed(&h).await
    }
}
