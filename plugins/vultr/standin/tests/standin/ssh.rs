//! SSH into a stand-in VPS with russh, accepting only the host key the test generated and
//! sent in user_data (nothing trusted on first use).

use russh::ChannelMsg;
use russh::client;
use russh::keys::ssh_key::{Algorithm, LineEnding, PrivateKey};
use russh::keys::{PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct KeyPair {
    pub private: PrivateKey,
    pub private_openssh: String,
    pub public_openssh: String,
}

pub fn generate() -> KeyPair {
    let private = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).expect("an ed25519 key");
    let private_openssh = private
        .to_openssh(LineEnding::LF)
        .expect("encoding")
        .to_string();
    let public_openssh = private.public_key().to_openssh().expect("encoding");
    KeyPair {
        private,
        private_openssh,
        public_openssh,
    }
}

struct Pinned(PublicKey);

impl client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(
            matches!(server_key, PublicKeyOrCertificate::PublicKey { key, .. } if key.key_data() == self.0.key_data()),
        )
    }
}

/// Run `command` as root on `address:22`; `Err` says why the connection or login failed.
pub async fn run(
    address: &str,
    host_key: &PublicKey,
    client_key: &PrivateKey,
    command: &str,
) -> Result<(u32, String), String> {
    let config = Arc::new(client::Config::default());
    let connect = client::connect(config, (address, 22), Pinned(host_key.clone()));
    let mut handle = tokio::time::timeout(Duration::from_secs(20), connect)
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let auth = handle
        .authenticate_publickey(
            "root",
            PrivateKeyWithHashAlg::new(Arc::new(client_key.clone()), None),
        )
        .await
        .map_err(|e| format!("auth: {e}"))?;
    if !auth.success() {
        return Err("root login refused".into());
    }
    let mut channel = handle
        .channel_open_session()
        .await
        .map_err(|e| format!("channel: {e}"))?;
    channel
        .exec(true, command)
        .await
        .map_err(|e| format!("exec: {e}"))?;
    let (mut output, mut code) = (Vec::new(), None);
    while let Some(msg) = channel.wait().await {
        match msg {
            ChannelMsg::Data { data } => output.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, .. } => output.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status),
            _ => {}
        }
    }
    let code = code.ok_or("no exit status")?;
    Ok((code, String::from_utf8_lossy(&output).into_owned()))
}

/// The first successful run within `timeout` (sshd may still be starting), and when it came.
pub async fn run_when_up(
    address: &str,
    host_key: &PublicKey,
    client_key: &PrivateKey,
    command: &str,
    timeout: Duration,
) -> (u32, String) {
    let started = Instant::now();
    loop {
        match run(address, host_key, client_key, command).await {
            Ok(done) => return done,
            Err(e) if started.elapsed() > timeout => {
                panic!("ssh to {address} failed for {timeout:?}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
