//! The `[providers.NAME]` table of a vultr instance: the VPS-Docker base's settings with the
//! seed's defaults, plus the API key and URL.

use mngr_docker_core::BASE_IMAGE;
use mngr_plugin_api::*;
use mngr_provider_kit::config::ProviderConfig;
use mngr_vps_docker::settings::{self, VpsSettings};
use serde_json::{Map, Value};
use std::time::Duration;

pub const DEFAULT_API_URL: &str = "https://api.vultr.com/v2";
/// Where the API key comes from when the table has none.
pub const API_KEY_ENV: &str = "VULTR_API_KEY";

mngr_provider_kit::provider_config! {
    /// The `[providers.NAME]` table of a vultr instance.
    pub struct VultrConfig for "vultr" {
        /// The Vultr API key (default: $VULTR_API_KEY); never printed
        pub api_key: Option<String>,
        /// The Vultr API v2 base URL
        pub api_url: String = DEFAULT_API_URL.to_string(),
        /// mngr's record directory inside the container
        pub host_dir: String = settings::DEFAULT_HOST_DIR.to_string(),
        /// The container image, on the VPS's Docker
        pub default_image: String = BASE_IMAGE.to_string(),
        /// Seconds without activity after which the container stops (the VPS keeps running)
        pub default_idle_timeout: u64 = settings::DEFAULT_IDLE_TIMEOUT,
        /// What counts as activity: IO, USER, AGENT or SSH
        pub default_idle_mode: String = "IO".to_string(),
        /// Seconds to wait for sshd in the container (and at least this for the VPS's)
        pub ssh_connect_timeout: f64 = 60.0,
        /// Seconds a new VPS may take from the order until its sshd answers
        pub vps_boot_timeout: f64 = 300.0,
        /// Seconds cloud-init may take to make Docker ready on a new VPS
        pub docker_install_timeout: f64 = 300.0,
        /// The port of the container's sshd on the VPS's public address
        pub container_ssh_port: u16 = settings::DEFAULT_CONTAINER_SSH_PORT,
        /// The region of new VPSes (-b --vps-region= overrides)
        pub default_region: String = "ewr".to_string(),
        /// The plan (size, price) of new VPSes (-b --vps-plan= overrides)
        pub default_plan: String = "vc2-1c-1gb".to_string(),
        /// The OS image id of new VPSes; 2136 is Debian 12 x64 (-b --vps-os= overrides)
        pub default_os_id: u64 = 2136,
        /// docker run flags every container gets, before the -s ones
        pub default_start_args: Vec<String> = Vec::new(),
        /// Attempts per API request that may be retried (429, 5xx, network errors)
        pub api_max_attempts: u32 = 5,
    }
}

/// The API key, kept out of every `Debug` and message.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// A parsed, checked table: the base's settings, the API's, and the key taken out of it.
pub struct Parsed {
    pub settings: VpsSettings,
    pub api_url: String,
    pub api_key: Option<ApiKey>,
    pub max_attempts: u32,
}

pub fn parse(table: Map<String, Value>) -> ProviderResult<Parsed> {
    let mut c = VultrConfig::parse_table(table)?;
    let api_key = c
        .api_key
        .take()
        .or_else(|| std::env::var(API_KEY_ENV).ok())
        .filter(|k| !k.trim().is_empty())
        .map(|k| ApiKey(k.trim().to_string()));
    if !(c.api_url.starts_with("https://") || c.api_url.starts_with("http://")) {
        return Err(ProviderError::invalid_config(format!(
            "'api_url' must be an http:// or https:// URL, got '{}'",
            c.api_url
        )));
    }
    if !c.host_dir.starts_with('/') || c.host_dir.contains('\'') {
        return Err(ProviderError::invalid_config(format!(
            "'host_dir' must be an absolute path without quotes, got '{}'",
            c.host_dir
        )));
    }
    if c.container_ssh_port == 0 || c.container_ssh_port == 22 {
        return Err(ProviderError::invalid_config(
            "'container_ssh_port' must be a port other than 0 and 22 (22 is the VPS's own sshd)",
        ));
    }
    if c.api_max_attempts == 0 {
        return Err(ProviderError::invalid_config(
            "'api_max_attempts' must be at least 1",
        ));
    }
    let settings = VpsSettings {
        host_dir: c.host_dir.trim_end_matches('/').to_string(),
        default_image: c.default_image,
        default_idle_timeout: c.default_idle_timeout,
        ssh_connect_timeout: VpsSettings::seconds("ssh_connect_timeout", c.ssh_connect_timeout)?,
        vps_boot_timeout: VpsSettings::seconds("vps_boot_timeout", c.vps_boot_timeout)?,
        docker_install_timeout: VpsSettings::seconds(
            "docker_install_timeout",
            c.docker_install_timeout,
        )?,
        container_ssh_port: c.container_ssh_port,
        default_region: c.default_region,
        default_plan: c.default_plan,
        default_os: c.default_os_id.to_string(),
        default_start_args: c.default_start_args,
        poll_interval: Duration::from_secs(2),
        default_activity_sources: settings::activity_sources_of_mode(&c.default_idle_mode)?,
    };
    Ok(Parsed {
        settings,
        api_url: c.api_url.trim_end_matches('/').to_string(),
        api_key,
        max_attempts: c.api_max_attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn defaults_are_the_seeds_and_bad_values_are_named() {
        let p = parse(table(json!({"api_key": "k"}))).unwrap();
        assert_eq!(p.settings.default_region, "ewr");
        assert_eq!(p.settings.default_plan, "vc2-1c-1gb");
        assert_eq!(p.settings.default_os, "2136");
        assert_eq!(p.settings.container_ssh_port, 2222);
        assert_eq!(p.settings.host_dir, "/mngr");
        assert_eq!(p.api_url, DEFAULT_API_URL);
        assert_eq!(p.api_key.unwrap().expose(), "k");
        let e = parse(table(json!({"region": "ams"}))).err().unwrap();
        assert!(e.message.contains("unknown key 'region'"), "{}", e.message);
        let e = parse(table(json!({"api_url": "ftp://x"}))).err().unwrap();
        assert!(e.message.contains("'api_url'"), "{}", e.message);
        let e = parse(table(json!({"vps_boot_timeout": -1.0})))
            .err()
            .unwrap();
        assert!(e.message.contains("'vps_boot_timeout'"), "{}", e.message);
        let e = parse(table(json!({"default_idle_mode": "sometimes"})))
            .err()
            .unwrap();
        assert!(e.message.contains("default_idle_mode"), "{}", e.message);
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let key = ApiKey("secret-123".into());
        assert!(!format!("{key:?}").contains("secret-123"));
    }
}
