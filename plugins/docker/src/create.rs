//! Creating a host: validate, pick or build its image, run its container; undo all on failure.

use crate::instance::DockerInstance;
use crate::pending::{Operation, Pending};
use crate::record::{ContainerPart, ContainerSettings, StoredHost};
use bollard::models::ContainerSummary;
use mngr_docker_core::build_args::parse_build;
use mngr_docker_core::missing_image;
use mngr_docker_core::run_args::parse_run_args;
use mngr_plugin_api::*;
use mngr_provider_kit::flags::single_path_flag;
use mngr_provider_kit::keys;
use mngr_provider_kit::record::new_host;
use std::path::PathBuf;

impl DockerInstance {
    pub(crate) async fn create(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
        let name = request.name.as_str().to_string();
        // Validate everything before making anything.
        let mut start_args = self.config.default_start_args.clone();
        start_args.extend(request.start_args.iter().cloned());
        parse_run_args(&start_args)?;
        let dockerfile = single_path_flag(&request.flags, "dockerfile", "docker")?;
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
        // Images are chosen (and checked) before anything is made; a build or a snapshot
        // is held through a tag named after the host, recorded before it is made.
        let snapshot = match &request.snapshot {
            Some(wanted) => Some(self.resolve_snapshot(wanted, None).await?),
            None => None,
        };
        let (image, built_image) = if snapshot.is_some() || plan.is_some() {
            let tag = self.held_tag(host_id.as_str());
            (tag.clone(), Some(tag))
        } else {
            (self.base_image(&request).await?, None)
        };
        let mut h = self.new_host(&request, &host_id, &image, start_args, built_image)?;
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
            if snapshot.is_none() && plan.is_none() {
                // The common case: the container, the state container (made on first use),
                // the record and the name check are all under way at once (the container
                // name is taken atomically anyway; the check catches renamed hosts). The
                // container carries its creator in a label, so it is found (and listed as
                // abandoned if this mngr dies, see abandoned.rs) from its first moment, before
                // its record exists; the state container is made only once it exists, so a
                // kill never leaves a state container that no host explains.
                let (existing, created) = tokio::join!(
                    self.load(),
                    self.create_from_image(&request, &mut h, &image)
                );
                let created = created?;
                if clash(&existing?) {
                    return Err(taken());
                }
                return Ok(created);
            }
            // A build or snapshot takes a while: the record comes first, marked as being
            // created by this process, so the images it makes are found through it.
            self.store.ensure(true).await?;
            self.save(&mut h).await?;
            if clash(&self.load().await?) {
                return Err(taken());
            }
            if let Some(snap) = &snapshot {
                self.hold_image(&snap.id, host_id.as_str()).await?;
            } else if let Some(plan) = &plan {
                self.build(plan, &image, host_id.as_str()).await?;
            }
            self.create_from_image(&request, &mut h, &image).await
        }
        .await;
        if result.is_err() {
            self.undo_create(&h).await;
        }
        result
    }

    /// Remove what a failed create made, its record last (while anything else is left,
    /// the record is what finds it).
    async fn undo_create(&self, h: &StoredHost) {
        if let Some(id) = self.container_of(h).await.ok().flatten().and_then(|c| c.id) {
            self.remove_container(&id).await.ok();
        }
        if let Some(built) = h
            .extra
            .config
            .as_ref()
            .and_then(|c| c.built_image.as_deref())
        {
            self.remove_image(built, true).await.ok();
        }
        keys::remove_local(&self.state_dir, h.host_id()).ok();
        self.store.delete_host(h.host_id()).await.ok();
        self.cache.forget(h.host_id());
        self.remove_store_if_empty().await.ok();
    }

    /// The image the request names, else the configured default; mngr never pulls, so it
    /// must already be on the daemon.
    async fn base_image(&self, request: &CreateHostRequest) -> ProviderResult<String> {
        let image = request
            .image
            .clone()
            .unwrap_or_else(|| self.config.default_image.clone());
        if !self.engine.image_exists(&image).await? {
            return Err(missing_image(&image));
        }
        Ok(image)
    }

    /// The record of a new host, with fresh keys, marked as being created by this process.
    fn new_host(
        &self,
        request: &CreateHostRequest,
        host_id: &HostId,
        image: &str,
        start_args: Vec<String>,
        built_image: Option<String>,
    ) -> ProviderResult<StoredHost> {
        let mut h = new_host(
            request,
            host_id,
            &self.prefix,
            self.config.default_idle_timeout,
            image,
            ContainerPart {
                container_id: None,
                config: Some(ContainerSettings {
                    start_args,
                    image: Some(image.to_string()),
                    host_dir: self.config.host_dir.clone(),
                    built_image,
                }),
                pending: Some(Pending::now(Operation::Creating)),
            },
        )?;
        h.ssh_host = Some(self.config.ssh_address());
        Ok(h)
    }

    async fn create_from_image(
        &self,
        request: &CreateHostRequest,
        h: &mut StoredHost,
        image: &str,
    ) -> ProviderResult<HostRecord> {
        self.services.progress(&format!(
            "starting container {}",
            self.container_name(h.name())
        ));
        let id = self.run_container(h, image, true).await?;
        // The key goes where gc and destroy find it, under the host id, once the host is
        // findable (its container and record exist).
        keys::materialize(&self.state_dir, h.host_id(), &h.keys()?.client_private_key)?;
        if request.snapshot.is_some() {
            // The snapshot's files come along, but its agents belong to the host it was
            // taken from: the new host starts with none.
            let hd = mngr_plugin_api::shell::quote(&self.config.host_dir);
            let script =
                format!("rm -rf {hd}/agents {hd}/host_lock.generation && mkdir -p {hd}/agents");
            let cleared = self.engine.exec(&id, &script).await;
            if !matches!(cleared, Ok((0, _))) {
                return Err(ProviderError::internal(
                    "could not clear the snapshot's agent records in the new host",
                ));
            }
        }
        self.remember(h);
        let mut record = self.to_record(h, None);
        record.state = HostState::Running;
        record.stop_reason = None;
        Ok(record)
    }
}
