//! Placeholder: filled in by the owner of this command group.

use super::GlobalOptions;
use crate::error::{MngrError, Result};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// (not yet built)
    Pending,
}

pub fn run(_global: &GlobalOptions, _cmd: PluginCommand) -> Result<()> {
    Err(MngrError::failure("not yet built"))
}
