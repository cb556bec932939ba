//! `mngr git push` / `mngr git pull`: commits between the repository here and an agent's work
//! dir, by git itself over the pinned system `ssh` of the host's transport (`GIT_SSH_COMMAND`;
//! no trust on first use), or by path on this machine. Branches move only forward unless
//! forced.

use super::host::Host;
use crate::error::{MngrError, Result};
use crate::shell::quote;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Which way commits go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the repository here to the agent's work dir.
    Push,
    /// From the agent's work dir to the repository here.
    Pull,
}

/// What a push or pull did: the branch and its commit before and after, on the receiving side.
#[derive(Debug, Clone)]
pub struct GitMove {
    pub branch: String,
    pub before: Option<String>,
    pub after: String,
}

/// The agent's work dir as git reaches it: a URL and, over SSH, the ssh command.
struct Remote {
    url: String,
    ssh_command: Option<String>,
}

/// The repository `cwd` is in, or a clear error.
pub fn repository_root(cwd: &Path) -> Result<PathBuf> {
    let out = git_here(cwd, &["rev-parse", "--show-toplevel"], None)?;
    if !out.status.success() {
        return Err(
            MngrError::not_found(format!("{} is not in a git repository", cwd.display()))
                .with_hint("run mngr git from inside the repository to push from or pull into"),
        );
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Move `branch` (default: the sending side's current branch) between `root` and the work dir
/// of `agent` on `host`.
pub fn move_commits(
    host: &Host,
    agent: &str,
    work_dir: &str,
    root: &Path,
    direction: Direction,
    branch: Option<&str>,
    force: bool,
) -> Result<GitMove> {
    let on_agent = format!("the work dir of agent '{agent}'");
    let probe = host.run(&format!(
        "cd {} && git rev-parse --git-dir >/dev/null && git symbolic-ref -q --short HEAD",
        quote(work_dir)
    ))?;
    if probe.exit_code != 0 && probe.exit_code != 1 {
        return Err(MngrError::not_found(format!(
            "{on_agent} ({work_dir}) is not a git repository"
        ))
        .with_hint("use mngr rsync to copy its files"));
    }
    let agent_branch = Some(probe.stdout.trim().to_string()).filter(|b| !b.is_empty());
    let here_branch = current_branch(root)?;
    let remote = remote_of(host, work_dir)?;
    let (sending_branch, what) = match direction {
        Direction::Push => (here_branch.clone(), "this repository"),
        Direction::Pull => (agent_branch.clone(), on_agent.as_str()),
    };
    let branch = match branch.map(str::to_string).or(sending_branch) {
        Some(branch) => branch,
        None => {
            return Err(MngrError::usage(format!(
                "{what} is not on a branch (detached HEAD): name the branch to move"
            ))
            .with_hint("mngr git push|pull AGENT BRANCH"));
        }
    };
    let refspec = |force: bool| {
        format!(
            "{}refs/heads/{branch}:refs/heads/{branch}",
            if force { "+" } else { "" }
        )
    };
    match direction {
        Direction::Push => {
            // A push to the branch the agent has checked out updates its files too, and is
            // refused (by git) when that work tree has uncommitted changes.
            host.run_ok(
                &format!(
                    "git -C {} config receive.denyCurrentBranch updateInstead",
                    quote(work_dir)
                ),
                "preparing the agent's repository for a push",
            )?;
            let before = host
                .run(&format!(
                    "git -C {} rev-parse -q --verify refs/heads/{}",
                    quote(work_dir),
                    quote(&branch)
                ))?
                .stdout
                .trim()
                .to_string();
            let after =
                rev_parse(root, &branch)?.ok_or_else(|| no_branch(&branch, "this repository"))?;
            let args = ["push", "-q", &remote.url, &refspec(force)];
            git_ok(root, &args, &remote, &branch, direction)?;
            Ok(GitMove {
                branch,
                before: Some(before).filter(|b| !b.is_empty()),
                after,
            })
        }
        Direction::Pull => {
            let before = rev_parse(root, &branch)?;
            if here_branch.as_deref() == Some(branch.as_str()) {
                // The checked-out branch: its files change too, so git merges (forward only)
                // or, forced, resets keeping uncommitted changes that do not conflict.
                let fetch = ["fetch", "-q", &remote.url, &format!("refs/heads/{branch}")];
                git_ok(root, &fetch, &remote, &branch, direction)?;
                let update: &[&str] = if force {
                    &["reset", "-q", "--keep", "FETCH_HEAD"]
                } else {
                    &["merge", "-q", "--ff-only", "FETCH_HEAD"]
                };
                git_ok(root, update, &remote, &branch, direction)?;
            } else {
                let args = ["fetch", "-q", &remote.url, &refspec(force)];
                git_ok(root, &args, &remote, &branch, direction)?;
            }
            let after = rev_parse(root, &branch)?.unwrap_or_default();
            Ok(GitMove {
                branch,
                before,
                after,
            })
        }
    }
}

fn no_branch(branch: &str, what: &str) -> MngrError {
    MngrError::not_found(format!("{what} has no branch '{branch}'"))
        .with_hint("name a branch it has: mngr git push|pull AGENT BRANCH")
}

fn remote_of(host: &Host, work_dir: &str) -> Result<Remote> {
    let ssh = host
        .transport
        .system_ssh()
        .map_err(|e| MngrError::failure(format!("host '{}': {e}", host.name())))?;
    Ok(match ssh {
        Some(ssh) => Remote {
            url: ssh.git_url(work_dir),
            ssh_command: Some(ssh.git_ssh_command()),
        },
        None => Remote {
            url: work_dir.to_string(),
            ssh_command: None,
        },
    })
}

fn current_branch(root: &Path) -> Result<Option<String>> {
    let out = git_here(root, &["symbolic-ref", "-q", "--short", "HEAD"], None)?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(Some(name).filter(|n| out.status.success() && !n.is_empty()))
}

fn rev_parse(root: &Path, branch: &str) -> Result<Option<String>> {
    let full = format!("refs/heads/{branch}");
    let out = git_here(root, &["rev-parse", "-q", "--verify", &full], None)?;
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(Some(commit).filter(|c| out.status.success() && !c.is_empty()))
}

/// Run git here, through the pinned ssh when the remote needs it; never prompting.
fn git_here(dir: &Path, args: &[&str], ssh_command: Option<&str>) -> Result<std::process::Output> {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0");
    if let Some(ssh) = ssh_command {
        command.env("GIT_SSH_COMMAND", ssh);
    }
    command.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            MngrError::missing_tool("git is not installed on this machine")
                .with_hint("install git (for example: apt-get install git)")
        }
        _ => MngrError::failure(format!("running git: {e}")),
    })
}

/// Run a git command that must succeed; a refusal becomes one line saying what to do.
fn git_ok(
    root: &Path,
    args: &[&str],
    remote: &Remote,
    branch: &str,
    direction: Direction,
) -> Result<()> {
    let out = git_here(root, args, remote.ssh_command.as_deref())?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let verb = match direction {
        Direction::Push => "push",
        Direction::Pull => "pull",
    };
    if text.contains("Host key verification failed") {
        return Err(MngrError::unavailable(format!(
            "cannot reach the agent's host: its SSH host key does not match the key pinned for it; refusing to {verb}"
        )));
    }
    let refused = [
        "non-fast-forward",
        "[rejected]",
        "Not possible to fast-forward",
        "fetch first",
        "diverging",
    ];
    if refused.iter().any(|r| text.contains(r)) {
        let other = match direction {
            Direction::Push => "pull first (mngr git pull AGENT",
            Direction::Pull => "push first (mngr git push AGENT",
        };
        return Err(MngrError::failure(format!(
            "{verb} of branch '{branch}' refused: the two sides have diverged (not a fast-forward)"
        ))
        .with_hint(format!(
            "{other} {branch}) and merge, or replace it with --force"
        )));
    }
    if text.contains("couldn't find remote ref") {
        return Err(no_branch(branch, "the agent's work dir"));
    }
    let detail = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .find(|l| l.starts_with("error:") || l.starts_with("fatal:") || l.starts_with('!'))
        .or_else(|| text.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("no message");
    Err(MngrError::failure(format!(
        "git {verb} of branch '{branch}' failed: {detail}"
    )))
}
