//! The `docker` provider backend for mngr: each host is a Docker container running sshd,
//! reached over SSH with keys mngr generates and a host key pinned before the first
//! connection. All provider state lives with the Docker daemon (labels and a state volume).
//!
//! This crate is the thin part: the backend, its instance and the plugin export. The Engine
//! layer is `mngr-docker-core`; what any SSH-reached provider needs is `mngr-provider-kit`.

mod abandoned;
mod access;
mod agents;
pub mod config;
mod containers;
mod create;
mod discovery;
mod images;
pub mod instance;
mod lifecycle;
// Operations under way, from the kit (`crate::pending::...` throughout this crate).
use mngr_provider_kit::pending;
mod provision;
pub mod record;
pub mod scripts;
mod snapshots;
mod status;

/// The shared provider parts this backend is built on (its tests generate keys with them).
pub use mngr_provider_kit as kit;

use mngr_plugin_api::*;
use mngr_provider_kit::adapter::OnRuntime;

pub const BACKEND_NAME: &str = "docker";

#[derive(Default)]
pub struct DockerBackend;

impl ProviderBackend for DockerBackend {
    fn describe(&self) -> BackendDescription {
        BackendDescription::new(BACKEND_NAME, "Runs agents in Docker containers reached over SSH")
            .with_config_fields(config::fields())
            .with_build_args_help("docker build flags (-b): --no-cache, --build-arg=K=V, --target=T, --label=K=V, --network=N, --add-host=H:IP, --shm-size=S, --memory=S, --cpu-shares=N, --cpuset-cpus=C, --cache-from=I, --file=PATH, and one positional build context directory. --pull, --tag and --platform are refused.")
            .with_start_args_help("docker run flags (-s): --cpus, --memory, --gpus, -v/--volume, --mount, --network, -p/--publish, -e/--env, --env-file, --shm-size, --cap-add, --device, --ulimit, --restart, ... Flags that conflict with how mngr runs hosts (--name, --rm, --entrypoint, -it, --pull) are refused with the reason.")
            .with_create_flags(vec![FlagSpec::new(
                "dockerfile",
                ValueType::String,
                "Build the host image from this Dockerfile (context: its directory, or a -b positional)",
            )])
    }

    fn build_instance(
        &self,
        ctx: InstanceContext,
        config: serde_json::Map<String, serde_json::Value>,
    ) -> ProviderResult<Box<dyn ProviderInstance>> {
        let config = config::DockerConfig::parse(config)?;
        let runtime = mngr_provider_kit::runtime::plugin_runtime("mngr-docker");
        let instance = OnRuntime::build(runtime, || instance::DockerInstance::new(ctx, config))?;
        Ok(Box::new(instance))
    }
}

mngr_plugin_api::export_plugin! {
    name: "docker",
    version: env!("CARGO_PKG_VERSION"),
    description: "Docker containers as mngr hosts, reached over SSH",
    backends: [DockerBackend],
}
