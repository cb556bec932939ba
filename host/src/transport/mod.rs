//! Host transports: how the agent layer runs commands and moves files on a host. The agent
//! layer is written only against [`Transport`], so every command works unchanged on local
//! hosts and on hosts reached over SSH.
//!
//! Implementations: [`local::LocalTransport`] (this machine, std::process) and the SSH
//! transport (`ssh.rs`, russh). [`connect`] maps a provider's [`HostAccess`] to one of them.
//! [`forward`] runs port forwards over the SSH transport's connection (`mngr forward`);
//! [`system_ssh`] is the pinned system `ssh` that rsync and git use.
//!
//! Contract every implementation keeps (the agent layer relies on it):
//! - Scripts are POSIX `sh` scripts run by the host's login user. The working directory is
//!   unspecified: scripts `cd` where they need to. Paths are absolute paths on the host.
//! - The environment is the user's ordinary non-interactive environment (the local transport
//!   inherits mngr's own, which is how tests point tmux at a private server via TMUX_TMPDIR).
//! - Calls are blocking and may be made from several threads at once (`Send + Sync`).
//! - A connection failure is [`TransportError::Connection`]; a rejected key or credential is
//!   [`TransportError::Authentication`]; a command that runs and fails is NOT an error: it is a
//!   [`CommandOutput`] with a non-zero `exit_code`.

pub mod forward;
pub mod local;
mod local_copy;
mod quickack;
pub mod ssh;
pub mod system_ssh;

use mngr_plugin_api::HostAccess;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The result of a command run on a host.
#[derive(Debug, Clone, Default)]
pub struct CommandOutput {
    /// The exit status; `128 + signal` when the command was killed by a signal.
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The host could not be reached (connection refused, SSH failure).
    #[error("cannot reach host: {0}")]
    Connection(String),
    /// The host key or credentials were rejected.
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// A command did not finish within the given timeout.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The host lock stayed held for the whole wait; the message names the holder.
    #[error("{0}")]
    LockTimeout(String),
    /// A port to listen on is taken (on this machine, or on the host for a reverse forward).
    #[error("{0}")]
    PortInUse(String),
    /// A signal came while waiting (see [`crate::interrupt`]).
    #[error("interrupted")]
    Interrupted,
    #[error("{0}")]
    Io(String),
}

impl From<std::io::Error> for TransportError {
    fn from(err: std::io::Error) -> Self {
        TransportError::Io(err.to_string())
    }
}

pub type TransportResult<T> = Result<T, TransportError>;

/// Held while an operation changes a host; dropping it releases the host lock.
pub trait HostLockGuard: Send {}

/// How long [`Transport::lock_host`] waits, and whom it tells while it does.
pub struct LockWait<'a> {
    /// Give up after this long (`None`: as long as it takes).
    pub timeout: Option<Duration>,
    /// Called once when the lock is still held after [`LOCK_NOTICE_AFTER`], with who holds it.
    pub on_wait: &'a (dyn Fn(&str) + Sync),
}

impl LockWait<'static> {
    /// Wait at most `timeout`, telling no one.
    pub fn quietly(timeout: Option<Duration>) -> LockWait<'static> {
        LockWait {
            timeout,
            on_wait: &|_| {},
        }
    }
}

/// How long a wait for the host lock goes unmentioned.
pub const LOCK_NOTICE_AFTER: Duration = Duration::from_secs(2);

/// The holder line's file, beside the lock: whoever takes the lock writes [`holder_line`] there.
pub const HOLDER_FILE: &str = "host_lock.holder";

/// What a waiting mngr says of this process when it holds a host lock: the command (no
/// arguments, which may hold secrets), pid, machine and since when.
pub fn holder_line() -> String {
    let command = HOLDER_COMMAND.get().cloned().unwrap_or_else(|| {
        std::env::args()
            .next()
            .map(|a| a.rsplit('/').next().unwrap_or_default().to_string())
            .unwrap_or_default()
    });
    let (secs, _) = mngr_plugin_api::time::now_unix();
    format!(
        "`{command}` (pid {} on {}, since {})",
        std::process::id(),
        this_machine(),
        mngr_plugin_api::time::iso8601_utc(secs)
    )
}

static HOLDER_COMMAND: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Name this run's command (`mngr create`) for [`holder_line`].
pub fn set_holder_command(command: &str) {
    let _ = HOLDER_COMMAND.set(command.to_string());
}

fn this_machine() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into the buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match rc {
        0 if end > 0 => String::from_utf8_lossy(&buf[..end]).into_owned(),
        _ => "this machine".to_string(),
    }
}

/// The error of a wait for the lock at `path` that ran out.
fn lock_timeout(path: &str, waited: Duration, holder: &str) -> TransportError {
    TransportError::LockTimeout(format!(
        "gave up after {} s waiting for the host lock {path}, held by {holder}",
        waited.as_secs_f64()
    ))
}

/// What [`Transport::push_dir`] copies.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// rsync-style exclude patterns (`.git`, `target/`), applied to every copied path.
    pub excludes: Vec<String>,
    /// When set, copy only these paths (relative to `src`, files only; directories are created
    /// as needed), like `rsync --files-from`. Every listed path exists locally.
    pub files: Option<Vec<String>>,
}

/// Run commands and move files on one host.
pub trait Transport: Send + Sync {
    /// Run `script` with `sh -c` on the host. With a timeout, a command still running when it
    /// expires is killed and the call returns [`TransportError::Timeout`].
    fn run(&self, script: &str, timeout: Option<Duration>) -> TransportResult<CommandOutput>;

    /// Read a whole file; `Ok(None)` if it does not exist.
    fn read_file(&self, path: &str) -> TransportResult<Option<Vec<u8>>>;

    /// Write a file atomically (temp file in the same directory + rename), creating parent
    /// directories. `mode` (e.g. `0o755`) is applied before the rename; `None` keeps the
    /// default (umask) mode.
    fn write_file(&self, path: &str, data: &[u8], mode: Option<u32>) -> TransportResult<()>;

    /// Copy a local directory's contents into `dest` on the host (rsync `-a src/ dest/`
    /// semantics: `dest` is created if missing, existing files are overwritten, nothing is
    /// deleted). Modes and symlinks are preserved. See [`PushOptions`] for filtering.
    fn push_dir(&self, src: &Path, dest: &str, options: &PushOptions) -> TransportResult<()>;

    /// Take the cooperative host lock: exclusive `flock` on `<host_dir>/host_lock` (created if
    /// missing, never deleted), then write [`holder_line`] to `<host_dir>/host_lock.holder` and
    /// increment the integer in `<host_dir>/host_lock.generation`. Waits at most
    /// `wait.timeout`, else [`TransportError::LockTimeout`] naming the holder; after
    /// [`LOCK_NOTICE_AFTER`] calls `wait.on_wait` once with the holder; a signal ends the wait
    /// with [`TransportError::Interrupted`]. The lock is held until the guard is dropped, and is
    /// released if this process dies (the SSH implementation holds it from a long-lived exec
    /// channel running `flock`).
    fn lock_host(&self, host_dir: &str, wait: &LockWait)
    -> TransportResult<Box<dyn HostLockGuard>>;

    /// Run `script` attached to the user's terminal (stdin/stdout/stderr, with a pty over SSH),
    /// for `mngr connect`; returns its exit code when it ends.
    fn run_interactive(&self, script: &str) -> TransportResult<i32>;

    /// Forward ports between this machine and the host over the transport's own connection
    /// (local forwards listen on `bind` here, reverse ones on `bind` on the host), calling
    /// `ready` once when all listen, until a signal comes ([`TransportError::Interrupted`]) or
    /// the connection drops. A port in use is [`TransportError::PortInUse`]. Transports to
    /// this machine have nothing to forward and keep the default, an error.
    fn forward_ports(
        &self,
        bind: &str,
        specs: &[forward::ForwardSpec],
        ready: &mut dyn FnMut(&[forward::ActiveForward]),
    ) -> TransportResult<()> {
        let _ = (bind, specs, ready);
        Err(TransportError::Io(
            "this host is this machine: there is nothing to forward".to_string(),
        ))
    }

    /// How the system `ssh` (for rsync and git) reaches this host with its pinned key;
    /// `None` for this machine, whose paths are used directly.
    fn system_ssh(&self) -> TransportResult<Option<system_ssh::SystemSsh>> {
        Ok(None)
    }

    /// True for the local machine. The agent layer then reads agent records and `/proc`
    /// in process instead of through [`Transport::run`] (same result, fewer process starts).
    fn is_local(&self) -> bool;
}

/// The transport for a host, from what its provider says about reaching it.
pub fn connect(access: &HostAccess) -> TransportResult<Arc<dyn Transport>> {
    match access {
        HostAccess::Local { .. } => Ok(Arc::new(local::LocalTransport::new())),
        HostAccess::Ssh(endpoint) => Ok(Arc::new(ssh::SshTransport::new(endpoint)?)),
    }
}

/// The host directory named in a provider's access description.
pub fn host_dir_of(access: &HostAccess) -> &str {
    match access {
        HostAccess::Local { host_dir, .. } => host_dir,
        HostAccess::Ssh(endpoint) => &endpoint.host_dir,
    }
}
