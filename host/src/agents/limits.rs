//! `mngr limit`: change a running host's idle settings (timeout, activity sources) in its
//! `data.json`, under the host lock, atomically. The host's activity watcher reads them on its
//! next loop, so nothing is recreated; the provider gets its copy of the record.

use super::host::Host;
use super::record::{HostData, idle_mode};
use crate::error::{ExitCode, MngrError, Result};
use mngr_plugin_api::ActivitySource;

/// What to change; `None` and empty lists keep what the host has.
#[derive(Debug, Clone, Default)]
pub struct LimitChange {
    pub idle_timeout_seconds: Option<u64>,
    /// Replace the sources (from `--idle-mode` or `--activity-sources`).
    pub sources: Option<Vec<ActivitySource>>,
    pub add_sources: Vec<ActivitySource>,
    pub remove_sources: Vec<ActivitySource>,
}

impl LimitChange {
    pub fn is_empty(&self) -> bool {
        self.idle_timeout_seconds.is_none()
            && self.sources.is_none()
            && self.add_sources.is_empty()
            && self.remove_sources.is_empty()
    }

    /// The record with the change made.
    fn apply(&self, data: &mut HostData) {
        if let Some(timeout) = self.idle_timeout_seconds {
            data.idle_timeout_seconds = timeout;
        }
        if let Some(sources) = &self.sources {
            data.activity_sources = sources.clone();
        }
        for s in &self.add_sources {
            if !data.activity_sources.contains(s) {
                data.activity_sources.push(s.clone());
            }
        }
        data.activity_sources
            .retain(|s| !self.remove_sources.contains(s));
    }
}

/// The idle settings a host has after a change.
#[derive(Debug, Clone)]
pub struct Limits {
    pub idle_mode: &'static str,
    pub idle_timeout_seconds: u64,
    pub activity_sources: Vec<ActivitySource>,
}

/// Change the idle settings of `host` (a host whose provider stops hosts: others never shut
/// down when idle, and are refused).
pub fn limit(host: &Host, can_stop: bool, prefix: &str, change: &LimitChange) -> Result<Limits> {
    if !can_stop {
        return Err(MngrError::new(
            ExitCode::Unsupported,
            format!(
                "host '{}' of provider '{}' never shuts down when idle, so it has no idle limits to change",
                host.name(),
                host.provider
            ),
        ));
    }
    let _lock = host.lock()?;
    let mut data = host.read_host_data(prefix)?;
    change.apply(&mut data);
    host.write_host_data(&mut data)?;
    Ok(Limits {
        idle_mode: idle_mode(&data.activity_sources),
        idle_timeout_seconds: data.idle_timeout_seconds,
        activity_sources: data.activity_sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_replaces_then_adds_then_removes_sources() {
        let mut data = HostData::new("h", "box", "mngr-");
        let change = LimitChange {
            idle_timeout_seconds: Some(60),
            sources: Some(vec![ActivitySource::Boot]),
            add_sources: vec![ActivitySource::Ssh, ActivitySource::Boot],
            remove_sources: vec![ActivitySource::Boot],
        };
        change.apply(&mut data);
        assert_eq!(data.idle_timeout_seconds, 60);
        assert_eq!(data.activity_sources, vec![ActivitySource::Ssh]);
        assert_eq!(idle_mode(&data.activity_sources), "CUSTOM");
        let untouched = HostData::new("h", "box", "mngr-");
        let mut same = untouched.clone();
        LimitChange::default().apply(&mut same);
        assert_eq!(same.activity_sources, untouched.activity_sources);
    }
}
