//! Placeholder: filled in by the owner of this command group.

use super::GlobalOptions;
use crate::error::{MngrError, Result};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// (not yet built)
    PendingAgents,
}

pub fn run(_global: &GlobalOptions, _cmd: AgentCommand) -> Result<()> {
    Err(MngrError::failure("not yet built"))
}
