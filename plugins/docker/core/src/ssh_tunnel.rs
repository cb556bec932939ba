//! `ssh://[user@]server[:port]` daemons. mngr opens its own tunnel to the server's Docker
//! socket with the system `ssh` (the user's config, agent and keys) and sends every Engine
//! request through it. The server's host key must already be known: the tunnel runs with
//! `StrictHostKeyChecking=yes`, so mngr never trusts a key on first use (Bollard's own ssh
//! transport would accept an unknown key).
//!
//! The tunnel opens on the first request, not when the instance is built, so commands that
//! never talk to this daemon never wait for the server.

use crate::connector::{Connector, docker_over};
use bollard::Docker;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Docker socket on the server.
const REMOTE_SOCKET: &str = "/var/run/docker.sock";
/// How long the tunnel may take to come up (ssh's own connect timeout is shorter).
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Where an `ssh://` URL points.
#[derive(Debug, Clone, PartialEq)]
pub struct SshTarget {
    /// `user@server` or `server`, as `ssh` takes it.
    pub destination: String,
    pub port: Option<u16>,
}

impl SshTarget {
    pub fn parse(url: &str) -> Result<SshTarget, String> {
        let rest = url
            .strip_prefix("ssh://")
            .ok_or_else(|| format!("'{url}' is not an ssh:// URL"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((user, hp)) => (Some(user), hp),
            None => (None, authority),
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("'{url}' has an invalid port '{p}'"))?;
                (h, Some(port))
            }
            _ => (host_port, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.starts_with('-') {
            return Err(format!("'{url}' names no server"));
        }
        let destination = match user {
            Some(user) if !user.is_empty() => format!("{user}@{host}"),
            _ => host.to_string(),
        };
        Ok(SshTarget { destination, port })
    }
}

/// A running `ssh -N -L local.sock:/var/run/docker.sock` process.
struct Tunnel {
    /// `sh` running ssh and a watchdog (see [`WATCHDOG`]).
    child: Child,
    /// Closing it ends the tunnel, also when mngr is killed.
    lifeline: Option<ChildStdin>,
    socket: PathBuf,
    /// Holds the socket's private directory (mode 0700) until the tunnel ends.
    _dir: tempfile::TempDir,
}

/// Runs `ssh ARGS...` and ends it when its stdin (a pipe from mngr) closes, so a tunnel never
/// outlives the mngr that opened it, even one killed with SIGKILL. Exits with ssh's status.
const WATCHDOG: &str = "exec 3<&0 </dev/null
ssh \"$@\" & ssh=$!
( read -r _ <&3; kill \"$ssh\" 2>/dev/null ) & watchdog=$!
exec 3<&-
wait \"$ssh\"; status=$?
kill \"$watchdog\" 2>/dev/null
exit \"$status\"";

impl Drop for Tunnel {
    fn drop(&mut self) {
        drop(self.lifeline.take());
        let _ = self.child.wait();
    }
}

impl Tunnel {
    fn open(target: &SshTarget) -> Result<Tunnel, String> {
        let dir = tempfile::Builder::new()
            .prefix("mngr-docker-ssh")
            .tempdir()
            .map_err(|e| format!("making a directory for the tunnel socket: {e}"))?;
        let socket = dir.path().join("docker.sock");
        let mut watched_ssh = Command::new("sh");
        watched_ssh
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .args(["-N", "-T"])
            .args(["-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=yes"])
            .args(["-o", "ExitOnForwardFailure=yes"])
            .args(["-o", "ConnectTimeout=15"])
            .args(["-o", "ServerAliveInterval=30"])
            .arg("-L")
            .arg(format!("{}:{REMOTE_SOCKET}", socket.display()));
        if let Some(port) = target.port {
            watched_ssh.arg("-p").arg(port.to_string());
        }
        let mut child = watched_ssh
            .arg("--")
            .arg(&target.destination)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("running ssh: {e}"))?;
        let lifeline = child.stdin.take();
        let started = Instant::now();
        while !socket.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(why_ssh_failed(&mut child, status, target));
            }
            if started.elapsed() > OPEN_TIMEOUT {
                drop(lifeline);
                let _ = child.wait();
                return Err(format!(
                    "ssh to {} did not open the tunnel within {} s",
                    target.destination,
                    OPEN_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Tunnel {
            child,
            lifeline,
            socket,
            _dir: dir,
        })
    }

    fn socket(&self) -> &Path {
        &self.socket
    }
}

fn why_ssh_failed(
    child: &mut Child,
    status: std::process::ExitStatus,
    target: &SshTarget,
) -> String {
    use std::io::Read;
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let detail = stderr
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    let mut message = format!("ssh to {} failed ({status}): {detail}", target.destination);
    if stderr.contains("Host key verification failed") || stderr.contains("No ED25519 host key") {
        let keyscan = match target.port {
            Some(port) => format!("ssh-keyscan -p {port} {}", host_of(&target.destination)),
            None => format!("ssh-keyscan {}", host_of(&target.destination)),
        };
        message.push_str(&format!(
            "; mngr never trusts an unknown host key: check the server's key fingerprint, then add it to ~/.ssh/known_hosts ({keyscan} prints it)"
        ));
    }
    message
}

fn host_of(destination: &str) -> &str {
    destination.rsplit('@').next().unwrap_or(destination)
}

/// A Bollard client whose requests go through a tunnel opened on first use (and again if it
/// ended; a failure to open it is final for this process).
pub fn docker_over_ssh(url: &str) -> Result<Docker, String> {
    let target = SshTarget::parse(url)?;
    docker_over(TunnelConnector {
        target,
        tunnel: Arc::new(Mutex::new(TunnelState::Closed)),
    })
}

/// Connects each request to the tunnel's local socket (each is a channel on the one SSH
/// connection).
struct TunnelConnector {
    target: SshTarget,
    tunnel: Arc<Mutex<TunnelState>>,
}

impl Connector for TunnelConnector {
    type Stream = tokio::net::UnixStream;

    async fn connect(&self) -> std::io::Result<tokio::net::UnixStream> {
        let (tunnel, target) = (self.tunnel.clone(), self.target.clone());
        let socket = tokio::task::spawn_blocking(move || live_socket(&tunnel, &target))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .map_err(std::io::Error::other)?;
        tokio::net::UnixStream::connect(socket).await
    }
}

/// The tunnel, or why it could not be opened: one mngr command makes many Engine requests,
/// and a server that is down should cost the wait once, not once per request.
enum TunnelState {
    Closed,
    Open(Tunnel),
    Failed(String),
}

/// The tunnel's socket, opening the tunnel when there is none or it ended.
fn live_socket(state: &Mutex<TunnelState>, target: &SshTarget) -> Result<PathBuf, String> {
    let mut state = state.lock().expect("tunnel lock");
    match &mut *state {
        TunnelState::Open(tunnel) => {
            if matches!(tunnel.child.try_wait(), Ok(None)) {
                return Ok(tunnel.socket().to_path_buf());
            }
        }
        TunnelState::Failed(why) => return Err(why.clone()),
        TunnelState::Closed => {}
    }
    match Tunnel::open(target) {
        Ok(tunnel) => {
            let socket = tunnel.socket().to_path_buf();
            *state = TunnelState::Open(tunnel);
            Ok(socket)
        }
        Err(why) => {
            *state = TunnelState::Failed(why.clone());
            Err(why)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ssh_urls() {
        let t = SshTarget::parse("ssh://me@server.example:2222").unwrap();
        assert_eq!(t.destination, "me@server.example");
        assert_eq!(t.port, Some(2222));
        let t = SshTarget::parse("ssh://server").unwrap();
        assert_eq!((t.destination.as_str(), t.port), ("server", None));
        let t = SshTarget::parse("ssh://root@[::1]:22").unwrap();
        assert_eq!((t.destination.as_str(), t.port), ("root@::1", Some(22)));
        for bad in [
            "ssh://",
            "ssh://me@",
            "ssh://host:port",
            "tcp://x",
            "ssh://-oProxyCommand=x",
        ] {
            assert!(SshTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
