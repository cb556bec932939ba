//! Built-in provider backends.

pub mod local;
