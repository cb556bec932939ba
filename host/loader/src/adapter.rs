//! A loaded plugin's backend and instance objects as the plain contract traits, so the rest
//! of the host never sees FFI types.

use abi_stable::std_types::{RResult, RStr};
use mngr_plugin_api::ffi::abi::{BackendBox, InstanceBox};
use mngr_plugin_api::ffi::convert::{from_ffi, to_json, wire};
use mngr_plugin_api::*;
use std::collections::BTreeMap;

use crate::host_context::context_box;

/// A backend living in a plugin, as a plain [`ProviderBackend`]. Its description is read once.
pub struct PluginBackend {
    inner: BackendBox,
    description: BackendDescription,
}

/// Wrap a backend FFI object (from a loaded library, or from `mngr_plugin_api::ffi::export::export_backend`
/// in tests) into the plain trait.
pub fn import_backend(inner: BackendBox) -> ProviderResult<PluginBackend> {
    let description = from_ffi("backend description", inner.describe())?;
    Ok(PluginBackend { inner, description })
}

impl ProviderBackend for PluginBackend {
    fn describe(&self) -> BackendDescription {
        self.description.clone()
    }

    fn build_instance(
        &self,
        ctx: InstanceContext,
        config: serde_json::Map<String, serde_json::Value>,
    ) -> ProviderResult<Box<dyn ProviderInstance>> {
        let context = to_json(&wire::Context {
            instance_name: ctx.instance_name,
            state_dir: ctx.state_dir,
            prefix: ctx.prefix,
        });
        let config = to_json(&config);
        let result = self.inner.build_instance(
            RStr::from_str(&context),
            context_box(ctx.services),
            RStr::from_str(&config),
        );
        match result {
            RResult::ROk(inner) => Ok(Box::new(PluginInstance { inner })),
            RResult::RErr(err) => Err(err.into()),
        }
    }
}

/// An instance living in a plugin, as a plain [`ProviderInstance`].
pub struct PluginInstance {
    inner: InstanceBox,
}

/// Call one instance method with JSON arguments and decode its JSON result.
macro_rules! remote {
    ($self:ident . $method:ident ( $args:expr ) -> $what:literal) => {{
        let args = to_json(&$args);
        from_ffi($what, $self.inner.$method(RStr::from_str(&args)))
    }};
}

impl ProviderInstance for PluginInstance {
    fn capabilities(&self) -> Capabilities {
        // Capabilities cannot fail in the trait; a broken plugin claims nothing.
        self.try_capabilities().unwrap_or_default()
    }
    fn try_capabilities(&self) -> ProviderResult<Capabilities> {
        from_ffi("capabilities", self.inner.capabilities())
    }
    fn create_host(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
        remote!(self.create_host(request) -> "host record")
    }
    fn stop_host(&self, host: &HostId) -> ProviderResult<()> {
        remote!(self.stop_host(wire::Host { host: host.clone() }) -> "stop result")
    }
    fn start_host(&self, host: &HostId, snapshot: Option<&str>) -> ProviderResult<HostRecord> {
        let args = wire::Start {
            host: host.clone(),
            snapshot: snapshot.map(str::to_string),
        };
        remote!(self.start_host(args) -> "host record")
    }
    fn destroy_host(&self, host: &HostId) -> ProviderResult<()> {
        remote!(self.destroy_host(wire::Host { host: host.clone() }) -> "destroy result")
    }
    fn delete_host(&self, host: &HostId) -> ProviderResult<()> {
        remote!(self.delete_host(wire::Host { host: host.clone() }) -> "delete result")
    }
    fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
        let args = wire::Lookup {
            id_or_name: id_or_name.to_string(),
        };
        remote!(self.get_host(args) -> "host record")
    }
    fn discover_hosts(&self, include_destroyed: bool) -> ProviderResult<Vec<HostRecord>> {
        remote!(self.discover_hosts(wire::Discover { include_destroyed }) -> "host records")
    }
    fn host_access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        remote!(self.host_access(wire::Host { host: host.clone() }) -> "host access")
    }
    fn create_snapshot(&self, host: &HostId, name: Option<&str>) -> ProviderResult<SnapshotInfo> {
        let args = wire::SnapshotCreate {
            host: host.clone(),
            name: name.map(str::to_string),
        };
        remote!(self.create_snapshot(args) -> "snapshot")
    }
    fn list_snapshots(&self, host: &HostId) -> ProviderResult<Vec<SnapshotInfo>> {
        remote!(self.list_snapshots(wire::Host { host: host.clone() }) -> "snapshots")
    }
    fn delete_snapshot(&self, host: &HostId, snapshot_id: &str) -> ProviderResult<()> {
        let args = wire::SnapshotDelete {
            host: host.clone(),
            snapshot_id: snapshot_id.to_string(),
        };
        remote!(self.delete_snapshot(args) -> "delete result")
    }
    fn get_tags(&self, host: &HostId) -> ProviderResult<BTreeMap<String, String>> {
        remote!(self.get_tags(wire::Host { host: host.clone() }) -> "tags")
    }
    fn set_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        remote!(self.set_tags(wire::Tags { host: host.clone(), tags }) -> "set_tags result")
    }
    fn add_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        remote!(self.add_tags(wire::Tags { host: host.clone(), tags }) -> "add_tags result")
    }
    fn remove_tags(&self, host: &HostId, keys: Vec<String>) -> ProviderResult<()> {
        remote!(self.remove_tags(wire::TagKeys { host: host.clone(), keys }) -> "remove_tags result")
    }
    fn rename_host(&self, host: &HostId, new_name: &HostName) -> ProviderResult<HostRecord> {
        let args = wire::Rename {
            host: host.clone(),
            new_name: new_name.clone(),
        };
        remote!(self.rename_host(args) -> "host record")
    }
    fn persisted_agent_records(&self, host: &HostId) -> ProviderResult<Vec<PersistedAgentRecord>> {
        remote!(self.persisted_agent_records(wire::Host { host: host.clone() }) -> "agent records")
    }
    fn persist_agent_record(
        &self,
        host: &HostId,
        record: PersistedAgentRecord,
    ) -> ProviderResult<()> {
        remote!(self.persist_agent_record(wire::AgentRecord { host: host.clone(), record }) -> "persist result")
    }
    fn remove_persisted_agent_record(&self, host: &HostId, agent_id: &str) -> ProviderResult<()> {
        let args = wire::AgentRef {
            host: host.clone(),
            agent_id: agent_id.to_string(),
        };
        remote!(self.remove_persisted_agent_record(args) -> "remove result")
    }
    fn persist_host_record(&self, host: &HostId, record: serde_json::Value) -> ProviderResult<()> {
        remote!(self.persist_host_record(wire::Record { host: host.clone(), record }) -> "persist result")
    }
}
