//! The VPS-Docker base of mngr providers. Each host is one VPS running one Docker container:
//! the VPS boots with cloud-init from keys mngr generated (its host key is pinned before the
//! first connection), every Docker operation goes over mngr's own SSH session to the VPS's
//! Engine socket, and the container's sshd is published on port 2222 of the VPS's public
//! address. Stop and start act on the container while the VPS keeps running; destroy removes
//! the container, its records, the VPS, its registered key and the local key files.
//!
//! A VPS provider is one [`VpsClient`] (its API) plus a small backend that builds a
//! [`VpsDockerInstance`] with it (see `mngr-vultr`).

pub mod build_args;
pub mod client;
pub mod cloud_init;
mod container;
mod create;
mod discovery;
pub mod instance;
mod lifecycle;
mod machine;
mod pending;
pub mod record;
pub mod settings;
mod snapshots;
pub mod ssh;
mod status;

pub use client::{InstanceSpec, VpsClient, VpsInstance, VpsSnapshot, VpsStatus};
pub use instance::{VpsDockerInstance, VpsProviderNames};
pub use settings::VpsSettings;

/// `--help` text for `-b` of a VPS backend whose own flag prefix is `alias`.
pub fn build_args_help(alias: &str) -> String {
    format!(
        "VPS flags (-b): --vps-region=REGION, --vps-plan=PLAN, --vps-os=OS (also spelled --{alias}-region= ...). Every other -b goes to docker build on the VPS, with a positional build context uploaded from here: --file=PATH, --build-arg=K=V, --target=T, --no-cache, ..."
    )
}

/// `--help` text for `-s` of a VPS backend.
pub const START_ARGS_HELP: &str = "docker run flags (-s) for the host's container on the VPS: --cpus, --memory, -e/--env, -v/--volume, --cap-add, ... Flags that conflict with how mngr runs hosts (--name, --rm, --entrypoint, -it) are refused with the reason.";
