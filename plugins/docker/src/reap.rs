//! Hosts that a killed mngr left half-made or half-destroyed, finished by whoever lists hosts
//! next (`list`, `gc`, `destroy`: every command that looks hosts up goes through
//! `discover_hosts`). A host is abandoned when the operation its record names (see
//! `pending.rs`) belongs to a process that is gone; one still being created by a live mngr
//! is shown as it is.

use crate::discovery::host_id_label;
use crate::instance::DockerInstance;
use crate::labels;
use crate::pending::{Operation, Pending};
use crate::record::StoredHost;
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use mngr_plugin_api::*;

impl DockerInstance {
    /// Every host, after finishing what killed commands left: the hosts that remain, and
    /// those whose container exists but whose record a live create has not written yet.
    pub(crate) async fn load_reaped(
        &self,
    ) -> ProviderResult<(Vec<(StoredHost, Option<ContainerSummary>)>, Vec<HostRecord>)> {
        let (hosts, orphans) = self.load_with_orphans().await?;
        let mut in_progress = Vec::new();
        let mut kept = Vec::new();
        let mut reaped = Vec::new();
        for (mut h, c) in hosts {
            let Some(pending) = h.pending.clone() else {
                kept.push((h, c));
                continue;
            };
            if pending.holder_alive() {
                kept.push((h, c));
                continue;
            }
            let abandoned = match pending.operation {
                Operation::Destroying => true,
                // A killed create or destroy left a host without agents: it was made for
                // agents, so it goes. One that has agents after all keeps them, and so does
                // one that cannot be looked into: reaping never fails a listing.
                Operation::Creating | Operation::Emptied => {
                    !self.has_agents(&h, c.as_ref()).await.unwrap_or(true)
                }
            };
            if abandoned {
                reaped.push((
                    h.host_id().to_string(),
                    h.name().to_string(),
                    pending.operation,
                ));
            } else {
                h.pending = None;
                let _ = self.save(&mut h).await;
                kept.push((h, c));
            }
        }
        // A container without a record: a create under way (its record comes a moment
        // later), else left by a killed mngr.
        for c in &orphans {
            let maker: Option<Pending> = c
                .labels
                .as_ref()
                .and_then(|l| l.get(labels::PENDING))
                .and_then(|v| serde_json::from_str(v).ok());
            if maker.is_some_and(|p| p.holder_alive()) {
                in_progress.extend(self.in_progress_record(c));
                continue;
            }
            if let Some(id) = host_id_label(c) {
                reaped.push((id.to_string(), String::new(), Operation::Creating));
            }
        }
        for (id, name, operation) in reaped {
            let Ok(host_id) = HostId::parse(&id) else {
                continue;
            };
            let why = match operation {
                Operation::Creating => "its mngr was stopped while creating it",
                Operation::Emptied => {
                    "its last agent was removed by a mngr that was stopped before removing the host"
                }
                Operation::Destroying => "its mngr was stopped while destroying it",
            };
            let what = if name.is_empty() {
                format!("the container of docker host {id} (it has no record)")
            } else {
                format!("docker host '{name}' ({id})")
            };
            match self.destroy(&host_id).await {
                Ok(()) => self
                    .services
                    .log(LogLevel::Warn, &format!("removed {what}: {why}")),
                Err(e) if e.kind == ErrorKind::NotFound => {}
                Err(e) => self.services.log(
                    LogLevel::Warn,
                    &format!("could not finish removing {what} ({why}): {}", e.message),
                ),
            }
        }
        // A state container with no host left (a first create killed before its container
        // was made) goes as after a destroy of the last host.
        if kept.is_empty()
            && let Err(e) = self.remove_store_if_empty().await
        {
            self.services.log(
                LogLevel::Warn,
                &format!("could not remove the unused state container: {}", e.message),
            );
        }
        Ok((kept, in_progress))
    }

    /// A host a live create is making, known so far only by its container's labels.
    fn in_progress_record(&self, c: &ContainerSummary) -> Option<HostRecord> {
        let label = |key: &str| c.labels.as_ref().and_then(|l| l.get(key)).cloned();
        let tags = label(labels::TAGS)
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        Some(HostRecord {
            id: HostId::parse(host_id_label(c)?).ok()?,
            name: HostName::parse(&label(labels::HOST_NAME)?).ok()?,
            provider: self.name.clone(),
            state: HostState::Starting,
            image: c.image.clone(),
            tags,
            created_at: None,
            stop_reason: None,
            failure_reason: None,
            host_dir: self.config.host_dir.clone(),
            details: Default::default(),
        })
    }

    /// Whether a host holds agents: copies of their records on the state volume, or records
    /// in its running container.
    async fn has_agents(
        &self,
        h: &StoredHost,
        c: Option<&ContainerSummary>,
    ) -> ProviderResult<bool> {
        let copies = self
            .agent_cache
            .lock()
            .expect("cache lock")
            .as_ref()
            .and_then(|a| a.get(h.host_id()).map(|v| !v.is_empty()))
            .unwrap_or(false);
        if copies {
            return Ok(true);
        }
        let running = c.is_some_and(|c| c.state == Some(ContainerSummaryStateEnum::RUNNING));
        let Some(id) = c.and_then(|c| c.id.as_deref()).filter(|_| running) else {
            return Ok(false);
        };
        let hd = crate::engine::shell_quote(&self.host_dir_of(h));
        let (code, out) = self
            .engine
            .exec(id, &format!("ls {hd}/agents/*/data.json 2>/dev/null"))
            .await?;
        Ok(code == 0 && !out.is_empty())
    }
}
