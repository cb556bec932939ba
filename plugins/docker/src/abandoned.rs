//! Hosts that a killed mngr left half-made or half-destroyed, told apart from work in
//! progress. A host is abandoned when the operation its record names (see `pending.rs`)
//! belongs to a process that is gone and it holds no agent records; a host container whose
//! record was never written counts as a host too, known from its labels. Listing reports
//! them (`HostRecord::abandoned`, with the reason) and changes nothing; `mngr gc` destroys
//! them through `destroy_host`.

use crate::discovery::host_id_label;
use crate::instance::{DockerInstance, not_found};
use crate::pending::{Operation, Pending};
use crate::record::{ContainerPart, HostData, StoredHost};
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use mngr_docker_core::labels;
use mngr_plugin_api::*;

impl DockerInstance {
    /// Every host with its container, also those known only by a container that no record
    /// claims (a create under way, or one killed before it wrote the record).
    pub(crate) async fn load_all(
        &self,
    ) -> ProviderResult<Vec<(StoredHost, Option<ContainerSummary>)>> {
        let (mut hosts, orphans) = self.load_with_orphans().await?;
        hosts.extend(
            orphans
                .into_iter()
                .filter_map(|c| Some((self.host_of_container(&c)?, Some(c)))),
        );
        Ok(hosts)
    }

    /// A host's record as listing shows it: with why it is abandoned, when it is.
    pub(crate) async fn listed(&self, h: &StoredHost, c: Option<&ContainerSummary>) -> HostRecord {
        let mut record = self.to_record(h, c);
        record.abandoned = self.abandonment(h, c).await;
        record
    }

    /// The record `get_host` answers with: by id, else by name.
    pub(crate) async fn lookup(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
        let all = self.load_all().await?;
        let found = all
            .iter()
            .find(|(h, _)| h.host_id() == id_or_name)
            .or_else(|| all.iter().find(|(h, _)| h.name() == id_or_name))
            .ok_or_else(|| not_found(id_or_name))?;
        Ok(self.listed(&found.0, found.1.as_ref()).await)
    }

    /// Why a host is abandoned, or `None` while someone may still be working on it or it
    /// holds agents (or cannot be looked into: an unknown is never abandoned).
    async fn abandonment(&self, h: &StoredHost, c: Option<&ContainerSummary>) -> Option<String> {
        let pending = h.extra.pending.as_ref()?;
        if pending.holder_alive() || self.has_agents(h, c).await.unwrap_or(true) {
            return None;
        }
        let why = match pending.operation {
            Operation::Creating if h.mngr_keys.is_none() => {
                "its mngr was stopped while creating it, before its record was written"
            }
            Operation::Creating => "its mngr was stopped while creating it",
            Operation::Emptied => {
                "its last agent was removed by a mngr that was stopped before removing the host"
            }
            Operation::Destroying => "its mngr was stopped while destroying it",
        };
        Some(why.to_string())
    }

    /// The host a container without a record was made for, from its labels: marked as being
    /// created by the process its label names (one that names none counts as gone).
    pub(crate) fn host_of_container(&self, c: &ContainerSummary) -> Option<StoredHost> {
        let label = |key: &str| c.labels.as_ref().and_then(|l| l.get(key)).cloned();
        let id = HostId::parse(host_id_label(c)?).ok()?;
        let name = label(labels::HOST_NAME).or_else(|| {
            let first = c.names.as_ref()?.first()?;
            Some(
                first
                    .trim_start_matches('/')
                    .strip_prefix(&self.prefix)?
                    .to_string(),
            )
        })?;
        let mut data = HostData::new(id.as_str(), &name, &self.prefix);
        data.user_tags = label(labels::TAGS)
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        data.image = c.image.clone();
        let maker = label(labels::PENDING).and_then(|v| serde_json::from_str(&v).ok());
        Some(StoredHost {
            certified_host_data: data,
            ssh_host: None,
            ssh_port: None,
            ssh_host_public_key: None,
            mngr_keys: None,
            extra: ContainerPart {
                container_id: c.id.clone(),
                config: None,
                pending: Some(maker.unwrap_or_else(|| Pending::lost(Operation::Creating))),
            },
        })
    }

    async fn still_running(&self, container: &str) -> bool {
        match self.engine.inspect_container(container).await {
            Ok(info) => mngr_docker_core::containers::is_running(&info),
            Err(e) => e.kind != ErrorKind::NotFound,
        }
    }

    /// Whether a host holds agents: copies of their records on the state volume, or records
    /// in its running container.
    async fn has_agents(
        &self,
        h: &StoredHost,
        c: Option<&ContainerSummary>,
    ) -> ProviderResult<bool> {
        let copies = self.agents.cached_any(h.host_id()).unwrap_or(false);
        if copies {
            return Ok(true);
        }
        let running = c.is_some_and(|c| c.state == Some(ContainerSummaryStateEnum::RUNNING));
        let Some(id) = c.and_then(|c| c.id.as_deref()).filter(|_| running) else {
            return Ok(false);
        };
        let hd = mngr_plugin_api::shell::quote(&self.host_dir_of(h));
        let looked = self
            .engine
            .exec(id, &format!("ls {hd}/agents/*/data.json 2>/dev/null"))
            .await;
        match looked {
            Ok((code, out)) => Ok(code == 0 && !out.is_empty()),
            // It stopped or went meanwhile (a killed destroy's removal that the daemon
            // finishes): judged as a container that is not running.
            Err(_) if !self.still_running(id).await => Ok(false),
            Err(e) => Err(e),
        }
    }
}
