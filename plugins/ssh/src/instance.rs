//! An ssh instance: a fixed pool of machines that already exist. mngr makes agents on them
//! and never creates, stops, starts or destroys the machines themselves.

use crate::config::{Machine, Settings};
use crate::records::LocalRecords;
use crate::{BACKEND_NAME, host_keys, reach};
use mngr_plugin_api::*;
use mngr_provider_kit::adapter::AsyncProvider;
use mngr_provider_kit::agents::AgentRecords;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The namespace of machine ids (the reference's, so a machine keeps its id across
/// implementations): `host-` + uuid5(namespace, "<instance>:<host name>").
const HOST_ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0xa1b2c3d4_e5f6_7890_abcd_ef1234567890);

pub struct SshInstance {
    name: String,
    state_dir: PathBuf,
    settings: Settings,
    services: Arc<dyn HostServices>,
    store: LocalRecords,
    records: AgentRecords,
}

/// A machine's stable id: the same on every run and every machine running mngr.
pub fn host_id(instance: &str, host: &HostName) -> HostId {
    use sha1::Digest;
    let mut hash = sha1::Sha1::new();
    hash.update(HOST_ID_NAMESPACE.as_bytes());
    hash.update(format!("{instance}:{host}").as_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let id = uuid::Builder::from_sha1_bytes(bytes).into_uuid();
    HostId::parse(&format!("host-{}", id.simple())).expect("a valid host id")
}

fn unsupported<T>(what: &str) -> ProviderResult<T> {
    Err(ProviderError::unsupported(format!(
        "the {BACKEND_NAME} backend does not {what}: its hosts are machines that already exist"
    ))
    .with_hint("add or remove a machine with a [providers.NAME.hosts.HOST] table in the settings"))
}

impl SshInstance {
    pub fn new(ctx: InstanceContext, settings: Settings) -> Self {
        SshInstance {
            name: ctx.instance_name,
            store: LocalRecords::new(&ctx.state_dir),
            state_dir: ctx.state_dir,
            settings,
            services: ctx.services,
            records: AgentRecords::default(),
        }
    }

    fn id_of(&self, machine: &Machine) -> HostId {
        host_id(&self.name, &machine.name)
    }

    fn machine(&self, id_or_name: &str) -> ProviderResult<&Machine> {
        self.settings
            .machines
            .iter()
            .find(|m| m.name.as_str() == id_or_name || self.id_of(m).as_str() == id_or_name)
            .ok_or_else(|| {
                ProviderError::not_found(format!(
                    "no host '{id_or_name}' on provider '{}'",
                    self.name
                ))
                .with_hint(format!(
                    "the {BACKEND_NAME} backend's hosts are the [providers.{}.hosts.HOST] tables of the settings",
                    self.name
                ))
            })
    }

    /// The record of a machine, `Running` when it answered with its pinned key, else
    /// `Unknown` with the reason.
    async fn record(&self, machine: &Machine) -> HostRecord {
        let reached = match host_keys::pinned_key(machine) {
            Ok(key) => {
                let timeout = self.settings.connect_timeout;
                match reach::probe(&machine.address, machine.port, &key, timeout).await {
                    Ok(()) => Ok(()),
                    Err(reach::Unreachable::Down(why)) => Err(why),
                    Err(reach::Unreachable::WrongKey(why)) => {
                        Err(format!("{why}; {}", host_keys::how_to_pin(machine)))
                    }
                }
            }
            Err(why) => Err(why),
        };
        let details = BTreeMap::from([
            ("address".to_string(), machine.address.clone().into()),
            ("port".to_string(), machine.port.into()),
            ("user".to_string(), machine.user.clone().into()),
        ]);
        let state = if reached.is_ok() {
            HostState::Running
        } else {
            HostState::Unknown
        };
        let mut record = HostRecord::new(
            self.id_of(machine),
            machine.name.clone(),
            self.name.clone(),
            state,
            self.settings.host_dir.clone(),
        )
        .with_details(details);
        if let Err(why) = reached {
            self.services.log(
                LogLevel::Warn,
                &format!(
                    "host '{}' of provider '{}' is offline: {why}",
                    machine.name, self.name
                ),
            );
            record.failure_reason = Some(why);
        }
        record
    }

    /// The private key for a machine, reached through a link in its own directory under the
    /// state dir: the SSH transport keeps the pinned known_hosts beside the key, and it must
    /// never write over the user's own `~/.ssh/known_hosts`.
    fn key_link(&self, machine: &Machine) -> ProviderResult<PathBuf> {
        let key = match &machine.key_file {
            Some(path) => path.clone(),
            None => default_key().ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Unauthenticated,
                    format!(
                        "host '{}' has no key_file and none of ~/.ssh/id_ed25519, id_ecdsa, id_rsa exists",
                        machine.name
                    ),
                )
                .with_hint("set key_file = \"PATH\" in its [providers.NAME.hosts.HOST] table")
            })?,
        };
        if !key.is_file() {
            return Err(ProviderError::new(
                ErrorKind::Unauthenticated,
                format!(
                    "the key_file {} of host '{}' does not exist",
                    key.display(),
                    machine.name
                ),
            ));
        }
        let dir = self.state_dir.join("hosts").join(machine.name.as_str());
        crate::records::private_dir(&dir)?;
        let link = dir.join("client_key");
        if std::fs::read_link(&link).ok().as_deref() != Some(key.as_path()) {
            let tmp = dir.join(format!(".client_key.{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&key, &tmp)
                .and_then(|()| std::fs::rename(&tmp, &link))
                .map_err(|e| ProviderError::internal(format!("linking {}: {e}", link.display())))?;
        }
        Ok(link)
    }
}

/// The user's default SSH key, as `ssh` would pick it.
fn default_key() -> Option<PathBuf> {
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|name| mngr_plugin_api::fs::expand_tilde(&format!("~/.ssh/{name}")))
        .find(|p| p.is_file())
}

impl AsyncProvider for SshInstance {
    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }

    async fn create_host(&self, _request: CreateHostRequest) -> ProviderResult<HostRecord> {
        unsupported("create hosts")
    }
    async fn stop_host(&self, _host: &HostId) -> ProviderResult<()> {
        unsupported("stop hosts")
    }
    async fn start_host(&self, _host: &HostId, _: Option<&str>) -> ProviderResult<HostRecord> {
        unsupported("start hosts")
    }
    async fn destroy_host(&self, _host: &HostId) -> ProviderResult<()> {
        unsupported("destroy hosts")
    }

    async fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
        let machine = self.machine(id_or_name)?;
        Ok(self.record(machine).await)
    }

    async fn discover_hosts(&self, _include_destroyed: bool) -> ProviderResult<Vec<HostRecord>> {
        // Every machine at once: a dead one costs connect_timeout once, not once each.
        let probes = self.settings.machines.iter().map(|m| self.record(m));
        Ok(futures_util::future::join_all(probes).await)
    }

    async fn host_access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        let machine = self.machine(host.as_str())?;
        let pinned = host_keys::pinned_key(machine)
            .map_err(|why| ProviderError::new(ErrorKind::Unauthenticated, why))?;
        let key = self.key_link(machine)?;
        Ok(HostAccess::Ssh(SshEndpoint::new(
            machine.address.clone(),
            machine.port,
            machine.user.clone(),
            key.to_string_lossy(),
            pinned,
            self.settings.host_dir.clone(),
        )))
    }

    async fn persisted_agent_records(
        &self,
        host: &HostId,
    ) -> ProviderResult<Vec<PersistedAgentRecord>> {
        self.machine(host.as_str())?;
        self.records.list(&self.store, host.as_str()).await
    }
    async fn persist_agent_record(
        &self,
        host: &HostId,
        record: PersistedAgentRecord,
    ) -> ProviderResult<()> {
        self.machine(host.as_str())?;
        self.records
            .persist(&self.store, host.as_str(), &record)
            .await
    }
    async fn remove_persisted_agent_record(
        &self,
        host: &HostId,
        agent_id: &str,
    ) -> ProviderResult<()> {
        self.machine(host.as_str())?;
        self.records
            .remove(&self.store, host.as_str(), agent_id)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_ids_are_stable_and_differ_by_instance_and_name() {
        let a = HostName::parse("gpu1").unwrap();
        let b = HostName::parse("gpu2").unwrap();
        assert_eq!(host_id("lab", &a), host_id("lab", &a));
        assert_ne!(host_id("lab", &a), host_id("lab", &b));
        assert_ne!(host_id("lab", &a), host_id("pool", &a));
        // uuid5 with the version and variant bits set, as HostId has it.
        let id = host_id("lab", &a);
        assert_eq!(id.as_str().len(), "host-".len() + 32);
        assert_eq!(&id.as_str()[17..18], "5");
    }
}
