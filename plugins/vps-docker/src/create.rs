//! Creating a host: a VPS booted by cloud-init with keys mngr generated, then one container
//! on its Docker (reached over mngr's own SSH session) with sshd published on the VPS's
//! public address. Anything made is undone if a later step fails.

use crate::build_args::split_vps_args;
use crate::client::{InstanceSpec, VpsClient, VpsInstance, VpsStatus};
use crate::cloud_init::{CloudInit, READY_MARKER};
use crate::instance::{ContainerState, Seen, VpsDockerInstance};
use crate::machine::Machine;
use crate::record::*;
use mngr_docker_core::build_args::parse_build;
use mngr_docker_core::missing_image;
use mngr_docker_core::run_args::parse_run_args;
use mngr_plugin_api::*;
use mngr_provider_kit::keys::{self, KeyPair};
use mngr_provider_kit::record::new_host;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the ready marker is looked for, over the open session (cheap: one channel).
const MARKER_POLL: Duration = Duration::from_millis(500);
/// Written by cloud-init when its last stage is done (with or without errors).
const CLOUD_INIT_RESULT: &str = "/run/cloud-init/result.json";

/// The end of cloud-init's output on the VPS, for an error's details.
async fn cloud_init_log(machine: &Machine) -> String {
    machine
        .session
        .exec("tail -n 5 /var/log/cloud-init-output.log")
        .await
        .map(|(_, log)| log)
        .unwrap_or_default()
}

/// What a create has made so far, for the undo.
#[derive(Default)]
struct Made {
    ssh_key_id: Option<String>,
    instance_id: Option<String>,
    machine: Option<Arc<Machine>>,
    container_id: Option<String>,
    record_written: bool,
}

/// The validated request.
struct Plan {
    vps: crate::build_args::VpsChoice,
    start_args: Vec<String>,
    build: Option<mngr_docker_core::build_args::BuildPlan>,
}

impl<C: VpsClient> VpsDockerInstance<C> {
    pub(crate) async fn create(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
        let plan = self.validate(&request)?;
        let name = request.name.as_str();
        if self
            .load_all()
            .await?
            .iter()
            .any(|s| self.host_name_of(s) == name)
        {
            return Err(ProviderError::already_exists(format!(
                "a {} host named '{name}' already exists on provider '{}'",
                self.names.backend, self.name
            )));
        }
        let host_id = HostId::generate();
        let mut made = Made::default();
        let result = self.provision(&request, &plan, &host_id, &mut made).await;
        if result.is_err() {
            self.undo(&made, host_id.as_str()).await;
        }
        result
    }

    /// Everything checked before anything is made (or billed).
    fn validate(&self, request: &CreateHostRequest) -> ProviderResult<Plan> {
        if let Some(flag) = request.flags.keys().next() {
            return Err(ProviderError::invalid_input(format!(
                "the {} backend has no flag --{flag}",
                self.names.backend
            )));
        }
        if request.snapshot.is_some() {
            return Err(ProviderError::unsupported(format!(
                "the {} backend does not create hosts from snapshots",
                self.names.backend
            )));
        }
        let s = &self.settings;
        let vps = split_vps_args(
            &request.build_args,
            self.names.flag_alias,
            (&s.default_region, &s.default_plan, &s.default_os),
        )?;
        let mut start_args = s.default_start_args.clone();
        start_args.extend(request.start_args.iter().cloned());
        parse_run_args(&start_args)?;
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let build = parse_build(None, &vps.docker_build_args, &cwd)?;
        for (k, v) in &request.tags {
            if k.is_empty() || k.contains('=') || v.contains('\n') {
                return Err(ProviderError::invalid_input(format!(
                    "invalid tag '{k}={v}'"
                )));
            }
        }
        Ok(Plan {
            vps,
            start_args,
            build,
        })
    }

    async fn provision(
        &self,
        request: &CreateHostRequest,
        plan: &Plan,
        host_id: &HostId,
        made: &mut Made,
    ) -> ProviderResult<HostRecord> {
        let name = request.name.as_str();
        let id = host_id.as_str();
        // Separate keypairs: mngr's login to the VPS, the VPS's host key, and (in the record)
        // mngr's login to the container and the container's host key.
        crate::pending::Creating::now(name).write(&self.state_dir, id)?;
        let vps_login = keys::generate()?;
        let vps_host = keys::generate()?;
        keys::materialize_file(
            &self.state_dir,
            id,
            VPS_CLIENT_KEY_FILE,
            &vps_login.private_openssh,
        )?;
        keys::materialize_file(
            &self.state_dir,
            id,
            VPS_HOST_KEY_FILE,
            &vps_host.public_openssh,
        )?;

        let key_name = format!("{}{id}", self.prefix);
        made.ssh_key_id = Some(
            self.client
                .create_ssh_key(&key_name, &vps_login.public_openssh)
                .await?,
        );
        let spec = self.instance_spec(name, id, plan, &vps_login, &vps_host, made);
        self.services.progress(&format!(
            "ordering a VPS ({} in {})",
            spec.plan, spec.region
        ));
        let ordered_at = Instant::now();
        let ordered = self.client.create_instance(&spec).await?;
        made.instance_id = Some(ordered.id.clone());
        let instance = self.wait_until_active(&ordered.id).await?;
        self.services.log(
            LogLevel::Debug,
            &format!(
                "{}: ordering the VPS until it was active took {} ms",
                self.names.backend,
                ordered_at.elapsed().as_millis()
            ),
        );
        let address = instance.main_ip.clone().unwrap_or_default();

        self.services
            .progress(&format!("waiting for the VPS at {address} to boot"));
        // "Active" comes before the OS is up: sshd may take the rest of the boot allowance.
        let boot_left = self
            .settings
            .vps_boot_timeout
            .saturating_sub(ordered_at.elapsed());
        let patience = boot_left.max(self.settings.ssh_connect_timeout);
        let sshd_wait = Instant::now();
        let first = self
            .machine(id, &address, patience)
            .await
            .map_err(|e| self.boot_failed(&instance.id, &address, e))?;
        first.engine.timing("waiting for the VPS's sshd", sshd_wait);
        made.machine = Some(first.clone());
        let machine = self.wait_for_docker(id, &instance.id, first).await?;
        made.machine = Some(machine.clone());

        let image = match &plan.build {
            Some(build) => {
                let tag = format!("mngr-build-{}", id.trim_start_matches("host-"));
                self.services
                    .progress(&format!("building the image on the VPS at {address}"));
                let services = self.services.clone();
                machine
                    .engine
                    .build_image(
                        build,
                        &tag,
                        Default::default(),
                        self.settings.docker_install_timeout,
                        |line| services.log(LogLevel::Debug, line),
                    )
                    .await?;
                tag
            }
            None => {
                let image = request
                    .image
                    .clone()
                    .unwrap_or_else(|| self.settings.default_image.clone());
                if !machine.engine.image_exists(&image).await? {
                    return Err(missing_image(&image));
                }
                image
            }
        };

        let mut h = self.new_record(request, host_id, &image, plan, &instance, &vps_host)?;
        h.extra.vps.as_mut().expect("just set").ssh_key_id = made.ssh_key_id.clone();
        self.services
            .progress(&format!("starting container {}", self.container_name(name)));
        machine.store.ensure(true).await?;
        // The record is written once the container exists; the undo removes both.
        made.record_written = true;
        self.run_container(&machine, &mut h, &address, &mut made.container_id)
            .await?;
        keys::materialize(&self.state_dir, id, &h.keys()?.client_private_key)?;

        let seen = Seen {
            instance,
            stored: Some(h),
            container: Some(ContainerState {
                running: true,
                exit_code: None,
            }),
            unreachable: None,
            creating: crate::pending::read(&self.state_dir, id),
            agents: Vec::new(),
        };
        self.remember(seen.clone());
        Ok(self.to_record(&seen))
    }

    fn instance_spec(
        &self,
        name: &str,
        host_id: &str,
        plan: &Plan,
        vps_login: &KeyPair,
        vps_host: &KeyPair,
        made: &Made,
    ) -> InstanceSpec {
        let user_data = CloudInit {
            host_private_key: &vps_host.private_openssh,
            host_public_key: &vps_host.public_openssh,
            authorized_key: &vps_login.public_openssh,
        }
        .render();
        InstanceSpec {
            label: format!("{}{name}", self.prefix),
            region: plan.vps.region.clone(),
            plan: plan.vps.plan.clone(),
            os: plan.vps.os.clone(),
            snapshot_id: None,
            user_data,
            ssh_key_ids: made.ssh_key_id.iter().cloned().collect(),
            tags: vec![
                format!("{TAG_PROVIDER}={}", self.name),
                format!("{TAG_HOST_ID}={host_id}"),
                format!("{TAG_HOST_NAME}={name}"),
            ],
        }
    }

    /// Poll the API until the VPS is active with its address.
    async fn wait_until_active(&self, instance_id: &str) -> ProviderResult<VpsInstance> {
        let started = Instant::now();
        loop {
            let Some(instance) = self.client.get_instance(instance_id).await? else {
                return Err(ProviderError::internal(format!(
                    "VPS {instance_id} disappeared while it booted"
                )));
            };
            let has_address = instance
                .main_ip
                .as_deref()
                .is_some_and(|ip| !ip.is_empty() && ip != "0.0.0.0");
            if instance.status == VpsStatus::Active && has_address {
                return Ok(instance);
            }
            if started.elapsed() >= self.settings.vps_boot_timeout {
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "VPS {instance_id} was not active with an address within {} s",
                        self.settings.vps_boot_timeout.as_secs()
                    ),
                )
                .with_hint(format!(
                    "raise providers.{}.vps_boot_timeout, or look at the instance in the provider's console",
                    self.name
                )));
            }
            tokio::time::sleep(self.settings.poll_interval).await;
        }
    }

    /// A VPS the API calls active whose sshd never let mngr in: its boot failed or is too
    /// slow. Said with the instance (the provider's console shows its boot), and bounded.
    /// A refused host key stays what it is.
    fn boot_failed(&self, instance_id: &str, address: &str, e: ProviderError) -> ProviderError {
        if e.kind != ErrorKind::Unavailable {
            return e;
        }
        ProviderError::new(
            ErrorKind::Timeout,
            format!(
                "VPS {instance_id} at {address} did not let mngr log in within {} s of its order; its boot failed or is slow ({})",
                self.settings.vps_boot_timeout.as_secs(),
                e.message
            ),
        )
        .with_hint(format!(
            "look at the instance's console in the provider's dashboard, or raise providers.{}.vps_boot_timeout; the VPS was destroyed",
            self.name
        ))
    }

    /// Wait for cloud-init's last step (Docker answers, then the ready marker), and answer a
    /// session that is still open: cloud-init restarts the VPS's sshd while it configures it,
    /// which ends the session, so a dropped one is opened again (with the pinned key).
    async fn wait_for_docker(
        &self,
        host_id: &str,
        instance_id: &str,
        first: Arc<Machine>,
    ) -> ProviderResult<Arc<Machine>> {
        let started = Instant::now();
        let address = first.session.address.clone();
        // 0: ready; 3: cloud-init finished its last stage without getting there.
        let probe = format!(
            "test -f {READY_MARKER} && exit 0; test -f {CLOUD_INIT_RESULT} && exit 3; exit 1"
        );
        let mut machine = first;
        loop {
            match machine.session.exec(&probe).await {
                Ok((0, _)) => {
                    machine.engine.timing("waiting for cloud-init", started);
                    return Ok(machine);
                }
                Ok((3, _)) => {
                    let log = cloud_init_log(&machine).await;
                    return Err(ProviderError::new(
                        ErrorKind::Internal,
                        format!(
                            "cloud-init on VPS {instance_id} at {address} finished without making Docker ready; the VPS was destroyed"
                        ),
                    )
                    .with_hint("the details hold the end of /var/log/cloud-init-output.log")
                    .with_details(serde_json::Value::from(log)));
                }
                Ok(_) => {}
                Err(_) => self.forget_machine(host_id).await,
            }
            let left = self
                .settings
                .docker_install_timeout
                .saturating_sub(started.elapsed());
            if left.is_zero() {
                let log = cloud_init_log(&machine).await;
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "cloud-init on VPS {instance_id} at {address} did not make Docker ready within {} s; the VPS was destroyed",
                        self.settings.docker_install_timeout.as_secs()
                    ),
                )
                .with_hint(format!(
                    "raise providers.{}.docker_install_timeout if the VPS is only slow",
                    self.name
                ))
                .with_details(serde_json::Value::from(log)));
            }
            tokio::time::sleep(MARKER_POLL).await;
            machine = self.machine(host_id, &address, left).await?;
        }
    }

    fn new_record(
        &self,
        request: &CreateHostRequest,
        host_id: &HostId,
        image: &str,
        plan: &Plan,
        instance: &VpsInstance,
        vps_host: &KeyPair,
    ) -> ProviderResult<StoredHost> {
        let address = instance.main_ip.clone().unwrap_or_default();
        let mut h = new_host(
            request,
            host_id,
            &self.prefix,
            self.settings.default_idle_timeout,
            image,
            VpsPart {
                vps: Some(VpsMachine {
                    instance_id: instance.id.clone(),
                    address: address.clone(),
                    region: plan.vps.region.clone(),
                    plan: plan.vps.plan.clone(),
                    os: plan.vps.os.clone(),
                    ssh_key_id: None,
                    host_public_key: vps_host.public_openssh.clone(),
                }),
                container_id: None,
                container: Some(ContainerSettings {
                    start_args: plan.start_args.clone(),
                    image: image.to_string(),
                    host_dir: self.settings.host_dir.clone(),
                }),
            },
        )?;
        if request.lifecycle.activity_sources.is_none() {
            h.certified_host_data.activity_sources = self.settings.default_activity_sources.clone();
        }
        h.ssh_host = Some(address);
        h.ssh_port = Some(self.settings.container_ssh_port);
        Ok(h)
    }

    /// Remove what a failed create made, newest first; each step is best effort.
    async fn undo(&self, made: &Made, host_id: &str) {
        if let Some(m) = &made.machine {
            if let Some(c) = &made.container_id {
                m.engine
                    .remove_container("removing the container", c)
                    .await
                    .ok();
            }
            if made.record_written {
                m.store.delete_host(host_id).await.ok();
            }
        }
        if let Some(id) = &made.instance_id
            && let Err(e) = self.client.destroy_instance(id).await
        {
            self.services.log(
                LogLevel::Warn,
                &format!(
                    "could not destroy VPS {id} of a failed create: {}",
                    e.message
                ),
            );
        }
        if let Some(key) = &made.ssh_key_id {
            self.client.delete_ssh_key(key).await.ok();
        }
        self.forget_machine(host_id).await;
        keys::remove_local(&self.state_dir, host_id).ok();
    }
}
