//! Async providers behind the synchronous contract. A provider implements [`AsyncProvider`]
//! once, with `async fn`s; [`OnRuntime`] implements `ProviderInstance` for it by running each
//! call to completion on the plugin's own runtime ([`crate::runtime`]). The host calls
//! providers from blocking threads, so blocking on a call here never stalls the host's runtime.

use mngr_plugin_api::*;
use std::collections::BTreeMap;
use tokio::runtime::Runtime;

fn unsupported<T>(what: &str) -> ProviderResult<T> {
    Err(ProviderError::unsupported(format!(
        "this provider does not support {what}"
    )))
}

/// `ProviderInstance`, with async methods. Optional operations default as they do there
/// (unsupported, or nothing to do); see that trait for each method's contract.
#[allow(async_fn_in_trait)] // run by `OnRuntime` with block_on: the futures never move threads
pub trait AsyncProvider: Send + Sync + 'static {
    fn capabilities(&self) -> Capabilities;

    async fn create_host(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
        let _ = request;
        unsupported("creating hosts")
    }
    async fn stop_host(&self, host: &HostId) -> ProviderResult<()> {
        let _ = host;
        unsupported("stopping hosts")
    }
    async fn start_host(
        &self,
        host: &HostId,
        snapshot: Option<&str>,
    ) -> ProviderResult<HostRecord> {
        let _ = (host, snapshot);
        unsupported("starting hosts")
    }
    async fn destroy_host(&self, host: &HostId) -> ProviderResult<()> {
        let _ = host;
        unsupported("destroying hosts")
    }
    async fn delete_host(&self, host: &HostId) -> ProviderResult<()> {
        let _ = host;
        Ok(())
    }

    async fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord>;
    async fn discover_hosts(&self, include_destroyed: bool) -> ProviderResult<Vec<HostRecord>>;
    async fn host_access(&self, host: &HostId) -> ProviderResult<HostAccess>;

    async fn create_snapshot(
        &self,
        host: &HostId,
        name: Option<&str>,
    ) -> ProviderResult<SnapshotInfo> {
        let _ = (host, name);
        unsupported("snapshots")
    }
    async fn list_snapshots(&self, host: &HostId) -> ProviderResult<Vec<SnapshotInfo>> {
        let _ = host;
        Ok(Vec::new())
    }
    async fn delete_snapshot(&self, host: &HostId, snapshot_id: &str) -> ProviderResult<()> {
        let _ = (host, snapshot_id);
        unsupported("snapshots")
    }

    async fn get_tags(&self, host: &HostId) -> ProviderResult<BTreeMap<String, String>> {
        Ok(self.get_host(host.as_str()).await?.tags)
    }
    async fn set_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        let _ = (host, tags);
        unsupported("changing tags")
    }
    /// Merged into the host's tags through `set_tags`; a provider whose tags are fixed
    /// (no `mutable_tags`) answers with `set_tags`'s refusal without reading them.
    async fn add_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        if !self.capabilities().mutable_tags {
            return self.set_tags(host, tags).await;
        }
        let mut all = self.get_tags(host).await?;
        all.extend(tags);
        self.set_tags(host, all).await
    }
    /// As [`AsyncProvider::add_tags`].
    async fn remove_tags(&self, host: &HostId, keys: Vec<String>) -> ProviderResult<()> {
        if !self.capabilities().mutable_tags {
            return self.set_tags(host, BTreeMap::new()).await;
        }
        let mut all = self.get_tags(host).await?;
        for key in keys {
            all.remove(&key);
        }
        self.set_tags(host, all).await
    }

    async fn rename_host(&self, host: &HostId, new_name: &HostName) -> ProviderResult<HostRecord> {
        let _ = (host, new_name);
        unsupported("renaming hosts")
    }

    async fn persisted_agent_records(
        &self,
        host: &HostId,
    ) -> ProviderResult<Vec<PersistedAgentRecord>> {
        let _ = host;
        Ok(Vec::new())
    }
    async fn persist_agent_record(
        &self,
        host: &HostId,
        record: PersistedAgentRecord,
    ) -> ProviderResult<()> {
        let _ = (host, record);
        Ok(())
    }
    async fn remove_persisted_agent_record(
        &self,
        host: &HostId,
        agent_id: &str,
    ) -> ProviderResult<()> {
        let _ = (host, agent_id);
        Ok(())
    }
    async fn persist_host_record(
        &self,
        host: &HostId,
        record: serde_json::Value,
    ) -> ProviderResult<()> {
        let _ = (host, record);
        Ok(())
    }
}

/// What every provider that makes its own machines can do: create and destroy hosts, stop
/// and start them, snapshot them. A provider adds what else it does (`rename`,
/// `mutable_tags`).
pub fn machine_capabilities() -> Capabilities {
    let mut caps = Capabilities::none();
    caps.snapshots = true;
    caps.stop_start = true;
    caps.create_hosts = true;
    caps.destroy_hosts = true;
    caps
}

/// The refusal of a provider whose tags are fixed when the host is made: `why`, and how to
/// set them then (`mngr create NAME --in <instance> --tag K=V`).
pub fn fixed_tags(why: &str, instance: &str) -> ProviderError {
    ProviderError::unsupported(why).with_hint(format!(
        "set tags when creating the host: mngr create NAME --in {instance} --tag K=V"
    ))
}

/// Inside `impl AsyncProvider for X { .. }`: the named contract methods, each answered by the
/// provider's inherent method for that job, so a provider writes only the methods that differ.
/// The inherent methods are, by contract method:
///
/// | contract method   | calls                            |
/// |-------------------|----------------------------------|
/// | `create_host`     | `self.create(request)`           |
/// | `stop_host`       | `self.stop(host)`                |
/// | `start_host`      | `self.start(host, snapshot)`     |
/// | `destroy_host`    | `self.destroy(host)`             |
/// | `delete_host`     | `self.destroy(host)` (forgetting a host of a provider that keeps nothing else is destroying it) |
/// | `host_access`     | `self.access(host)`              |
/// | `create_snapshot` | `self.snapshot(host, name)`      |
/// | `list_snapshots`  | `self.snapshots(host)`           |
/// | `delete_snapshot` | `self.delete_snap(host, id)`     |
/// | `rename_host`     | `self.rename(host, new_name)`    |
///
/// Two names stand for a group: `lifecycle` for `create_host`, `stop_host`, `start_host`,
/// `destroy_host`, `delete_host` and `host_access`; `snapshots` for the three snapshot methods.
///
/// ```ignore
/// impl AsyncProvider for MyInstance {
///     fn capabilities(&self) -> Capabilities { .. }
///     mngr_provider_kit::forward_to_inherent!(create_host, stop_host, destroy_host, host_access);
///     async fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> { .. }
///     ..
/// }
/// ```
#[macro_export]
macro_rules! forward_to_inherent {
    ($($method:ident),+ $(,)?) => {
        $($crate::forward_to_inherent!(@one $method);)+
    };
    (@one lifecycle) => {
        $crate::forward_to_inherent!(
            create_host,
            stop_host,
            start_host,
            destroy_host,
            delete_host,
            host_access
        );
    };
    (@one snapshots) => {
        $crate::forward_to_inherent!(create_snapshot, list_snapshots, delete_snapshot);
    };
    (@one create_host) => {
        async fn create_host(
            &self,
            request: $crate::__api::CreateHostRequest,
        ) -> $crate::__api::ProviderResult<$crate::__api::HostRecord> {
            self.create(request).await
        }
    };
    (@one stop_host) => {
        async fn stop_host(&self, host: &$crate::__api::HostId) -> $crate::__api::ProviderResult<()> {
            self.stop(host).await
        }
    };
    (@one start_host) => {
        async fn start_host(
            &self,
            host: &$crate::__api::HostId,
            snapshot: Option<&str>,
        ) -> $crate::__api::ProviderResult<$crate::__api::HostRecord> {
            self.start(host, snapshot).await
        }
    };
    (@one destroy_host) => {
        async fn destroy_host(&self, host: &$crate::__api::HostId) -> $crate::__api::ProviderResult<()> {
            self.destroy(host).await
        }
    };
    (@one delete_host) => {
        async fn delete_host(&self, host: &$crate::__api::HostId) -> $crate::__api::ProviderResult<()> {
            self.destroy(host).await
        }
    };
    (@one host_access) => {
        async fn host_access(
            &self,
            host: &$crate::__api::HostId,
        ) -> $crate::__api::ProviderResult<$crate::__api::HostAccess> {
            self.access(host).await
        }
    };
    (@one create_snapshot) => {
        async fn create_snapshot(
            &self,
            host: &$crate::__api::HostId,
            name: Option<&str>,
        ) -> $crate::__api::ProviderResult<$crate::__api::SnapshotInfo> {
            self.snapshot(host, name).await
        }
    };
    (@one list_snapshots) => {
        async fn list_snapshots(
            &self,
            host: &$crate::__api::HostId,
        ) -> $crate::__api::ProviderResult<Vec<$crate::__api::SnapshotInfo>> {
            self.snapshots(host).await
        }
    };
    (@one delete_snapshot) => {
        async fn delete_snapshot(
            &self,
            host: &$crate::__api::HostId,
            snapshot_id: &str,
        ) -> $crate::__api::ProviderResult<()> {
            self.delete_snap(host, snapshot_id).await
        }
    };
    (@one rename_host) => {
        async fn rename_host(
            &self,
            host: &$crate::__api::HostId,
            new_name: &$crate::__api::HostName,
        ) -> $crate::__api::ProviderResult<$crate::__api::HostRecord> {
            self.rename(host, new_name).await
        }
    };
}

/// An [`AsyncProvider`] as a `ProviderInstance`, each call run on `runtime`.
pub struct OnRuntime<P> {
    provider: P,
    runtime: &'static Runtime,
}

impl<P: AsyncProvider> OnRuntime<P> {
    /// Build the provider inside the runtime's context (clients such as hyper's need one
    /// at construction) and wrap it.
    pub fn build(
        runtime: &'static Runtime,
        make: impl FnOnce() -> ProviderResult<P>,
    ) -> ProviderResult<OnRuntime<P>> {
        let _context = runtime.enter();
        Ok(OnRuntime {
            provider: make()?,
            runtime,
        })
    }

    pub fn provider(&self) -> &P {
        &self.provider
    }
}

impl<P: AsyncProvider> ProviderInstance for OnRuntime<P> {
    fn capabilities(&self) -> Capabilities {
        self.provider.capabilities()
    }
    fn create_host(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
        self.runtime.block_on(self.provider.create_host(request))
    }
    fn stop_host(&self, host: &HostId) -> ProviderResult<()> {
        self.runtime.block_on(self.provider.stop_host(host))
    }
    fn start_host(&self, host: &HostId, snapshot: Option<&str>) -> ProviderResult<HostRecord> {
        self.runtime
            .block_on(self.provider.start_host(host, snapshot))
    }
    fn destroy_host(&self, host: &HostId) -> ProviderResult<()> {
        self.runtime.block_on(self.provider.destroy_host(host))
    }
    fn delete_host(&self, host: &HostId) -> ProviderResult<()> {
        self.runtime.block_on(self.provider.delete_host(host))
    }
    fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
        self.runtime.block_on(self.provider.get_host(id_or_name))
    }
    fn discover_hosts(&self, include_destroyed: bool) -> ProviderResult<Vec<HostRecord>> {
        self.runtime
            .block_on(self.provider.discover_hosts(include_destroyed))
    }
    fn host_access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        self.runtime.block_on(self.provider.host_access(host))
    }
    fn create_snapshot(&self, host: &HostId, name: Option<&str>) -> ProviderResult<SnapshotInfo> {
        self.runtime
            .block_on(self.provider.create_snapshot(host, name))
    }
    fn list_snapshots(&self, host: &HostId) -> ProviderResult<Vec<SnapshotInfo>> {
        self.runtime.block_on(self.provider.list_snapshots(host))
    }
    fn delete_snapshot(&self, host: &HostId, snapshot_id: &str) -> ProviderResult<()> {
        self.runtime
            .block_on(self.provider.delete_snapshot(host, snapshot_id))
    }
    fn get_tags(&self, host: &HostId) -> ProviderResult<BTreeMap<String, String>> {
        self.runtime.block_on(self.provider.get_tags(host))
    }
    fn set_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        self.runtime.block_on(self.provider.set_tags(host, tags))
    }
    fn add_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        self.runtime.block_on(self.provider.add_tags(host, tags))
    }
    fn remove_tags(&self, host: &HostId, keys: Vec<String>) -> ProviderResult<()> {
        self.runtime.block_on(self.provider.remove_tags(host, keys))
    }
    fn rename_host(&self, host: &HostId, new_name: &HostName) -> ProviderResult<HostRecord> {
        self.runtime
            .block_on(self.provider.rename_host(host, new_name))
    }
    fn persisted_agent_records(&self, host: &HostId) -> ProviderResult<Vec<PersistedAgentRecord>> {
        self.runtime
            .block_on(self.provider.persisted_agent_records(host))
    }
    fn persist_agent_record(
        &self,
        host: &HostId,
        record: PersistedAgentRecord,
    ) -> ProviderResult<()> {
        self.runtime
            .block_on(self.provider.persist_agent_record(host, record))
    }
    fn remove_persisted_agent_record(&self, host: &HostId, agent_id: &str) -> ProviderResult<()> {
        self.runtime
            .block_on(self.provider.remove_persisted_agent_record(host, agent_id))
    }
    fn persist_host_record(&self, host: &HostId, record: serde_json::Value) -> ProviderResult<()> {
        self.runtime
            .block_on(self.provider.persist_host_record(host, record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A provider with one host, whose calls need a tokio runtime (they sleep on its timer).
    struct OneHost;

    impl AsyncProvider for OneHost {
        fn capabilities(&self) -> Capabilities {
            Capabilities::default()
        }
        async fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            Err(ProviderError::not_found(format!("no host '{id_or_name}'")))
        }
        async fn discover_hosts(&self, _: bool) -> ProviderResult<Vec<HostRecord>> {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            Ok(Vec::new())
        }
        async fn host_access(&self, host: &HostId) -> ProviderResult<HostAccess> {
            self.get_host(host.as_str()).await.map(|_| unreachable!())
        }
    }

    #[test]
    fn calls_run_on_the_runtime_and_optional_ones_keep_their_defaults() {
        let instance =
            OnRuntime::build(crate::runtime::plugin_runtime("kit-test"), || Ok(OneHost)).unwrap();
        let dynamic: &dyn ProviderInstance = &instance;
        assert!(dynamic.discover_hosts(false).unwrap().is_empty());
        let err = dynamic.get_host("box").unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound);
        let host = HostId::generate();
        let err = dynamic.stop_host(&host).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported);
        assert_eq!(err.message, "this provider does not support stopping hosts");
        assert!(dynamic.list_snapshots(&host).unwrap().is_empty());
        dynamic
            .persist_agent_record(&host, PersistedAgentRecord::default())
            .unwrap();
        // Tags default to the host's record: absent here.
        assert_eq!(
            dynamic.get_tags(&host).unwrap_err().kind,
            ErrorKind::NotFound
        );
    }

    /// A provider whose contract methods are its inherent ones, forwarded by the macro, and
    /// whose tags are fixed.
    struct Forwarding;

    fn record() -> HostRecord {
        HostRecord::new(
            HostId::generate(),
            HostName::parse("box").unwrap(),
            "acme",
            HostState::Running,
            "/mngr",
        )
    }

    impl Forwarding {
        async fn create(&self, _: CreateHostRequest) -> ProviderResult<HostRecord> {
            Ok(record())
        }
        async fn stop(&self, _: &HostId) -> ProviderResult<()> {
            Err(ProviderError::internal("stop called"))
        }
        async fn start(&self, _: &HostId, snapshot: Option<&str>) -> ProviderResult<HostRecord> {
            Err(ProviderError::internal(format!(
                "start called with {snapshot:?}"
            )))
        }
        async fn destroy(&self, _: &HostId) -> ProviderResult<()> {
            Err(ProviderError::internal("destroy called"))
        }
        async fn access(&self, _: &HostId) -> ProviderResult<HostAccess> {
            Err(ProviderError::internal("access called"))
        }
        async fn snapshot(&self, _: &HostId, name: Option<&str>) -> ProviderResult<SnapshotInfo> {
            Err(ProviderError::internal(format!(
                "snapshot called with {name:?}"
            )))
        }
        async fn snapshots(&self, _: &HostId) -> ProviderResult<Vec<SnapshotInfo>> {
            Err(ProviderError::internal("snapshots called"))
        }
        async fn delete_snap(&self, _: &HostId, id: &str) -> ProviderResult<()> {
            Err(ProviderError::internal(format!(
                "delete_snap called with {id}"
            )))
        }
        async fn rename(&self, _: &HostId, to: &HostName) -> ProviderResult<HostRecord> {
            Err(ProviderError::internal(format!("rename called with {to}")))
        }
    }

    impl AsyncProvider for Forwarding {
        fn capabilities(&self) -> Capabilities {
            Capabilities::none()
        }
        crate::forward_to_inherent!(lifecycle, snapshots, rename_host);
        async fn get_host(&self, _: &str) -> ProviderResult<HostRecord> {
            Ok(record())
        }
        async fn discover_hosts(&self, _: bool) -> ProviderResult<Vec<HostRecord>> {
            Ok(Vec::new())
        }
        async fn set_tags(&self, _: &HostId, _: BTreeMap<String, String>) -> ProviderResult<()> {
            Err(fixed_tags("tags are fixed", "acme"))
        }
    }

    #[test]
    fn forwarded_methods_reach_the_inherent_ones_and_fixed_tags_refuse_every_change() {
        let instance = OnRuntime::build(crate::runtime::plugin_runtime("kit-test"), || {
            Ok(Forwarding)
        })
        .unwrap();
        let dynamic: &dyn ProviderInstance = &instance;
        let host = HostId::generate();
        let message = |r: ProviderResult<()>| r.unwrap_err().message;
        let request = CreateHostRequest::new(HostName::parse("box").unwrap());
        assert_eq!(dynamic.create_host(request).unwrap().name.as_str(), "box");
        assert_eq!(message(dynamic.stop_host(&host)), "stop called");
        assert_eq!(
            dynamic.start_host(&host, Some("s1")).unwrap_err().message,
            "start called with Some(\"s1\")"
        );
        assert_eq!(message(dynamic.destroy_host(&host)), "destroy called");
        assert_eq!(message(dynamic.delete_host(&host)), "destroy called");
        assert_eq!(
            dynamic.host_access(&host).unwrap_err().message,
            "access called"
        );
        assert_eq!(
            dynamic.create_snapshot(&host, None).unwrap_err().message,
            "snapshot called with None"
        );
        assert_eq!(
            dynamic.list_snapshots(&host).unwrap_err().message,
            "snapshots called"
        );
        assert_eq!(
            message(dynamic.delete_snapshot(&host, "s1")),
            "delete_snap called with s1"
        );
        let new_name = HostName::parse("other").unwrap();
        assert_eq!(
            dynamic.rename_host(&host, &new_name).unwrap_err().message,
            "rename called with other"
        );
        // No mutable_tags: add and remove give set_tags' refusal.
        for err in [
            dynamic.set_tags(&host, BTreeMap::new()).unwrap_err(),
            dynamic
                .add_tags(&host, BTreeMap::from([("k".into(), "v".into())]))
                .unwrap_err(),
            dynamic.remove_tags(&host, vec!["k".into()]).unwrap_err(),
        ] {
            assert_eq!(err.kind, ErrorKind::Unsupported);
            assert_eq!(err.message, "tags are fixed");
            assert_eq!(
                err.hint.as_deref(),
                Some("set tags when creating the host: mngr create NAME --in acme --tag K=V")
            );
        }
    }
}
