//! The `modal` provider backend for mngr: each host is a Modal sandbox running sshd, reached
//! over SSH through Modal's unencrypted tunnel with keys mngr generates and a host key pinned
//! before the first connection. It speaks Modal's own gRPC protocol (`mngr-modal-proto`).
//! Host records and snapshot metadata live on a Modal Volume, so every mngr with the same
//! Modal account sees the same hosts.

pub mod api;
mod build_args;
pub mod config;
pub mod credentials;
mod hosts;
pub mod instance;
mod provision;
pub mod record;
pub mod sandbox;
mod store;
pub mod tls;
pub mod volume;

/// The shared provider parts this backend is built on.
pub use mngr_provider_kit as kit;

use mngr_plugin_api::*;
use mngr_provider_kit::adapter::OnRuntime;
use mngr_provider_kit::config::ProviderConfig;

pub const BACKEND_NAME: &str = "modal";

#[derive(Default)]
pub struct ModalBackend;

impl ProviderBackend for ModalBackend {
    fn describe(&self) -> BackendDescription {
        BackendDescription::new(BACKEND_NAME, "Runs agents in Modal sandboxes reached over SSH")
            .with_config_fields(config::ModalConfig::fields())
            .with_build_args_help("modal build args (-b), as KEY=VALUE, --KEY=VALUE or several in one string: gpu=TYPE[:COUNT] (h100, a100, t4, ...; default none), cpu=CORES (1.0), memory=GB (1.0), image=REGISTRY_NAME (debian:bookworm-slim), timeout=SECONDS (900, the sandbox's maximum lifetime), dockerfile=PATH.")
            .with_create_flags(vec![FlagSpec::new(
                "dockerfile",
                ValueType::String,
                "Build the sandbox image from this Dockerfile (FROM a registry name; RUN, ENV, WORKDIR...; no COPY)",
            )])
    }

    fn build_instance(
        &self,
        ctx: InstanceContext,
        config: serde_json::Map<String, serde_json::Value>,
    ) -> ProviderResult<Box<dyn ProviderInstance>> {
        let config = config::ModalConfig::parse(config)?;
        let runtime = mngr_provider_kit::runtime::plugin_runtime("mngr-modal");
        let instance = OnRuntime::build(runtime, || instance::ModalInstance::new(ctx, config))?;
        Ok(Box::new(instance))
    }
}

mngr_plugin_api::export_plugin! {
    name: "modal",
    version: env!("CARGO_PKG_VERSION"),
    description: "Modal sandboxes as mngr hosts, reached over SSH",
    backends: [ModalBackend],
}
