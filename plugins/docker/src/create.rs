//! Creating a host: validate, pick or build its image, run its container; undo all on failure.

use crate::build_args::parse_build;
use crate::instance::DockerInstance;
use crate::keys;
use crate::record::{ContainerSettings, HostData, StoredHost, StoredKeys};
use crate::run_args::parse_run_args;
use crate::state::missing_image;
use bollard::models::ContainerSummary;
use mngr_plugin_api::*;
use std::path::PathBuf;

impl DockerInstance {
    pub(crate) async fn create(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
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
                let image = self.base_image(&request).await?;
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
                let tag = self.held_tag(host_id.as_str());
                built_image = Some(tag.clone());
                self.build(plan, &tag, host_id.as_str()).await?;
                tag
            } else {
                self.base_image(&request).await?
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
            self.cache
                .lock()
                .expect("cache lock")
                .remove(host_id.as_str());
            keys::remove_local(&self.state_dir, host_id.as_str()).ok();
            self.remove_store_if_empty().await.ok();
        }
        result
    }

    /// The image the request names, else the configured default; mngr never pulls, so it
    /// must already be on the daemon.
    async fn base_image(&self, request: &CreateHostRequest) -> ProviderResult<String> {
        let image = request
            .image
            .clone()
            .unwrap_or_else(|| self.config.default_image.clone());
        if !self.image_exists(&image).await? {
            return Err(missing_image(&image));
        }
        Ok(image)
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
        let mut data = HostData::new(host_id.as_str(), request.name.as_str(), &self.prefix);
        data.user_tags = request.tags.clone();
        data.idle_timeout_seconds = request
            .lifecycle
            .idle_timeout_seconds
            .unwrap_or(self.config.default_idle_timeout);
        if let Some(sources) = &request.lifecycle.activity_sources {
            data.activity_sources = sources.clone();
        }
        data.image = Some(image.to_string());
        let mut h = StoredHost {
            certified_host_data: data,
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
        self.remember(&h);
        let mut record = self.to_record(&h, None);
        record.state = HostState::Running;
        record.stop_reason = None;
        Ok(record)
    }
}
