//! The one way layers below the command line report a problem that does not stop the command:
//! a line on stderr with one prefix, which tests and users can find (`Warning: `). Warnings
//! never change the exit code.

/// The prefix of every warning line.
pub const PREFIX: &str = "Warning: ";

/// Print one warning line to stderr.
pub fn warn(message: impl std::fmt::Display) {
    eprintln!("{PREFIX}{message}");
}
