//! PID 1 of host containers (the watcher and shutdown script come from the kit, stopping
//! through PID 1: see `mngr_provider_kit::watcher::StopAction::SignalInit`). It lives in the
//! docker core, shared with the VPS-Docker base.

pub use mngr_docker_core::host_container::entrypoint;
