//! Errors cross the plugin boundary as data: a kind, a message, whether retrying helps,
//! structured details and a hint telling the user what to do next.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What went wrong, coarsely. The host maps kinds to exit codes and to user-facing wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The host, snapshot or other named thing does not exist.
    NotFound,
    /// A host with that name already exists on this provider instance.
    AlreadyExists,
    /// The provider's configuration is wrong (unknown key, wrong type, bad value).
    InvalidConfig,
    /// An argument to an operation is wrong (bad flag, bad name, bad build or start arg).
    InvalidInput,
    /// This provider does not support the operation (see [`crate::Capabilities`]).
    Unsupported,
    /// Credentials were rejected or a host key could not be verified.
    Unauthenticated,
    /// The provider cannot be reached right now (daemon down, network error).
    Unavailable,
    /// The operation did not finish in time.
    Timeout,
    /// The operation was cancelled.
    Cancelled,
    /// A bug or an unexpected state inside the provider.
    Internal,
    /// The provider panicked; the FFI layer caught it.
    Panic,
    /// Destroy could not remove everything; details list what remains.
    CleanupFailed,
    /// Any kind a newer plugin sends that this host does not know.
    #[serde(other)]
    Other,
}

impl ErrorKind {
    /// The wire form (`not_found`, ...), the same string serde writes.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::InvalidConfig => "invalid_config",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal",
            ErrorKind::Panic => "panic",
            ErrorKind::CleanupFailed => "cleanup_failed",
            ErrorKind::Other => "other",
        }
    }
}

/// An error returned by a provider backend or instance. Build it with [`ProviderError::new`]
/// or one of the kind constructors, then the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProviderError {
    /// What went wrong, coarsely; decides the exit code and wording the user sees.
    pub kind: ErrorKind,
    /// One line for the user saying what failed, naming the host or resource (no secrets).
    pub message: String,
    /// Whether trying the same call again may succeed.
    #[serde(default)]
    pub retryable: bool,
    /// Structured details (for example which resources a failed destroy left behind).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
    /// One sentence telling the user what to do next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What every provider call returns.
pub type ProviderResult<T> = Result<T, ProviderError>;

impl ProviderError {
    /// An error of `kind`, not retryable, without details or hint; add them with the
    /// `with_*` and [`retryable`](Self::retryable) methods.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            message: message.into(),
            retryable: false,
            details: serde_json::Value::Null,
            hint: None,
        }
    }
    /// [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// [`ErrorKind::AlreadyExists`].
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AlreadyExists, message)
    }
    /// [`ErrorKind::InvalidConfig`]; name the key and the value expected.
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidConfig, message)
    }
    /// [`ErrorKind::InvalidInput`]; name the argument and what would be accepted.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
    /// [`ErrorKind::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    /// [`ErrorKind::Unavailable`], marked retryable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message).retryable()
    }
    /// [`ErrorKind::Internal`]: a bug or a state the provider did not expect.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    /// Add the sentence telling the user what to do next.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Add structured details (a JSON value), such as what a failed destroy left behind.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
    /// Mark the error as one a retry of the same call may not repeat.
    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProviderError {}
