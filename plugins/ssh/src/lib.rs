//! The `ssh` provider backend for mngr: a fixed pool of machines that already exist, each a
//! `[providers.NAME.hosts.HOST]` table. mngr makes agents on them over SSH, with the host key
//! pinned from the settings before the first connection, and never creates or destroys the
//! machines. A listing probes every machine at once, bounded by `connect_timeout`, and shows
//! one that does not answer as offline with the reason while the others list.
//!
//! A plugin like every backend that is not this machine: it needs nothing of the host binary
//! but the provider contract, and the kit holds what it shares with the other SSH-reached
//! providers (declarative config, the async adapter, the agent record cache).

pub mod config;
mod host_keys;
pub mod instance;
mod reach;
mod records;

use mngr_plugin_api::*;
use mngr_provider_kit::adapter::OnRuntime;
use mngr_provider_kit::config::ProviderConfig;

pub const BACKEND_NAME: &str = "ssh";

#[derive(Default)]
pub struct SshBackend;

impl ProviderBackend for SshBackend {
    fn describe(&self) -> BackendDescription {
        BackendDescription::new(
            BACKEND_NAME,
            "Machines that already exist, reached over SSH with pinned host keys (mngr never creates or destroys them)",
        )
        .with_config_fields(config::SshConfig::fields())
        .with_build_args_help("No build arguments: the ssh backend does not create hosts.")
        .with_start_args_help("No start arguments: the ssh backend does not start hosts.")
    }

    fn build_instance(
        &self,
        ctx: InstanceContext,
        config: serde_json::Map<String, serde_json::Value>,
    ) -> ProviderResult<Box<dyn ProviderInstance>> {
        let settings = config::parse(config)?;
        let runtime = mngr_provider_kit::runtime::plugin_runtime("mngr-ssh");
        let instance = OnRuntime::build(runtime, || Ok(instance::SshInstance::new(ctx, settings)))?;
        Ok(Box::new(instance))
    }
}

mngr_plugin_api::export_plugin! {
    name: "ssh",
    version: env!("CARGO_PKG_VERSION"),
    description: "Existing machines as mngr hosts, reached over SSH with pinned host keys",
    backends: [SshBackend],
}
