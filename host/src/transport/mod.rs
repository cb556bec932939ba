//! Host transports: how the agent layer runs commands and moves files on a host. The agent
//! layer is written only against [`Transport`], so every command works unchanged on local
//! hosts and on hosts reached over SSH.
//!
//! Implementations: [`local::LocalTransport`] (this machine, std::process) and the SSH
//! transport (`ssh.rs`, russh). [`connect`] maps a provider's [`HostAccess`] to one of them.
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

pub mod local;
mod quickack;
pub mod ssh;

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
    /// A command or the host lock did not finish or free up within the given timeout.
    #[error("timed out: {0}")]
    Timeout(String),
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
    /// missing, never deleted), then increment the integer in `<host_dir>/host_lock.generation`.
    /// Waits at most `timeout` (`None` = forever), else [`TransportError::Timeout`]. The lock is
    /// held until the guard is dropped, and is released if this process dies (the SSH
    /// implementation holds it from a long-lived exec channel running `flock`).
    fn lock_host(
        &self,
        host_dir: &str,
        timeout: Option<Duration>,
    ) -> TransportResult<Box<dyn HostLockGuard>>;

    /// Run `script` attached to the user's terminal (stdin/stdout/stderr, with a pty over SSH),
    /// for `mngr connect`; returns its exit code when it ends.
    fn run_interactive(&self, script: &str) -> TransportResult<i32>;

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
        HostAccess::Local { host_dir } => host_dir,
        HostAccess::Ssh(endpoint) => &endpoint.host_dir,
    }
}
