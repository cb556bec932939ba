//! Finding hosts: the provider's API lists this instance's VPSes by tag, and each VPS (in
//! parallel, over its own SSH connection) gives its record from the state volume and its
//! container's state. A VPS that cannot be read is still listed, with the reason.

use crate::client::{VpsClient, VpsInstance, VpsStatus};
use crate::instance::{ContainerState, Seen, VpsDockerInstance};
use crate::machine::Machine;
use crate::record::{StoredHost, TAG_HOST_ID, TAG_HOST_NAME, TAG_PROVIDER};
use mngr_plugin_api::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

impl<C: VpsClient> VpsDockerInstance<C> {
    /// Every host of this instance, read now.
    pub(crate) async fn load_all(&self) -> ProviderResult<Vec<Seen>> {
        let tag = format!("{TAG_PROVIDER}={}", self.name);
        let instances = self.client.list_instances_by_tag(&tag).await?;
        let reads = instances
            .into_iter()
            .filter(|i| i.tag(TAG_HOST_ID).is_some())
            .map(|i| self.read_vps(i));
        let mut all = futures_util::future::join_all(reads).await;
        // Creates killed before their VPS was ordered left a key and local files only.
        for (host_id, creating) in crate::pending::all(&self.state_dir) {
            if !all
                .iter()
                .any(|s| s.instance.tag(TAG_HOST_ID) == Some(host_id.as_str()))
            {
                all.push(Seen {
                    instance: creating.unordered_instance(&self.name, &host_id),
                    stored: None,
                    container: None,
                    unreachable: None,
                    creating: Some(creating),
                    agents: Vec::new(),
                });
            }
        }
        let by_id: HashMap<String, Seen> = all
            .iter()
            .filter_map(|s| Some((s.instance.tag(TAG_HOST_ID)?.to_string(), s.clone())))
            .collect();
        // The agent records came with each host's record: the host's offline view of every
        // host then costs no second trip to its VPS.
        self.agents.remember_all(
            by_id
                .iter()
                .map(|(id, s)| (id.clone(), s.agents.clone()))
                .collect(),
        );
        *self.seen.lock().expect("seen lock") = by_id;
        Ok(all)
    }

    /// The connection to a seen host's VPS (no waiting: it is booted).
    pub(crate) async fn machine_of(&self, seen: &Seen) -> ProviderResult<Arc<Machine>> {
        let host_id = seen.instance.tag(TAG_HOST_ID).unwrap_or_default();
        let address = seen.instance.main_ip.as_deref().ok_or_else(|| {
            ProviderError::unavailable(format!("the VPS of host {host_id} has no address yet"))
        })?;
        self.machine(host_id, address, Duration::ZERO).await
    }

    /// The host's name: its record's, else the one its VPS was tagged with.
    pub(crate) fn host_name_of<'s>(&self, seen: &'s Seen) -> &'s str {
        match &seen.stored {
            Some(h) => h.name(),
            None => seen
                .instance
                .tag(TAG_HOST_NAME)
                .unwrap_or(&seen.instance.label),
        }
    }

    pub(crate) async fn read_vps(&self, instance: VpsInstance) -> Seen {
        let creating = instance
            .tag(TAG_HOST_ID)
            .and_then(|id| crate::pending::read(&self.state_dir, id));
        let mut seen = Seen {
            instance,
            stored: None,
            container: None,
            unreachable: None,
            creating,
            agents: Vec::new(),
        };
        if seen.instance.status != VpsStatus::Active {
            return seen;
        }
        match self.read_host(&seen).await {
            Ok((stored, container, agents)) => {
                seen.stored = stored;
                seen.container = container;
                seen.agents = agents;
            }
            Err(e) => seen.unreachable = Some(e.message),
        }
        seen
    }

    async fn read_host(
        &self,
        seen: &Seen,
    ) -> ProviderResult<(
        Option<StoredHost>,
        Option<ContainerState>,
        Vec<PersistedAgentRecord>,
    )> {
        let host_id = seen.instance.tag(TAG_HOST_ID).unwrap_or_default();
        let m = self.machine_of(seen).await?;
        if !m.store.ensure(false).await? {
            return Ok((None, None, Vec::new()));
        }
        let (hosts, mut agents) = m.store.read_all::<StoredHost>().await?;
        let stored = hosts.into_iter().find(|h| h.host_id() == host_id);
        let container = match stored.as_ref().and_then(|h| h.extra.container_id.clone()) {
            Some(id) => container_state(&m, &id).await?,
            None => None,
        };
        Ok((
            stored,
            container,
            agents.remove(host_id).unwrap_or_default(),
        ))
    }
}

/// Whether a container runs, and how it ended if not; `None` when it is gone.
pub(crate) async fn container_state(
    m: &Machine,
    container: &str,
) -> ProviderResult<Option<ContainerState>> {
    let info = m
        .engine
        .unless_gone(
            "inspecting the container",
            m.engine.docker.inspect_container(container, None),
        )
        .await?;
    Ok(info.map(|info| {
        let state = info.state.unwrap_or_default();
        ContainerState {
            running: state.running.unwrap_or(false),
            exit_code: state.exit_code,
        }
    }))
}
