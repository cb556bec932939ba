//! The host records one run has read or written, by host id, so later calls in the same run
//! skip the provider's store (a listing reads every record once; what follows reuses them).

use crate::record::StoredHost;
use std::collections::HashMap;
use std::sync::Mutex;

pub struct HostCache<E> {
    by_id: Mutex<HashMap<String, StoredHost<E>>>,
}

impl<E> Default for HostCache<E> {
    fn default() -> Self {
        HostCache {
            by_id: Mutex::new(HashMap::new()),
        }
    }
}

impl<E: Clone> HostCache<E> {
    /// The record of host `host_id`, if this run has seen it.
    pub fn get(&self, host_id: &str) -> Option<StoredHost<E>> {
        self.lock().get(host_id).cloned()
    }

    /// Keep `host`'s record for the rest of the run (replacing an older one).
    pub fn remember(&self, host: &StoredHost<E>) {
        self.lock().insert(host.host_id().to_string(), host.clone());
    }

    /// Keep every record of a full read.
    pub fn remember_all<'a>(&self, hosts: impl IntoIterator<Item = &'a StoredHost<E>>)
    where
        E: 'a,
    {
        let mut by_id = self.lock();
        for h in hosts {
            by_id.insert(h.host_id().to_string(), h.clone());
        }
    }

    /// Drop a host's record (the host is gone, or its record is no longer to be trusted).
    pub fn forget(&self, host_id: &str) {
        self.lock().remove(host_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, StoredHost<E>>> {
        self.by_id.lock().expect("host cache lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mngr_plugin_api::host_data::HostData;

    fn host(id: &str, name: &str) -> StoredHost<()> {
        StoredHost {
            certified_host_data: HostData::new(id, name, "mngr-"),
            ssh_host: None,
            ssh_port: None,
            ssh_host_public_key: None,
            mngr_keys: None,
            extra: (),
        }
    }

    #[test]
    fn remembered_records_are_served_until_forgotten() {
        let cache = HostCache::default();
        assert!(cache.get("h1").is_none());
        cache.remember_all([&host("h1", "one"), &host("h2", "two")]);
        cache.remember(&host("h1", "renamed"));
        assert_eq!(cache.get("h1").unwrap().name(), "renamed");
        cache.forget("h1");
        assert!(cache.get("h1").is_none());
        assert_eq!(cache.get("h2").unwrap().name(), "two");
    }
}
