//! The backend registry: every provider backend mngr knows in this run, built-in or from a
//! plugin, keyed by backend name.

use mngr_plugin_api::{BackendDescription, ProviderBackend};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a backend came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendOrigin {
    BuiltIn,
    /// A plugin library: its name and path.
    Plugin {
        name: String,
        path: String,
    },
}

impl BackendOrigin {
    pub fn plugin_name(&self) -> &str {
        match self {
            BackendOrigin::BuiltIn => "builtin",
            BackendOrigin::Plugin { name, .. } => name,
        }
    }
}

pub struct BackendEntry {
    pub backend: Arc<dyn ProviderBackend>,
    /// `describe()` captured at registration, so help and validation never call into plugins again.
    pub description: BackendDescription,
    pub origin: BackendOrigin,
}

#[derive(Default)]
pub struct Registry {
    backends: BTreeMap<String, BackendEntry>,
}

/// A second registration of a backend name; the first one stays.
#[derive(Debug, Clone)]
pub struct DuplicateBackend {
    pub name: String,
    pub first: BackendOrigin,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a backend under the name its description gives; returns that name.
    pub fn register(
        &mut self,
        backend: Arc<dyn ProviderBackend>,
        origin: BackendOrigin,
    ) -> Result<String, DuplicateBackend> {
        let description = backend.describe();
        let name = description.name.clone();
        if let Some(existing) = self.backends.get(&name) {
            return Err(DuplicateBackend {
                name,
                first: existing.origin.clone(),
            });
        }
        self.backends.insert(
            name.clone(),
            BackendEntry {
                backend,
                description,
                origin,
            },
        );
        Ok(name)
    }

    pub fn get(&self, name: &str) -> Option<&BackendEntry> {
        self.backends.get(name)
    }

    /// Backend names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.backends.keys().cloned().collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &BackendEntry)> {
        self.backends.iter()
    }
}
