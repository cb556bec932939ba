//! How a host's record and container read as a `HostRecord` (state, stop reason, details).

use crate::instance::DockerInstance;
use crate::pending::Operation;
use crate::record::StoredHost;
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use mngr_docker_core::labels;
use mngr_plugin_api::*;
use std::collections::BTreeMap;

/// `Exited (75) 2 minutes ago` => 75.
fn exit_code_of(status: &str) -> Option<i64> {
    let rest = status.strip_prefix("Exited (")?;
    rest.split(')').next()?.parse().ok()
}

fn state_of_reason(reason: &StopReason) -> HostState {
    match reason {
        StopReason::Paused => HostState::Paused,
        StopReason::Destroyed => HostState::Destroyed,
        StopReason::Stopped | StopReason::Other(_) => HostState::Stopped,
    }
}

impl DockerInstance {
    pub(crate) fn to_record(&self, h: &StoredHost, c: Option<&ContainerSummary>) -> HostRecord {
        let data = &h.certified_host_data;
        let being_created = h
            .extra
            .pending
            .as_ref()
            .is_some_and(|p| p.operation == Operation::Creating && p.holder_alive());
        let (state, stop_reason) = if data.failure_reason.is_some() {
            (HostState::Failed, None)
        } else {
            match c.and_then(|c| c.state) {
                Some(ContainerSummaryStateEnum::RUNNING) => (HostState::Running, None),
                Some(
                    ContainerSummaryStateEnum::CREATED | ContainerSummaryStateEnum::RESTARTING,
                ) => (HostState::Starting, None),
                Some(ContainerSummaryStateEnum::PAUSED) => {
                    (HostState::Stopped, Some(StopReason::Stopped))
                }
                Some(ContainerSummaryStateEnum::REMOVING | ContainerSummaryStateEnum::STOPPING) => {
                    (HostState::Stopping, None)
                }
                Some(ContainerSummaryStateEnum::EXITED) => {
                    let code = c.and_then(|c| c.status.as_deref()).and_then(exit_code_of);
                    match (&data.stop_reason, code) {
                        (Some(reason), _) => (state_of_reason(reason), Some(reason.clone())),
                        (None, Some(labels::EXIT_IDLE_PAUSED)) => {
                            (HostState::Paused, Some(StopReason::Paused))
                        }
                        (None, Some(labels::EXIT_MAX_AGE_PAUSED)) => {
                            (HostState::Paused, Some(StopReason::Paused))
                        }
                        (None, Some(labels::EXIT_NO_AGENTS_STOPPED)) => {
                            (HostState::Stopped, Some(StopReason::Stopped))
                        }
                        // `docker stop` from outside mngr: PID 1 exits 0 on SIGTERM.
                        (None, Some(0)) => (HostState::Stopped, Some(StopReason::Stopped)),
                        _ => (HostState::Crashed, None),
                    }
                }
                Some(ContainerSummaryStateEnum::DEAD) => (HostState::Crashed, None),
                // A mngr is still making it: its container is not there yet.
                None if being_created => (HostState::Starting, None),
                _ if !data.snapshots.is_empty() => (
                    HostState::Stopped,
                    Some(data.stop_reason.clone().unwrap_or(StopReason::Stopped)),
                ),
                _ => (HostState::Crashed, None),
            }
        };
        let mut details = BTreeMap::new();
        // Why the container ended, by PID 1's exit code (see `host_container::entrypoint`):
        // mngr lists it as the host's `stopped_because`.
        if c.and_then(|c| c.state) == Some(ContainerSummaryStateEnum::EXITED) {
            let cause = match c.and_then(|c| c.status.as_deref()).and_then(exit_code_of) {
                Some(labels::EXIT_IDLE_PAUSED) => Some("idle"),
                Some(labels::EXIT_MAX_AGE_PAUSED) => Some("timeout"),
                Some(labels::EXIT_NO_AGENTS_STOPPED) => Some("no_agents"),
                Some(0) => Some("user"),
                _ => None,
            };
            if let (Some(cause), None) = (cause, &data.stop_reason) {
                details.insert("stop_cause".to_string(), serde_json::Value::from(cause));
            }
        }
        details.insert(
            "daemon".to_string(),
            serde_json::Value::from(self.engine.daemon.clone()),
        );
        details.insert(
            "container".to_string(),
            serde_json::Value::from(self.container_name_of(h, c)),
        );
        if let Some(id) = &h.extra.container_id {
            details.insert(
                "container_id".to_string(),
                serde_json::Value::from(id.clone()),
            );
        }
        let mut record = HostRecord::new(
            HostId::parse(h.host_id()).unwrap_or_else(|_| HostId::generate()),
            HostName::parse(h.name())
                .unwrap_or_else(|_| HostName::parse("invalid-name").expect("valid")),
            self.name.clone(),
            state,
            self.host_dir_of(h),
        )
        .with_tags(data.user_tags.clone())
        .with_created_at(data.created_at.clone())
        .with_details(details);
        record.image = data.image.clone();
        record.stop_reason = stop_reason;
        record.failure_reason = data.failure_reason.clone();
        record
    }

    fn container_name_of(&self, h: &StoredHost, c: Option<&ContainerSummary>) -> String {
        c.and_then(|c| c.names.as_ref())
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_else(|| self.container_name(h.name()))
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
