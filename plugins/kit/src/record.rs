//! The stored host record: what a provider keeps about each host wherever it keeps state (a
//! volume on a Docker daemon, a file on a VPS, a sandbox's metadata). Its keys follow the
//! shared layout so other mngr versions can read it; mngr's generated keys ride along so any
//! mngr with access to the provider's state can reach the host (access to that state already
//! means control of the host, so this grants nothing new).

use mngr_plugin_api::{ProviderError, ProviderResult};
use serde::{Deserialize, Serialize};

/// The record's shared part: the same type as `<host_dir>/data.json`.
pub use mngr_plugin_api::host_data::{HostData, HostSnapshot};

/// mngr's keys for one host (see [`crate::keys`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredKeys {
    pub client_private_key: String,
    /// The `authorized_keys` lines: mngr's client key first, then any the user added.
    pub client_public_key: String,
    pub host_private_key: String,
}

/// One host's record. `E` is the provider's own part (a container id, a VM id, how to
/// recreate the machine), stored beside the shared keys at the top level of the same object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredHost<E> {
    pub certified_host_data: HostData,
    #[serde(default)]
    pub ssh_host: Option<String>,
    /// Last observed; the live port from the provider wins.
    #[serde(default)]
    pub ssh_port: Option<u16>,
    /// The host key mngr generated and pins before the first connection.
    #[serde(default)]
    pub ssh_host_public_key: Option<String>,
    #[serde(default)]
    pub mngr_keys: Option<StoredKeys>,
    #[serde(flatten)]
    pub extra: E,
}

impl<E> StoredHost<E> {
    pub fn host_id(&self) -> &str {
        &self.certified_host_data.host_id
    }
    pub fn name(&self) -> &str {
        &self.certified_host_data.host_name
    }
    /// Mark the record as changed now.
    pub fn touch(&mut self) {
        self.certified_host_data.updated_at = mngr_plugin_api::time::now_iso8601_utc_micros();
    }
    /// mngr's keys for the host; a record without them cannot be provisioned or reached.
    pub fn keys(&self) -> ProviderResult<&StoredKeys> {
        self.mngr_keys
            .as_ref()
            .ok_or_else(|| ProviderError::internal("host record has no keys"))
    }
}

/// Whether a host other than `host` is named `name` (renaming `host` to it would make two).
pub fn name_taken_by_another<'a, E: 'a>(
    hosts: impl IntoIterator<Item = &'a StoredHost<E>>,
    host: &mngr_plugin_api::HostId,
    name: &str,
) -> bool {
    hosts
        .into_iter()
        .any(|h| h.name() == name && h.host_id() != host.as_str())
}

/// The record of a host a create request makes, before anything is made: fresh keys
/// ([`new_keys`]), host data with its id, name, tags, `image` label, idle timeout (the
/// request's, else `default_idle_timeout`) and activity sources (the request's, else the
/// defaults of [`HostData::new`]), no SSH address yet, and the provider's part `extra`.
pub fn new_host<E>(
    request: &mngr_plugin_api::CreateHostRequest,
    host_id: &mngr_plugin_api::HostId,
    prefix: &str,
    default_idle_timeout: u64,
    image: &str,
    extra: E,
) -> ProviderResult<StoredHost<E>> {
    let (keys, host_public_key) = new_keys(&request.authorized_keys)?;
    let mut data = HostData::new(host_id.as_str(), request.name.as_str(), prefix);
    data.user_tags = request.tags.clone();
    data.idle_timeout_seconds = request
        .lifecycle
        .idle_timeout_seconds
        .unwrap_or(default_idle_timeout);
    if let Some(sources) = &request.lifecycle.activity_sources {
        data.activity_sources = sources.clone();
    }
    data.image = Some(image.to_string());
    Ok(StoredHost {
        certified_host_data: data,
        ssh_host: None,
        ssh_port: None,
        ssh_host_public_key: Some(host_public_key),
        mngr_keys: Some(keys),
        extra,
    })
}

/// A new host's keys: a fresh client key and host key, and the `authorized_keys` lines
/// (mngr's client key, then `extra_authorized`).
pub fn new_keys(extra_authorized: &[String]) -> ProviderResult<(StoredKeys, String)> {
    let client = crate::keys::generate()?;
    let host_key = crate::keys::generate()?;
    let mut authorized = vec![client.public_openssh];
    authorized.extend(extra_authorized.iter().cloned());
    Ok((
        StoredKeys {
            client_private_key: client.private_openssh,
            client_public_key: authorized.join("\n"),
            host_private_key: host_key.private_openssh,
        },
        host_key.public_openssh,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    struct Extra {
        #[serde(default)]
        machine_id: Option<String>,
    }

    #[test]
    fn the_providers_part_sits_beside_the_shared_keys() {
        let (keys, host_public) = new_keys(&["ssh-ed25519 AAAA user@laptop".into()]).unwrap();
        assert!(
            keys.client_public_key
                .ends_with("\nssh-ed25519 AAAA user@laptop")
        );
        assert_eq!(keys.client_public_key.lines().count(), 2);
        assert_eq!(
            crate::keys::public_of(&keys.host_private_key).unwrap(),
            host_public
        );
        let host = StoredHost {
            certified_host_data: HostData::new("host-1", "box", "mngr-"),
            ssh_host: Some("127.0.0.1".into()),
            ssh_port: Some(2222),
            ssh_host_public_key: Some(host_public),
            mngr_keys: Some(keys),
            extra: Extra {
                machine_id: Some("vm-9".into()),
            },
        };
        let json = serde_json::to_value(&host).unwrap();
        assert_eq!(json["machine_id"], "vm-9");
        assert_eq!(json["ssh_port"], 2222);
        let back: StoredHost<Extra> = serde_json::from_value(json).unwrap();
        assert_eq!(back, host);
        // A record written before the provider part existed still reads.
        let old = serde_json::json!({"certified_host_data": host.certified_host_data});
        let old: StoredHost<Extra> = serde_json::from_value(old).unwrap();
        assert_eq!(old.extra, Extra::default());
        assert!(old.keys().is_err());
    }

    #[test]
    fn a_new_host_takes_the_requests_settings_or_the_defaults() {
        use mngr_plugin_api::{ActivitySource, CreateHostRequest, HostId, HostName};
        let id = HostId::generate();
        let mut request = CreateHostRequest::new(HostName::parse("box").unwrap());
        request.tags.insert("team".into(), "infra".into());
        let h = new_host(&request, &id, "mngr-", 600, "debian", Extra::default()).unwrap();
        let data = &h.certified_host_data;
        assert_eq!((h.host_id(), h.name()), (id.as_str(), "box"));
        assert_eq!(data.user_tags["team"], "infra");
        assert_eq!(data.image.as_deref(), Some("debian"));
        assert_eq!(data.idle_timeout_seconds, 600);
        let defaults = HostData::new("x", "y", "mngr-").activity_sources;
        assert_eq!(data.activity_sources, defaults);
        assert!(h.keys().is_ok() && h.ssh_host_public_key.is_some() && h.ssh_host.is_none());

        request.lifecycle.idle_timeout_seconds = Some(60);
        request.lifecycle.activity_sources = Some(vec![ActivitySource::User]);
        let h = new_host(&request, &id, "mngr-", 600, "debian", Extra::default()).unwrap();
        assert_eq!(h.certified_host_data.idle_timeout_seconds, 60);
        assert_eq!(
            h.certified_host_data.activity_sources,
            [ActivitySource::User]
        );

        let other = new_host(
            &request,
            &HostId::generate(),
            "mngr-",
            600,
            "d",
            Extra::default(),
        );
        let hosts = [h, other.unwrap()];
        assert!(!name_taken_by_another(&hosts[..1], &id, "box"));
        let renamed = HostId::generate();
        assert!(name_taken_by_another(&hosts, &renamed, "box"));
    }
}
