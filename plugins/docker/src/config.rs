//! The `[providers.NAME]` table of a docker instance, declared once (the kit's
//! `provider_config!`): parsed and validated up front, unknown keys rejected.

use mngr_plugin_api::{ConfigField, ProviderError, ProviderResult};
use mngr_provider_kit::config::ProviderConfig;
use serde_json::{Map, Value};

/// The image used when neither `default_image`, `--dockerfile` nor `-b` says otherwise.
pub const DEFAULT_IMAGE: &str = mngr_docker_core::BASE_IMAGE;
pub const DEFAULT_IDLE_TIMEOUT: u64 = 800;
pub const DEFAULT_HOST_DIR: &str = "/mngr";
/// What a TLS client needs from `tls_cert_path`: the CA that signed the daemon's
/// certificate, and mngr's own certificate and key.
pub const TLS_FILES: [&str; 3] = ["ca.pem", "cert.pem", "key.pem"];

mngr_provider_kit::provider_config! {
    /// A docker instance's settings.
    pub struct DockerConfig for "docker" {
        /// Docker daemon URL: empty for the local daemon (DOCKER_HOST honoured), unix:///path,
        /// tcp://host:port or ssh://user@server
        pub host: String = String::new(),
        /// Image for new hosts when no --dockerfile or -b is given; must exist on the daemon
        /// (mngr never pulls)
        pub default_image: String = DEFAULT_IMAGE.to_string(),
        /// docker run flags applied to every new host, before the -s flags of a create
        pub default_start_args: Vec<String> = Vec::new(),
        /// Seconds without activity after which a host stops itself
        pub default_idle_timeout: u64 = DEFAULT_IDLE_TIMEOUT,
        /// mngr's record directory inside containers
        pub host_dir: String = DEFAULT_HOST_DIR.to_string(),
        /// Image of the state container serving the state volume (default: default_image)
        pub state_image: Option<String>,
        /// Address used to reach containers' published SSH ports (default: the host of `host`,
        /// or 127.0.0.1)
        pub ssh_address: Option<String>,
        /// For a tcp:// daemon with TLS: directory holding ca.pem, cert.pem and key.pem (as
        /// DOCKER_CERT_PATH); the daemon's certificate is checked against ca.pem
        pub tls_cert_path: Option<String>,
        /// Host address each container's root sshd port is published on: an IP address such as
        /// 127.0.0.1, 0.0.0.0 (every IPv4 interface) or :: (every interface). Default: 127.0.0.1
        /// for a daemon on this machine reached at a loopback ssh_address, every interface for a
        /// tcp:// or ssh:// daemon
        pub publish_address: Option<String>,
        /// Longest an image build may take
        pub build_timeout_seconds: u64 = 600,
    }
}

pub fn fields() -> Vec<ConfigField> {
    DockerConfig::fields()
}

/// `publish_address` as an IP address (checked by [`DockerConfig::parse`]).
fn ip_address(raw: &str) -> ProviderResult<std::net::IpAddr> {
    raw.trim().parse().map_err(|_| {
        ProviderError::invalid_config(format!(
            "'publish_address' = '{raw}' is not an IP address; use 127.0.0.1 (this machine only), 0.0.0.0 or :: (every interface), or one of this machine's addresses"
        ))
    })
}

impl DockerConfig {
    /// The table, parsed, with what the types alone cannot say checked too.
    pub fn parse(config: Map<String, Value>) -> ProviderResult<DockerConfig> {
        let mut out = DockerConfig::parse_table(config)?;
        out.tls_cert_path = out.tls_cert_path.as_deref().map(|p| {
            mngr_plugin_api::fs::expand_tilde(p)
                .to_string_lossy()
                .into_owned()
        });
        if let Some(raw) = &out.publish_address {
            ip_address(raw)?;
        }
        let known_scheme = out.host.is_empty()
            || ["unix://", "tcp://", "http://", "ssh://"]
                .iter()
                .any(|s| out.host.starts_with(s));
        if !known_scheme {
            return Err(ProviderError::invalid_config(format!(
                "'host' = '{}' is not a Docker daemon URL; use unix:///path, tcp://host:port or ssh://user@server (or leave it empty)",
                out.host
            )));
        }
        if let Some(dir) = &out.tls_cert_path {
            if !(out.host.starts_with("tcp://") || out.host.starts_with("https://")) {
                return Err(ProviderError::invalid_config(format!(
                    "'tls_cert_path' = '{dir}' applies to a tcp:// daemon, but 'host' = '{}'",
                    out.host
                )));
            }
            for file in TLS_FILES {
                let path = std::path::Path::new(dir).join(file);
                if !path.is_file() {
                    return Err(ProviderError::invalid_config(format!(
                        "'tls_cert_path' = '{dir}' has no {file} ({} is missing)",
                        path.display()
                    )));
                }
            }
        }
        if !out.host_dir.starts_with('/') || out.host_dir.contains('\'') {
            return Err(ProviderError::invalid_config(format!(
                "'host_dir' = '{}' must be an absolute path without quotes",
                out.host_dir
            )));
        }
        Ok(out)
    }

    pub fn state_image(&self) -> &str {
        self.state_image.as_deref().unwrap_or(&self.default_image)
    }

    /// Whether containers' own addresses can be tried before their published SSH port: only
    /// for a daemon on this Linux machine (its bridge networks are routed here), not rootless
    /// (its networks live in another namespace), and not when `ssh_address` says where to go.
    pub fn direct_routes_possible(&self) -> bool {
        let socket = self.daemon_url();
        let local = socket.is_empty() || socket.starts_with("unix://");
        cfg!(target_os = "linux")
            && local
            && !socket.contains("/run/user/")
            && self.ssh_address.is_none()
    }

    /// The daemon's URL as given, or `DOCKER_HOST` for the default local daemon.
    fn daemon_url(&self) -> String {
        if self.host.is_empty() {
            std::env::var("DOCKER_HOST").unwrap_or_default()
        } else {
            self.host.clone()
        }
    }

    /// The host address containers' SSH ports are published on, as Docker takes it (empty
    /// for every interface). A daemon on this machine publishes on loopback only, so no
    /// other machine can reach a container's root sshd; a remote daemon (tcp://, ssh://)
    /// publishes on every interface, since mngr connects from elsewhere; so does a local
    /// daemon whose `ssh_address` is not a loopback address. `publish_address` overrides.
    pub fn publish_address(&self) -> String {
        if let Some(address) = self
            .publish_address
            .as_deref()
            .and_then(|a| ip_address(a).ok())
        {
            return address.to_string();
        }
        let url = self.daemon_url();
        let remote = ["tcp://", "http://", "https://", "ssh://"]
            .iter()
            .any(|s| url.starts_with(s));
        let ssh = self.ssh_address();
        let loopback = ssh == "localhost"
            || ssh
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if remote || !loopback {
            String::new()
        } else {
            "127.0.0.1".to_string()
        }
    }

    /// The address at which published container ports are reachable from this machine.
    pub fn ssh_address(&self) -> String {
        if let Some(address) = &self.ssh_address {
            return address.clone();
        }
        let rest = match self.host.split_once("://") {
            Some(("tcp" | "http" | "ssh", rest)) => rest,
            _ => return "127.0.0.1".to_string(),
        };
        let authority = rest.split('/').next().unwrap_or("");
        let host_port = authority.rsplit('@').next().unwrap_or("");
        let host = if let Some(v6) = host_port.strip_prefix('[') {
            v6.split(']').next().unwrap_or("")
        } else {
            host_port.split(':').next().unwrap_or("")
        };
        if host.is_empty() || host == "localhost" {
            "127.0.0.1".to_string()
        } else {
            host.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_cert_path_needs_a_tcp_daemon_and_its_three_files() {
        let parse = |host: &str, dir: &str| {
            let mut map = Map::new();
            map.insert("host".into(), Value::from(host));
            map.insert("tls_cert_path".into(), Value::from(dir));
            DockerConfig::parse(map)
        };
        let dir = std::env::temp_dir().join(format!("mngr-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.to_str().unwrap();
        let err = parse("unix:///var/run/docker.sock", d).unwrap_err();
        assert!(
            err.message.contains("applies to a tcp:// daemon"),
            "{}",
            err.message
        );
        for file in TLS_FILES {
            let err = parse("tcp://h:2376", d).unwrap_err();
            assert!(err.message.contains(file), "{}", err.message);
            std::fs::write(dir.join(file), "x").unwrap();
        }
        let ok = parse("tcp://h:2376", d).unwrap();
        assert_eq!(ok.tls_cert_path.as_deref(), Some(d));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn direct_routes_only_for_a_local_daemon_without_ssh_address() {
        let parse = |pairs: &[(&str, &str)]| {
            let map: Map<String, Value> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(*v)))
                .collect();
            DockerConfig::parse(map).unwrap()
        };
        let linux = cfg!(target_os = "linux");
        assert_eq!(
            parse(&[("host", "unix:///var/run/docker.sock")]).direct_routes_possible(),
            linux
        );
        for remote in ["tcp://10.0.0.5:2375", "ssh://me@server"] {
            assert!(
                !parse(&[("host", remote)]).direct_routes_possible(),
                "{remote}"
            );
        }
        assert!(!parse(&[("host", "unix:///run/user/1000/docker.sock")]).direct_routes_possible());
        assert!(
            !parse(&[
                ("host", "unix:///var/run/docker.sock"),
                ("ssh_address", "127.0.0.1")
            ])
            .direct_routes_possible()
        );
    }
    use serde_json::json;

    fn parse(v: Value) -> ProviderResult<DockerConfig> {
        DockerConfig::parse(v.as_object().unwrap().clone())
    }

    #[test]
    fn defaults_and_known_keys() {
        let c = parse(json!({})).unwrap();
        assert_eq!(c.default_image, DEFAULT_IMAGE);
        assert_eq!(c.ssh_address(), "127.0.0.1");
        let c = parse(json!({"host": "tcp://10.0.0.5:2375", "default_start_args": ["--cpus=2"], "default_idle_timeout": 60})).unwrap();
        assert_eq!(c.ssh_address(), "10.0.0.5");
        assert_eq!(c.default_start_args, vec!["--cpus=2"]);
        assert_eq!(
            parse(json!({"host": "ssh://me@box:2222"}))
                .unwrap()
                .ssh_address(),
            "box"
        );
    }

    #[test]
    fn ssh_ports_publish_on_loopback_for_a_local_daemon_only() {
        assert_eq!(
            parse(json!({"host": "unix:///var/run/docker.sock"}))
                .unwrap()
                .publish_address(),
            "127.0.0.1"
        );
        for remote in ["tcp://10.0.0.5:2375", "ssh://me@server"] {
            assert_eq!(
                parse(json!({"host": remote})).unwrap().publish_address(),
                "",
                "{remote}"
            );
        }
        let elsewhere =
            parse(json!({"host": "unix:///var/run/docker.sock", "ssh_address": "192.168.1.4"}));
        assert_eq!(elsewhere.unwrap().publish_address(), "");
        let asked = parse(json!({"host": "tcp://10.0.0.5:2375", "publish_address": "10.0.0.5"}));
        assert_eq!(asked.unwrap().publish_address(), "10.0.0.5");
        assert_eq!(
            parse(json!({"publish_address": "::"}))
                .unwrap()
                .publish_address(),
            "::"
        );
        let err = parse(json!({"publish_address": "everywhere"})).unwrap_err();
        assert!(
            err.message
                .contains("'publish_address' = 'everywhere' is not an IP address"),
            "{}",
            err.message
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        let err = parse(json!({"hots": ""})).unwrap_err();
        assert!(
            err.message.contains("unknown key 'hots'"),
            "{}",
            err.message
        );
        assert!(parse(json!({"default_idle_timeout": "x"})).is_err());
        assert!(parse(json!({"host": "ftp://x"})).is_err());
        assert!(parse(json!({"default_start_args": [1]})).is_err());
    }
}
