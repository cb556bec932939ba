//! The `mngr` host: command line, settings, plugin loading and the backend registry,
//! host transports, the agent layer and the built-in `local` provider.

pub mod agents;
pub mod app;
pub mod bounded;
pub mod cli;
pub mod config;
pub mod duration;
pub mod error;
pub mod instances;
pub mod interrupt;
#[cfg(test)]
mod layer_rule;
pub mod output;
pub mod paths;
pub mod plugins;
pub mod providers;
pub mod registry;
pub mod run_options;
pub mod shell;
pub mod timing;
pub mod transport;
pub mod warnings;
