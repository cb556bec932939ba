//! Whether a machine can be reached, bounded by `connect_timeout`: a TCP connection and an
//! SSH key exchange that checks the pinned host key, then nothing more (no login). A listing
//! probes every machine at once, so one that does not answer costs the timeout once, and
//! the others list.

use crate::host_keys;
use russh::client;
use russh::keys::{HashAlg, PublicKey, PublicKeyOrCertificate};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Accepts only the pinned key and remembers what else the server offered.
struct Pinned {
    key: PublicKey,
    offered: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let offered = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. }
                if key.key_data() == self.key.key_data() =>
            {
                return Ok(true);
            }
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                key.fingerprint(HashAlg::Sha256).to_string()
            }
            PublicKeyOrCertificate::Certificate(_) => "a certificate".to_string(),
        };
        *self.offered.lock().expect("lock") = Some(offered);
        Ok(false)
    }
}

/// Why a machine cannot be used, as one line for the user.
#[derive(Debug, PartialEq)]
pub enum Unreachable {
    /// No connection, no SSH answer in time, or a failed exchange.
    Down(String),
    /// sshd answered with a host key other than the pinned one.
    WrongKey(String),
}

/// `Ok` when the machine's sshd answered with the pinned key within `timeout`.
pub async fn probe(
    address: &str,
    port: u16,
    pinned: &str,
    timeout: Duration,
) -> Result<(), Unreachable> {
    let key = host_keys::parse_public_key(pinned).map_err(Unreachable::Down)?;
    let offered = Arc::new(Mutex::new(None));
    let handler = Pinned {
        key: key.clone(),
        offered: offered.clone(),
    };
    let mut config = client::Config::default();
    config.preferred.key = host_keys::algorithms_for(pinned).into();
    let config = Arc::new(config);
    let target = format!("{address}:{port}");
    let exchange = async {
        let socket = tokio::net::TcpStream::connect((address, port))
            .await
            .map_err(|e| Unreachable::Down(format!("cannot connect to {target}: {e}")))?;
        let handle = client::connect_stream(config, socket, handler).await;
        match handle {
            Ok(handle) => {
                let _ = handle
                    .disconnect(russh::Disconnect::ByApplication, "", "en")
                    .await;
                Ok(())
            }
            Err(e) => Err(match offered.lock().expect("lock").take() {
                Some(got) => Unreachable::WrongKey(format!(
                    "the host key of {target} ({got}) is not the one pinned for it ({}); refusing to connect",
                    key.fingerprint(HashAlg::Sha256)
                )),
                None => Unreachable::Down(format!("SSH with {target} failed: {e}")),
            }),
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(Unreachable::Down(format!(
            "no SSH answer from {target} within {} (connect_timeout)",
            seconds(timeout)
        ))),
    }
}

fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{} s", s as u64)
    } else {
        format!("{s:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF/obUnEULOaRrH7+fLDTnVHoC6I0PXsfYwJNcd46Cr1";

    #[tokio::test]
    async fn a_server_that_accepts_and_says_nothing_costs_the_timeout_only() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let _server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(socket);
        });
        let err = probe("127.0.0.1", port, ED, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            Unreachable::Down(format!(
                "no SSH answer from 127.0.0.1:{port} within 0.3 s (connect_timeout)"
            ))
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = probe("127.0.0.1", port, ED, Duration::from_secs(3))
            .await
            .unwrap_err();
        let Unreachable::Down(err) = err else {
            panic!("{err:?}")
        };
        assert!(
            err.starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")),
            "{err}"
        );
    }
}
