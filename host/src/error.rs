//! User-facing errors and the documented exit codes.

use mngr_plugin_api::{ErrorKind, ProviderError};
use std::fmt;

/// Exit codes. These are documented in `mngr --help` and `docs/exit-codes.md`; keep them stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ExitCode {
    Success = 0,
    /// Any other error.
    Failure = 1,
    /// Bad command line: unknown flag, missing argument, conflicting options.
    Usage = 2,
    /// stop/destroy: processes of the agent are still running.
    ProcessesRemain = 3,
    /// stop/destroy: local state (records, worktrees) remains.
    LocalStateRemains = 4,
    /// destroy: a host or cloud resource remains.
    HostResourceRemains = 5,
    /// A provider could not be reached.
    ProviderUnavailable = 6,
    /// message: delivered, but the agent appears stuck.
    MessageStuck = 7,
    /// A settings file or `-S` value is invalid.
    InvalidSettings = 8,
    /// The named agent, host, provider, snapshot or setting does not exist.
    NotFound = 9,
    /// The operation is not supported by this provider.
    Unsupported = 10,
    /// The name is already taken (an agent name on that host, a host name on that provider).
    AlreadyExists = 11,
    /// A program mngr needs is not installed where it is needed (tmux, git, rsync, claude, ...).
    MissingTool = 12,
    /// The agent is not running (message, capture).
    NotRunning = 13,
    /// destroy: the agent's work dir holds uncommitted or unpushed work (use --force).
    UnsavedWork = 14,
    /// Interrupted by SIGINT (Ctrl-C): the step in progress was undone.
    Interrupted = 130,
    /// Ended by SIGTERM: the step in progress was undone.
    Terminated = 143,
}

/// An error the CLI prints as one line (`Error: ...`) plus an optional hint, then exits with `code`.
#[derive(Debug, Clone)]
pub struct MngrError {
    pub code: ExitCode,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = MngrError> = std::result::Result<T, E>;

impl MngrError {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        MngrError {
            code,
            message: message.into(),
            hint: None,
        }
    }
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Failure, message)
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Usage, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ExitCode::NotFound, message)
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ExitCode::AlreadyExists, message)
    }
    pub fn missing_tool(message: impl Into<String>) -> Self {
        Self::new(ExitCode::MissingTool, message)
    }
    pub fn not_running(message: impl Into<String>) -> Self {
        Self::new(ExitCode::NotRunning, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ExitCode::ProviderUnavailable, message)
    }
    pub fn settings(message: impl Into<String>) -> Self {
        Self::new(ExitCode::InvalidSettings, message)
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Wrap a provider error, naming the provider instance it came from.
    pub fn from_provider(provider: &str, err: ProviderError) -> Self {
        let code = match err.kind {
            ErrorKind::NotFound => ExitCode::NotFound,
            ErrorKind::AlreadyExists => ExitCode::AlreadyExists,
            ErrorKind::InvalidConfig => ExitCode::InvalidSettings,
            ErrorKind::InvalidInput => ExitCode::Usage,
            ErrorKind::Unsupported => ExitCode::Unsupported,
            ErrorKind::Unavailable | ErrorKind::Unauthenticated => ExitCode::ProviderUnavailable,
            ErrorKind::CleanupFailed => ExitCode::HostResourceRemains,
            _ => ExitCode::Failure,
        };
        MngrError {
            code,
            message: format!("provider '{provider}': {}", err.message),
            hint: err.hint,
        }
    }
}

impl fmt::Display for MngrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MngrError {}

impl From<std::io::Error> for MngrError {
    fn from(err: std::io::Error) -> Self {
        MngrError::failure(err.to_string())
    }
}
