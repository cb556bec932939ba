//! A VPS's public ports as a distant network shows them. The machine publishes its ports 22
//! and 2222 on a back address (127.0.1.N); the stand-in listens on the VPS's own address
//! (127.0.0.N) and relays each connection there, after waiting the latency knob. So an
//! injected latency slows every SSH connect to a VPS as it slows every API answer (this
//! machine has no tc netem to delay packets instead).

use crate::addresses::VPS_PORTS;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Where a machine publishes the ports the stand-in relays from `front`.
pub fn back_address(front: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1, front.octets()[3])
}

/// How long to hold a new connection before connecting upstream (read per connection, so a
/// knob changed at run time applies to the next connect).
pub type Latency = Arc<dyn Fn() -> Duration + Send + Sync>;

/// The listeners of one VPS. Dropping it closes them and every relayed connection.
pub struct Relay {
    accepts: Vec<JoinHandle<()>>,
}

impl Relay {
    /// Listen on `front`'s VPS ports; fails when another process holds one of them.
    pub fn bind(front: Ipv4Addr, latency: Latency) -> std::io::Result<Relay> {
        let back = back_address(front);
        let mut listeners = Vec::new();
        for port in VPS_PORTS {
            let listener = std::net::TcpListener::bind(SocketAddrV4::new(front, port))?;
            listener.set_nonblocking(true)?;
            listeners.push((TcpListener::from_std(listener)?, port));
        }
        let accepts = listeners
            .into_iter()
            .map(|(listener, port)| {
                let upstream = SocketAddrV4::new(back, port);
                tokio::spawn(accept_loop(listener, upstream, latency.clone()))
            })
            .collect();
        Ok(Relay { accepts })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for accept in &self.accepts {
            accept.abort();
        }
    }
}

/// Accept connections and relay each; the connections live in a set the loop owns, so
/// aborting the loop ends them too.
async fn accept_loop(listener: TcpListener, upstream: SocketAddrV4, latency: Latency) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    connections.spawn(relay_one(client, upstream, latency()));
                }
                // Out of descriptors or similar: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Wait, connect upstream and copy both ways until either side closes. A machine whose
/// sshd is not up yet refuses upstream: the client then sees its connection closed at
/// once, as a booting VPS resets it.
async fn relay_one(mut client: TcpStream, upstream: SocketAddrV4, delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn relays_after_the_latency_and_stops_when_dropped() {
        // 127.0.0.9 is outside the stand-in's default range (the stand-in, like this test,
        // runs as root: port 22 is privileged).
        let front = Ipv4Addr::new(127, 0, 0, 9);
        let back = back_address(front);
        let upstream = TcpListener::bind(SocketAddrV4::new(back, VPS_PORTS[1]))
            .await
            .expect("binding the upstream");
        let relay =
            Relay::bind(front, Arc::new(|| Duration::from_millis(200))).expect("binding the relay");
        tokio::spawn(async move {
            let (mut s, _) = upstream.accept().await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let started = std::time::Instant::now();
        let mut c = TcpStream::connect(SocketAddrV4::new(front, VPS_PORTS[1]))
            .await
            .unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut echoed = [0u8; 4];
        c.read_exact(&mut echoed).await.unwrap();
        assert_eq!(&echoed, b"ping");
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "the answer came before the injected latency"
        );
        drop(relay);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            TcpStream::connect(SocketAddrV4::new(front, VPS_PORTS[1]))
                .await
                .is_err(),
            "the relay still listens after it was dropped"
        );
    }
}
