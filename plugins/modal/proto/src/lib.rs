//! Modal's gRPC protocol as mngr uses it: the project's own subset of the `modal.client`
//! (control plane) and `modal.task_command_router` (exec and snapshots) packages, with tonic
//! clients and servers. Shared by the Modal provider plugin and its loopback stand-in.

/// The control plane: package `modal.client`, service `ModalClient`.
pub mod client {
    tonic::include_proto!("modal.client");
}

/// The per-task command router: package `modal.task_command_router`.
pub mod task_command_router {
    tonic::include_proto!("modal.task_command_router");
}
