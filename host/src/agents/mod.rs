//! The agent layer: agents as commands in tmux sessions on hosts, their records under the host
//! dir, work dirs, lifecycle, discovery and address resolution. Written only against the
//! [`crate::transport::Transport`] trait, so it works the same on local and remote hosts.

pub mod address;
pub mod batch;
pub mod create;
pub mod destroy;
pub mod discovery;
pub mod envfile;
#[cfg(test)]
pub mod fakes;
pub mod forward;
pub mod gc;
pub mod git_sync;
pub mod host;
pub mod hosts;
pub mod idle;
pub mod lifecycle;
pub mod limits;
pub mod names;
pub mod placement;
pub mod precheck;
pub mod probe;
pub mod record;
pub mod state;
pub mod sync;
pub mod types;
pub mod workdir;
