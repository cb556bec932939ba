//! The stand-in's shared state and the checks every call passes first.

use crate::auth::Auth;
use crate::docker::Docker;
use crate::faults::Faults;
use crate::images::Images;
use crate::sandboxes::Sandboxes;
use crate::volumes::Volumes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tonic::Status;
use tonic::metadata::MetadataMap;

/// The builder version handed to clients: 1.6.4 accepts it, and registry images get no
/// `modal_requirements.txt` layer with it.
pub const IMAGE_BUILDER_VERSION: &str = "2025.06";

pub struct Standin {
    pub docker: Docker,
    pub auth: Auth,
    pub faults: Faults,
    pub images: Arc<Images>,
    pub sandboxes: Arc<Sandboxes>,
    pub volumes: Volumes,
    /// `host:port` of the gRPC listener, which also serves the command router.
    pub grpc_addr: String,
    /// Whether both listeners speak TLS (`--tls-cert`).
    pub tls: bool,
    pub environment_id: String,
    /// (environment, app name) → app id.
    pub apps: Mutex<HashMap<(String, String), String>>,
    /// The client's snapshot id → the image it produced, so a retried snapshot is one image.
    pub snapshots_taken: Mutex<HashMap<String, String>>,
}

impl Standin {
    /// Checks a control-plane call: injected faults first, then the credentials.
    pub fn enter(&self, rpc: &str, metadata: &MetadataMap) -> Result<(), Status> {
        self.faults.check(rpc)?;
        self.auth.check_credentials(metadata)
    }

    /// As [`Standin::enter`], plus the `x-modal-auth-token` V2 sandbox calls carry.
    pub fn enter_v2(&self, rpc: &str, metadata: &MetadataMap) -> Result<(), Status> {
        self.enter(rpc, metadata)?;
        self.auth.check_auth_token(metadata)
    }

    /// The router URL for this caller: with TLS always `https://`. In plaintext, Python takes
    /// `http://` on loopback, while the Go and JS clients (and mngr) insist on an `https://`
    /// URL and then speak plaintext to localhost.
    pub fn router_url(&self, metadata: &MetadataMap) -> String {
        if self.tls {
            return format!("https://{}", self.grpc_addr);
        }
        let client_type = metadata
            .get("x-modal-client-type")
            .and_then(|v| v.to_str().ok());
        let scheme = if matches!(client_type, Some("8" | "9")) {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.grpc_addr)
    }
}
