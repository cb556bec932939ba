//! Reaching a host over SSH: waiting until its sshd answers, and the [`HostAccess`] the host
//! binary connects with (pinned host key, this machine's copy of the client key).

use crate::keys;
use crate::record::StoredHost;
use mngr_plugin_api::*;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// How long a freshly started host's sshd may take to answer.
pub const SSHD_WAIT: Duration = Duration::from_secs(60);
/// How long one connection attempt may wait for the banner.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
const RETRY_PAUSE: Duration = Duration::from_millis(15);

/// Wait until sshd at `address:port` sends its banner (a TCP accept alone may be a port
/// proxy in front of a server that is not up yet), for up to [`SSHD_WAIT`].
pub async fn wait_for_sshd(address: &str, port: u16) -> ProviderResult<()> {
    let start = Instant::now();
    let mut last_error = String::from("no answer");
    while start.elapsed() < SSHD_WAIT {
        match tokio::time::timeout(ATTEMPT_TIMEOUT, read_banner(address, port)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => last_error = e.to_string(),
            Err(_) => last_error = "timed out".to_string(),
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    Err(ProviderError::new(
        ErrorKind::Timeout,
        format!(
            "sshd in the container did not answer at {address}:{port} within {} s: {last_error}",
            SSHD_WAIT.as_secs()
        ),
    ))
}

async fn read_banner(address: &str, port: u16) -> std::io::Result<()> {
    let mut stream = tokio::net::TcpStream::connect((address, port)).await?;
    let mut buf = [0u8; 8];
    let mut got = 0;
    while got < 4 {
        let n = stream.read(&mut buf[got..]).await?;
        if n == 0 {
            return Err(std::io::Error::other(
                "connection closed before the SSH banner",
            ));
        }
        got += n;
    }
    if &buf[..4] == b"SSH-" {
        Ok(())
    } else {
        Err(std::io::Error::other("not an SSH banner"))
    }
}

/// Where a running host's sshd listens, as the provider found it.
pub struct SshTarget {
    pub address: String,
    pub port: u16,
    /// The login user (`root` on a container).
    pub user: String,
    /// mngr's record directory on the host.
    pub host_dir: String,
    /// Addresses to try before `address:port` (a container's own network addresses, say).
    pub direct_routes: Vec<SshRoute>,
}

/// The access for a stored host at `target`: its client key is written under `state_dir`
/// (0600, see [`keys::materialize`]) and its host key is pinned from the record.
pub fn ssh_access<E>(
    state_dir: &Path,
    host: &StoredHost<E>,
    target: SshTarget,
) -> ProviderResult<HostAccess> {
    let key_path = keys::materialize(state_dir, host.host_id(), &host.keys()?.client_private_key)?;
    Ok(HostAccess::Ssh(
        SshEndpoint::new(
            target.address,
            target.port,
            target.user,
            key_path.to_string_lossy(),
            host.ssh_host_public_key.clone().unwrap_or_default(),
            target.host_dir,
        )
        .with_direct_routes(target.direct_routes),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[tokio::test]
    async fn the_wait_ends_at_the_ssh_banner_not_at_the_accept() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            // First a server that accepts and says something else, then sshd.
            let (mut first, _) = listener.accept().unwrap();
            first.write_all(b"HTTP/1.1 400\r\n").unwrap();
            drop(first);
            let (mut second, _) = listener.accept().unwrap();
            second.write_all(b"SSH-2.0-test\r\n").unwrap();
        });
        wait_for_sshd("127.0.0.1", port).await.unwrap();
        server.join().unwrap();
    }
}
