//! The `vultr` provider backend for mngr: each host is a Docker container on its own Vultr
//! VPS. The VPS-Docker base (`mngr-vps-docker`) does the host's life; this crate is Vultr's
//! API client (`client.rs` over `api.rs`), its configuration and the plugin export.

pub mod api;
pub mod client;
pub mod config;

use mngr_plugin_api::*;
use mngr_provider_kit::adapter::OnRuntime;
use mngr_provider_kit::config::ProviderConfig;
use mngr_vps_docker::{VpsDockerInstance, VpsProviderNames};

pub const BACKEND_NAME: &str = "vultr";

/// The instance type mngr drives.
pub type VultrInstance = VpsDockerInstance<client::VultrClient>;

#[derive(Default)]
pub struct VultrBackend;

impl ProviderBackend for VultrBackend {
    fn describe(&self) -> BackendDescription {
        BackendDescription::new(
            BACKEND_NAME,
            "Runs agents in Docker containers, one per Vultr VPS",
        )
        .with_config_fields(config::VultrConfig::fields())
        .with_build_args_help(mngr_vps_docker::build_args_help(BACKEND_NAME))
        .with_start_args_help(mngr_vps_docker::START_ARGS_HELP)
    }

    fn build_instance(
        &self,
        ctx: InstanceContext,
        table: serde_json::Map<String, serde_json::Value>,
    ) -> ProviderResult<Box<dyn ProviderInstance>> {
        let parsed = config::parse(table)?;
        let runtime = mngr_provider_kit::runtime::plugin_runtime("mngr-vultr");
        let instance = OnRuntime::build(runtime, || {
            let api = api::Api::new(
                &parsed.api_url,
                parsed.api_key,
                &ctx.instance_name,
                parsed.max_attempts,
            )?;
            let names = VpsProviderNames {
                backend: BACKEND_NAME,
                flag_alias: BACKEND_NAME,
            };
            Ok(VpsDockerInstance::new(
                ctx,
                parsed.settings,
                names,
                client::VultrClient { api },
            ))
        })?;
        Ok(Box::new(instance))
    }
}

mngr_plugin_api::export_plugin! {
    name: "vultr",
    version: env!("CARGO_PKG_VERSION"),
    description: "Docker containers on Vultr VPSes as mngr hosts",
    backends: [VultrBackend],
}
