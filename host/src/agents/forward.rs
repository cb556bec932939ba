//! `mngr forward`: ports of an agent's host reached from this machine (and the other way),
//! through the host's own transport. The local host needs none: its ports are this machine's.

use super::host::{Host, transport_error};
use crate::error::{ExitCode, MngrError, Result};
use crate::transport::TransportError;
use crate::transport::forward::{ActiveForward, ForwardSpec};

/// Forward `specs` for `agent` on `host` until a signal comes (then the error is the quiet
/// exit 130/143) or the connection drops. `ready` is called once, when every forward listens.
pub fn forward(
    host: &Host,
    agent: &str,
    bind: &str,
    specs: &[ForwardSpec],
    ready: &mut dyn FnMut(&[ActiveForward]),
) -> Result<()> {
    if host.transport.is_local() {
        let ports: Vec<String> = specs.iter().map(|s| s.target_port.to_string()).collect();
        return Err(MngrError::new(
            ExitCode::Unsupported,
            format!(
                "agent '{agent}' runs on this machine (provider '{}'): there is nothing to forward",
                host.provider
            ),
        )
        .with_hint(format!(
            "use the port directly: 127.0.0.1:{}",
            ports.join(", 127.0.0.1:")
        )));
    }
    let _awaiting = crate::interrupt::awaiting();
    match host.transport.forward_ports(bind, specs, ready) {
        Ok(()) => Ok(()),
        Err(TransportError::Interrupted) => Err(crate::interrupt::ended(
            crate::interrupt::signal().unwrap_or(libc::SIGINT),
        )),
        Err(TransportError::PortInUse(message)) => Err(MngrError::already_exists(message)
            .with_hint("listen on another port: LISTEN_PORT:TARGET_PORT (0 picks a free one)")),
        Err(e) => Err(transport_error(&host.provider, host.name(), e)),
    }
}
