//! The Docker Engine layer of mngr's docker provider, as a library other providers can drive:
//! an [`Engine`] for any daemon (a URL, the local default, or streams the caller opens through
//! a [`Connector`]), containers, images, builds, `docker run` / `docker build` flags parsed
//! into Engine options, the labels mngr puts on what it makes, and the state volume where an
//! instance keeps its records on the daemon.
//!
//! Nothing here knows about a provider instance: callers pass names, labels and records.

pub mod build;
pub mod build_args;
pub mod connector;
pub mod containers;
pub mod engine;
pub mod host_container;
pub mod images;
pub mod labels;
pub mod run_args;
mod ssh_tunnel;
pub mod state;

pub use connector::Connector;
pub use engine::Engine;
pub use images::{BASE_IMAGE, missing_image};
pub use state::StateStore;
