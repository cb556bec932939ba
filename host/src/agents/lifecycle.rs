//! Changing agents on a host: start, stop, destroy, rename, label (create has its own module).
//! Every change holds the host lock; the agent's `data.json` is the commit point, written
//! atomically.

use super::discovery::AgentView;
use super::envfile;
use super::host::Host;
use super::precheck::precheck;
use super::record::AgentRecord;
use super::workdir;
use crate::error::{MngrError, Result};
use crate::shell::quote;
use crate::transport::CommandOutput;
use mngr_plugin_api::host_data::GeneratedBranch;
use mngr_plugin_api::{ErrorKind, HostState, ProviderInstance};
use std::collections::BTreeMap;

/// The tmux session of an agent.
pub fn session_name(prefix: &str, agent: &str) -> String {
    format!("{prefix}{agent}")
}

/// What `activity/create` and `activity/start` hold.
pub(super) fn activity_json(record: &AgentRecord) -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    serde_json::json!({"time": ms as u64, "agent_id": record.id, "agent_name": record.name})
        .to_string()
}

/// The shell prefix that loads the host's and the agent's env files.
pub fn env_prefix(host: &Host, agent_id: &str) -> String {
    let host_env = quote(&format!("{}/env", host.host_dir));
    let agent_env = quote(&format!("{}/env", host.agent_dir(agent_id)));
    format!(
        "set -a; [ -f {host_env} ] && . {host_env}; [ -f {agent_env} ] && . {agent_env}; set +a; "
    )
}

/// Start the agent's tmux session and its command. Returns false, changing nothing, when the
/// session already exists. The pane runs the command through `bash -c`, then an interactive
/// shell when it ends, so a finished agent shows DONE and its output stays readable.
pub fn start_session(host: &Host, record: &AgentRecord, session: &str) -> Result<bool> {
    let out = host.run(&session_script(host, record, session))?;
    start_outcome(host, record, &out)
}

/// The script that starts an agent's session (see [`start_session`]); `create` runs it after
/// the one that writes the agent's files.
pub(super) fn session_script(host: &Host, record: &AgentRecord, session: &str) -> String {
    let dir = host.agent_dir(record.id.as_str());
    let launch = quote(&format!("{dir}/launch_agent.sh"));
    // Present from before the session starts until the agent's command ends (see
    // `state::Marks::launching`).
    let launching = quote(&format!("{dir}/launching"));
    let pane_command = format!(
        "bash -c {}",
        quote(&format!(
            "trap : INT; {}. {launch}; rm -f {launching}; exec bash",
            env_prefix(host, record.id.as_str())
        ))
    );
    let wd = quote(&record.work_dir);
    // One tmux call: new-session fails with "duplicate session" when it exists. The session is
    // marked with its host dir (option @mngr_host_dir, and MNGR_HOST_DIR in its environment) so
    // hosts sharing a tmux server tell their sessions apart, and with its agent's id (option
    // @mngr_agent_id) so gc tells whose it is whatever the prefix.
    format!(
        "cd {wd} 2>/dev/null || {{ echo \"work dir {} does not exist\" >&2; exit 3; }}\n\
         mkdir -p -m 700 {d}/activity {d}/commands {d}/llm_data\n\
         unset MNGR_AGENT_ID\n\
         : > {launching}\n\
         pid=$(tmux new-session -d -P -F '#{{pane_pid}}' -s {s} -n agent -x {w} -y {h} -c {wd} -e {owner} {pc} \\; set-option -q -t {t} @mngr_host_dir {hd} \\; set-option -q -t {t} @mngr_agent_id {id} 2>&1) || {{\n\
           rm -f {launching}\n\
           case \"$pid\" in *'duplicate session'*) exit 5;; esac\n\
           echo \"$pid\" >&2; exit 4\n\
         }}\n\
         printf '%s\\n' {act} > {d}/activity/start\n\
         ( trap '' HUP; while kill -0 \"$pid\" 2>/dev/null; do touch {d}/activity/process; sleep 5; done ) >/dev/null 2>&1 </dev/null &\n\
         exit 0\n",
        record.work_dir.replace('"', ""),
        s = quote(session),
        w = record.tmux.width,
        h = record.tmux.height,
        pc = quote(&pane_command),
        owner = quote(&format!("MNGR_HOST_DIR={}", host.host_dir)),
        hd = quote(&host.host_dir),
        id = quote(record.id.as_str()),
        t = quote(&format!("={session}:")),
        act = quote(&activity_json(record)),
        d = quote(&dir),
    )
}

/// Read the result of [`session_script`]: started (true), the session existed (false), or
/// the error.
pub(super) fn start_outcome(
    host: &Host,
    record: &AgentRecord,
    out: &CommandOutput,
) -> Result<bool> {
    match out.exit_code {
        0 => Ok(true),
        5 => Ok(false),
        _ => {
            let detail = out.stderr.trim();
            Err(MngrError::failure(format!(
                "starting agent '{}' on host '{}' failed: {}",
                record.name,
                host.name(),
                detail.lines().last().unwrap_or(detail)
            )))
        }
    }
}

/// Type `text` into the agent's pane and press Enter.
/// Record on the host, before its provider stops it for `mngr stop --stop-host`, that a user
/// stopped it (so the host's next listing does not show an older watcher stop as the last).
/// A host that cannot be written to gets a warning: the stop goes ahead.
pub fn record_user_stop(host: &Host) {
    let (secs, micros) = mngr_plugin_api::time::now_unix();
    let stop = serde_json::json!({
        "reason": "user",
        "message": "stopped with mngr stop --stop-host",
        "time": mngr_plugin_api::time::iso8601_utc_micros_offset(secs, micros),
    });
    let path = format!("{}/stop.json", host.host_dir);
    if let Err(e) = host.write_file(&path, format!("{stop}\n").as_bytes(), None) {
        crate::warnings::warn(format_args!(
            "could not record why host '{}' stopped: {}",
            host.name(),
            e.message
        ));
    }
}

/// The script line that records user activity on the host (`activity/user`; and
/// `activity/ssh` when mngr reaches the host over SSH), run with the command the user's input
/// goes with, so it costs no extra round trip.
pub fn user_activity_script(host: &Host) -> String {
    let dir = quote(&format!("{}/activity", host.host_dir));
    let ssh = if host.transport.is_local() {
        ""
    } else {
        " \"$d/ssh\""
    };
    format!("d={dir}; mkdir -p \"$d\" 2>/dev/null && touch \"$d/user\"{ssh} 2>/dev/null; ")
}

pub fn send_message(host: &Host, session: &str, text: &str) -> Result<()> {
    let window = quote(&format!("={session}:agent"));
    let script = if text.len() < 1024 && !text.contains('\n') {
        format!(
            "tmux send-keys -t {window} -l -- {} && tmux send-keys -t {window} Enter",
            quote(text)
        )
    } else {
        let buffer = format!("/tmp/mngr-msg-{}.txt", uuid::Uuid::new_v4().simple());
        host.write_file(&buffer, text.as_bytes(), Some(0o600))?;
        let b = quote(&buffer);
        let name = quote(&format!("mngr-{}", uuid::Uuid::new_v4().simple()));
        format!(
            "tmux load-buffer -b {name} {b} && tmux paste-buffer -d -p -b {name} -t {window}; rc=$?; rm -f {b}; \
             [ $rc -eq 0 ] && tmux send-keys -t {window} Enter"
        )
    };
    let script = format!("{}{script}", user_activity_script(host));
    host.run_ok(&script, "sending the message").map(|_| ())
}

/// Stop an agent: end its session and every process of it (TERM, then KILL after 5 s): the
/// pane's process tree, and on Linux also strays that carry its `MNGR_AGENT_ID`.
pub fn stop(host: &Host, agent: &AgentView, prefix: &str) -> Result<()> {
    let session = session_name(prefix, &agent.record.name);
    let mut pids: Vec<u32> = Vec::new();
    if let (Some(pid), Some(probe)) = (agent.pane_pid, agent.host.probe.as_ref()) {
        pids.push(pid);
        pids.extend(probe.processes.descendants(pid));
    }
    let pids = pids
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    // Zombies count as gone: they are dead, only not yet reaped by their parent.
    let script = format!(
        "tmux kill-session -t {t} 2>/dev/null\n\
         pids='{pids}'\n\
         if [ -d /proc/self ]; then\n\
           pids=\"$pids $(grep -lzx {env} /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -vx -e $$ -e $PPID)\"\n\
         fi\n\
         pids=$(echo $pids)\n\
         [ -z \"$pids\" ] && exit 0\n\
         list=$(echo $pids | tr ' ' ',')\n\
         living() {{ ps -o pid=,stat= -p \"$list\" 2>/dev/null | awk '$2 !~ /^Z/ {{print $1}}'; }}\n\
         kill -TERM $(living) 2>/dev/null\n\
         i=0\n\
         while [ $i -lt 100 ]; do\n\
           alive=$(living)\n\
           [ -z \"$alive\" ] && exit 0\n\
           sleep 0.05; i=$((i+1))\n\
         done\n\
         kill -KILL $alive 2>/dev/null\n\
         exit 0\n",
        t = quote(&format!("={session}")),
        env = quote(&format!("MNGR_AGENT_ID={}", agent.record.id)),
    );
    host.run_ok(&script, &format!("stopping agent '{}'", agent.record.name))
        .map(|_| ())
}

/// Remove an agent's records (and its work dir when mngr made it). The caller stopped it.
pub fn remove(host: &Host, record: &AgentRecord, delete_branch: bool, prefix: &str) -> Result<()> {
    let dir = host.agent_dir(record.id.as_str());
    let _ = host
        .instance
        .remove_persisted_agent_record(&host.record.id, record.id.as_str());
    // The work dir is given up first (destroy has checked it loses no work, or was forced):
    // a destroy killed while removing it leaves a half-removed tree that gc must not mistake
    // for work in progress.
    let marker = workdir::unclaimed_marker(&host.host_dir, record.id.as_str());
    let release = if record.work_dir_info().mode == "in_place" {
        String::new()
    } else {
        format!(
            "(umask 077; mkdir -p {ud} && printf '%s' {wd} > {m}) && ",
            ud = quote(&format!("{}/{}", host.host_dir, workdir::UNCLAIMED_DIR)),
            wd = quote(&record.work_dir),
            m = quote(&marker)
        )
    };
    // data.json first: without it the agent is gone for every reader, the rest is litter.
    host.run_ok(
        &format!(
            "{release}rm -f {d}/data.json && rm -rf {d}",
            d = quote(&dir)
        ),
        &format!("removing agent '{}'", record.name),
    )?;
    workdir::remove_for(host, record, delete_branch)?;
    // Forgotten last: a destroy killed before this point leaves them for gc to find.
    let mut data = host.read_host_data(prefix)?;
    let before = data.clone();
    data.generated_work_dirs.retain(|d| d != &record.work_dir);
    let branch = record
        .created_branch_name
        .clone()
        .zip(record.work_dir_info().source)
        .map(|(branch, repo)| GeneratedBranch { repo, branch });
    data.generated_branches
        .retain(|b| Some(b) != branch.as_ref());
    if data != before {
        host.write_host_data(&mut data)?;
    }
    if !release.is_empty() {
        host.run(&format!("rm -f {}", quote(&marker)))?;
    }
    Ok(())
}

/// Destroy an agent: stop it and remove it, under the host lock. Its record is read again
/// under the lock, so of several commands destroying one agent at once exactly one does it;
/// the others fail with "not found" (exit code 9), also when the host went with the agent.
pub fn destroy(host: &Host, agent: &AgentView, delete_branch: bool, prefix: &str) -> Result<()> {
    let gone = || {
        MngrError::not_found(format!(
            "agent '{}' is already gone: another command destroyed it",
            agent.address()
        ))
        .with_hint("mngr list shows the agents that remain")
    };
    let checked = host
        .lock()
        .and_then(|lock| Ok((lock, host.read_agent_record(agent.record.id.as_str())?)));
    let (_lock, record) = match checked {
        Ok((lock, Some(record))) => (lock, record),
        Ok((_, None)) => return Err(gone()),
        Err(_) if host_went_with_agent(host, agent.record.id.as_str()) => return Err(gone()),
        Err(e) => return Err(e),
    };
    stop(host, agent, prefix)?;
    // Ctrl-C reaches the step's children too: what they left half-done is finished.
    match remove(host, &record, delete_branch, prefix) {
        Err(_) if crate::interrupt::signal().is_some() => {
            remove(host, &record, delete_branch, prefix)
        }
        done => done,
    }
}

/// After the host could not be reached: whether it went with the agent, as when a concurrent
/// destroy took the host along with its last agent. While the provider still keeps its copy of
/// the agent's record, the agent was not destroyed (a destroy removes that copy first);
/// otherwise the provider is asked until it says the host is gone (it may be removing it).
fn host_went_with_agent(host: &Host, agent_id: &str) -> bool {
    let copy_kept = host
        .instance
        .persisted_agent_records(&host.record.id)
        .is_ok_and(|records| records.iter().any(|r| r.id() == Some(agent_id)));
    if copy_kept {
        return false;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match host.instance.get_host(host.record.id.as_str()) {
            Ok(record) if record.state == HostState::Destroyed => return true,
            Err(e) if e.kind == ErrorKind::NotFound => return true,
            Err(_) => return false,
            Ok(_) if std::time::Instant::now() >= deadline => return false,
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

/// Rename an agent: its tmux session, its env file, then its record (the commit point).
pub fn rename(host: &Host, agent: &AgentView, new_name: &str, prefix: &str) -> Result<AgentRecord> {
    mngr_plugin_api::validate_new_agent_name(new_name)
        .map_err(|e| MngrError::usage(e.to_string()))?;
    let _lock = host.lock()?;
    precheck(host, &[])?.check_name_free(host, new_name, Some(&agent.record.id))?;
    let mut record = host
        .read_agent_record(agent.record.id.as_str())?
        .ok_or_else(|| MngrError::not_found(format!("agent '{}' is gone", agent.record.name)))?;
    let old = session_name(prefix, &record.name);
    let new = session_name(prefix, new_name);
    host.run(&format!(
        "tmux has-session -t {o} 2>/dev/null && tmux rename-session -t {o} {n}; exit 0",
        o = quote(&format!("={old}")),
        n = quote(&new)
    ))?;
    let env_path = format!("{}/env", host.agent_dir(record.id.as_str()));
    if let Some(bytes) = host.read_file(&env_path)? {
        let text = String::from_utf8_lossy(&bytes);
        let updated: String = text
            .lines()
            .map(|line| {
                if line.starts_with("MNGR_AGENT_NAME=") {
                    envfile::format_line("MNGR_AGENT_NAME", new_name)
                } else {
                    line.to_string()
                }
            })
            .map(|l| l + "\n")
            .collect();
        host.write_file(&env_path, updated.as_bytes(), None)?;
    }
    record.name = new_name.to_string();
    host.write_agent_record(&record)?;
    Ok(record)
}

/// Merge labels into an agent's record. On an offline host they go into the provider's copy
/// (what `list` shows meanwhile); `mngr start` carries them to the host (see
/// [`adopt_offline_labels`]).
pub fn label(
    agent: &AgentView,
    instance: &dyn ProviderInstance,
    labels: &BTreeMap<String, String>,
) -> Result<AgentRecord> {
    match &agent.host.online {
        Some(host) => {
            let _lock = host.lock()?;
            let mut record = host
                .read_agent_record(agent.record.id.as_str())?
                .ok_or_else(|| {
                    MngrError::not_found(format!("agent '{}' is gone", agent.record.name))
                })?;
            record.labels.extend(labels.clone());
            host.write_agent_record(&record)?;
            Ok(record)
        }
        None => {
            // A running host that could not be reached keeps its own record: refuse.
            agent.host.require_reachable()?;
            let mut record = agent.record.clone();
            record.labels.extend(labels.clone());
            let value = record.to_persisted();
            instance
                .persist_agent_record(&agent.host.record.id, value)
                .map_err(|e| MngrError::from_provider(&agent.host.provider, e))?;
            Ok(record)
        }
    }
}

/// When an agent was listed from its provider's copy (its host was offline), labels set
/// meanwhile live only there: copy them into the host's record. Nothing else can have changed
/// the host's record while the host was down, so the provider's labels win.
pub fn adopt_offline_labels(
    host: &Host,
    listed: &AgentView,
    record: &mut AgentRecord,
) -> Result<()> {
    if listed.host.online.is_some() || listed.record.labels == record.labels {
        return Ok(());
    }
    record.labels = listed.record.labels.clone();
    host.write_agent_record(record)
}
