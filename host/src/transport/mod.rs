//! Host transports: how the agent layer runs commands and moves files on a host. The agent
//! layer is written only against [`Transport`], so every command works unchanged on local
//! hosts and on hosts reached over SSH.

use std::path::Path;
use std::time::Duration;

/// The result of a command run on a host.
#[derive(Debug, Clone, Default)]
pub struct CommandOutput {
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
    /// The host could not be reached (connection refused, SSH failure, timeout).
    #[error("cannot reach host: {0}")]
    Connection(String),
    /// The host key or credentials were rejected.
    #[error("authentication failed: {0}")]
    Authentication(String),
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

/// Run commands and move files on one host.
pub trait Transport: Send + Sync {
    /// Run `script` with `sh -c` on the host, optionally with a timeout.
    fn run(&self, script: &str, timeout: Option<Duration>) -> TransportResult<CommandOutput>;

    /// Read a whole file; `None` if it does not exist.
    fn read_file(&self, path: &str) -> TransportResult<Option<Vec<u8>>>;

    /// Write a file atomically (temp file + rename), creating parent directories.
    fn write_file(&self, path: &str, data: &[u8], mode: Option<u32>) -> TransportResult<()>;

    /// Copy a local directory's contents to `dest` on the host (rsync semantics: `src/` into `dest`).
    /// `excludes` are rsync patterns.
    fn push_dir(&self, src: &Path, dest: &str, excludes: &[String]) -> TransportResult<()>;

    /// Take the cooperative host lock (`flock` on `<host_dir>/host_lock`), waiting at most `timeout`.
    fn lock_host(
        &self,
        host_dir: &str,
        timeout: Option<Duration>,
    ) -> TransportResult<Box<dyn HostLockGuard>>;

    /// Run `script` attached to the user's terminal (for `mngr connect`); returns its exit code.
    fn run_interactive(&self, script: &str) -> TransportResult<i32>;

    /// True for the local machine.
    fn is_local(&self) -> bool;
}
