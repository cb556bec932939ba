//! `mngr forward AGENT [LOCAL_PORT:]REMOTE_PORT... [--reverse [REMOTE_PORT:]LOCAL_PORT]...`:
//! parse the forwards, print one line per forward once they listen.

use super::resolve;
use crate::error::{MngrError, Result};
use crate::output::{OutputFormat, print_items, render_template};
use crate::run_options::RunOptions;
use crate::transport::forward::{ActiveForward, Direction, ForwardSpec, TARGET_HOST};
use clap::Args;

#[derive(Debug, Args)]
#[command(after_help = "\
Runs until Ctrl-C (exit 130) or SIGTERM (exit 143), through mngr's own SSH connection to the
host (its pinned host key; no system ssh). Agents on the local provider need no forwarding.

Examples:
  mngr forward fixer 8080:80            # http://127.0.0.1:8080 reaches port 80 on fixer's host
  mngr forward fixer 3000 5432          # two ports, the same numbers on both sides
  mngr forward fixer 0:80               # any free local port (printed)
  mngr forward fixer --reverse 9000     # port 9000 on the host reaches port 9000 here")]
pub struct ForwardArgs {
    /// The agent: NAME[@HOST[.PROVIDER]] or its id
    pub agent: String,
    /// Ports of the agent's host to reach from this machine (LOCAL_PORT 0: any free port)
    #[arg(value_name = "[LOCAL_PORT:]REMOTE_PORT", value_parser = local_forward)]
    pub ports: Vec<ForwardSpec>,
    /// A port on the agent's host that reaches a port on this machine (repeatable)
    #[arg(long, value_name = "[REMOTE_PORT:]LOCAL_PORT", value_parser = reverse_forward)]
    pub reverse: Vec<ForwardSpec>,
    /// The address to listen on: on this machine, and on the host for --reverse
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub bind: String,
}

fn local_forward(raw: &str) -> std::result::Result<ForwardSpec, String> {
    ForwardSpec::parse(Direction::Local, raw)
}

fn reverse_forward(raw: &str) -> std::result::Result<ForwardSpec, String> {
    ForwardSpec::parse(Direction::Reverse, raw)
}

pub fn run(global: &RunOptions, args: ForwardArgs) -> Result<()> {
    let format = OutputFormat::parse(&global.format);
    let specs: Vec<ForwardSpec> = args.ports.iter().chain(&args.reverse).copied().collect();
    if specs.is_empty() {
        return Err(MngrError::usage("name at least one port to forward")
            .with_hint("mngr forward AGENT [LOCAL_PORT:]REMOTE_PORT, or --reverse [REMOTE_PORT:]LOCAL_PORT"));
    }
    let app = super::load(global)?;
    let (found, idx) = resolve(&app, std::slice::from_ref(&args.agent))?;
    let agent = &found.agents[idx[0]];
    let host = agent.host.require_online()?;
    let name = agent.record.name.as_str();
    let quiet = global.quiet;
    let mut ready = |active: &[ActiveForward]| {
        if quiet {
            return;
        }
        let items: Vec<_> = active.iter().map(|f| forward_json(name, f)).collect();
        match &format {
            OutputFormat::Template(t) => {
                for item in &items {
                    println!("{}", render_template(t, item));
                }
            }
            _ => print_items(&format, "forwards", &items, |items| {
                for item in items {
                    let text = |key: &str| item[key].as_str().unwrap_or_default().to_string();
                    println!("Forwarding {} -> {}", text("listen"), text("target"));
                }
            }),
        }
    };
    crate::agents::forward::forward(host, name, &args.bind, &specs, &mut ready)
}

/// One forward as json prints it; `listen` and `target` are what the human line shows.
fn forward_json(agent: &str, forward: &ActiveForward) -> serde_json::Value {
    let (direction, listen, target) = match forward.direction {
        Direction::Local => (
            "local",
            socket_text(&forward.bind, forward.listen_port),
            format!("{agent}:{}", forward.target_port),
        ),
        Direction::Reverse => (
            "reverse",
            format!("{agent}:{}", forward.listen_port),
            format!("{TARGET_HOST}:{}", forward.target_port),
        ),
    };
    serde_json::json!({
        "agent": agent,
        "direction": direction,
        "bind": forward.bind,
        "listen_port": forward.listen_port,
        "target_port": forward.target_port,
        "listen": listen,
        "target": target,
    })
}

/// `ADDR:PORT`, with an IPv6 address in brackets (`[::1]:8080`).
fn socket_text(address: &str, port: u16) -> String {
    if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}
