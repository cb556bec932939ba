//! The `[providers.NAME]` table of an ssh instance and its `[providers.NAME.hosts.HOST]`
//! machines, checked once when the instance is built: everything a machine needs is there
//! and names what is wrong, so later calls only meet problems of the machine itself.

use mngr_plugin_api::{HostName, ProviderError, ProviderResult};
use mngr_provider_kit::config::ProviderConfig;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

mngr_provider_kit::provider_config! {
    /// The `[providers.NAME]` table of an ssh instance.
    pub struct SshConfig for "ssh" {
        /// Where mngr keeps its records on each machine (a path there, not expanded)
        pub host_dir: String = "/tmp/mngr".to_string(),
        /// Seconds to wait for a machine's sshd before it is shown offline
        pub connect_timeout: f64 = 3.0,
        /// The machines, one [providers.NAME.hosts.HOST] table each: address (required),
        /// port (22), user (root), key_file, and known_hosts_file or host_key (one is required)
        pub hosts: BTreeMap<String, SshHostConfig> = BTreeMap::new(),
    }
}

mngr_provider_kit::provider_config! {
    /// One `[providers.NAME.hosts.HOST]` machine.
    pub struct SshHostConfig for "ssh" {
        /// The machine's host name or IP address (required)
        pub address: Option<String>,
        /// Its sshd's port
        pub port: u16 = 22,
        /// The user mngr logs in as (agents run as this user)
        pub user: String = "root".to_string(),
        /// The private key mngr logs in with (~ expanded; default: the first of
        /// ~/.ssh/id_ed25519, ~/.ssh/id_ecdsa, ~/.ssh/id_rsa that exists)
        pub key_file: Option<String>,
        /// A known_hosts file holding the machine's host key (~ expanded; plain or hashed
        /// entries, [address]:port for a port other than 22)
        pub known_hosts_file: Option<String>,
        /// The machine's host key itself, as in its .pub file ("ssh-ed25519 AAAA...")
        pub host_key: Option<String>,
    }
}

/// Where a machine's host key is pinned from.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// `host_key`: the key itself, already checked to parse.
    Literal(String),
    /// `known_hosts_file`: looked up on use, so an edit to the file counts at once.
    KnownHosts(PathBuf),
}

/// One configured machine, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub name: HostName,
    pub address: String,
    pub port: u16,
    pub user: String,
    /// `None`: the default keys, looked for on use.
    pub key_file: Option<PathBuf>,
    pub key_source: KeySource,
}

/// The instance's settings, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub host_dir: String,
    pub connect_timeout: Duration,
    pub machines: Vec<Machine>,
}

/// Parse and check a table: unknown keys, wrong types, a machine without an address or a
/// host key, a bad host name or key are refused with a line saying what to write instead.
pub fn parse(table: Map<String, Value>) -> ProviderResult<Settings> {
    let config = SshConfig::parse_table(table)?;
    if config.host_dir.trim().is_empty() || !config.host_dir.starts_with('/') {
        return Err(ProviderError::invalid_config(format!(
            "'host_dir' must be an absolute path on the machines, got '{}'",
            config.host_dir
        )));
    }
    if !(config.connect_timeout.is_finite() && config.connect_timeout > 0.0) {
        return Err(ProviderError::invalid_config(format!(
            "'connect_timeout' must be a positive number of seconds, got {}",
            config.connect_timeout
        )));
    }
    let machines = config
        .hosts
        .into_iter()
        .map(|(name, host)| machine(&name, host))
        .collect::<ProviderResult<Vec<_>>>()?;
    Ok(Settings {
        host_dir: config.host_dir,
        connect_timeout: Duration::from_secs_f64(config.connect_timeout),
        machines,
    })
}

fn machine(name: &str, host: SshHostConfig) -> ProviderResult<Machine> {
    let at = format!("hosts.{name}");
    let name = HostName::parse(name).map_err(|e| {
        ProviderError::invalid_config(format!("'{at}': {e}"))
            .with_hint("name the table with letters, digits, '-' and '_' (no dots); the address goes in 'address'")
    })?;
    let address = match host.address.as_deref().map(str::trim) {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => {
            return Err(ProviderError::invalid_config(format!(
                "'{at}' has no 'address': set address = \"HOST-OR-IP\""
            )));
        }
    };
    if host.port == 0 {
        return Err(ProviderError::invalid_config(format!(
            "'{at}.port' must be 1 to 65535, got 0"
        )));
    }
    if host.user.trim().is_empty() {
        return Err(ProviderError::invalid_config(format!(
            "'{at}.user' must not be empty"
        )));
    }
    let key_source = match (host.host_key, host.known_hosts_file) {
        (Some(_), Some(_)) => {
            return Err(ProviderError::invalid_config(format!(
                "'{at}' sets both 'host_key' and 'known_hosts_file': keep one"
            )));
        }
        (Some(key), None) => {
            crate::host_keys::parse_public_key(&key).map_err(|e| {
                ProviderError::invalid_config(format!("'{at}.host_key' is not an SSH public key: {e}"))
                    .with_hint("copy the machine's /etc/ssh/ssh_host_ed25519_key.pub line, e.g. \"ssh-ed25519 AAAA...\"")
            })?;
            KeySource::Literal(key.trim().to_string())
        }
        (None, Some(path)) => KeySource::KnownHosts(mngr_plugin_api::fs::expand_tilde(&path)),
        (None, None) => {
            return Err(ProviderError::invalid_config(format!(
                "'{at}' has no host key: mngr never trusts a machine's key on first use"
            ))
            .with_hint(format!(
                "pin it with host_key = \"ssh-ed25519 AAAA...\" (the machine's /etc/ssh/ssh_host_ed25519_key.pub) or known_hosts_file = \"~/.ssh/known_hosts\" after checking the key with `ssh-keyscan -p {} {address}` against the machine's console",
                host.port
            )));
        }
    };
    Ok(Machine {
        name,
        address,
        port: host.port,
        user: host.user.trim().to_string(),
        key_file: host
            .key_file
            .as_deref()
            .map(mngr_plugin_api::fs::expand_tilde),
        key_source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF/obUnEULOaRrH7+fLDTnVHoC6I0PXsfYwJNcd46Cr1 me@box";

    fn parse_json(v: Value) -> ProviderResult<Settings> {
        parse(v.as_object().unwrap().clone())
    }

    #[test]
    fn a_pool_parses_with_its_defaults() {
        let s = parse_json(json!({"hosts": {
            "gpu1": {"address": "10.0.0.5", "host_key": KEY, "key_file": "~/k"},
            "gpu2": {"address": "h.example", "port": 2222, "user": "me", "known_hosts_file": "/kh"},
        }}))
        .unwrap();
        assert_eq!(s.host_dir, "/tmp/mngr");
        assert_eq!(s.connect_timeout, Duration::from_secs(3));
        assert_eq!(s.machines.len(), 2);
        let m = &s.machines[0];
        assert_eq!(
            (m.name.as_str(), m.address.as_str(), m.port, m.user.as_str()),
            ("gpu1", "10.0.0.5", 22, "root")
        );
        assert_eq!(m.key_source, KeySource::Literal(KEY.to_string()));
        assert!(!m.key_file.as_ref().unwrap().starts_with("~"));
        assert_eq!(
            s.machines[1].key_source,
            KeySource::KnownHosts("/kh".into())
        );
    }

    #[test]
    fn bad_machines_are_refused_with_what_to_write() {
        let cases = [
            (
                json!({"hosts": {"a": {"host_key": KEY}}}),
                "'hosts.a' has no 'address': set address = \"HOST-OR-IP\"",
            ),
            (
                json!({"hosts": {"a": {"address": "x"}}}),
                "'hosts.a' has no host key: mngr never trusts a machine's key on first use",
            ),
            (
                json!({"hosts": {"a": {"address": "x", "host_key": KEY, "known_hosts_file": "/k"}}}),
                "'hosts.a' sets both 'host_key' and 'known_hosts_file': keep one",
            ),
            (
                json!({"hosts": {"a": {"address": "x", "adress": "y"}}}),
                "unknown key 'adress' in hosts.a for the ssh backend; valid keys: address, port, user, key_file, known_hosts_file, host_key",
            ),
            (
                json!({"connect_timeout": 0}),
                "'connect_timeout' must be a positive number of seconds, got 0",
            ),
            (
                json!({"host_dir": "rel"}),
                "'host_dir' must be an absolute path on the machines, got 'rel'",
            ),
        ];
        for (table, expected) in cases {
            assert_eq!(parse_json(table).unwrap_err().message, expected);
        }
        let err = parse_json(json!({"hosts": {"a": {"address": "x"}}})).unwrap_err();
        assert!(err.hint.unwrap().contains("host_key = \"ssh-ed25519"));
        let err =
            parse_json(json!({"hosts": {"a": {"address": "x", "host_key": "ssh-ed25519 nope"}}}))
                .unwrap_err();
        assert!(
            err.message
                .starts_with("'hosts.a.host_key' is not an SSH public key"),
            "{}",
            err.message
        );
        let err =
            parse_json(json!({"hosts": {"a.b": {"address": "x", "host_key": KEY}}})).unwrap_err();
        assert!(err.message.starts_with("'hosts.a.b': "), "{}", err.message);
    }
}
