//! `mngr create [ADDRESS] [AGENT_TYPE] [options] [-- COMMAND ARGS...]`

use super::{parse_key_value, print_json, print_jsonl};
use crate::agents::address::CreateTarget;
use crate::agents::create::CreateRequest;
use crate::agents::lifecycle::session_name;
use crate::agents::placement::{self, Created, NewHost, Placement};
use crate::agents::workdir::{self, Mode};
use crate::agents::{envfile, names, types};
use crate::config::Settings;
use crate::error::{MngrError, Result};
use crate::output::OutputFormat;
use crate::run_options::RunOptions;
use clap::Args;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mngr create fixer -- sleep 1000           a command agent in a new worktree (in a git repo)
  mngr create helper claude --no-connect    Claude Code in a worktree on branch mngr/helper
  mngr create scratch --in-place -- bash    run in the current directory itself
  mngr create box --in docker -s --cpus=2   a new docker host for the agent")]
pub struct CreateArgs {
    /// Where the agent goes: [NAME][@[HOST][.PROVIDER]] (no NAME: a generated one)
    pub address: Option<String>,
    /// Agent type: command, claude, codex, or one defined as [agent_types.NAME] in settings
    pub agent_type: Option<String>,
    /// The command to run (type `command`), or extra arguments for the type's command
    #[arg(last = true, value_name = "COMMAND")]
    pub agent_args: Vec<String>,
    /// The agent's name (instead of the positional address)
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// The agent type (instead of the positional type)
    #[arg(long = "type", id = "type", value_name = "TYPE")]
    pub type_flag: Option<String>,
    /// The command line to run, as one string (instead of a command after `--`)
    #[arg(long)]
    pub command: Option<String>,
    /// The provider instance to put the agent on (a new host on providers that make hosts)
    #[arg(long = "in", visible_alias = "provider", value_name = "PROVIDER")]
    pub provider: Option<String>,
    /// The directory the work dir comes from (default: the current directory)
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,
    /// Run in the source directory itself (no worktree, no copy)
    #[arg(long, conflicts_with_all = ["copy", "worktree"])]
    pub in_place: bool,
    /// Copy the source to a new work dir (git repositories come with history and uncommitted work)
    #[arg(long, conflicts_with = "worktree")]
    pub copy: bool,
    /// Make a git worktree on branch mngr/NAME (the default in a git repository on the local host)
    #[arg(long)]
    pub worktree: bool,
    /// Label the agent (repeatable)
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Set an environment variable for the agent (repeatable)
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read environment variables for the agent from a file of KEY=VALUE lines (repeatable)
    #[arg(long = "env-file", value_name = "PATH")]
    pub env_files: Vec<PathBuf>,
    /// Send this message to the agent once it started
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Attach to the agent after creating it (the default on a terminal)
    #[arg(long, conflicts_with = "no_connect")]
    pub connect: bool,
    /// Do not attach to the agent after creating it
    #[arg(long)]
    pub no_connect: bool,

    /// Build argument for a new host, passed to the provider's build step (repeatable; e.g. -b --no-cache)
    #[arg(
        short = 'b',
        long = "build-arg",
        value_name = "ARG",
        allow_hyphen_values = true,
        help_heading = "New host"
    )]
    pub build_args: Vec<String>,
    /// Start argument for a new host, passed to the provider's start step (repeatable; e.g. -s --cpus=2)
    #[arg(
        short = 's',
        long = "start-arg",
        value_name = "ARG",
        allow_hyphen_values = true,
        help_heading = "New host"
    )]
    pub start_args: Vec<String>,
    /// Tag the new host (repeatable)
    #[arg(long = "tag", value_name = "KEY=VALUE", help_heading = "New host")]
    pub tags: Vec<String>,
    /// Build the new host's image from this Dockerfile
    #[arg(long, value_name = "PATH", help_heading = "New host")]
    pub dockerfile: Option<PathBuf>,
    /// Start the new host from this snapshot
    #[arg(long, value_name = "ID", help_heading = "New host")]
    pub snapshot: Option<String>,
    /// Stop the new host after this long without activity (seconds, or 90s, 10m, 1h30m, 7d)
    #[arg(long, value_name = "DURATION", help_heading = "New host",
          value_parser = crate::duration::flag_parser(crate::duration::IDLE_TIMEOUT))]
    pub idle_timeout: Option<std::time::Duration>,
    /// What keeps the new host up: io, user, agent, ssh, create, boot, start, run or disabled
    /// (never stops); see docs/idle.md
    #[arg(
        long,
        value_name = "MODE",
        help_heading = "New host",
        conflicts_with = "activity_sources"
    )]
    pub idle_mode: Option<String>,
    /// The activity sources that keep the new host up, comma-separated: user, agent, ssh,
    /// create, start, boot, process (instead of --idle-mode)
    #[arg(long, value_name = "SOURCES", help_heading = "New host")]
    pub activity_sources: Option<String>,

    /// Values of backend-registered flags (`--gpu h100` => {"gpu": "h100"}), filled from the
    /// parsed matches by [`provider_flag_values`]. `--dockerfile` joins them as "dockerfile".
    #[arg(skip)]
    pub provider_flags: BTreeMap<String, serde_json::Value>,
    /// The parsed `create` matches, when backend flags were added (see `cli::parse_cli`).
    #[arg(skip)]
    pub raw_matches: Option<clap::ArgMatches>,
}

// Backend-registered flags: see `provider_flags` (the hooks `add_provider_flags` and
// `provider_flag_values`).
pub use super::provider_flags::{add_provider_flags, provider_flag_values};

/// The "New host" options, as the agent layer takes them.
fn new_host(args: &CreateArgs) -> Result<NewHost> {
    let mut tags = BTreeMap::new();
    for raw in &args.tags {
        let (k, v) = parse_key_value("--tag", raw)?;
        tags.insert(k, v);
    }
    Ok(NewHost {
        tags,
        build_args: args.build_args.clone(),
        start_args: args.start_args.clone(),
        dockerfile: args.dockerfile.clone(),
        snapshot: args.snapshot.clone(),
        idle_timeout: args.idle_timeout,
        activity_sources: match (&args.idle_mode, &args.activity_sources) {
            (Some(mode), _) => Some(crate::agents::idle::sources_of_mode(mode)?),
            (None, Some(list)) => Some(crate::agents::idle::parse_sources(list)?),
            (None, None) => None,
        },
        flags: args.provider_flags.clone(),
    })
}

/// The provider the address and `--in` name (at most one, or the same twice).
fn provider_name<'a>(target: &'a CreateTarget, args: &'a CreateArgs) -> Result<Option<&'a str>> {
    match (&target.provider, &args.provider) {
        (Some(a), Some(b)) if a != b => Err(MngrError::usage(format!(
            "the address names provider '{a}' but --in names '{b}'"
        ))),
        (Some(p), _) | (None, Some(p)) => Ok(Some(p)),
        (None, None) => Ok(None),
    }
}

fn user_env(args: &CreateArgs) -> Result<Vec<(String, String)>> {
    let mut vars = Vec::new();
    for path in &args.env_files {
        let text = std::fs::read_to_string(path).map_err(|e| {
            MngrError::not_found(format!("env file '{}' cannot be read: {e}", path.display()))
        })?;
        let parsed = envfile::parse(&text)
            .map_err(|e| MngrError::usage(format!("env file '{}': {e}", path.display())))?;
        vars.extend(parsed);
    }
    for raw in &args.env {
        vars.push(envfile::parse_assignment("--env", raw).map_err(MngrError::usage)?);
    }
    Ok(vars)
}

/// Defaults from `[commands.create]` in settings, for options the command line left unset.
/// Keys are the option ids: `type`, `provider` (`--in`), `connect`, `no_connect`, `in_place`,
/// `copy`, `worktree`, `from`, `labels`, `env`, `env_files`.
fn apply_settings_defaults(args: &mut CreateArgs, settings: &Settings) -> Result<()> {
    let get = |option: &str| settings.command_default("create", option);
    let text = |option: &str| -> Result<Option<String>> {
        match get(option) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            // As settings load accepts it: a number stands for its text.
            Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(MngrError::settings(format!(
                "commands.create.{option} must be a string, got {other}"
            ))),
        }
    };
    let flag = |option: &str| -> Result<Option<bool>> {
        match get(option) {
            None => Ok(None),
            Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(MngrError::settings(format!(
                "commands.create.{option} must be true or false, got {other}"
            ))),
        }
    };
    let list = |option: &str| -> Result<Vec<String>> {
        match get(option) {
            None => Ok(Vec::new()),
            Some(serde_json::Value::String(s)) => Ok(vec![s.clone()]),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        MngrError::settings(format!(
                            "commands.create.{option} must be a list of strings"
                        ))
                    })
                })
                .collect(),
            Some(other) => Err(MngrError::settings(format!(
                "commands.create.{option} must be a list of strings, got {other}"
            ))),
        }
    };
    if args.type_flag.is_none() && args.agent_type.is_none() {
        args.type_flag = text("type")?;
    }
    if args.provider.is_none() {
        args.provider = text("provider")?;
    }
    if !args.connect && !args.no_connect {
        match (flag("connect")?, flag("no_connect")?) {
            (Some(false), _) | (_, Some(true)) => args.no_connect = true,
            (Some(true), _) => args.connect = true,
            _ => {}
        }
    }
    if !args.in_place && !args.copy && !args.worktree {
        args.in_place = flag("in_place")?.unwrap_or(false);
        args.copy = !args.in_place && flag("copy")?.unwrap_or(false);
        args.worktree = !args.in_place && !args.copy && flag("worktree")?.unwrap_or(false);
    }
    if args.from.is_none() {
        args.from = text("from")?.map(|p| crate::paths::expand_tilde(&p));
    }
    let mut labels = list("labels")?;
    labels.append(&mut args.labels);
    args.labels = labels;
    let mut env = list("env")?;
    env.append(&mut args.env);
    args.env = env;
    let mut files: Vec<PathBuf> = list("env_files")?
        .iter()
        .map(|p| crate::paths::expand_tilde(p))
        .collect();
    files.append(&mut args.env_files);
    args.env_files = files;
    Ok(())
}

pub fn run(global: &RunOptions, mut args: CreateArgs) -> Result<()> {
    let format = OutputFormat::parse(&global.format);
    format.reject_template("create")?;
    let app = super::load(global)?;
    apply_settings_defaults(&mut args, &app.settings)?;
    let mut target = match &args.address {
        Some(raw) => CreateTarget::parse(raw)?,
        None => CreateTarget::default(),
    };
    if let Some(name) = &args.name {
        if target.name.is_some() {
            return Err(MngrError::usage(
                "give the name either as the address or with --name, not both",
            ));
        }
        target.name = Some(
            mngr_plugin_api::validate_new_agent_name(name)
                .map_err(|e| MngrError::usage(e.to_string()))?,
        );
    }
    let type_name = match (&args.type_flag, &args.agent_type) {
        (Some(a), Some(b)) if a != b => {
            return Err(MngrError::usage(format!(
                "agent type given twice: '{b}' and --type '{a}'"
            )));
        }
        (Some(t), _) | (None, Some(t)) => Some(t.as_str()),
        (None, None) => None,
    };
    let mut labels = BTreeMap::new();
    for raw in &args.labels {
        let (k, v) = parse_key_value("--label", raw)?;
        labels.insert(k, v);
    }
    let env = user_env(&args)?;
    let mode = if args.in_place {
        Some(Mode::InPlace)
    } else if args.copy {
        Some(Mode::Copy)
    } else if args.worktree {
        Some(Mode::Worktree)
    } else {
        None
    };
    let source_path = match &args.from {
        Some(p) => p.clone(),
        None => std::env::current_dir()?,
    };
    let source = workdir::inspect(&source_path)?;

    if let (Some(matches), None) = (&args.raw_matches, &target.host) {
        let provider = target
            .provider
            .clone()
            .or_else(|| args.provider.clone())
            .unwrap_or_else(|| "local".to_string());
        let backend = app.provider(&provider)?.backend.clone();
        let values = provider_flag_values(matches, &app.registry, &backend)?;
        args.provider_flags.extend(values);
    }
    let agent_type = types::resolve(
        type_name,
        &app.settings,
        args.command.as_deref(),
        &args.agent_args,
    )?;
    let name_for_host = target
        .name
        .clone()
        .unwrap_or_else(|| names::generate(&|_| false));
    let request = CreateRequest {
        name: target.name.clone(),
        agent_type,
        labels,
        env,
        source,
        mode,
        initial_message: args.message.clone(),
        prefix: app.settings.prefix.clone(),
    };
    let Created { host, record } = placement::place_and_create(
        app.provider_set(),
        Placement {
            host: target.host.as_deref(),
            provider: provider_name(&target, &args)?,
            new_host: &new_host(&args)?,
            new_host_name: &name_for_host,
        },
        request,
    )?;
    let address = host.address_of(&record.name);
    let result = serde_json::json!({
        "agent_id": record.id,
        "agent_name": record.name,
        "address": address,
        "host_id": host.record.id,
        "host_name": host.record.name,
        "provider": host.provider,
        "work_dir": record.work_dir,
        "branch": record.created_branch_name,
    });
    match &format {
        OutputFormat::Json => print_json(&result),
        OutputFormat::Jsonl => {
            let mut event = result.clone();
            event["event"] = "created".into();
            print_jsonl(&event);
        }
        _ => {
            if !global.quiet {
                println!("Created agent: {address} ({})", record.id);
            }
        }
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let connect = args.connect || (!args.no_connect && interactive && !global.headless);
    if connect && format == OutputFormat::Human {
        let session = session_name(&app.settings.prefix, &record.name);
        super::interact::attach(&host, &session)?;
    }
    Ok(())
}
