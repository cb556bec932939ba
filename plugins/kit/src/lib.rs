//! What every mngr provider reached over SSH shares. A provider that makes machines
//! (containers, sandboxes, VMs) and lets mngr in over SSH needs the same parts around its own
//! API calls; this crate has them once:
//!
//! - [`keys`]: the client key and host key mngr generates per host, written 0600 atomically;
//! - [`record`]: the stored host record, with a provider-owned part;
//! - [`provision`] and [`watcher`]: the files a new host gets (host key, authorized keys, the
//!   activity watcher with the provider's way of stopping, a fresh `data.json`), as plain data;
//! - [`access`]: waiting for sshd and the `HostAccess` mngr connects with;
//! - [`agents`]: persisted agent records over the provider's own blob store;
//! - [`cache`]: the host records one run has read, by host id;
//! - [`pending`]: operations under way on a host, recorded so a killed mngr's are recognised;
//! - [`snapshots`]: snapshot names and lookup;
//! - [`config`]: a backend's table declared once ([`provider_config!`]);
//! - [`flags`]: the tokenizer for `-b` / `-s` flag lists;
//! - [`holder`]: the process running an operation, and whether it is gone;
//! - [`runtime`] and [`adapter`]: the tokio runtime a plugin owns, and [`adapter::OnRuntime`],
//!   which serves the synchronous `ProviderInstance` contract from async provider code.
//!
//! `docs/writing-a-plugin.md` shows a provider built on it.

pub mod access;
pub mod adapter;
pub mod agents;
pub mod cache;
pub mod config;
pub mod flags;
pub mod holder;
pub mod keys;
pub mod pending;
pub mod provision;
pub mod record;
pub mod runtime;
pub mod snapshots;
pub mod watcher;

// For `provider_config!`'s expansion in the declaring crate.
#[doc(hidden)]
pub use mngr_plugin_api as __api;
#[doc(hidden)]
pub use serde_json as __json;
