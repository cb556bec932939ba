//! The settings every VPS-Docker provider shares. A provider declares its own
//! `[providers.NAME]` table (with `provider_config!`, adding its API keys) and converts it
//! into these.

use std::time::Duration;

/// Defaults, also the defaults of the providers' tables.
pub const DEFAULT_HOST_DIR: &str = "/mngr";
pub const DEFAULT_IDLE_TIMEOUT: u64 = 800;
pub const DEFAULT_CONTAINER_SSH_PORT: u16 = 2222;

#[derive(Debug, Clone)]
pub struct VpsSettings {
    /// mngr's record directory inside the container.
    pub host_dir: String,
    /// The container image (on the VPS's Docker) when `--image` names none.
    pub default_image: String,
    pub default_idle_timeout: u64,
    /// How long to wait for the VPS's sshd at least, once it is active.
    pub ssh_connect_timeout: Duration,
    /// How long a VPS may take from its order until its sshd answers.
    pub vps_boot_timeout: Duration,
    /// How long cloud-init may take to make Docker ready.
    pub docker_install_timeout: Duration,
    /// Where the container's sshd is published on the VPS's public address.
    pub container_ssh_port: u16,
    pub default_region: String,
    pub default_plan: String,
    pub default_os: String,
    /// `docker run` flags every container gets, before the `-s` ones.
    pub default_start_args: Vec<String>,
    /// How often to ask the API whether a new VPS is up.
    pub poll_interval: Duration,
    /// What counts as activity when a create names none (from `default_idle_mode`).
    pub default_activity_sources: Vec<mngr_plugin_api::ActivitySource>,
}

impl VpsSettings {
    /// Seconds from a table's float setting, refusing what is not a positive duration.
    pub fn seconds(key: &str, value: f64) -> mngr_plugin_api::ProviderResult<Duration> {
        if value.is_finite() && value > 0.0 && value < 86_400.0 {
            Ok(Duration::from_secs_f64(value))
        } else {
            Err(mngr_plugin_api::ProviderError::invalid_config(format!(
                "'{key}' must be a number of seconds above 0 and below 86400, got {value}"
            )))
        }
    }
}

/// The activity sources of an idle mode (`IO`, `USER`, `AGENT`, `SSH`), as mngr's own
/// `data.json` names them.
pub fn activity_sources_of_mode(
    mode: &str,
) -> mngr_plugin_api::ProviderResult<Vec<mngr_plugin_api::ActivitySource>> {
    let always = ["SSH", "CREATE", "START", "BOOT"];
    let extra: &[&str] = match mode {
        "IO" => &["USER", "AGENT"],
        "USER" => &["USER"],
        "AGENT" => &["AGENT"],
        "SSH" => &[],
        other => {
            return Err(mngr_plugin_api::ProviderError::invalid_config(format!(
                "'default_idle_mode' must be IO, USER, AGENT or SSH, got '{other}'"
            )));
        }
    };
    extra
        .iter()
        .chain(always.iter())
        .map(|s| {
            serde_json::from_value(serde_json::Value::from(*s)).map_err(|e| {
                mngr_plugin_api::ProviderError::internal(format!("activity source {s}: {e}"))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn idle_modes_name_their_sources() {
        let io = super::activity_sources_of_mode("IO").unwrap();
        assert_eq!(mngr_plugin_api::host_data::idle_mode(&io), "IO");
        let ssh = super::activity_sources_of_mode("SSH").unwrap();
        assert_eq!(mngr_plugin_api::host_data::idle_mode(&ssh), "SSH");
        assert!(super::activity_sources_of_mode("io").is_err());
    }
}
