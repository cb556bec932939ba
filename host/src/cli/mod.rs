//! The command line: global options, the subcommands, and turning errors into one line and an
//! exit code. Each subcommand lives in its own module with its arguments and a `run` function.

use crate::error::{ExitCode, MngrError, Result};
use crate::run_options::RunOptions;
use clap::{Args, Parser, Subcommand};
use std::sync::Arc;

pub mod agents;
pub mod config_cmd;
pub mod plugin_cmd;
pub mod provider_cmd;
pub mod snapshot_cmd;

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  error
  2  bad command line (unknown flag, missing argument, conflicting options)
  3  stop/destroy: agent processes remain
  4  stop/destroy: local state remains
  5  destroy: a host or cloud resource remains
  6  a provider could not be reached
  7  message: delivered but the agent appears stuck
  8  invalid settings (a settings file, MNGR__* variable or -S value; untrusted project settings)
  9  the named agent, host, provider, snapshot, setting or path does not exist
  10 the provider does not support the operation
  11 the name (or a port mngr forward should listen on) is already taken
  12 a required program (tmux, git, rsync, claude, codex) is not installed
  13 the agent is not running
  14 destroy: the work dir holds uncommitted or unpushed work (use --force)
  130 interrupted by Ctrl-C (SIGINT), 143 by SIGTERM: the step in progress was undone

A plugin that cannot be loaded (not a plugin, truncated, incompatible mngr-plugin-api, failing at
start-up, duplicate backend) is skipped with one `Warning:` line on stderr and never changes the
exit code; see `mngr plugin list`.";

#[derive(Debug, Parser)]
#[command(name = "mngr", version, about = "Create, run and manage AI coding agents on local and remote hosts", after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts (shown under their own heading, after each command's own).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalOptions {
    /// Output format: human, json, jsonl, or a template such as '{name}\t{state}'
    #[arg(long, global = true, default_value = "human")]
    pub format: String,
    /// Print less
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more (-v debug, -vv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Override a setting for this run: KEY=VALUE with a dotted key (value parsed as TOML, else string)
    #[arg(short = 'S', long = "setting", global = true, value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// Do not load this plugin for this run (repeatable)
    #[arg(long = "disable-plugin", global = true, value_name = "NAME")]
    pub disable_plugin: Vec<String>,
    /// Load no plugins for this run (only built-in backends)
    #[arg(long = "no-plugins", global = true)]
    pub no_plugins: bool,
    /// Never prompt or open an editor (also MNGR_HEADLESS=1 or `headless = true` in settings)
    #[arg(long, global = true, env = "MNGR_HEADLESS", value_parser = clap::builder::FalseyValueParser::new())]
    pub headless: bool,
}

impl GlobalOptions {
    /// These flags as the plain options every layer below the command line takes.
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            format: self.format.clone(),
            quiet: self.quiet,
            verbose: self.verbose,
            settings_overrides: self.settings.clone(),
            disabled_plugins: self.disable_plugin.clone(),
            no_plugins: self.no_plugins,
            headless: self.headless,
            commands: command_options(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    // Agent commands first: they are what mngr is for.
    #[command(flatten)]
    Agent(agents::AgentCommand),
    /// Show and change settings
    #[command(visible_alias = "cfg", subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Show the provider plugins mngr found
    #[command(visible_alias = "plug", subcommand)]
    Plugin(plugin_cmd::PluginCommand),
    /// Show provider instances
    #[command(subcommand)]
    Provider(provider_cmd::ProviderCommand),
    /// Snapshots of an agent's host
    #[command(visible_alias = "snap", subcommand)]
    Snapshot(snapshot_cmd::SnapshotCommand),
}

/// Parse arguments, run the command, print any error as one line, return the exit code.
pub fn main() -> i32 {
    crate::interrupt::install();
    let cli = match parse_cli() {
        Ok((cli, words)) => {
            crate::transport::set_holder_command(&words);
            Ok(cli)
        }
        Err(err) => Err(err),
    };
    let cli = match cli {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                ExitCode::Usage as i32
            } else {
                0
            };
            let _ = err.print();
            return code;
        }
    };
    let verbose = cli.global.verbose > 0;
    match run(cli) {
        Ok(()) => 0,
        Err(err) => {
            let err = crate::interrupt::explain(err);
            report_error(&err, verbose);
            err.code as i32
        }
    }
}

/// `mngr SUBCOMMAND [SUBCOMMAND]` of this run, without arguments (which may hold secrets).
fn command_words(matches: &clap::ArgMatches) -> String {
    let mut words = vec!["mngr".to_string()];
    let mut current = matches;
    while let Some((name, sub)) = current.subcommand() {
        words.push(name.to_string());
        current = sub;
    }
    words.join(" ")
}

/// The command line parsed by `command` (clap's tree, built once per run: building it is most
/// of what parsing costs), with the run's command words.
fn parse_with(
    mut command: clap::Command,
    args: &[std::ffi::OsString],
) -> std::result::Result<(Cli, clap::ArgMatches), clap::Error> {
    use clap::FromArgMatches;
    let matches = command.try_get_matches_from_mut(args)?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
    Ok((cli, matches))
}

/// Parse the command line, returning it with its command words. `create` also takes the flags
/// provider backends register, so for it the registry is loaded first (from the global
/// options, read leniently).
fn parse_cli() -> std::result::Result<(Cli, String), clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if !args.iter().skip(1).any(|a| a == "create" || a == "c") {
        let (cli, matches) = parse_with(Cli::command(), &args)?;
        return Ok((cli, command_words(&matches)));
    }
    let registry = (|| {
        let probe_args = args.iter().filter(|a| *a != "--help" && *a != "-h");
        let lenient = Cli::command()
            .ignore_errors(true)
            .try_get_matches_from(probe_args)
            .ok()?;
        let mut global = GlobalOptions::from_arg_matches(&lenient).ok()?;
        // Plugin warnings are printed once, by the command's own load.
        global.quiet = true;
        let run = global.run_options();
        let settings = crate::app::load_settings(&run).ok()?;
        crate::app::build_registry(&run, &settings)
            .ok()
            .map(|(registry, _)| registry)
    })();
    let Some(registry) = registry else {
        let (cli, matches) = parse_with(Cli::command(), &args)?;
        return Ok((cli, command_words(&matches)));
    };
    let command = Cli::command().mut_subcommand("create", |create| {
        agents::create::add_provider_flags(create, &registry)
    });
    let (mut cli, matches) = parse_with(command, &args)?;
    if let Command::Agent(agents::AgentCommand::Create(create)) = &mut cli.command {
        create.raw_matches = matches.subcommand().map(|(_, sub)| sub.clone());
    }
    Ok((cli, command_words(&matches)))
}

/// For `[commands.NAME]` settings: every command and the options it accepts (clap ids, which
/// are the long flag names with `_` for `-`), each with its kind and clap's own value check,
/// plus the names of its subcommands.
pub fn command_options() -> crate::config::schema::CommandOptions {
    use crate::config::schema::{OptionKind, OptionSpec, ValueCheck};
    use clap::CommandFactory;
    use clap::builder::ArgAction;
    let cli = Cli::command();
    let global: std::collections::BTreeSet<String> = cli
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    cli.get_subcommands()
        .map(|sub| {
            let mut options: std::collections::BTreeMap<String, OptionSpec> = sub
                .get_arguments()
                .filter(|a| !global.contains(a.get_id().as_str()))
                .map(|arg| {
                    let kind = match arg.get_action() {
                        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count => {
                            OptionKind::Flag
                        }
                        ArgAction::Append => OptionKind::Values,
                        _ => OptionKind::Value,
                    };
                    let id = arg.get_id().to_string();
                    let check: ValueCheck = if sub.get_name() == "create" && id == "env" {
                        // Checked without clap, whose errors would echo a secret value.
                        Arc::new(|raw: &str| {
                            crate::agents::envfile::parse_assignment("env value", raw).map(|_| ())
                        })
                    } else {
                        let parser = arg.get_value_parser().clone();
                        Arc::new(move |raw: &str| clap_check(&parser, raw))
                    };
                    let check = (kind != OptionKind::Flag).then_some(check);
                    (id, OptionSpec { kind, check })
                })
                .collect();
            options.extend(sub.get_subcommands().map(|s| {
                (
                    s.get_name().to_string(),
                    OptionSpec::plain(OptionKind::Subcommand),
                )
            }));
            (sub.get_name().to_string(), options)
        })
        .collect()
}

/// Parse `raw` with `parser` as the command line would; clap's reason on failure.
fn clap_check(parser: &clap::builder::ValueParser, raw: &str) -> std::result::Result<(), String> {
    let probe = clap::Command::new("check").no_binary_name(true).arg(
        clap::Arg::new("value")
            .long("value")
            .value_name("VALUE")
            .value_parser(parser.clone()),
    );
    probe
        .try_get_matches_from([format!("--value={raw}")])
        .map(|_| ())
        .map_err(|e| {
            use std::error::Error;
            match e.source() {
                Some(inner) => inner.to_string(),
                None => e
                    .to_string()
                    .replace(" for '--value <VALUE>'", "")
                    .lines()
                    .map(|l| l.trim().trim_start_matches("error: "))
                    .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                    .collect::<Vec<_>>()
                    .join(" "),
            }
        })
}

pub fn report_error(err: &MngrError, verbose: bool) {
    // An empty message means the command already printed its errors.
    if err.message.is_empty() {
        return;
    }
    eprintln!("Error: {}", err.message);
    for line in err.trailer_lines(verbose) {
        eprintln!("{line}");
    }
}

fn run(cli: Cli) -> Result<()> {
    // The flags become plain options once, here; nothing below sees clap.
    let run = cli.global.run_options();
    match cli.command {
        Command::Config(cmd) => config_cmd::run(&run, cmd),
        Command::Plugin(cmd) => plugin_cmd::run(&run, cmd),
        Command::Provider(cmd) => provider_cmd::run(&run, cmd),
        Command::Snapshot(cmd) => snapshot_cmd::run(&run, cmd),
        Command::Agent(cmd) => agents::run(&run, cmd),
    }
}
