//! `mngr rsync SRC DST` and `mngr git push|pull AGENT [BRANCH]`: parse the sides, resolve the
//! agent, print what moved. The work is in `agents::sync` and `agents::git_sync`.

use super::resolve;
use crate::agents::git_sync::{self, Direction, GitMove};
use crate::agents::sync::{self, Change, RsyncPlan, Side};
use crate::error::{MngrError, Result};
use crate::output::{OutputFormat, print_one};
use crate::run_options::RunOptions;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
#[command(after_help = "\
A side is a path on this machine or AGENT:PATH, a path on the agent's host: relative to the
agent's work dir (AGENT: alone is the whole work dir), or absolute. Exactly one side names an
agent. Write a local path with a ':' before its first '/' as ./PATH. A trailing '/' on SRC
copies its contents, as with rsync. The .git directory is never copied (use mngr git).

Runs the system rsync (needed here and on the host) with the host's pinned SSH key: a host
whose key changed is refused. Agents on the local provider are copied by path.

Examples:
  mngr rsync ./data/ fixer:data/              # a directory's contents into the agent's work dir
  mngr rsync fixer:out/report.pdf .           # one file back here
  mngr rsync fixer: ./snapshot/ --delete      # mirror the work dir (removes extra files here)
  mngr rsync src/ fixer:src/ --exclude '*.o' --dry-run   # show what would change")]
pub struct RsyncArgs {
    /// What to copy: PATH or AGENT:PATH
    #[arg(value_name = "SRC")]
    pub source: String,
    /// Where to copy it: PATH or AGENT:PATH
    #[arg(value_name = "DST")]
    pub dest: String,
    /// Copy paths matching this rsync pattern even if an --exclude matches (repeatable)
    #[arg(long, value_name = "PATTERN")]
    pub include: Vec<String>,
    /// Skip paths matching this rsync pattern (repeatable), e.g. '*.log' or 'target/'
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Show what would change and change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Remove files in DST that SRC does not have (excluded files are kept)
    #[arg(long)]
    pub delete: bool,
}

#[derive(Debug, Subcommand)]
pub enum GitCommand {
    /// Push a branch of the repository here to the agent's work dir
    #[command(after_help = "\
BRANCH defaults to the current branch here. If the agent has BRANCH checked out, its files are
updated too (refused while its work tree has uncommitted changes). A branch that has diverged
is refused unless --force replaces it.

Examples:
  mngr git push fixer                 # the current branch
  mngr git push fixer feature/login --force")]
    Push(GitArgs),
    /// Pull a branch of the agent's work dir into the repository here
    #[command(after_help = "\
BRANCH defaults to the branch the agent has checked out. The branch of the same name here moves
forward to it (merged fast-forward only when it is checked out here); a branch that has
diverged is refused unless --force replaces it (keeping uncommitted changes that do not
conflict).

Examples:
  mngr git pull fixer                 # the agent's current branch
  mngr git pull fixer mngr/fixer")]
    Pull(GitArgs),
}

#[derive(Debug, Args)]
pub struct GitArgs {
    /// The agent: NAME[@HOST[.PROVIDER]] or its id
    pub agent: String,
    /// The branch to move (same name on both sides)
    pub branch: Option<String>,
    /// Replace the branch on the receiving side even when it is not a fast-forward
    #[arg(long)]
    pub force: bool,
}

/// `PATH` or `AGENT:PATH` as the user wrote it.
#[derive(Debug, PartialEq, Eq)]
enum Endpoint {
    Here(String),
    Agent { agent: String, path: String },
}

/// An `AGENT:` prefix is a colon before any `/` (as rsync's own host prefix).
fn parse_endpoint(raw: &str) -> Endpoint {
    match raw.split_once(':') {
        Some((agent, path)) if !agent.is_empty() && !agent.contains('/') => Endpoint::Agent {
            agent: agent.to_string(),
            path: path.to_string(),
        },
        _ => Endpoint::Here(raw.to_string()),
    }
}

pub fn rsync(global: &RunOptions, args: RsyncArgs) -> Result<()> {
    let (source, dest) = (parse_endpoint(&args.source), parse_endpoint(&args.dest));
    let (agent, path, local, pull) = match (&source, &dest) {
        (Endpoint::Agent { agent, path }, Endpoint::Here(local)) => (agent, path, local, true),
        (Endpoint::Here(local), Endpoint::Agent { agent, path }) => (agent, path, local, false),
        (Endpoint::Here(_), Endpoint::Here(_)) => {
            return Err(MngrError::usage(format!(
                "neither '{}' nor '{}' names an agent",
                args.source, args.dest
            ))
            .with_hint("write one side as AGENT:PATH (AGENT: alone is its work dir)"));
        }
        (Endpoint::Agent { .. }, Endpoint::Agent { .. }) => {
            return Err(MngrError::usage(format!(
                "both '{}' and '{}' name agents: one side must be on this machine",
                args.source, args.dest
            ))
            .with_hint("copy through this machine in two steps"));
        }
    };
    let app = super::load(global)?;
    let (found, idx) = resolve(&app, std::slice::from_ref(agent))?;
    let view = &found.agents[idx[0]];
    let host = view.host.require_online()?;
    let on_host = Side::OnHost(sync::agent_path(&view.record.work_dir, path));
    let here = Side::Here(local.clone());
    let (source_side, dest_side) = if pull {
        (on_host, here)
    } else {
        (here, on_host)
    };
    let plan = RsyncPlan {
        source: source_side,
        dest: dest_side,
        includes: args.include,
        excludes: args.exclude,
        dry_run: args.dry_run,
        delete: args.delete,
    };
    let changes = sync::rsync(host, &plan)?;
    if global.quiet {
        return Ok(());
    }
    let item = serde_json::json!({
        "agent": view.record.name.as_str(),
        "source": args.source,
        "destination": args.dest,
        "dry_run": args.dry_run,
        "changes": changes.iter().map(change_json).collect::<Vec<_>>(),
    });
    print_one(&OutputFormat::parse(&global.format), &item, || {
        for change in &changes {
            println!("{:<10} {}", change.kind, change.path);
        }
        let count = match changes.len() {
            1 => "1 change".to_string(),
            n => format!("{n} changes"),
        };
        if args.dry_run {
            println!("Dry run: {count}, nothing copied");
        } else {
            println!("Copied {} to {} ({count})", args.source, args.dest);
        }
    });
    Ok(())
}

fn change_json(change: &Change) -> serde_json::Value {
    serde_json::json!({ "change": change.kind, "path": change.path })
}

pub fn git(global: &RunOptions, command: GitCommand) -> Result<()> {
    let (direction, args) = match command {
        GitCommand::Push(args) => (Direction::Push, args),
        GitCommand::Pull(args) => (Direction::Pull, args),
    };
    let cwd = std::env::current_dir()?;
    let root = git_sync::repository_root(&cwd)?;
    let app = super::load(global)?;
    let (found, idx) = resolve(&app, std::slice::from_ref(&args.agent))?;
    let view = &found.agents[idx[0]];
    let host = view.host.require_online()?;
    let name = view.record.name.as_str();
    let moved = git_sync::move_commits(
        host,
        name,
        &view.record.work_dir,
        &root,
        direction,
        args.branch.as_deref(),
        args.force,
    )?;
    if global.quiet {
        return Ok(());
    }
    let item = git_json(name, direction, &moved);
    print_one(&OutputFormat::parse(&global.format), &item, || {
        let short = |c: &str| c.chars().take(7).collect::<String>();
        let (verb, preposition) = match direction {
            Direction::Push => ("Pushed", "to"),
            Direction::Pull => ("Pulled", "from"),
        };
        match &moved.before {
            Some(before) if *before == moved.after => println!(
                "Branch '{}' is already up to date with {name} ({})",
                moved.branch,
                short(&moved.after)
            ),
            Some(before) => println!(
                "{verb} branch '{}' {preposition} {name} ({}..{})",
                moved.branch,
                short(before),
                short(&moved.after)
            ),
            None => println!(
                "{verb} new branch '{}' {preposition} {name} ({})",
                moved.branch,
                short(&moved.after)
            ),
        }
    });
    Ok(())
}

fn git_json(agent: &str, direction: Direction, moved: &GitMove) -> serde_json::Value {
    serde_json::json!({
        "agent": agent,
        "direction": match direction { Direction::Push => "push", Direction::Pull => "pull" },
        "branch": moved.branch,
        "before": moved.before,
        "after": moved.after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_side_is_a_colon_before_any_slash() {
        let agent = |a: &str, p: &str| Endpoint::Agent {
            agent: a.into(),
            path: p.into(),
        };
        assert_eq!(parse_endpoint("fixer:src/"), agent("fixer", "src/"));
        assert_eq!(
            parse_endpoint("fixer@box.docker:"),
            agent("fixer@box.docker", "")
        );
        assert_eq!(parse_endpoint("fixer:/etc/x"), agent("fixer", "/etc/x"));
        assert_eq!(parse_endpoint("./a:b"), Endpoint::Here("./a:b".into()));
        assert_eq!(parse_endpoint("/tmp/x"), Endpoint::Here("/tmp/x".into()));
        assert_eq!(parse_endpoint(":x"), Endpoint::Here(":x".into()));
    }
}
