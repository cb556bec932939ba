//! User-facing errors and the documented exit codes.
//!
//! The rules every error in the host follows:
//!
//! - **One line.** An error prints as `Error: <message>`: what failed, naming the agent, host,
//!   provider, key or file it concerns, and why. Lower case, no trailing period, no stack of
//!   "caused by" lines; a command that already printed its errors returns an empty message.
//! - **One exit code per cause.** [`ExitCode`] lists them; each is documented in `mngr --help`
//!   and `docs/exit-codes.md` and never changes meaning. A provider's [`ErrorKind`] maps to
//!   one in [`MngrError::from_provider`]; anything unplanned is [`ExitCode::Failure`].
//! - **A hint when the user can act.** `  hint: <what to do next>` follows the error line when
//!   there is a next step (a flag, a setting, a command to run). A retryable provider error adds
//!   the hint that retrying may help.
//! - **Keep what providers said.** A provider's message, hint, `details` and `retryable` all
//!   reach the user: details as one shortened `  details:` line, in full with `-v`.
//! - **Never secrets.** Messages, hints and details name keys, paths and resources, never key
//!   material, tokens or environment values; providers promise the same of their errors.

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
    /// What a provider reported beyond its message (for example what a failed destroy left
    /// behind); `Null` when nothing.
    pub details: serde_json::Value,
    /// The provider said the same call may succeed if tried again.
    pub retryable: bool,
}

pub type Result<T, E = MngrError> = std::result::Result<T, E>;

impl MngrError {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        MngrError {
            code,
            message: message.into(),
            hint: None,
            details: serde_json::Value::Null,
            retryable: false,
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
            details: err.details,
            retryable: err.retryable,
        }
    }

    /// The error as json output lists it: `{message, details, retryable}` (details `null`
    /// when the provider said nothing more).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "message": self.message,
            "details": self.details,
            "retryable": self.retryable,
        })
    }

    /// The lines printed after the error line: details (one shortened line, or all of them
    /// when `verbose`), the hint, and the retry hint.
    pub fn trailer_lines(&self, verbose: bool) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.details.is_null() {
            lines.push(if verbose {
                let full = serde_json::to_string_pretty(&self.details).unwrap_or_default();
                format!("  details: {}", full.replace('\n', "\n  "))
            } else {
                format!("  details: {}", short_details(&self.details))
            });
        }
        if let Some(hint) = &self.hint {
            lines.push(format!("  hint: {hint}"));
        }
        if self.retryable {
            lines.push("  hint: this may be temporary; retrying may help".to_string());
        }
        lines
    }
}

/// Longest details line printed without `-v`, in characters.
const SHORT_DETAILS_CHARS: usize = 160;

/// Details as one line of compact JSON, cut to [`SHORT_DETAILS_CHARS`] with a pointer to `-v`.
fn short_details(details: &serde_json::Value) -> String {
    let line = details.to_string();
    if line.chars().count() <= SHORT_DETAILS_CHARS {
        return line;
    }
    let cut: String = line.chars().take(SHORT_DETAILS_CHARS).collect();
    format!("{cut}... (run with -v for all)")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_details_and_retryable_reach_the_lines_after_the_error() {
        let long = "x".repeat(400);
        let err = ProviderError::unavailable("daemon down")
            .with_details(serde_json::json!({ "remaining": ["volume v", long] }))
            .with_hint("start the daemon");
        let err = MngrError::from_provider("docker", err);
        let short = err.trailer_lines(false);
        assert!(short[0].starts_with("  details: {\"remaining\":[\"volume v\""));
        assert!(
            short[0].ends_with("... (run with -v for all)"),
            "{}",
            short[0]
        );
        assert_eq!(short[1], "  hint: start the daemon");
        assert_eq!(short[2], "  hint: this may be temporary; retrying may help");
        let full = err.trailer_lines(true);
        assert!(full[0].contains(&"x".repeat(400)), "{}", full[0]);
    }

    #[test]
    fn json_output_carries_the_providers_details_and_retryable() {
        let err = ProviderError::unavailable("daemon down")
            .with_details(serde_json::json!({"socket": "/run/docker.sock"}));
        let json = MngrError::from_provider("docker", err).to_json();
        assert_eq!(
            json,
            serde_json::json!({
                "message": "provider 'docker': daemon down",
                "details": {"socket": "/run/docker.sock"},
                "retryable": true,
            })
        );
        assert_eq!(
            MngrError::not_found("no agent 'a'").to_json()["details"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn an_error_without_details_or_retry_prints_only_its_hint() {
        let err = MngrError::not_found("no agent 'a'").with_hint("run mngr list");
        assert_eq!(err.trailer_lines(true), vec!["  hint: run mngr list"]);
    }
}
