//! Settings: the merged view of every layer (defaults < user < project < project-local <
//! `MNGR__*` environment < `-S` < flags).

use std::collections::BTreeMap;

/// An agent type defined in settings (`[agent_types.NAME]`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentTypeSettings {
    /// The program to run (for example `claude`).
    pub command: String,
    /// Arguments appended to the command.
    #[serde(default)]
    pub args: Vec<String>,
}

/// One `[providers.NAME]` table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderSettings {
    /// Backend name; defaults to the table name.
    pub backend: String,
    pub is_enabled: bool,
    /// The remaining keys, for the backend to validate.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Which layer set this table ("user", "project", "local", "env", "-S", "default").
    pub source: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Prefix of tmux sessions and provider resources.
    pub prefix: String,
    pub agent_types: BTreeMap<String, AgentTypeSettings>,
    pub providers: BTreeMap<String, ProviderSettings>,
    /// Plugins disabled in settings (`[plugins.NAME] enabled = false`).
    pub disabled_plugins: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            prefix: "mngr-".to_string(),
            agent_types: BTreeMap::new(),
            providers: BTreeMap::new(),
            disabled_plugins: Vec::new(),
        }
    }
}
