//! One VPS as mngr drives it: the pinned SSH session, the Docker Engine over it, and the
//! state store (records) on that Engine. Sessions are kept for the run and reopened when
//! they drop.

use crate::record::{VPS_CLIENT_KEY_FILE, VPS_HOST_KEY_FILE};
use crate::ssh::{VpsLogin, VpsSession};
use mngr_docker_core::{Engine, StateStore};
use mngr_plugin_api::*;
use mngr_provider_kit::keys;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub struct Machine {
    pub session: Arc<VpsSession>,
    pub engine: Engine,
    pub store: StateStore,
}

/// This machine's copy of a host's VPS login (written at create), if it has one.
pub fn local_login(state_dir: &Path, host_id: &str, address: &str) -> Option<VpsLogin> {
    let dir = keys::host_key_dir(state_dir, host_id);
    let client_private_key = std::fs::read_to_string(dir.join(VPS_CLIENT_KEY_FILE)).ok()?;
    let host_public_key = std::fs::read_to_string(dir.join(VPS_HOST_KEY_FILE)).ok()?;
    Some(VpsLogin {
        address: address.to_string(),
        port: 22,
        host_public_key: host_public_key.trim().to_string(),
        client_private_key,
    })
}

impl Machine {
    /// Connect to a VPS and set up Docker over the session. `store_name` is the instance
    /// whose records the state store holds; `state_image` runs the state container.
    pub async fn open(
        login: &VpsLogin,
        patience: Duration,
        services: Arc<dyn HostServices>,
        (prefix, instance, state_image): (&str, &str, &str),
    ) -> ProviderResult<Machine> {
        let session = Arc::new(VpsSession::connect(login, patience).await?);
        let engine = session.engine(Some(services))?;
        let store = StateStore::new(engine.clone(), prefix, instance, state_image);
        Ok(Machine {
            session,
            engine,
            store,
        })
    }
}
