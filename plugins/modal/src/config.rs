//! The `[providers.NAME]` table of a modal instance.

use mngr_plugin_api::{ProviderError, ProviderResult};
use mngr_provider_kit::config::ProviderConfig;
use serde_json::{Map, Value};

mngr_provider_kit::provider_config! {
    /// A modal instance's settings. Credentials are never here: they come from
    /// MODAL_TOKEN_ID/MODAL_TOKEN_SECRET or ~/.modal.toml (see credentials.rs).
    pub struct ModalConfig for "modal" {
        /// Modal's API address (MODAL_SERVER_URL wins; default: the profile's server_url, else https://api.modal.com)
        pub server_url: Option<String>,
        /// The Modal app the sandboxes belong to (default: mngr-INSTANCE)
        pub app_name: Option<String>,
        /// The Modal Volume holding host records and snapshot metadata (default: mngr-INSTANCE-state)
        pub state_volume: Option<String>,
        /// Base image of new hosts, a registry name (-b image=... overrides)
        pub default_image: String = "debian:bookworm-slim".to_string(),
        /// CPU cores of new hosts (-b cpu=...)
        pub default_cpu: f64 = 1.0,
        /// Memory of new hosts in GB (-b memory=...)
        pub default_memory: f64 = 1.0,
        /// GPU of new hosts, e.g. h100 or a100:2 (default: none; -b gpu=...)
        pub default_gpu: Option<String>,
        /// Sandbox timeout in seconds, the host's maximum lifetime (-b timeout=...)
        pub default_timeout: u64 = 900,
        /// Seconds without activity after which a host asks to be stopped (snapshotted)
        pub default_idle_timeout: u64 = 800,
        /// mngr's record directory inside each sandbox
        pub host_dir: String = "/mngr".to_string(),
    }
}

/// Modal object names: letters, digits, `-`, `_` and `.`, under 64 characters.
fn object_name(raw: &str) -> String {
    let clean: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    clean.chars().take(63).collect()
}

impl ModalConfig {
    pub fn parse(table: Map<String, Value>) -> ProviderResult<ModalConfig> {
        let config = ModalConfig::parse_table(table)?;
        if !config.host_dir.starts_with('/') {
            return Err(ProviderError::invalid_config(format!(
                "'host_dir' must be an absolute path, got '{}'",
                config.host_dir
            )));
        }
        if config.default_cpu <= 0.0 || config.default_memory <= 0.0 || config.default_timeout == 0
        {
            return Err(ProviderError::invalid_config(
                "'default_cpu', 'default_memory' and 'default_timeout' must be greater than 0",
            ));
        }
        Ok(config)
    }

    pub fn app(&self, instance: &str) -> String {
        self.app_name
            .clone()
            .unwrap_or_else(|| object_name(&format!("mngr-{instance}")))
    }

    pub fn volume(&self, instance: &str) -> String {
        self.state_volume
            .clone()
            .unwrap_or_else(|| object_name(&format!("mngr-{instance}-state")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_checks() {
        let c = ModalConfig::parse(Map::new()).unwrap();
        assert_eq!(c.default_timeout, 900);
        assert_eq!(c.app("modal"), "mngr-modal");
        assert_eq!(c.volume("my modal"), "mngr-my-modal-state");
        let bad = json!({"host_dir": "rel"}).as_object().unwrap().clone();
        assert!(
            ModalConfig::parse(bad)
                .unwrap_err()
                .message
                .contains("absolute")
        );
        let unknown = json!({"token_secret": "x"}).as_object().unwrap().clone();
        let err = ModalConfig::parse(unknown).unwrap_err();
        assert!(
            err.message.contains("unknown key 'token_secret'"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("\"x\""));
    }
}
