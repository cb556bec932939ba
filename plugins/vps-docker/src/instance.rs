//! A VPS-Docker provider instance, generic over the provider's API client: the provider
//! contract (as the kit's `AsyncProvider`), delegating to the modules.

use crate::client::{VpsClient, VpsInstance};
use crate::machine::{Machine, local_login};
use crate::record::StoredHost;
use crate::settings::VpsSettings;
use mngr_plugin_api::*;
use mngr_provider_kit::adapter::{AsyncProvider, fixed_tags, machine_capabilities};
use mngr_provider_kit::agents::{AgentBlobStore, AgentRecords};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const TAGS_IMMUTABLE: &str =
    "tags of a VPS host are fixed when it is created (they are stored with the VPS's tags)";

/// What names a provider built on this base: its backend (`vultr`) and the spelling of its
/// own `-b` flags (`--vultr-plan=` beside `--vps-plan=`).
#[derive(Debug, Clone)]
pub struct VpsProviderNames {
    pub backend: &'static str,
    pub flag_alias: &'static str,
}

/// One host as last seen: the VPS from the API, and (when the VPS answered) its record and
/// whether its container runs.
#[derive(Clone)]
pub(crate) struct Seen {
    pub instance: VpsInstance,
    pub stored: Option<StoredHost>,
    pub container: Option<ContainerState>,
    /// Why the VPS could not be read, if it could not.
    pub unreachable: Option<String>,
    /// This machine's mark of a create still in progress (or interrupted).
    pub creating: Option<crate::pending::Creating>,
    /// The host's persisted agent records, read with its record.
    pub agents: Vec<PersistedAgentRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ContainerState {
    pub running: bool,
    pub exit_code: Option<i64>,
}

pub struct VpsDockerInstance<C: VpsClient> {
    pub name: String,
    pub prefix: String,
    pub state_dir: PathBuf,
    pub settings: VpsSettings,
    pub names: VpsProviderNames,
    pub client: C,
    pub services: Arc<dyn HostServices>,
    /// Open VPS connections, by host id.
    pub(crate) machines: tokio::sync::Mutex<HashMap<String, Arc<Machine>>>,
    /// This run's view of the hosts, by host id.
    pub(crate) seen: Mutex<HashMap<String, Seen>>,
    pub(crate) agents: AgentRecords,
}

impl<C: VpsClient> VpsDockerInstance<C> {
    pub fn new(
        ctx: InstanceContext,
        settings: VpsSettings,
        names: VpsProviderNames,
        client: C,
    ) -> VpsDockerInstance<C> {
        VpsDockerInstance {
            name: ctx.instance_name,
            prefix: ctx.prefix,
            state_dir: ctx.state_dir,
            settings,
            names,
            client,
            services: ctx.services,
            machines: tokio::sync::Mutex::new(HashMap::new()),
            seen: Mutex::new(HashMap::new()),
            agents: AgentRecords::default(),
        }
    }

    pub(crate) fn not_found(&self, what: &str) -> ProviderError {
        ProviderError::not_found(format!("no {} host '{what}'", self.names.backend))
    }

    pub(crate) fn container_name(&self, host_name: &str) -> String {
        format!("{}{host_name}", self.prefix)
    }

    /// The state container's image: the default image (it is on every VPS mngr made).
    pub(crate) fn state_image(&self) -> &str {
        &self.settings.default_image
    }

    /// The connection to a host's VPS, opened (with `patience` for a booting VPS) if needed.
    pub(crate) async fn machine(
        &self,
        host_id: &str,
        address: &str,
        patience: std::time::Duration,
    ) -> ProviderResult<Arc<Machine>> {
        // Not held while connecting: a listing connects to every VPS at once.
        if let Some(m) = self.machines.lock().await.get(host_id)
            && !m.session.is_closed()
            && m.session.address == address
        {
            return Ok(m.clone());
        }
        let login = local_login(&self.state_dir, host_id, address).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Unauthenticated,
                format!(
                    "this machine has no key for the VPS of host {host_id} (only the machine that created it can reach it)"
                ),
            )
        })?;
        let machine = Arc::new(
            Machine::open(
                &login,
                patience,
                self.services.clone(),
                (&self.prefix, &self.name, self.state_image()),
            )
            .await?,
        );
        self.machines
            .lock()
            .await
            .insert(host_id.to_string(), machine.clone());
        Ok(machine)
    }

    pub(crate) async fn forget_machine(&self, host_id: &str) {
        self.machines.lock().await.remove(host_id);
    }

    /// A host by id or name, read now. The VPS behind a host seen earlier in this run is
    /// read again directly (its record and container change); others need a full listing.
    pub(crate) async fn find(&self, id_or_name: &str) -> ProviderResult<Seen> {
        let matches = |s: &Seen| {
            s.instance.tag(crate::record::TAG_HOST_ID) == Some(id_or_name)
                || self.host_name_of(s) == id_or_name
        };
        let cached = self
            .seen
            .lock()
            .expect("seen lock")
            .values()
            .find(|s| matches(s))
            .cloned();
        if let Some(known) = cached {
            let fresh = self.read_vps(known.instance).await;
            self.remember(fresh.clone());
            return Ok(fresh);
        }
        self.load_all()
            .await?
            .into_iter()
            .find(|s| matches(s))
            .ok_or_else(|| self.not_found(id_or_name))
    }

    /// The stored record of a reachable host.
    pub(crate) async fn stored(&self, host: &HostId) -> ProviderResult<(Seen, StoredHost)> {
        Self::record_of(host, self.find(host.as_str()).await?)
    }

    /// [`Self::stored`] as this run last saw it, read now only if it was not seen yet: for
    /// reaching a host right after a listing read it (connecting fails anyway if it stopped).
    pub(crate) async fn stored_as_seen(&self, host: &HostId) -> ProviderResult<(Seen, StoredHost)> {
        let seen = self
            .seen
            .lock()
            .expect("seen lock")
            .get(host.as_str())
            .cloned();
        match seen {
            Some(seen) if seen.stored.is_some() => Self::record_of(host, seen),
            _ => self.stored(host).await,
        }
    }

    fn record_of(host: &HostId, seen: Seen) -> ProviderResult<(Seen, StoredHost)> {
        match (&seen.stored, &seen.unreachable) {
            (Some(h), _) => {
                let h = h.clone();
                Ok((seen, h))
            }
            (None, Some(why)) => Err(ProviderError::unavailable(why.clone())),
            (None, None) => Err(ProviderError::unavailable(format!(
                "host {host} has no record on its VPS yet"
            ))),
        }
    }

    /// The connection to the VPS of a host found by id.
    pub(crate) async fn machine_for(&self, host_id: &str) -> ProviderResult<Arc<Machine>> {
        let seen = self.find(host_id).await?;
        self.machine_of(&seen).await
    }

    pub(crate) fn remember(&self, seen: Seen) {
        if let Some(id) = seen.instance.tag(crate::record::TAG_HOST_ID) {
            self.seen
                .lock()
                .expect("seen lock")
                .insert(id.to_string(), seen);
        }
    }

    pub(crate) fn forget(&self, host_id: &str) {
        self.seen.lock().expect("seen lock").remove(host_id);
    }
}

/// Agent records live on the state volume of each host's own VPS.
struct OnTheVps<'a, C: VpsClient>(&'a VpsDockerInstance<C>);

impl<C: VpsClient> AgentBlobStore for OnTheVps<'_, C> {
    async fn read_agent_records(&self, host_id: &str) -> ProviderResult<Vec<PersistedAgentRecord>> {
        let seen = self.0.find(host_id).await?;
        // A host whose create has not written its record yet (or never will) holds no agents.
        if seen.stored.is_none() && (seen.creating.is_some() || seen.unreachable.is_none()) {
            return Ok(Vec::new());
        }
        self.0
            .machine_of(&seen)
            .await?
            .store
            .read_agents(host_id)
            .await
    }
    async fn write_agent_record(
        &self,
        host_id: &str,
        agent: &AgentId,
        record: &PersistedAgentRecord,
    ) -> ProviderResult<()> {
        let m = self.0.machine_for(host_id).await?;
        m.store.ensure(true).await?;
        let value = serde_json::Value::from(record.clone());
        m.store
            .write_host_file(host_id, &agent_file(agent), &value)
            .await
    }
    async fn remove_agent_record(&self, host_id: &str, agent: &AgentId) -> ProviderResult<()> {
        let m = self.0.machine_for(host_id).await?;
        m.store.remove_host_file(host_id, &agent_file(agent)).await
    }
}

/// The state store reads files named so as a host's agent records.
fn agent_file(agent: &AgentId) -> String {
    format!("agent-{agent}.json")
}

impl<C: VpsClient> AsyncProvider for VpsDockerInstance<C> {
    fn capabilities(&self) -> Capabilities {
        machine_capabilities()
    }

    // start_host is below: from a snapshot it restores instead.
    mngr_provider_kit::forward_to_inherent!(
        create_host,
        stop_host,
        destroy_host,
        delete_host,
        host_access,
        snapshots
    );

    async fn start_host(
        &self,
        host: &HostId,
        snapshot: Option<&str>,
    ) -> ProviderResult<HostRecord> {
        match snapshot {
            Some(wanted) => self.restore(host, wanted).await,
            None => self.start(host).await,
        }
    }

    async fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
        let seen = self.find(id_or_name).await?;
        Ok(self.to_record(&seen))
    }

    async fn discover_hosts(&self, include_destroyed: bool) -> ProviderResult<Vec<HostRecord>> {
        let _ = include_destroyed; // a destroyed host's VPS is gone: nothing is left to list
        Ok(self
            .load_all()
            .await?
            .iter()
            .map(|s| self.to_record(s))
            .collect())
    }

    async fn get_tags(&self, host: &HostId) -> ProviderResult<BTreeMap<String, String>> {
        Ok(self.to_record(&self.find(host.as_str()).await?).tags)
    }

    async fn set_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        let _ = (host, tags);
        Err(fixed_tags(TAGS_IMMUTABLE, &self.name))
    }

    async fn persisted_agent_records(
        &self,
        host: &HostId,
    ) -> ProviderResult<Vec<PersistedAgentRecord>> {
        self.agents.list(&OnTheVps(self), host.as_str()).await
    }

    async fn persist_agent_record(
        &self,
        host: &HostId,
        record: PersistedAgentRecord,
    ) -> ProviderResult<()> {
        self.agents
            .persist(&OnTheVps(self), host.as_str(), &record)
            .await?;
        // The host holds an agent: it is no longer its creator's.
        crate::pending::clear(&self.state_dir, host.as_str());
        Ok(())
    }

    async fn remove_persisted_agent_record(
        &self,
        host: &HostId,
        agent_id: &str,
    ) -> ProviderResult<()> {
        self.agents
            .remove(&OnTheVps(self), host.as_str(), agent_id)
            .await
            .map(|_| ())
    }
}
