//! How a host reads as a `HostRecord`: state and stop reason from its container (the VPS
//! keeps running while the container is stopped), what the VPS costs to keep (its plan).

use crate::client::{VpsClient, VpsStatus};
use crate::instance::{ContainerState, Seen, VpsDockerInstance};
use crate::record::TAG_HOST_ID;
use mngr_docker_core::labels::{EXIT_IDLE_PAUSED, EXIT_MAX_AGE_PAUSED, EXIT_NO_AGENTS_STOPPED};
use mngr_plugin_api::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// A stopped container's state: the recorded reason, else what its PID 1's exit code says.
fn stopped(reason: Option<&StopReason>, exit_code: Option<i64>) -> (HostState, Option<StopReason>) {
    match (reason, exit_code) {
        (Some(StopReason::Paused), _) => (HostState::Paused, Some(StopReason::Paused)),
        (Some(r), _) => (HostState::Stopped, Some(r.clone())),
        (None, Some(EXIT_IDLE_PAUSED | EXIT_MAX_AGE_PAUSED)) => {
            (HostState::Paused, Some(StopReason::Paused))
        }
        (None, Some(EXIT_NO_AGENTS_STOPPED)) => (HostState::Stopped, Some(StopReason::Stopped)),
        // `docker stop` from outside mngr: PID 1 exits 0 on SIGTERM.
        (None, Some(0)) => (HostState::Stopped, Some(StopReason::Stopped)),
        _ => (HostState::Crashed, None),
    }
}

impl<C: VpsClient> VpsDockerInstance<C> {
    pub(crate) fn to_record(&self, seen: &Seen) -> HostRecord {
        let vps = &seen.instance;
        let mut failure = None;
        let (state, stop_reason) = match (&seen.stored, seen.container) {
            (Some(h), _) if h.certified_host_data.failure_reason.is_some() => {
                failure = h.certified_host_data.failure_reason.clone();
                (HostState::Failed, None)
            }
            (Some(_), Some(ContainerState { running: true, .. })) => (HostState::Running, None),
            (Some(h), Some(c)) => stopped(h.certified_host_data.stop_reason.as_ref(), c.exit_code),
            (Some(_), None) => {
                failure = Some("its container is gone from the VPS".into());
                (HostState::Crashed, None)
            }
            (None, _) => match (vps.status, &seen.unreachable) {
                (VpsStatus::Pending, _) => (HostState::Starting, None),
                (VpsStatus::Halted, _) => (
                    HostState::Stopped,
                    Some(StopReason::Other("the VPS is powered off".into())),
                ),
                (_, Some(why)) => {
                    failure = Some(why.clone());
                    (HostState::Crashed, None)
                }
                // Booted, no record yet: a create is still under way.
                _ => (HostState::Starting, None),
            },
        };
        let mut details = BTreeMap::new();
        details.insert("vps_instance".into(), Value::from(vps.id.clone()));
        details.insert("region".into(), Value::from(vps.region.clone()));
        details.insert(
            "plan".into(),
            Value::from(format!(
                "{} (billed while the VPS exists, also while the host is stopped)",
                vps.plan
            )),
        );
        if let Some(ip) = &vps.main_ip {
            details.insert("vps_address".into(), Value::from(ip.clone()));
        }
        let host_id = vps
            .tag(TAG_HOST_ID)
            .and_then(|id| HostId::parse(id).ok())
            .unwrap_or_else(HostId::generate);
        let name = HostName::parse(self.host_name_of(seen))
            .unwrap_or_else(|_| HostName::parse("invalid-name").expect("valid"));
        let host_dir = seen
            .stored
            .as_ref()
            .and_then(|h| h.extra.container.as_ref())
            .map(|c| c.host_dir.clone())
            .unwrap_or_else(|| self.settings.host_dir.clone());
        let mut record = HostRecord::new(host_id, name, self.name.clone(), state, host_dir)
            .with_details(details);
        if let Some(h) = &seen.stored {
            let data = &h.certified_host_data;
            details_container(&mut record, &self.container_name(h.name()));
            record.tags = data.user_tags.clone();
            record.created_at = Some(data.created_at.clone());
            record.image = data.image.clone();
        }
        record.stop_reason = stop_reason;
        record.failure_reason = failure;
        record.abandoned = seen.creating.as_ref().and_then(|c| c.abandoned());
        if let Some(why) = &record.abandoned
            && record.state != HostState::Running
        {
            record.state = HostState::Failed;
            record.failure_reason = Some(why.clone());
        }
        record
    }
}

fn details_container(record: &mut HostRecord, container: &str) {
    record
        .details
        .insert("container".into(), Value::from(container.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_container_says_why() {
        assert_eq!(stopped(None, Some(75)).0, HostState::Paused);
        assert_eq!(stopped(None, Some(76)).0, HostState::Stopped);
        assert_eq!(stopped(None, Some(0)).0, HostState::Stopped);
        assert_eq!(stopped(None, Some(137)).0, HostState::Crashed);
        assert_eq!(
            stopped(Some(&StopReason::Stopped), Some(137)),
            (HostState::Stopped, Some(StopReason::Stopped))
        );
    }
}
