//! Work directories: where an agent runs. In a git repository the default is a new worktree
//! on branch `mngr/NAME`; a copy brings the repository (history and uncommitted work) or a
//! plain directory's files to the host through [`Transport::push_dir`]; in-place runs in the
//! source directory itself.
//!
//! The source is always on this machine; the host may be local or remote.

use super::host::Host;
use super::record::{AgentRecord, WorkDirInfo};
use crate::error::{MngrError, Result};
use crate::interrupt::Undo;
use crate::shell::quote;
use crate::transport::PushOptions;
use mngr_plugin_api::host_data::GeneratedBranch;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    InPlace,
    Worktree,
    Copy,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::InPlace => "in_place",
            Mode::Worktree => "worktree",
            Mode::Copy => "copy",
        }
    }
}

/// The directory an agent's work dir comes from, on this machine.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    /// The repository root when `path` is inside a git work tree.
    pub git_root: Option<PathBuf>,
}

/// Whether a program is on this machine's PATH.
pub fn program_on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let candidate = dir.join(program);
            std::fs::metadata(&candidate).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
    })
}

fn require_local_git() -> Result<()> {
    if program_on_path("git") {
        Ok(())
    } else {
        Err(
            MngrError::missing_tool("git is not installed on this machine (needed for the agent's work dir in a git repository)")
                .with_hint("install git, or use --in-place to run the agent in the directory as it is"),
        )
    }
}

/// Check this machine has what the work dir needs (git for a repository, unless in place).
pub fn check_local_tools(source: &Source, mode: Option<Mode>) -> Result<()> {
    if source.git_root.is_some() && mode != Some(Mode::InPlace) {
        require_local_git()?;
    }
    Ok(())
}

/// Inspect a source directory. Finding the repository needs no git; using it does.
pub fn inspect(path: &Path) -> Result<Source> {
    let path = path.canonicalize().map_err(|e| {
        MngrError::not_found(format!(
            "work dir source '{}' does not exist or cannot be read: {e}",
            path.display()
        ))
    })?;
    if !path.is_dir() {
        return Err(MngrError::usage(format!(
            "work dir source '{}' is not a directory",
            path.display()
        )));
    }
    let git_root = path
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf);
    Ok(Source { path, git_root })
}

/// Run git on this machine in `dir`.
fn local_git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| MngrError::failure(format!("running git: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(MngrError::failure(format!(
            "git {} in {} failed: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn head_commit(root: &Path) -> Result<String> {
    local_git(root, &["rev-parse", "--verify", "-q", "HEAD^{commit}"])
        .map(|s| s.trim().to_string())
        .map_err(|_| {
            MngrError::usage(format!(
                "git repository {} has no commits yet",
                root.display()
            ))
            .with_hint("commit something first, or use --in-place")
        })
}

/// Files of the work tree as the user sees it: tracked files that exist plus untracked files
/// that are not ignored (relative to the repository root).
fn working_files(root: &Path, only_changed: bool) -> Result<Vec<String>> {
    let args: &[&str] = if only_changed {
        &[
            "ls-files",
            "-z",
            "--modified",
            "--others",
            "--exclude-standard",
        ]
    } else {
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ]
    };
    let listed = local_git(root, args)?;
    let mut files: Vec<String> = listed
        .split('\0')
        .filter(|f| !f.is_empty())
        .filter(|f| std::fs::symlink_metadata(root.join(f)).is_ok_and(|m| !m.is_dir()))
        .map(str::to_string)
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// Tracked files deleted in the work tree.
fn deleted_files(root: &Path) -> Result<Vec<String>> {
    Ok(local_git(root, &["ls-files", "-z", "--deleted"])?
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect())
}

/// What `create` will make, decided before anything is made.
#[derive(Debug, Clone)]
pub struct Plan {
    pub mode: Mode,
    pub source: Source,
    /// The work dir on the host.
    pub target: String,
    /// The branch created for the agent (worktree and git copies).
    pub branch: Option<String>,
    /// The marker that says no agent has claimed the work dir yet (see [`unclaimed_marker`]).
    pub unclaimed_marker: String,
}

impl Plan {
    /// Whether mngr makes (and later removes) the work dir.
    pub fn is_generated(&self) -> bool {
        self.mode != Mode::InPlace
    }

    /// The branch this plan makes in the user's repository (worktrees; a copy's branch lives
    /// inside the copy).
    pub fn generated_branch(&self) -> Option<GeneratedBranch> {
        match (self.mode, &self.source.git_root, &self.branch) {
            (Mode::Worktree, Some(root), Some(branch)) => Some(GeneratedBranch {
                repo: root.to_string_lossy().into_owned(),
                branch: branch.clone(),
            }),
            _ => None,
        }
    }

    /// Programs the host needs for this plan.
    pub fn host_programs(&self) -> Vec<&'static str> {
        match (self.mode, self.source.git_root.is_some()) {
            (Mode::Worktree, _) | (Mode::Copy, true) => vec!["git"],
            _ => vec![],
        }
    }
}

/// Decide the work dir: `requested` mode or the default for the source and host.
pub fn plan(
    host: &Host,
    source: Source,
    requested: Option<Mode>,
    agent_name: &str,
    agent_id: &str,
) -> Result<Plan> {
    let local = host.transport.is_local();
    let mode = match requested {
        Some(mode) => mode,
        None if source.git_root.is_some() && local => Mode::Worktree,
        None => Mode::Copy,
    };
    if mode == Mode::InPlace && !local {
        return Err(MngrError::usage(format!(
            "--in-place needs the local host; host '{}' is remote",
            host.name()
        ))
        .with_hint("omit --in-place to copy the work dir to the host"));
    }
    if mode == Mode::Worktree {
        if !local {
            return Err(MngrError::usage(format!(
                "a git worktree needs the local host; host '{}' is remote",
                host.name()
            ))
            .with_hint("omit --worktree to copy the repository to the host"));
        }
        if source.git_root.is_none() {
            return Err(MngrError::usage(format!(
                "--worktree needs a git repository, and {} is not in one",
                source.path.display()
            ))
            .with_hint("use --copy or --in-place"));
        }
    }
    if source.git_root.is_some() && mode != Mode::InPlace {
        require_local_git()?;
    }
    if mode != Mode::InPlace && local {
        let host_dir = Path::new(&host.host_dir);
        let root = source.git_root.as_deref().unwrap_or(&source.path);
        if host_dir.starts_with(root) {
            return Err(MngrError::usage(format!(
                "the source {} contains mngr's host dir {}; copying it would copy mngr's own records",
                root.display(),
                host_dir.display()
            ))
            .with_hint("use --in-place, or --from another directory"));
        }
        if mode == Mode::Copy && (root == Path::new("/") || root == crate::paths::home_dir()) {
            return Err(MngrError::usage(format!(
                "refusing to copy {} as a work dir",
                root.display()
            ))
            .with_hint("run mngr in a project directory, pass --from PATH, or use --in-place"));
        }
    }
    let target = match mode {
        Mode::InPlace => source.path.to_string_lossy().into_owned(),
        Mode::Worktree => format!(
            "{}/worktrees/{agent_name}-{}",
            host.host_dir,
            uuid::Uuid::new_v4().simple()
        ),
        Mode::Copy if local => format!("{}/copies/{agent_id}", host.host_dir),
        Mode::Copy => format!("{}/projects/{agent_id}", host.host_dir),
    };
    let branch = match mode {
        Mode::Worktree => Some(format!("mngr/{agent_name}")),
        Mode::Copy if source.git_root.is_some() => Some(format!("mngr/{agent_name}")),
        _ => None,
    };
    // Before anything is made or recorded: the branch is the user's if it exists already.
    if let (Mode::Worktree, Some(root), Some(branch)) = (mode, &source.git_root, &branch)
        && local_git(
            root,
            &[
                "rev-parse",
                "--verify",
                "-q",
                &format!("refs/heads/{branch}"),
            ],
        )
        .is_ok()
    {
        return Err(MngrError::already_exists(format!(
            "branch '{branch}' already exists in {}",
            root.display()
        ))
        .with_hint(format!(
            "delete it (git branch -D {branch}) or choose another agent name"
        )));
    }
    Ok(Plan {
        mode,
        source,
        target,
        branch,
        unclaimed_marker: unclaimed_marker(&host.host_dir, agent_id),
    })
}

/// Make the work dir, registering in `undo` how to remove each part before it is made.
pub fn create<'a>(host: &'a Host, plan: &'a Plan, undo: &mut Undo<'a>) -> Result<WorkDirInfo> {
    let mut info = WorkDirInfo {
        mode: plan.mode.as_str().to_string(),
        source: Some(plan.source.path.to_string_lossy().into_owned()),
        base_commit: None,
    };
    if plan.mode == Mode::InPlace {
        return Ok(info);
    }
    let root = plan.source.git_root.as_deref();
    if let Some(root) = root {
        info.source = Some(root.to_string_lossy().into_owned());
    }
    let head = root.map(head_commit).transpose()?;
    undo.push(move || discard(host, plan));
    host.write_file(&plan.unclaimed_marker, plan.target.as_bytes(), None)?;
    match (plan.mode, root, &head) {
        (Mode::Worktree, Some(root), Some(head)) => create_worktree(host, plan, root, head)?,
        (Mode::Copy, Some(root), Some(head)) => copy_repository(host, plan, root, head)?,
        (Mode::Copy, None, _) => host
            .transport
            .push_dir(&plan.source.path, &plan.target, &PushOptions::default())
            .map_err(|e| {
                MngrError::failure(format!(
                    "copying {} to host '{}': {e}",
                    plan.source.path.display(),
                    host.name()
                ))
            })?,
        _ => return Err(MngrError::usage("--worktree needs a git repository")),
    }
    info.base_commit = head;
    Ok(info)
}

/// Remove a half-made work dir (and the branch made for it).
fn discard(host: &Host, plan: &Plan) {
    // Only a worktree is registered in the user's repository.
    let repo = match plan.mode {
        Mode::Worktree => plan.source.git_root.as_deref(),
        _ => None,
    };
    let _ = remove_dir(host, &plan.target, repo);
    if let (Some(root), Some(branch)) = (repo, &plan.branch) {
        let _ = local_git(root, &["branch", "-D", branch]);
    }
    let _ = host.run(&format!("rm -f {}", quote(&plan.unclaimed_marker)));
}

fn create_worktree(host: &Host, plan: &Plan, root: &Path, head: &str) -> Result<()> {
    let branch = plan.branch.as_deref().expect("worktrees have a branch");
    if let Some(parent) = Path::new(&plan.target).parent() {
        std::fs::create_dir_all(parent)?;
    }
    local_git(
        root,
        &["worktree", "add", "-q", "-b", branch, &plan.target, head],
    )?;
    // Bring uncommitted work along: changed and untracked files, and deletions.
    let changed = working_files(root, true)?;
    if !changed.is_empty() {
        let options = PushOptions {
            excludes: Vec::new(),
            files: Some(changed),
        };
        host.transport
            .push_dir(root, &plan.target, &options)
            .map_err(|e| MngrError::failure(format!("copying uncommitted work: {e}")))?;
    }
    for file in deleted_files(root)? {
        let _ = std::fs::remove_file(Path::new(&plan.target).join(file));
    }
    Ok(())
}

/// Bring a repository to the host: its history as a git bundle, then the work tree's files
/// (tracked and untracked, not ignored) on top, on a new branch at the current commit.
fn copy_repository(host: &Host, plan: &Plan, root: &Path, head: &str) -> Result<()> {
    let branch = plan.branch.as_deref().expect("git copies have a branch");
    // Beside the work dir, where removing the work dir removes it too (see `remove_dir`).
    let remote_bundle = bundle_of(&plan.target);
    let make_bundle = |path: &str| local_git(root, &["bundle", "create", "-q", path, "--all"]);
    if host.transport.is_local() {
        if let Some(parent) = Path::new(&remote_bundle).parent() {
            std::fs::create_dir_all(parent)?;
        }
        make_bundle(&remote_bundle)?;
    } else {
        let scratch = tempfile::tempdir()?;
        let bundle_path = scratch.path().join("repo.bundle");
        make_bundle(&bundle_path.to_string_lossy())?;
        let bundle = std::fs::read(&bundle_path)?;
        host.write_file(&remote_bundle, &bundle, None)?;
    }
    let t = quote(&plan.target);
    let b = quote(&remote_bundle);
    let script = format!(
        "set -e\n\
         git clone -q --no-checkout {b} {t}\n\
         rm -f {b}\n\
         cd {t}\n\
         git remote remove origin\n\
         git update-ref refs/heads/{branch} {head}\n\
         git symbolic-ref HEAD refs/heads/{branch}\n\
         git reset -q\n"
    );
    host.run_ok(&script, "unpacking the repository")?;
    if let Ok(url) = local_git(root, &["remote", "get-url", "origin"]) {
        let _ = host.run(&format!(
            "git -C {t} remote add origin {}",
            quote(url.trim())
        ));
    }
    let options = PushOptions {
        excludes: Vec::new(),
        files: Some(working_files(root, false)?),
    };
    host.transport
        .push_dir(root, &plan.target, &options)
        .map_err(|e| {
            MngrError::failure(format!(
                "copying {} to host '{}': {e}",
                root.display(),
                host.name()
            ))
        })?;
    Ok(())
}

/// Where a git copy's bundle waits until the copy is cloned from it.
fn bundle_of(work_dir: &str) -> String {
    format!("{work_dir}.bundle")
}

/// The marker of a work dir no agent claims: `<host_dir>/unclaimed/<agent id>`, holding the
/// work dir's path. A create writes it before making the work dir and removes it right after the
/// agent's record is committed; a destroy writes it before removing the record and the work dir
/// (once it knows no work is lost, or was forced) and removes it when done. A work dir with a
/// marker was being made or given up by a command that died: all it holds are copies from the
/// source or what destroy gave up, and gc may remove it even though it looks like work in
/// progress (a half-removed tree shows as deletions).
pub fn unclaimed_marker(host_dir: &str, agent_id: &str) -> String {
    format!("{host_dir}/{UNCLAIMED_DIR}/{agent_id}")
}

/// The dir of the unclaimed markers, under the host dir.
pub const UNCLAIMED_DIR: &str = "unclaimed";

/// Why removing this agent's work dir would lose work, if it would.
/// `delete_branch`: the branch made for the agent is deleted too.
pub fn unsaved_work(
    host: &Host,
    record: &AgentRecord,
    delete_branch: bool,
) -> Result<Option<String>> {
    let info = record.work_dir_info();
    let wd = quote(&record.work_dir);
    let is_git_dir = matches!(info.mode.as_str(), "worktree" | "copy")
        && host
            .run(&format!(
                "git -C {wd} rev-parse --is-inside-work-tree >/dev/null 2>&1"
            ))?
            .success();
    if !is_git_dir {
        return Ok(None);
    }
    let status = host.run(&format!("git -C {wd} status --porcelain"))?;
    let changed = status.stdout.lines().filter(|l| !l.is_empty()).count();
    if changed > 0 {
        return Ok(Some(format!(
            "its work dir {} has {changed} uncommitted change(s)",
            record.work_dir
        )));
    }
    let commits_at_risk = info.mode == "copy" || delete_branch;
    if let (true, Some(base)) = (commits_at_risk, &info.base_commit) {
        let out = host.run(&format!(
            "git -C {wd} rev-list --count HEAD --not {} --remotes",
            quote(base)
        ))?;
        let count: u64 = out.stdout.trim().parse().unwrap_or(0);
        if count > 0 {
            return Ok(Some(format!(
                "its branch has {count} commit(s) not pushed anywhere (in {})",
                record.work_dir
            )));
        }
    }
    Ok(None)
}

/// Remove a work dir mngr made: a worktree through git, anything else with `rm -rf`, and only
/// inside the host dir.
pub fn remove_dir(host: &Host, path: &str, repo: Option<&Path>) -> Result<()> {
    if !path.starts_with(&format!("{}/", host.host_dir)) {
        return Err(MngrError::failure(format!(
            "refusing to remove {path}: it is outside mngr's host dir {}",
            host.host_dir
        )));
    }
    let p = quote(path);
    let repo_cmd = match repo {
        Some(r) => format!(
            "git -C {} worktree remove --force {p} 2>/dev/null; git -C {} worktree prune 2>/dev/null; ",
            quote(&r.to_string_lossy()),
            quote(&r.to_string_lossy())
        ),
        None => String::new(),
    };
    // A git copy's bundle (and git's lock file of it) goes with it.
    let bundle = bundle_of(path);
    let bundles = format!("{} {}", quote(&bundle), quote(&format!("{bundle}.lock")));
    // A worktree knows its repository even when the record does not.
    let script = format!(
        "if [ -f {p}/.git ]; then c=$(git -C {p} rev-parse --path-format=absolute --git-common-dir 2>/dev/null); fi\n\
         {repo_cmd}\n\
         rm -rf {p} {bundles}\n\
         if [ -n \"$c\" ]; then git --git-dir=\"$c\" worktree prune 2>/dev/null; fi\n\
         [ ! -e {p} ]"
    );
    host.run_ok(&script, &format!("removing work dir {path}"))
        .map(|_| ())
}

/// Remove an agent's work dir if mngr made it, and the agent's branch if asked.
pub fn remove_for(host: &Host, record: &AgentRecord, delete_branch: bool) -> Result<()> {
    let info = record.work_dir_info();
    let repo = info.source.as_deref().map(Path::new);
    match info.mode.as_str() {
        "worktree" => {
            remove_dir(host, &record.work_dir, repo)?;
            if let (true, Some(branch), Some(repo)) =
                (delete_branch, &record.created_branch_name, repo)
                && let Err(e) = local_git(repo, &["branch", "-D", branch])
            {
                crate::warnings::warn(&e.message);
            }
            Ok(())
        }
        "copy" => remove_dir(host, &record.work_dir, None),
        _ => Ok(()),
    }
}

/// What became of a branch mngr made when gc looked at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchFate {
    /// The branch (or its repository) no longer exists.
    Missing,
    /// Deleted (with `dry_run`: would be).
    Deleted,
    /// Kept: it holds commits of its own, or a work tree outside mngr's has it checked out.
    Kept,
}

/// Delete `branch` of the repository `repo` (its work tree or git dir, on the host) unless it
/// holds a commit that no other branch or remote has. A worktree entry of it whose directory
/// mngr made and is gone (a create or destroy that died half-way) is removed first; a branch
/// checked out anywhere else stays.
pub fn delete_branch_without_own_commits(
    host: &Host,
    repo: &str,
    branch: &str,
    dry_run: bool,
) -> Result<BranchFate> {
    let delete = if dry_run {
        "echo deleted"
    } else {
        "git -C \"$r\" branch -q -D \"$b\" >/dev/null 2>&1 && echo deleted || echo kept"
    };
    let prune = if dry_run {
        ""
    } else {
        "git -C \"$r\" worktree remove --force \"$wt\" 2>/dev/null\n"
    };
    // `--exclude` takes the name without `refs/heads/` when it applies to `--branches`.
    let script = format!(
        "r={r}; b={b}; hd={hd}\n\
         git -C \"$r\" rev-parse --verify -q \"refs/heads/$b\" >/dev/null 2>&1 || {{ echo missing; exit 0; }}\n\
         n=$(git -C \"$r\" rev-list --count \"refs/heads/$b\" --not --exclude=\"$b\" --branches --remotes 2>/dev/null)\n\
         [ \"$n\" = 0 ] || {{ echo kept; exit 0; }}\n\
         wt=$(git -C \"$r\" worktree list --porcelain 2>/dev/null | awk -v want=\"branch refs/heads/$b\" '/^worktree /{{p=substr($0,10)}} $0==want{{print p}}')\n\
         if [ -n \"$wt\" ]; then\n\
           case \"$wt\" in \"$hd\"/*) [ -e \"$wt\" ] && {{ echo kept; exit 0; }};; *) echo kept; exit 0;; esac\n\
           {prune}\
         fi\n\
         {delete}\n",
        r = quote(repo),
        b = quote(branch),
        hd = quote(&host.host_dir),
    );
    let out = host.run_ok(&script, &format!("collecting branch {branch} in {repo}"))?;
    Ok(match out.trim() {
        "missing" => BranchFate::Missing,
        "deleted" => BranchFate::Deleted,
        _ => BranchFate::Kept,
    })
}
