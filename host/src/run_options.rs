//! What the global flags ask of this run, as plain values. `cli/` builds a [`RunOptions`] once
//! from its parsed flags; every layer below takes these and never names a flag parser (the way
//! ripgrep's `HiArgs` are made from its `LowArgs`).

use crate::config::schema::CommandOptions;

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Output format: human, json, jsonl, or a template such as '{name}\t{state}'.
    pub format: String,
    /// Print less.
    pub quiet: bool,
    /// Print more: 1 debug, 2 and up trace.
    pub verbose: u8,
    /// `KEY=VALUE` setting overrides for this run, in the order given.
    pub settings_overrides: Vec<String>,
    /// Plugins not loaded in this run.
    pub disabled_plugins: Vec<String>,
    /// Load no plugins in this run (only built-in backends).
    pub no_plugins: bool,
    /// Never prompt or open an editor.
    pub headless: bool,
    /// Every command and the options it accepts, against which `[commands.NAME]` settings are
    /// checked (taken from the command line's own definition).
    pub commands: CommandOptions,
}
