//! Port forwarding through a host's own SSH connection (the one with the pinned host key):
//! local forwards listen on this machine and open a `direct-tcpip` channel to the host per
//! connection; reverse forwards ask the host's sshd to listen (`tcpip-forward`) and the
//! channels it opens back are connected to a port on this machine.
//!
//! What a forward is ([`ForwardSpec`], parsed from `[LISTEN_PORT:]TARGET_PORT`) is plain data;
//! [`serve`] runs them on an open connection until a signal comes or the connection drops.

use super::{TransportError, TransportResult};
use russh::client::{self, Handle, Msg};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Where connections enter and where they go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A port on this machine reaches a port on the host.
    Local,
    /// A port on the host reaches a port on this machine.
    Reverse,
}

/// One forward as asked for: the listening port first, as with `ssh -L` and `ssh -R`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardSpec {
    pub direction: Direction,
    /// The port that listens (on this machine for [`Direction::Local`], on the host for
    /// [`Direction::Reverse`]); 0 lets the system pick a free one.
    pub listen_port: u16,
    /// The port connections go to, on the other side.
    pub target_port: u16,
}

impl ForwardSpec {
    /// `PORT` (the same port on both sides) or `LISTEN_PORT:TARGET_PORT`.
    pub fn parse(direction: Direction, raw: &str) -> Result<ForwardSpec, String> {
        let (listen, target) = match raw.split_once(':') {
            Some((listen, target)) => (listen, target),
            None => (raw, raw),
        };
        let port = |text: &str, what: &str, min: u16| -> Result<u16, String> {
            match text.trim().parse::<u16>() {
                Ok(p) if p >= min => Ok(p),
                _ => Err(format!(
                    "invalid {what} '{text}' in '{raw}': expected a port number {min}-65535"
                )),
            }
        };
        let (listen_name, target_name) = match direction {
            Direction::Local => ("local port", "remote port"),
            Direction::Reverse => ("remote port", "local port"),
        };
        // 0 (any free port) only makes sense on the listening side, and only when named.
        let min_listen = if raw.contains(':') { 0 } else { 1 };
        Ok(ForwardSpec {
            direction,
            listen_port: port(listen, listen_name, min_listen)?,
            target_port: port(target, target_name, 1)?,
        })
    }
}

/// A forward that is listening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveForward {
    pub direction: Direction,
    /// The address it listens on (on this machine, or on the host for a reverse forward).
    pub bind: String,
    /// The port it listens on (the one picked when 0 was asked for).
    pub listen_port: u16,
    pub target_port: u16,
}

/// Reverse forwards of one connection: the port the host listens on, to the port on this
/// machine its connections go to. The connection's handler reads it when the host opens a
/// channel back.
pub type ReverseRoutes = Arc<Mutex<HashMap<u32, u16>>>;

/// Where a reverse forward's connections go on this machine (and where a local forward's go
/// on the host): the loopback name, so a server on either of 127.0.0.1 and ::1 is found.
pub const TARGET_HOST: &str = "localhost";

/// How long tearing a reverse forward down may take before mngr exits anyway.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(2);

/// Listen on this machine for every local forward, before anything is sent to the host, so a
/// port in use is refused at once.
pub async fn listen_locally(
    bind: &str,
    specs: &[ForwardSpec],
) -> TransportResult<Vec<(ForwardSpec, TcpListener)>> {
    let mut listeners = Vec::new();
    for spec in specs.iter().filter(|s| s.direction == Direction::Local) {
        let listener = TcpListener::bind((bind, spec.listen_port))
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AddrInUse => TransportError::PortInUse(format!(
                    "local port {} on {bind} is already in use",
                    spec.listen_port
                )),
                _ => {
                    TransportError::Io(format!("cannot listen on {bind}:{}: {e}", spec.listen_port))
                }
            })?;
        listeners.push((*spec, listener));
    }
    Ok(listeners)
}

/// Run the forwards on `session` until a signal comes ([`TransportError::Interrupted`]) or the
/// connection drops. `ready` is called once, with every forward, when all of them listen.
pub async fn serve<H: client::Handler + 'static>(
    session: Arc<Handle<H>>,
    routes: &ReverseRoutes,
    bind: &str,
    specs: &[ForwardSpec],
    listeners: Vec<(ForwardSpec, TcpListener)>,
    ready: &mut dyn FnMut(&[ActiveForward]),
) -> TransportResult<()> {
    let mut active = Vec::new();
    let mut tasks = Vec::new();
    for (spec, listener) in listeners {
        let listen_port = listener.local_addr()?.port();
        active.push(ActiveForward {
            direction: Direction::Local,
            bind: bind.to_string(),
            listen_port,
            target_port: spec.target_port,
        });
        tasks.push(tokio::spawn(accept_loop(
            session.clone(),
            listener,
            spec.target_port,
        )));
    }
    let mut reversed = Vec::new();
    let served = async {
        for spec in specs.iter().filter(|s| s.direction == Direction::Reverse) {
            let port = session
                .tcpip_forward(bind, u32::from(spec.listen_port))
                .await
                .map_err(|e| match e {
                    russh::Error::RequestDenied => TransportError::PortInUse(format!(
                        "the host refused to listen on port {} of {bind} (in use there, or forwarding is not allowed)",
                        spec.listen_port
                    )),
                    other => TransportError::Connection(format!(
                        "asking the host to listen on port {}: {other}",
                        spec.listen_port
                    )),
                })?;
            // OpenSSH answers 0 when the port was named, the port it picked otherwise.
            let port = if port == 0 { u32::from(spec.listen_port) } else { port };
            reversed.push(port);
            routes.lock().expect("lock").insert(port, spec.target_port);
            active.push(ActiveForward {
                direction: Direction::Reverse,
                bind: bind.to_string(),
                listen_port: port as u16,
                target_port: spec.target_port,
            });
        }
        ready(&active);
        until_signal_or_closed(&session).await
    }
    .await;
    for task in tasks {
        task.abort();
    }
    for port in reversed {
        routes.lock().expect("lock").remove(&port);
        let _ =
            tokio::time::timeout(CANCEL_TIMEOUT, session.cancel_tcpip_forward(bind, port)).await;
    }
    served
}

async fn until_signal_or_closed<H: client::Handler + 'static>(
    session: &Handle<H>,
) -> TransportResult<()> {
    let closed = async {
        while !session.is_closed() {
            tokio::time::sleep(POLL).await;
        }
    };
    tokio::select! {
        _ = signalled() => Err(TransportError::Interrupted),
        _ = closed => Err(TransportError::Connection(
            "the SSH connection closed while forwarding".to_string(),
        )),
    }
}

/// How often a wait looks for a signal (the handler only notes it).
const POLL: Duration = Duration::from_millis(50);

/// Resolves once a signal was noted (see [`crate::interrupt::awaiting`]).
pub async fn signalled() {
    while crate::interrupt::signal().is_none() {
        tokio::time::sleep(POLL).await;
    }
}

/// Every connection to `listener` becomes a channel to `target_port` on the host.
async fn accept_loop<H: client::Handler + 'static>(
    session: Arc<Handle<H>>,
    listener: TcpListener,
    target_port: u16,
) {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // Out of file descriptors or the like: wait instead of spinning.
                tokio::time::sleep(POLL).await;
                continue;
            }
        };
        let session = session.clone();
        tokio::spawn(async move {
            let opened = session
                .channel_open_direct_tcpip(
                    TARGET_HOST,
                    u32::from(target_port),
                    peer.ip().to_string(),
                    u32::from(peer.port()),
                )
                .await;
            match opened {
                Ok(channel) => splice(socket, channel).await,
                Err(e) => crate::warnings::warn(format!(
                    "the host refused a connection to its port {target_port} (is anything listening there?): {e}"
                )),
            }
        });
    }
}

/// Connect a channel the host opened for a reverse forward to `target_port` here.
pub async fn connect_back(channel: russh::Channel<Msg>, target_port: u16) {
    match TcpStream::connect((TARGET_HOST, target_port)).await {
        Ok(socket) => splice(socket, channel).await,
        Err(e) => {
            crate::warnings::warn(format!(
                "a connection from the host to local port {target_port} failed (is anything listening here?): {e}"
            ));
            let _ = channel.close().await;
        }
    }
}

/// Bytes read at once each way: fewer, fuller SSH packets than tokio's 8 KiB default.
const SPLICE_BUFFER: usize = 256 * 1024;

/// Copy both ways until both sides are done.
async fn splice(mut socket: TcpStream, channel: russh::Channel<Msg>) {
    let _ = socket.set_nodelay(true);
    let mut stream = channel.into_stream();
    let _ = tokio::io::copy_bidirectional_with_sizes(
        &mut socket,
        &mut stream,
        SPLICE_BUFFER,
        SPLICE_BUFFER,
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(direction: Direction, listen_port: u16, target_port: u16) -> ForwardSpec {
        ForwardSpec {
            direction,
            listen_port,
            target_port,
        }
    }

    #[test]
    fn a_port_alone_is_the_same_port_on_both_sides() {
        assert_eq!(
            ForwardSpec::parse(Direction::Local, "80"),
            Ok(spec(Direction::Local, 80, 80))
        );
        assert_eq!(
            ForwardSpec::parse(Direction::Reverse, "9000:3000"),
            Ok(spec(Direction::Reverse, 9000, 3000))
        );
        assert_eq!(
            ForwardSpec::parse(Direction::Local, "0:80"),
            Ok(spec(Direction::Local, 0, 80))
        );
    }

    #[test]
    fn bad_ports_are_named() {
        let err = ForwardSpec::parse(Direction::Local, "8080:http").unwrap_err();
        assert!(err.contains("remote port 'http'"), "{err}");
        let err = ForwardSpec::parse(Direction::Local, "70000:80").unwrap_err();
        assert!(err.contains("local port '70000'"), "{err}");
        let err = ForwardSpec::parse(Direction::Reverse, "0").unwrap_err();
        assert!(err.contains("remote port '0'"), "{err}");
        let err = ForwardSpec::parse(Direction::Local, "80:0").unwrap_err();
        assert!(err.contains("remote port '0'"), "{err}");
        assert!(ForwardSpec::parse(Direction::Local, "1:2:3").is_err());
    }
}
