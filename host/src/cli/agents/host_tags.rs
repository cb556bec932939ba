//! Changing the tags of agents' hosts (`mngr label --host-tag/--remove-host-tag`). Tags belong
//! to the provider, so a host is changed once however many of its agents were named, and a
//! provider whose tags are fixed at creation is refused before anything changes.

use super::parse_key_value;
use crate::agents::discovery::{AgentView, HostView};
use crate::app::App;
use crate::error::{ExitCode, MngrError, Result};
use mngr_plugin_api::ProviderInstance;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Tags to add or update, then keys to remove.
pub struct TagChange {
    set: BTreeMap<String, String>,
    remove: Vec<String>,
}

impl TagChange {
    pub fn parse(set_raw: &[String], remove_raw: &[String]) -> Result<TagChange> {
        let mut set = BTreeMap::new();
        for raw in set_raw {
            let (k, v) = parse_key_value("--host-tag", raw)?;
            set.insert(k, v);
        }
        let mut remove = Vec::new();
        for raw in remove_raw {
            let key = raw.trim();
            if key.is_empty() {
                return Err(MngrError::usage(
                    "invalid --remove-host-tag '': expected a tag KEY",
                ));
            }
            if set.contains_key(key) {
                return Err(MngrError::usage(format!(
                    "tag '{key}' is both set (--host-tag) and removed (--remove-host-tag); pick one"
                )));
            }
            remove.push(key.to_string());
        }
        Ok(TagChange { set, remove })
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }

    /// Change one host's tags; returns the tags it has afterwards.
    pub fn apply(&self, host: &TargetHost) -> Result<BTreeMap<String, String>> {
        let id = &host.view.record.id;
        let wrap = |e| MngrError::from_provider(&host.view.provider, e);
        if !self.set.is_empty() {
            host.instance.add_tags(id, self.set.clone()).map_err(wrap)?;
        }
        if !self.remove.is_empty() {
            host.instance
                .remove_tags(id, self.remove.clone())
                .map_err(wrap)?;
        }
        host.instance.get_tags(id).map_err(wrap)
    }
}

/// A host whose tags will change, with the provider instance that owns it.
pub struct TargetHost {
    pub view: Arc<HostView>,
    instance: Arc<dyn ProviderInstance>,
}

/// The distinct hosts of `agents`, when there is a tag change to make. Fails (exit 10) if
/// any host's provider cannot change tags, so nothing is changed on any host.
pub fn hosts_of(app: &App, agents: &[&AgentView], change: &TagChange) -> Result<Vec<TargetHost>> {
    let mut hosts: Vec<TargetHost> = Vec::new();
    if change.is_empty() {
        return Ok(hosts);
    }
    for agent in agents {
        let view = &agent.host;
        let seen = hosts
            .iter()
            .any(|h| h.view.provider == view.provider && h.view.record.id == view.record.id);
        if seen {
            continue;
        }
        let provider = app.provider(&view.provider)?;
        if !provider.capabilities.mutable_tags {
            return Err(MngrError::new(
                ExitCode::Unsupported,
                format!(
                    "provider '{}': {} tags are immutable, so host '{}' keeps the tags it was created with",
                    provider.name,
                    provider.backend,
                    view.name()
                ),
            )
            .with_hint(format!(
                "set tags when creating a host: mngr create NAME --in {} --tag KEY=VALUE",
                provider.name
            )));
        }
        hosts.push(TargetHost {
            view: Arc::clone(view),
            instance: Arc::clone(&provider.instance),
        });
    }
    Ok(hosts)
}
