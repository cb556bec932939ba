//! Talking to agents: connect (attach), exec (run a command in the work dir), message (type
//! into the pane) and capture (print the pane).

use super::{print_json, print_jsonl, read_targets, resolve};
use crate::agents::discovery::AgentView;
use crate::agents::host::Host;
use crate::agents::lifecycle::{self, session_name};
use crate::error::{ExitCode, MngrError, Result};
use crate::output::{OutputFormat, render_template};
use crate::run_options::RunOptions;
use crate::shell::quote;
use clap::Args;
use std::io::{IsTerminal, Read};
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The agent: NAME[@HOST[.PROVIDER]] or its id
    pub agent: String,
    /// Do not start a stopped agent; fail instead
    #[arg(long)]
    pub no_start: bool,
}

/// Attach the terminal to a session (switch to it when already inside tmux locally).
pub fn attach(host: &Host, session: &str) -> Result<()> {
    let target = quote(&format!("={session}"));
    let touch = lifecycle::user_activity_script(host);
    let script = if host.transport.is_local() && std::env::var_os("TMUX").is_some() {
        format!("{touch}tmux switch-client -t {target}")
    } else {
        format!("{touch}exec tmux attach-session -t {target}")
    };
    let code = host
        .transport
        .run_interactive(&script)
        .map_err(|e| crate::agents::host::transport_error(&host.provider, host.name(), e))?;
    if code == 0 {
        Ok(())
    } else {
        Err(MngrError::failure(format!(
            "tmux attach to '{session}' on host '{}' ended with exit code {code}",
            host.name()
        )))
    }
}

pub fn connect(global: &RunOptions, args: ConnectArgs) -> Result<()> {
    let app = super::load(global)?;
    let (found, idx) = resolve(&app, std::slice::from_ref(&args.agent))?;
    let agent = &found.agents[idx[0]];
    agent.host.require_reachable()?;
    let session = session_name(&app.settings.prefix, &agent.record.name);
    if agent.pane_pid.is_some() {
        return attach(agent.host.require_online()?, &session);
    }
    if args.no_start {
        return Err(
            MngrError::not_running(format!("agent '{}' is stopped", agent.record.name))
                .with_hint(format!("start it: mngr start {}", agent.record.name)),
        );
    }
    // Start what is stopped: the host (where its provider can), then the agent.
    let reopened;
    let host = match &agent.host.online {
        Some(host) => host,
        None => {
            let provider = app.provider(&agent.host.provider)?;
            let record =
                crate::agents::placement::ensure_running(provider, agent.host.record.clone())?;
            reopened = Host::open(provider, record)?;
            &reopened
        }
    };
    {
        let _lock = host.lock()?;
        lifecycle::start_session(host, &agent.record, &session)?;
    }
    attach(host, &session)
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mngr exec fixer 'git status'
  mngr list --ids | mngr exec - 'cargo test'")]
pub struct ExecArgs {
    /// Agents (NAME[@HOST[.PROVIDER]], ids, or '-' to read them from stdin), then the command
    #[arg(required = true, num_args = 1.., value_name = "AGENTS... COMMAND")]
    pub args: Vec<String>,
    /// More agents (repeatable)
    #[arg(long = "agent", value_name = "AGENT")]
    pub agents: Vec<String>,
    /// Run in this directory instead of the agent's work dir
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Give up on a command after this long (seconds, or 90s, 10m, 1h30m; at most 7d)
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::flag_parser(crate::duration::EXEC_TIMEOUT))]
    pub timeout: Option<Duration>,
    /// Fail on an agent whose host is stopped instead of starting the host
    #[arg(long)]
    pub no_start: bool,
}

pub fn exec(global: &RunOptions, args: ExecArgs) -> Result<()> {
    let format = OutputFormat::parse(&global.format);
    let (command, positional) = args.args.split_last().expect("required");
    let targets = read_targets(positional, &args.agents)?;
    if targets.is_empty() {
        if positional.iter().any(|p| p == "-") {
            return Ok(());
        }
        return Err(
            MngrError::usage("name at least one agent, then the command")
                .with_hint("mngr exec AGENT 'COMMAND'"),
        );
    }
    let app = super::load(global)?;
    let (found, idx) = resolve(&app, &targets)?;
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for &i in &idx {
        let agent = &found.agents[i];
        let outcome = (|| {
            agent.host.require_reachable()?;
            // A stopped host is started first (where its provider can), unless --no-start.
            let reopened;
            let host = match (&agent.host.online, args.no_start) {
                (Some(host), _) => host,
                (None, true) => agent.host.require_online()?,
                (None, false) => {
                    let provider = app.provider(&agent.host.provider)?;
                    let record = crate::agents::placement::ensure_running(
                        provider,
                        agent.host.record.clone(),
                    )?;
                    reopened = Host::open(provider, record)?;
                    &reopened
                }
            };
            let cwd = quote(args.cwd.as_deref().unwrap_or(&agent.record.work_dir));
            let script = format!(
                "cd {cwd} || exit 1\n{}\n{command}",
                lifecycle::env_prefix(host, agent.record.id.as_str())
            );
            match args.timeout {
                Some(t) => host.run_timeout(&script, t),
                None => host.run(&script),
            }
        })();
        match outcome {
            Ok(out) => results.push((agent, out)),
            Err(e) => failures.push((agent, e)),
        }
    }
    let many = idx.len() > 1;
    match &format {
        OutputFormat::Human => {
            for (agent, out) in &results {
                if many {
                    println!("--- {} ---", agent.record.name);
                }
                print!("{}", out.stdout);
                eprint!("{}", out.stderr);
                if !out.success() && !global.quiet {
                    eprintln!(
                        "Command failed on agent {} (exit code {})",
                        agent.record.name, out.exit_code
                    );
                }
            }
            for (agent, e) in &failures {
                let about_agent = MngrError {
                    message: format!("agent {}: {}", agent.record.name, e.message),
                    ..e.clone()
                };
                crate::cli::report_error(&about_agent, global.verbose > 0);
            }
        }
        OutputFormat::Json => {
            let items: Vec<_> = results.iter().map(|(a, o)| result_json(a, o)).collect();
            let failed: Vec<_> = failures
                .iter()
                .map(|(a, e)| exec_error_json(a, e))
                .collect();
            let total_failed = failed.len() + results.iter().filter(|(_, o)| !o.success()).count();
            print_json(&serde_json::json!({
                "results": items,
                "failed_agents": failed,
                "total_executed": results.len(),
                "total_failed": total_failed,
            }));
        }
        OutputFormat::Jsonl => {
            for (a, o) in &results {
                let mut v = result_json(a, o);
                v["event"] = "exec_result".into();
                print_jsonl(&v);
            }
            for (a, e) in &failures {
                let mut v = exec_error_json(a, e);
                v["event"] = "exec_error".into();
                print_jsonl(&v);
            }
        }
        OutputFormat::Template(t) => {
            for (a, o) in &results {
                let mut v = result_json(a, o);
                v["success"] = o.success().to_string().into();
                println!("{}", render_template(t, &v));
            }
        }
    }
    if let Some((_, e)) = failures.into_iter().next() {
        return Err(MngrError::new(e.code, String::new()));
    }
    if results.iter().any(|(_, o)| !o.success()) {
        return Err(MngrError::new(ExitCode::Failure, String::new()));
    }
    Ok(())
}

/// An agent exec could not run the command on: the error, with the provider's details.
fn exec_error_json(agent: &AgentView, e: &MngrError) -> serde_json::Value {
    serde_json::json!({
        "agent": agent.record.name,
        "error": e.message,
        "details": e.details,
        "retryable": e.retryable,
    })
}

fn result_json(agent: &AgentView, out: &crate::transport::CommandOutput) -> serde_json::Value {
    serde_json::json!({
        "agent": agent.record.name,
        "stdout": out.stdout,
        "stderr": out.stderr,
        "success": out.success(),
        "exit_code": out.exit_code,
    })
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mngr message fixer -m 'run the tests again'
  echo 'status?' | mngr message fixer helper")]
pub struct MessageArgs {
    /// Agents (NAME[@HOST[.PROVIDER]], ids, or '-' to read them from stdin)
    pub agents: Vec<String>,
    /// More agents (repeatable)
    #[arg(long = "agent", value_name = "AGENT")]
    pub more: Vec<String>,
    /// The message (else --message-file, else stdin)
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Read the message from this file
    #[arg(long, value_name = "PATH", conflicts_with = "message")]
    pub message_file: Option<std::path::PathBuf>,
}

pub fn message(global: &RunOptions, args: MessageArgs) -> Result<()> {
    let format = OutputFormat::parse(&global.format);
    format.reject_template("message")?;
    let agents_from_stdin = args.agents.iter().any(|a| a == "-");
    let text = match (&args.message, &args.message_file) {
        (Some(m), _) => m.clone(),
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            MngrError::not_found(format!(
                "message file '{}' cannot be read: {e}",
                path.display()
            ))
        })?,
        (None, None) => {
            if agents_from_stdin || std::io::stdin().is_terminal() {
                return Err(MngrError::usage("no message given")
                    .with_hint("use -m TEXT or --message-file PATH, or pipe the message in"));
            }
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            text.trim_end_matches('\n').to_string()
        }
    };
    if text.is_empty() {
        return Err(MngrError::usage("the message is empty"));
    }
    let targets = read_targets(&args.agents, &args.more)?;
    if targets.is_empty() {
        if agents_from_stdin {
            return Ok(());
        }
        return Err(
            MngrError::usage("name at least one agent").with_hint("mngr message AGENT -m TEXT")
        );
    }
    let app = super::load(global)?;
    let (found, idx) = resolve(&app, &targets)?;
    let mut sent = Vec::new();
    let mut failed: Vec<(&AgentView, MngrError)> = Vec::new();
    for &i in &idx {
        let agent = &found.agents[i];
        let outcome = (|| {
            agent.host.require_reachable()?;
            if !agent.state.is_running() {
                return Err(MngrError::not_running(format!(
                    "agent '{}' is not running (state {})",
                    agent.record.name,
                    agent.state.as_str()
                ))
                .with_hint(format!("start it first: mngr start {}", agent.record.name)));
            }
            let host = agent.host.require_online()?;
            lifecycle::send_message(
                host,
                &session_name(&app.settings.prefix, &agent.record.name),
                &text,
            )
        })();
        match outcome {
            Ok(()) => sent.push(agent),
            Err(e) => failed.push((agent, e)),
        }
    }
    match &format {
        OutputFormat::Json | OutputFormat::Jsonl => {
            let ok: Vec<&str> = sent.iter().map(|a| a.record.name.as_str()).collect();
            let bad: Vec<_> = failed.iter().map(|(a, e)| exec_error_json(a, e)).collect();
            if format == OutputFormat::Json {
                print_json(&serde_json::json!({
                    "successful_agents": ok,
                    "failed_agents": bad,
                    "total_sent": ok.len(),
                    "total_failed": bad.len(),
                }));
            } else {
                for a in &ok {
                    print_jsonl(&serde_json::json!({"event": "message_sent", "agent": a}));
                }
                for b in &bad {
                    let mut b = b.clone();
                    b["event"] = "message_error".into();
                    print_jsonl(&b);
                }
            }
        }
        _ => {
            if !global.quiet {
                for a in &sent {
                    println!("Message sent to: {}", a.record.name);
                }
            }
        }
    }
    match failed.len() {
        0 => Ok(()),
        1 if idx.len() == 1 => Err(failed.pop().expect("one").1),
        _ => {
            let code = failed[0].1.code;
            for (_, e) in &failed {
                crate::cli::report_error(e, global.verbose > 0);
            }
            Err(MngrError::new(code, String::new()))
        }
    }
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The agent: NAME[@HOST[.PROVIDER]] or its id
    pub agent: String,
    /// Include the scrollback, not only the visible screen
    #[arg(long)]
    pub full: bool,
}

pub fn capture(global: &RunOptions, args: CaptureArgs) -> Result<()> {
    let format = OutputFormat::parse(&global.format);
    format.reject_template("capture")?;
    let app = super::load(global)?;
    let (found, idx) = resolve(&app, std::slice::from_ref(&args.agent))?;
    let agent = &found.agents[idx[0]];
    agent.host.require_reachable()?;
    if agent.pane_pid.is_none() {
        return Err(MngrError::not_running(format!(
            "agent '{}' is not running (state {}), so it has no pane to capture",
            agent.record.name,
            agent.state.as_str()
        ))
        .with_hint(format!("start it first: mngr start {}", agent.record.name)));
    }
    let host = agent.host.require_online()?;
    let window = quote(&format!(
        "={}:agent",
        session_name(&app.settings.prefix, &agent.record.name)
    ));
    let scroll = if args.full { " -S -" } else { "" };
    let out = host.run_ok(
        &format!("tmux capture-pane -p{scroll} -t {window}"),
        "capturing the pane",
    )?;
    let content = out.trim_end_matches('\n').to_string();
    match format {
        OutputFormat::Json => {
            print_json(&serde_json::json!({"agent": agent.record.name, "content": content}))
        }
        OutputFormat::Jsonl => print_jsonl(
            &serde_json::json!({"event": "capture", "agent": agent.record.name, "content": content}),
        ),
        _ => println!("{content}"),
    }
    Ok(())
}
