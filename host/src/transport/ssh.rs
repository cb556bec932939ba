//! The SSH transport: commands and files on a host reached over SSH (russh), with the host key
//! pinned by the provider before the first connection (no trust on first use).
//!
//! The host binary is synchronous, so the transport owns a small tokio runtime and blocks on
//! it. One SSH connection is opened lazily and reused by every call of this transport (one
//! mngr run); each command is a channel on it, and `push_dir` streams a tar through one.
//! `run_interactive` uses the system `ssh` with a known_hosts file holding only the pinned key.

use super::forward::{self, ActiveForward, ForwardSpec, ReverseRoutes};
use super::quickack::QuickAckStream;
use super::system_ssh::SystemSsh;
use super::{
    CommandOutput, HOLDER_FILE, HostLockGuard, LOCK_NOTICE_AFTER, LockWait, PushOptions, Transport,
    TransportError, TransportResult, holder_line, lock_timeout,
};
use crate::shell::quote;
use mngr_plugin_api::SshEndpoint;
use russh::ChannelMsg;
use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::Runtime;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a direct route may take to accept before the endpoint's address is used.
const DIRECT_ROUTE_TIMEOUT: Duration = Duration::from_millis(200);
/// Exit code the read script uses for "no such file".
const MISSING_FILE: u32 = 44;
/// Exit code of coreutils `timeout` when the command ran out of time.
const TIMED_OUT: i32 = 124;

/// Accepts exactly the pinned host key, and connects the channels the host opens for
/// reverse forwards.
pub struct PinnedHostKey {
    pinned: PublicKey,
    seen: Arc<Mutex<Option<String>>>,
    reverse: ReverseRoutes,
}

impl client::Handler for PinnedHostKey {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. }
                if key.key_data() == self.pinned.key_data() =>
            {
                Ok(true)
            }
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                *self.seen.lock().expect("lock") =
                    Some(key.fingerprint(HashAlg::Sha256).to_string());
                Ok(false)
            }
            PublicKeyOrCertificate::Certificate(_) => {
                *self.seen.lock().expect("lock") = Some("a certificate".to_string());
                Ok(false)
            }
        }
    }

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        channel: russh::Channel<client::Msg>,
        _connected_address: &str,
        connected_port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let target = self
            .reverse
            .lock()
            .expect("lock")
            .get(&connected_port)
            .copied();
        match target {
            Some(port) => {
                reply.accept().await;
                tokio::spawn(forward::connect_back(channel, port));
            }
            None => {
                reply
                    .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                    .await
            }
        }
        Ok(())
    }
}

pub struct SshTransport {
    endpoint: SshEndpoint,
    pinned: PublicKey,
    runtime: Arc<Runtime>,
    session: tokio::sync::Mutex<Option<Arc<Handle<PinnedHostKey>>>>,
    /// Reverse forwards of this run, for every connection's handler.
    reverse: ReverseRoutes,
}

fn conn_err(endpoint: &SshEndpoint, err: impl std::fmt::Display) -> TransportError {
    TransportError::Connection(format!(
        "{}@{}:{}: {err}",
        endpoint.user, endpoint.address, endpoint.port
    ))
}

impl SshTransport {
    pub fn new(endpoint: &SshEndpoint) -> TransportResult<SshTransport> {
        let pinned = PublicKey::from_openssh(endpoint.host_public_key.trim()).map_err(|e| {
            TransportError::Authentication(format!(
                "the pinned host key for {}:{} is not a valid OpenSSH public key: {e}",
                endpoint.address, endpoint.port
            ))
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mngr-ssh")
            .enable_all()
            .build()
            .map_err(|e| TransportError::Io(format!("starting the SSH runtime: {e}")))?;
        Ok(SshTransport {
            endpoint: endpoint.clone(),
            pinned,
            runtime: Arc::new(runtime),
            session: tokio::sync::Mutex::new(None),
            reverse: ReverseRoutes::default(),
        })
    }

    fn where_(&self) -> String {
        format!(
            "{}@{}:{}",
            self.endpoint.user, self.endpoint.address, self.endpoint.port
        )
    }

    async fn connect(&self) -> TransportResult<Arc<Handle<PinnedHostKey>>> {
        let started = std::time::Instant::now();
        let connected = self.connect_untimed().await;
        crate::timing::report(|| format!("ssh: connecting to {}", self.where_()), started);
        connected
    }

    async fn connect_untimed(&self) -> TransportResult<Arc<Handle<PinnedHostKey>>> {
        let seen = Arc::new(Mutex::new(None));
        let handler = PinnedHostKey {
            pinned: self.pinned.clone(),
            seen: seen.clone(),
            reverse: self.reverse.clone(),
        };
        let config = Arc::new(client::Config {
            // Offer only the pinned key's algorithm, so a server with several host keys shows
            // the pinned one (not its preferred other type, which would be refused).
            preferred: russh::Preferred {
                key: SshEndpoint::host_key_algorithms(&self.endpoint.host_public_key)
                    .iter()
                    .filter_map(|name| name.parse().ok())
                    .collect::<Vec<_>>()
                    .into(),
                ..Default::default()
            },
            inactivity_timeout: None,
            keepalive_interval: Some(Duration::from_secs(30)),
            nodelay: true,
            ..Default::default()
        });
        let open = async {
            let socket = self.open_socket().await?;
            socket.set_nodelay(true).map_err(russh::Error::from)?;
            client::connect_stream(config, QuickAckStream::new(socket), handler).await
        };
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, open).await;
        let mut handle = match connected {
            Err(_) => return Err(conn_err(&self.endpoint, "connection timed out")),
            Ok(Ok(handle)) => handle,
            Ok(Err(e)) => {
                if let Some(got) = seen.lock().expect("lock").take() {
                    return Err(TransportError::Authentication(format!(
                        "the SSH host key of {} ({got}) does not match the key pinned for this host ({}); refusing to connect (if the key changed on purpose, check the new one on the host itself and pin it in the host's provider settings)",
                        self.where_(),
                        self.pinned.fingerprint(HashAlg::Sha256)
                    )));
                }
                return Err(conn_err(&self.endpoint, e));
            }
        };
        let key =
            russh::keys::load_secret_key(&self.endpoint.private_key_path, None).map_err(|e| {
                TransportError::Authentication(format!(
                    "cannot read the SSH key {}: {e}",
                    self.endpoint.private_key_path
                ))
            })?;
        let auth = handle
            .authenticate_publickey(
                self.endpoint.user.clone(),
                PrivateKeyWithHashAlg::new(Arc::new(key), None),
            )
            .await
            .map_err(|e| conn_err(&self.endpoint, e))?;
        if !auth.success() {
            return Err(TransportError::Authentication(format!(
                "{} rejected mngr's key {}",
                self.where_(),
                self.endpoint.private_key_path
            )));
        }
        Ok(Arc::new(handle))
    }

    /// A TCP connection to sshd: the first direct route that answers quickly, else the
    /// endpoint's own address.
    async fn open_socket(&self) -> Result<tokio::net::TcpStream, russh::Error> {
        for route in &self.endpoint.direct_routes {
            let attempt = tokio::net::TcpStream::connect((route.address.as_str(), route.port));
            if let Ok(Ok(socket)) = tokio::time::timeout(DIRECT_ROUTE_TIMEOUT, attempt).await {
                return Ok(socket);
            }
        }
        let address = (self.endpoint.address.as_str(), self.endpoint.port);
        Ok(tokio::net::TcpStream::connect(address).await?)
    }

    /// The shared connection, opened on first use and reopened if it dropped.
    async fn session(&self, fresh: bool) -> TransportResult<Arc<Handle<PinnedHostKey>>> {
        let mut slot = self.session.lock().await;
        if let Some(handle) = slot.as_ref()
            && !fresh
            && !handle.is_closed()
        {
            return Ok(handle.clone());
        }
        let handle = self.connect().await?;
        *slot = Some(handle.clone());
        Ok(handle)
    }

    async fn channel(&self) -> TransportResult<russh::Channel<client::Msg>> {
        let session = self.session(false).await?;
        match session.channel_open_session().await {
            Ok(channel) => Ok(channel),
            Err(_) => {
                // The cached connection went away (host restarted): reconnect once.
                let session = self.session(true).await?;
                session
                    .channel_open_session()
                    .await
                    .map_err(|e| conn_err(&self.endpoint, e))
            }
        }
    }

    /// Run a command line (interpreted by the remote user's shell), feeding `stdin`.
    async fn exec(&self, command: &str, stdin: &[u8]) -> TransportResult<(u32, Vec<u8>, Vec<u8>)> {
        let started = std::time::Instant::now();
        let result = self.exec_untimed(command, stdin).await;
        crate::timing::report(|| format!("ssh: {}", brief(command)), started);
        result
    }

    async fn exec_untimed(
        &self,
        command: &str,
        stdin: &[u8],
    ) -> TransportResult<(u32, Vec<u8>, Vec<u8>)> {
        let mut channel = self.channel().await?;
        let io = |e: russh::Error| conn_err(&self.endpoint, e);
        channel.exec(true, command).await.map_err(io)?;
        if !stdin.is_empty() {
            channel.data(stdin).await.map_err(io)?;
        }
        channel.eof().await.map_err(io)?;
        let (mut stdout, mut stderr, mut code) = (Vec::new(), Vec::new(), None);
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status),
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    code = Some(128 + signal_number(&signal_name))
                }
                _ => {}
            }
        }
        let code = code.ok_or_else(|| {
            conn_err(
                &self.endpoint,
                "the connection closed before the command finished",
            )
        })?;
        Ok((code, stdout, stderr))
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// A known_hosts file with only the pinned key, beside the private key, for the system
    /// `ssh` and `rsync`.
    fn known_hosts_file(&self) -> TransportResult<PathBuf> {
        let key_dir = Path::new(&self.endpoint.private_key_path)
            .parent()
            .unwrap_or(Path::new("."));
        let path = key_dir.join("known_hosts");
        let host = if self.endpoint.port == 22 {
            self.endpoint.address.clone()
        } else {
            format!("[{}]:{}", self.endpoint.address, self.endpoint.port)
        };
        let line = format!("{host} {}\n", self.endpoint.host_public_key.trim());
        if std::fs::read_to_string(&path).is_ok_and(|existing| existing == line) {
            return Ok(path);
        }
        crate::paths::write_atomic(&path, line.as_bytes(), Some(0o600))
            .map_err(|e| TransportError::Io(format!("writing {}: {e}", path.display())))?;
        Ok(path)
    }

    /// Options for the system ssh client: the key, strict checking against the pinned key.
    fn ssh_options(&self) -> TransportResult<Vec<String>> {
        let ssh = self.pinned_system_ssh()?;
        let mut options = vec!["-p".to_string(), ssh.port.to_string()];
        options.extend(ssh.options);
        Ok(options)
    }

    fn pinned_system_ssh(&self) -> TransportResult<SystemSsh> {
        let known_hosts = self.known_hosts_file()?;
        Ok(SystemSsh {
            options: vec![
                "-i".into(),
                self.endpoint.private_key_path.clone(),
                "-o".into(),
                "StrictHostKeyChecking=yes".into(),
                "-o".into(),
                format!("UserKnownHostsFile={}", known_hosts.display()),
                "-o".into(),
                "GlobalKnownHostsFile=/dev/null".into(),
                "-o".into(),
                "IdentitiesOnly=yes".into(),
                "-o".into(),
                "BatchMode=yes".into(),
                "-o".into(),
                "LogLevel=ERROR".into(),
            ],
            port: self.endpoint.port,
            user: self.endpoint.user.clone(),
            address: self.endpoint.address.clone(),
        })
    }

    fn target(&self) -> String {
        format!("{}@{}", self.endpoint.user, self.endpoint.address)
    }
}

/// The start of a command line, for debug output.
fn brief(command: &str) -> String {
    let flat: String = command
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .take(70)
        .collect();
    flat
}

fn signal_number(sig: &russh::Sig) -> u32 {
    use russh::Sig;
    match sig {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM => 15,
        Sig::USR1 => 10,
        _ => 0,
    }
}

/// The last complete holder line the lock script printed (see `lock_host`).
fn last_holder(out: &str) -> Option<String> {
    let (_, rest) = out.rsplit_once("MNGR_LOCK_HOLDER\n")?;
    let (holder, _) = rest.split_once("MNGR_LOCK_HOLDER_END")?;
    let holder = holder.trim();
    Some(if holder.is_empty() {
        "another process (it left no holder line)".to_string()
    } else {
        holder.to_string()
    })
}

/// Holds the remote host lock: a channel whose shell keeps `flock` on fd 9 until the channel
/// closes (or the connection drops, so a killed mngr never leaves the lock held).
struct SshLock {
    channel: Option<russh::Channel<client::Msg>>,
    runtime: Arc<Runtime>,
}

impl HostLockGuard for SshLock {}

impl Drop for SshLock {
    fn drop(&mut self) {
        if let Some(channel) = self.channel.take() {
            self.runtime.block_on(async move {
                let release = async {
                    let _ = channel.eof().await;
                    let mut channel = channel;
                    // Wait for the shell to exit, which is when flock lets go.
                    while channel.wait().await.is_some() {}
                };
                let _ = tokio::time::timeout(Duration::from_secs(5), release).await;
            });
        }
    }
}

impl Transport for SshTransport {
    fn run(&self, script: &str, timeout: Option<Duration>) -> TransportResult<CommandOutput> {
        let command = match timeout {
            Some(t) => format!(
                "timeout -k 2 {} sh -c {}",
                t.as_secs_f64().max(0.001),
                quote(script)
            ),
            None => format!("sh -c {}", quote(script)),
        };
        let result = self.block_on(async {
            match timeout {
                Some(t) => {
                    tokio::time::timeout(t + Duration::from_secs(10), self.exec(&command, b""))
                        .await
                        .unwrap_or_else(|_| {
                            Err(TransportError::Timeout(format!(
                                "command did not finish within {} s",
                                t.as_secs_f64()
                            )))
                        })
                }
                None => self.exec(&command, b"").await,
            }
        })?;
        let (code, stdout, stderr) = result;
        if let Some(t) = timeout
            && code as i32 == TIMED_OUT
        {
            return Err(TransportError::Timeout(format!(
                "command did not finish within {} s",
                t.as_secs_f64()
            )));
        }
        Ok(CommandOutput {
            exit_code: code as i32,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    fn read_file(&self, path: &str) -> TransportResult<Option<Vec<u8>>> {
        let p = quote(path);
        let script = format!("[ -e {p} ] || exit {MISSING_FILE}; exec cat -- {p}");
        let (code, stdout, stderr) =
            self.block_on(self.exec(&format!("sh -c {}", quote(&script)), b""))?;
        match code {
            0 => Ok(Some(stdout)),
            MISSING_FILE => Ok(None),
            _ => Err(TransportError::Io(format!(
                "reading {path} on {}: {}",
                self.where_(),
                String::from_utf8_lossy(&stderr).trim()
            ))),
        }
    }

    fn write_file(&self, path: &str, data: &[u8], mode: Option<u32>) -> TransportResult<()> {
        let p = quote(path);
        // umask 077: without a mode the file is 0600 and new directories 0700, as locally.
        let chmod = mode
            .map(|m| format!("chmod {m:o} \"$t\"; "))
            .unwrap_or_default();
        let script = format!(
            "set -e; umask 077; d=$(dirname -- {p}); mkdir -p \"$d\"; t=\"$d/.mngr-tmp.$$\"; \
             trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; {chmod}mv -f \"$t\" {p}; trap - EXIT"
        );
        let (code, _, stderr) =
            self.block_on(self.exec(&format!("sh -c {}", quote(&script)), data))?;
        if code == 0 {
            Ok(())
        } else {
            Err(TransportError::Io(format!(
                "writing {path} on {}: {}",
                self.where_(),
                String::from_utf8_lossy(&stderr).trim()
            )))
        }
    }

    /// Streams a local `tar` of `src` into `tar -x` on the host over the open connection:
    /// no second SSH handshake, and the same result as `rsync -a src/ dest/` (existing files
    /// overwritten, nothing deleted, modes and symlinks kept).
    fn push_dir(&self, src: &Path, dest: &str, options: &PushOptions) -> TransportResult<()> {
        let mut tar = Command::new("tar");
        // Files that change or vanish while being read are copied as found (as rsync does);
        // sockets and the like are skipped quietly.
        tar.arg("-C")
            .arg(src)
            .arg("-cf")
            .arg("-")
            .arg("--warning=no-file-changed")
            .arg("--warning=no-file-removed")
            .arg("--warning=no-file-ignored");
        for pattern in &options.excludes {
            tar.arg(format!("--exclude={}", pattern.trim_end_matches('/')));
        }
        if options.files.is_some() {
            tar.arg("--null").arg("-T").arg("-");
        } else {
            tar.arg(".");
        }
        let mut child = tar
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| TransportError::Io(format!("running tar: {e}")))?;
        let mut stdin = child.stdin.take().expect("piped");
        let list: Vec<u8> = options
            .files
            .iter()
            .flatten()
            .flat_map(|f| f.bytes().chain(std::iter::once(0)))
            .collect();
        // The list goes in from a thread, so tar's output can be read at the same time.
        let feeder = std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&list);
        });
        let mut stdout = child.stdout.take().expect("piped");
        let remote = format!(
            "sh -c {}",
            quote(&format!(
                "mkdir -p {d} && exec tar -C {d} -xf -",
                d = quote(dest)
            ))
        );
        let sent = self.block_on(async {
            let mut channel = self.channel().await?;
            let io = |e: russh::Error| conn_err(&self.endpoint, e);
            channel.exec(true, remote.as_bytes()).await.map_err(io)?;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                use std::io::Read;
                let n = stdout
                    .read(&mut buf)
                    .map_err(|e| TransportError::Io(format!("reading tar output: {e}")))?;
                if n == 0 {
                    break;
                }
                channel.data(&buf[..n]).await.map_err(io)?;
            }
            channel.eof().await.map_err(io)?;
            let (mut code, mut stderr) = (None, Vec::new());
            while let Some(msg) = channel.wait().await {
                match msg {
                    ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status),
                    ChannelMsg::ExtendedData { data, .. } => stderr.extend_from_slice(&data),
                    _ => {}
                }
            }
            Ok::<_, TransportError>((code, stderr))
        });
        let _ = feeder.join();
        let local = child.wait_with_output()?;
        let (code, remote_err) = sent?;
        // GNU tar: 1 means "some files changed while read", which is not a failure here.
        if !matches!(local.status.code(), Some(0) | Some(1)) {
            return Err(TransportError::Io(format!(
                "packing {} failed: {}",
                src.display(),
                String::from_utf8_lossy(&local.stderr).trim()
            )));
        }
        if code != Some(0) {
            return Err(TransportError::Io(format!(
                "copying {} to {}:{dest} failed: {}",
                src.display(),
                self.where_(),
                String::from_utf8_lossy(&remote_err).trim()
            )));
        }
        Ok(())
    }

    fn lock_host(
        &self,
        host_dir: &str,
        wait: &LockWait,
    ) -> TransportResult<Box<dyn HostLockGuard>> {
        let flock_wait = match wait.timeout {
            Some(t) => format!("flock -w {} 9", t.as_secs_f64().max(0.001)),
            None => "flock 9".to_string(),
        };
        // The holder line is printed between markers when the lock is taken, and written
        // beside the lock once this process holds it. The host dir and the lock files are the
        // user's alone (the records may hold secrets); a shared directory (sticky like /tmp,
        // or / or $HOME) is left as it is.
        let script = format!(
            "HD={hd}; umask 077; mkdir -p \"$HD\" && exec 9>>\"$HD/host_lock\" || exit 70\n\
             case \"$HD\" in /|\"$HOME\") ;; *) [ -k \"$HD\" ] || chmod go= \"$HD\" 2>/dev/null;; esac\n\
             holder() {{ echo MNGR_LOCK_HOLDER; cat \"$HD/{HOLDER_FILE}\" 2>/dev/null; echo; echo MNGR_LOCK_HOLDER_END; }}\n\
             if ! flock -n 9; then holder; {flock_wait} || {{ echo MNGR_LOCK_TIMEOUT; holder; exit 75; }}; fi\n\
             printf '%s\\n' {me} > \"$HD/{HOLDER_FILE}\"\n\
             g=$(cat \"$HD/host_lock.generation\" 2>/dev/null || echo 0)\n\
             echo $(( g + 1 )) > \"$HD/host_lock.generation\"\n\
             echo MNGR_LOCK_ACQUIRED $(( g + 1 ))\n\
             exec cat >/dev/null",
            hd = quote(host_dir),
            me = quote(&holder_line()),
        );
        let command = format!("sh -c {}", quote(&script));
        let path = format!("{host_dir}/host_lock on {}", self.where_());
        let channel = self.block_on(async {
            let mut channel = self.channel().await?;
            let io = |e: russh::Error| conn_err(&self.endpoint, e);
            channel.exec(true, command.as_bytes()).await.map_err(io)?;
            let mut out = String::new();
            let mut stderr = String::new();
            let started = tokio::time::Instant::now();
            let mut told = false;
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                let msg = tokio::select! {
                    msg = channel.wait() => match msg {
                        Some(msg) => msg,
                        None => break,
                    },
                    _ = tick.tick() => {
                        if crate::interrupt::signal().is_some() {
                            return Err(TransportError::Interrupted);
                        }
                        if !told
                            && started.elapsed() >= LOCK_NOTICE_AFTER
                            && let Some(holder) = last_holder(&out)
                        {
                            (wait.on_wait)(&holder);
                            told = true;
                        }
                        continue;
                    }
                };
                match msg {
                    ChannelMsg::Data { data } => {
                        out.push_str(&String::from_utf8_lossy(&data));
                        if out.contains("MNGR_LOCK_ACQUIRED") {
                            return Ok(channel);
                        }
                        if out.contains("MNGR_LOCK_TIMEOUT")
                            && let Some(holder) = last_holder(
                                out.split("MNGR_LOCK_TIMEOUT").nth(1).unwrap_or_default(),
                            )
                        {
                            let waited = wait.timeout.unwrap_or_default();
                            return Err(lock_timeout(&path, waited, &holder));
                        }
                    }
                    ChannelMsg::ExtendedData { data, .. } => {
                        stderr.push_str(&String::from_utf8_lossy(&data))
                    }
                    _ => {}
                }
            }
            Err(TransportError::Io(format!(
                "taking the host lock {path} failed: {}",
                stderr.trim()
            )))
        })?;
        Ok(Box::new(SshLock {
            channel: Some(channel),
            runtime: self.runtime.clone(),
        }))
    }

    fn run_interactive(&self, script: &str) -> TransportResult<i32> {
        let status = Command::new("ssh")
            .arg("-t")
            .args(self.ssh_options()?)
            .arg(self.target())
            .arg(format!("sh -c {}", quote(script)))
            .status()
            .map_err(|e| TransportError::Io(format!("running ssh: {e}")))?;
        Ok(status.code().unwrap_or(255))
    }

    fn forward_ports(
        &self,
        bind: &str,
        specs: &[ForwardSpec],
        ready: &mut dyn FnMut(&[ActiveForward]),
    ) -> TransportResult<()> {
        self.block_on(async {
            let listeners = forward::listen_locally(bind, specs).await?;
            // Connecting may take a while: a signal ends it too.
            let session = tokio::select! {
                session = self.session(false) => session?,
                _ = forward::signalled() => return Err(TransportError::Interrupted),
            };
            forward::serve(session, &self.reverse, bind, specs, listeners, ready).await
        })
    }

    fn system_ssh(&self) -> TransportResult<Option<SystemSsh>> {
        self.pinned_system_ssh().map(Some)
    }

    fn is_local(&self) -> bool {
        false
    }
}
