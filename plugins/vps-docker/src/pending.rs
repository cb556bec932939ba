//! A create or destroy in progress, marked on this machine before anything is ordered or
//! removed (beside the host's local keys). A create's marker is cleared when the host's first
//! agent record arrives; a destroy's goes with the local key files, its last step. A mngr
//! killed half-way leaves a marker whose process is gone: the host (or only its registered
//! SSH key and local files, when no VPS exists) is then listed as abandoned, and `mngr gc`
//! destroys it.

use crate::record::{TAG_HOST_ID, TAG_HOST_NAME, TAG_PROVIDER};
use crate::{VpsInstance, VpsStatus};
use mngr_provider_kit::holder::Process;
use mngr_provider_kit::keys;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const CREATING_FILE: &str = "creating.json";

/// What the marked process was doing to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    #[default]
    Create,
    Destroy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Creating {
    pub host_name: String,
    pub by: Process,
    #[serde(default)]
    pub purpose: Purpose,
}

impl Creating {
    pub fn now(host_name: &str) -> Creating {
        Creating {
            host_name: host_name.to_string(),
            by: Process::current(),
            purpose: Purpose::Create,
        }
    }

    /// The mark of a destroy starting now.
    pub fn destroying(host_name: &str) -> Creating {
        Creating {
            purpose: Purpose::Destroy,
            ..Creating::now(host_name)
        }
    }

    pub fn write(&self, state_dir: &Path, host_id: &str) -> mngr_plugin_api::ProviderResult<()> {
        let json = serde_json::to_string(self).expect("marker serializes");
        keys::materialize_file(state_dir, host_id, CREATING_FILE, &json).map(|_| ())
    }

    /// Why the host is abandoned, if its creator is gone.
    pub fn abandoned(&self) -> Option<String> {
        let what = match self.purpose {
            Purpose::Create => "create",
            Purpose::Destroy => "destroy",
        };
        (!self.by.alive()).then(|| {
            format!(
                "its {what} was interrupted (mngr process {} is gone)",
                self.by.pid
            )
        })
    }

    /// The stand-in for a VPS that was never ordered: only its key and local files exist.
    pub fn unordered_instance(&self, provider: &str, host_id: &str) -> VpsInstance {
        VpsInstance {
            id: String::new(),
            label: self.host_name.clone(),
            main_ip: None,
            status: VpsStatus::Unknown,
            region: String::new(),
            plan: String::new(),
            tags: vec![
                format!("{TAG_PROVIDER}={provider}"),
                format!("{TAG_HOST_ID}={host_id}"),
                format!("{TAG_HOST_NAME}={}", self.host_name),
            ],
        }
    }
}

/// The marker of a host, if this machine has one.
pub fn read(state_dir: &Path, host_id: &str) -> Option<Creating> {
    let path = keys::host_key_dir(state_dir, host_id).join(CREATING_FILE);
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Clear the marker: the host is its agents' now.
pub fn clear(state_dir: &Path, host_id: &str) {
    let _ = std::fs::remove_file(keys::host_key_dir(state_dir, host_id).join(CREATING_FILE));
}

/// Every host id with a marker on this machine.
pub fn all(state_dir: &Path) -> Vec<(String, Creating)> {
    let Ok(entries) = std::fs::read_dir(state_dir.join("keys")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let id = e.file_name().to_string_lossy().into_owned();
            read(state_dir, &id).map(|c| (id, c))
        })
        .collect()
}
