//! mngr's own SSH connection to a VPS (russh, root, mngr's VPS key, the host key pinned from
//! the key mngr generated), and Docker over it: every Engine request is one
//! `direct-streamlocal` channel to the VPS's `/var/run/docker.sock`. No Docker context, no
//! `DOCKER_HOST`, no daemon on a network port.

use mngr_docker_core::{Connector, Engine};
use mngr_plugin_api::*;
use russh::client;
use russh::keys::ssh_key::PrivateKey;
use russh::keys::{PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, ChannelStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// One connection attempt, TCP and handshake and login.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// Between attempts while a VPS boots: sparse, as OpenSSH penalises sources that hammer it.
const RETRY_PAUSE: Duration = Duration::from_secs(2);

/// Accepts only the pinned key, and remembers a mismatch so the error can say so.
struct Pinned {
    key: PublicKey,
    mismatch: Arc<AtomicBool>,
}

impl client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let ok = matches!(server_key, PublicKeyOrCertificate::PublicKey { key, .. } if key.key_data() == self.key.key_data());
        if !ok {
            self.mismatch.store(true, Ordering::Release);
        }
        Ok(ok)
    }
}

/// How to reach one VPS's sshd.
#[derive(Clone)]
pub struct VpsLogin {
    pub address: String,
    pub port: u16,
    /// The VPS's host key (OpenSSH public key line), pinned.
    pub host_public_key: String,
    /// mngr's key for root on the VPS (OpenSSH private key).
    pub client_private_key: String,
}

/// An authenticated root session on a VPS.
pub struct VpsSession {
    handle: client::Handle<Pinned>,
    pub address: String,
}

fn connect_error(address: &str, why: String) -> ProviderError {
    ProviderError::unavailable(format!("cannot reach the VPS at {address} over SSH: {why}"))
}

impl VpsSession {
    /// Connect, retrying for `patience` (a VPS that is still booting refuses or resets; zero
    /// means one attempt). A host key other than the pinned one is refused: if that is what
    /// the last attempt saw, the error says so (kind `Unauthenticated`).
    pub async fn connect(login: &VpsLogin, patience: Duration) -> ProviderResult<VpsSession> {
        let host_key = PublicKey::from_openssh(&login.host_public_key).map_err(|e| {
            ProviderError::internal(format!("the stored VPS host key does not parse: {e}"))
        })?;
        let client_key = Arc::new(PrivateKey::from_openssh(&login.client_private_key).map_err(
            |e| ProviderError::internal(format!("the stored VPS key does not parse: {e}")),
        )?);
        let started = Instant::now();
        loop {
            let mismatch = Arc::new(AtomicBool::new(false));
            let attempt = tokio::time::timeout(
                ATTEMPT_TIMEOUT,
                Self::attempt(login, &host_key, &client_key, mismatch.clone()),
            )
            .await
            .unwrap_or_else(|_| Err("timed out".to_string()));
            let error = match attempt {
                Ok(handle) => {
                    return Ok(VpsSession {
                        handle,
                        address: login.address.clone(),
                    });
                }
                Err(_) if mismatch.load(Ordering::Acquire) => ProviderError::new(
                    ErrorKind::Unauthenticated,
                    format!(
                        "the VPS at {}:{} offered an SSH host key other than the one mngr generated for it; refusing to connect",
                        login.address, login.port
                    ),
                )
                .with_hint("someone else may answer at that address; check the instance in the provider's console"),
                Err(why) => connect_error(&login.address, why),
            };
            if started.elapsed() + RETRY_PAUSE >= patience {
                return Err(error);
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    async fn attempt(
        login: &VpsLogin,
        host_key: &PublicKey,
        client_key: &Arc<PrivateKey>,
        mismatch: Arc<AtomicBool>,
    ) -> Result<client::Handle<Pinned>, String> {
        let config = Arc::new(client::Config {
            keepalive_interval: Some(Duration::from_secs(20)),
            ..Default::default()
        });
        let handler = Pinned {
            key: host_key.clone(),
            mismatch,
        };
        let mut handle = client::connect(config, (login.address.as_str(), login.port), handler)
            .await
            .map_err(|e| e.to_string())?;
        let auth = handle
            .authenticate_publickey("root", PrivateKeyWithHashAlg::new(client_key.clone(), None))
            .await
            .map_err(|e| e.to_string())?;
        if !auth.success() {
            return Err("root login with mngr's VPS key was refused".into());
        }
        Ok(handle)
    }

    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Run `command` with `sh` on the VPS; answers (exit status, stdout and stderr).
    pub async fn exec(&self, command: &str) -> ProviderResult<(u32, String)> {
        let lost = |e: russh::Error| connect_error(&self.address, e.to_string());
        let mut channel = self.handle.channel_open_session().await.map_err(lost)?;
        channel.exec(true, command).await.map_err(lost)?;
        let (mut output, mut code) = (Vec::new(), None);
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data } => output.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, .. } => output.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status),
                _ => {}
            }
        }
        let code = code.ok_or_else(|| {
            connect_error(
                &self.address,
                "the command ended without an exit status".into(),
            )
        })?;
        Ok((code, String::from_utf8_lossy(&output).into_owned()))
    }

    /// A Docker Engine client whose requests go to the VPS's Docker socket over this session.
    pub fn engine(
        self: &Arc<Self>,
        services: Option<Arc<dyn HostServices>>,
    ) -> ProviderResult<Engine> {
        let daemon = format!("{DOCKER_SOCKET} on the VPS at {}", self.address);
        Engine::over_connector(DockerSocket(self.clone()), &daemon, services)
    }
}

/// Opens one channel to the VPS's Docker socket per Engine request.
struct DockerSocket(Arc<VpsSession>);

impl Connector for DockerSocket {
    type Stream = ChannelStream<client::Msg>;

    async fn connect(&self) -> std::io::Result<Self::Stream> {
        let channel = self
            .0
            .handle
            .channel_open_direct_streamlocal(DOCKER_SOCKET)
            .await
            .map_err(|e| std::io::Error::other(format!("opening {DOCKER_SOCKET}: {e}")))?;
        Ok(channel.into_stream())
    }
}
