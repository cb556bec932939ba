//! Changing agents on a host: create, start, stop, destroy, rename, label. Every change holds
//! the host lock; the agent's `data.json` is the commit point, written atomically.

use super::discovery::AgentView;
use super::envfile;
use super::host::Host;
use super::names;
use super::probe;
use super::record::{self, AgentRecord, TmuxOptions};
use super::shell::quote;
use super::types::ResolvedType;
use super::workdir::{self, Plan};
use crate::error::{MngrError, Result};
use mngr_plugin_api::{AgentId, SafeName};
use std::collections::BTreeMap;

/// The tmux session of an agent.
pub fn session_name(prefix: &str, agent: &str) -> String {
    format!("{prefix}{agent}")
}

/// Everything `create` needs besides the host.
pub struct CreateRequest {
    /// `None`: generate one.
    pub name: Option<String>,
    pub agent_type: ResolvedType,
    pub labels: BTreeMap<String, String>,
    /// `--env-file` contents then `--env` pairs, in order (later wins).
    pub env: Vec<(String, String)>,
    pub source: workdir::Source,
    pub mode: Option<workdir::Mode>,
    pub initial_message: Option<String>,
    pub prefix: String,
}

/// The agents recorded on a host (read under the lock).
fn recorded_names(host: &Host) -> Result<Vec<(String, AgentRecord)>> {
    Ok(precheck(host, &[])?.0)
}

/// The agents recorded on a host (by dir id), and the first missing program.
type Precheck = (Vec<(String, AgentRecord)>, Option<String>);

/// One command: the agents recorded on the host, and the first of `programs` it lacks.
fn precheck(host: &Host, programs: &[&str]) -> Result<Precheck> {
    let keep_valid = |probe: probe::HostProbe| -> Vec<(String, AgentRecord)> {
        probe
            .records
            .into_iter()
            .filter_map(|(dir, r)| r.ok().map(|r| (dir, r)))
            .collect()
    };
    if host.transport.is_local() {
        // Same answer without starting a shell.
        let missing = programs
            .iter()
            .find(|p| !workdir::program_on_path(p))
            .map(|p| p.to_string());
        return Ok((keep_valid(probe::local_records(&host.host_dir)), missing));
    }
    let mut script = String::new();
    for program in programs {
        script.push_str(&format!(
            "command -v {p} >/dev/null 2>&1 || echo MISSING:{p} >&2\n",
            p = quote(program)
        ));
    }
    script.push_str(&probe::records_script(&host.host_dir));
    let out = host.run(&script)?;
    let parsed = probe::parse(&out.stdout).map_err(MngrError::failure)?;
    let missing = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("MISSING:"))
        .map(str::to_string);
    Ok((keep_valid(parsed), missing))
}

/// Create an agent on a host and start it.
pub fn create(host: &Host, request: CreateRequest) -> Result<AgentRecord> {
    let agent_id = AgentId::generate();
    workdir::check_local_tools(&request.source, request.mode)?;
    let mut programs: Vec<(&str, String)> = vec![("tmux", "install tmux on that host".to_string())];
    if let Some((program, hint)) = &request.agent_type.requires {
        programs.push((program.as_str(), hint.clone()));
    }
    if request.source.git_root.is_some() && request.mode != Some(workdir::Mode::InPlace) {
        programs.push(("git", "install git on that host".to_string()));
    }
    let _lock = host.lock()?;
    let names: Vec<&str> = programs.iter().map(|(p, _)| *p).collect();
    let (existing, missing) = precheck(host, &names)?;
    if let Some(missing) = missing {
        let hint = programs
            .iter()
            .find(|(p, _)| *p == missing)
            .map(|(_, h)| h.clone())
            .unwrap_or_default();
        return Err(MngrError::missing_tool(format!(
            "{missing} is not installed on host '{}'",
            host.name()
        ))
        .with_hint(hint));
    }
    let taken = |n: &str| existing.iter().any(|(_, r)| r.name == n);
    let name = match &request.name {
        Some(name) => {
            if taken(name) {
                return Err(MngrError::already_exists(format!(
                    "an agent named '{name}' already exists on host '{}'",
                    host.name()
                ))
                .with_hint("choose another name, or destroy the existing agent first"));
            }
            name.clone()
        }
        None => names::generate(&taken),
    };
    let plan = workdir::plan(
        host,
        request.source.clone(),
        request.mode,
        &name,
        agent_id.as_str(),
    )?;
    let session = session_name(&request.prefix, &name);

    // Record the work dir before making it, so gc finds it if this process dies.
    let mut host_data = host.read_host_data(&request.prefix)?;
    if plan.is_generated() {
        host_data.generated_work_dirs.push(plan.target.clone());
        host.write_host_data(&mut host_data)?;
    } else if !host_exists(host)? {
        host.write_host_data(&mut host_data)?;
    }

    let made = make_agent(host, &request, &plan, &name, &agent_id, &session);
    match made {
        Ok(record) => Ok(record),
        Err(err) => {
            // Nothing half-made: remove the agent dir, the work dir and its registration.
            let _ = host.run(&format!(
                "rm -rf {}",
                quote(&host.agent_dir(agent_id.as_str()))
            ));
            let _ = host
                .instance
                .remove_persisted_agent_record(&host.record.id, agent_id.as_str());
            if plan.is_generated()
                && let Ok(mut data) = host.read_host_data(&request.prefix)
            {
                data.generated_work_dirs.retain(|d| d != &plan.target);
                let _ = host.write_host_data(&mut data);
            }
            Err(err)
        }
    }
}

fn host_exists(host: &Host) -> Result<bool> {
    Ok(host
        .read_file(&format!("{}/data.json", host.host_dir))?
        .is_some())
}

fn make_agent(
    host: &Host,
    request: &CreateRequest,
    plan: &Plan,
    name: &str,
    agent_id: &AgentId,
    session: &str,
) -> Result<AgentRecord> {
    let info = workdir::create(host, plan)?;
    let result = (|| {
        let dir = host.agent_dir(agent_id.as_str());
        let mut labels = BTreeMap::new();
        let project = plan
            .source
            .git_root
            .as_deref()
            .unwrap_or(&plan.source.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        if let Some(project) = project {
            labels.insert("project".to_string(), project);
        }
        labels.extend(request.labels.clone());
        let mut record = AgentRecord {
            id: agent_id.clone(),
            name: name.to_string(),
            agent_type: request.agent_type.name.clone(),
            work_dir: plan.target.clone(),
            create_time: record::now_iso(),
            command: request.agent_type.command.clone(),
            additional_commands: Vec::new(),
            initial_message: request.initial_message.clone(),
            resume_message: None,
            ready_timeout_seconds: 10.0,
            start_on_boot: false,
            labels,
            created_branch_name: plan.branch.clone(),
            tmux: TmuxOptions::default(),
            plugin: serde_json::Map::new(),
            extra: serde_json::Map::new(),
        };
        record.set_work_dir_info(&info);
        // write_file makes parent dirs; start_session makes the empty ones.
        for events in ["services", "requests"] {
            host.write_file(&format!("{dir}/events/{events}/events.jsonl"), b"", None)?;
        }
        host.write_file(
            &format!("{dir}/env"),
            agent_env(host, &record, &request.env).as_bytes(),
            None,
        )?;
        host.write_file(
            &format!("{dir}/launch_agent.sh"),
            format!("{}\n", record.command).as_bytes(),
            Some(0o755),
        )?;
        host.write_file(
            &format!("{dir}/activity/create"),
            activity_json(&record).as_bytes(),
            None,
        )?;
        host.write_agent_record(&record)?;
        if !start_session(host, &record, session)? {
            return Err(MngrError::already_exists(format!(
                "tmux session '{session}' already exists on host '{}' but no agent records it",
                host.name()
            ))
            .with_hint("run mngr gc to remove orphaned sessions, or choose another name"));
        }
        if let Some(message) = &request.initial_message {
            send_message(host, session, message)?;
        }
        Ok(record)
    })();
    if result.is_err() {
        let _ = host.run(&format!(
            "tmux kill-session -t {} 2>/dev/null",
            quote(&format!("={session}"))
        ));
        if plan.is_generated() {
            let _ = workdir::remove_for(
                host,
                &AgentRecord {
                    work_dir: plan.target.clone(),
                    created_branch_name: plan.branch.clone(),
                    plugin: {
                        let mut m = serde_json::Map::new();
                        m.insert(
                            "work_dir".into(),
                            serde_json::to_value(&info).expect("json"),
                        );
                        m
                    },
                    ..placeholder_record(agent_id)
                },
                true,
            );
        }
    }
    result
}

fn placeholder_record(id: &AgentId) -> AgentRecord {
    AgentRecord {
        id: id.clone(),
        name: String::new(),
        agent_type: String::new(),
        work_dir: String::new(),
        create_time: String::new(),
        command: String::new(),
        additional_commands: Vec::new(),
        initial_message: None,
        resume_message: None,
        ready_timeout_seconds: 10.0,
        start_on_boot: false,
        labels: BTreeMap::new(),
        created_branch_name: None,
        tmux: TmuxOptions::default(),
        plugin: serde_json::Map::new(),
        extra: serde_json::Map::new(),
    }
}

fn activity_json(record: &AgentRecord) -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    serde_json::json!({"time": ms as u64, "agent_id": record.id, "agent_name": record.name})
        .to_string()
}

/// The agent's env file: the documented variables, then the user's.
fn agent_env(host: &Host, record: &AgentRecord, user: &[(String, String)]) -> String {
    let state_dir = host.agent_dir(record.id.as_str());
    let mut vars = vec![
        ("MNGR_HOST_DIR".to_string(), host.host_dir.clone()),
        ("MNGR_AGENT_ID".to_string(), record.id.to_string()),
        ("MNGR_AGENT_NAME".to_string(), record.name.clone()),
        ("MNGR_AGENT_STATE_DIR".to_string(), state_dir.clone()),
        ("MNGR_AGENT_WORK_DIR".to_string(), record.work_dir.clone()),
        ("LLM_USER_PATH".to_string(), format!("{state_dir}/llm_data")),
        ("MNGR_PRIMARY_WINDOW_NAME".to_string(), "agent".to_string()),
    ];
    vars.extend(user.iter().cloned());
    envfile::format(&vars)
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
    let dir = host.agent_dir(record.id.as_str());
    let launch = quote(&format!("{dir}/launch_agent.sh"));
    let pane_command = format!(
        "bash -c {}",
        quote(&format!(
            "trap : INT; {}. {launch}; exec bash",
            env_prefix(host, record.id.as_str())
        ))
    );
    let wd = quote(&record.work_dir);
    // One tmux call: new-session fails with "duplicate session" when it exists. The session is
    // marked with its host dir (option @mngr_host_dir, and MNGR_HOST_DIR in its environment) so
    // hosts sharing a tmux server tell their sessions apart.
    let script = format!(
        "cd {wd} 2>/dev/null || {{ echo \"work dir {} does not exist\" >&2; exit 3; }}\n\
         mkdir -p {d}/activity {d}/commands {d}/llm_data\n\
         unset MNGR_AGENT_ID\n\
         pid=$(tmux new-session -d -P -F '#{{pane_pid}}' -s {s} -n agent -x {w} -y {h} -c {wd} -e {owner} {pc} \\; set-option -q -t {t} @mngr_host_dir {hd} 2>&1) || {{\n\
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
        t = quote(&format!("={session}:")),
        act = quote(&activity_json(record)),
        d = quote(&dir),
    );
    let out = host.run(&script)?;
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
    // data.json first: without it the agent is gone for every reader, the rest is litter.
    host.run_ok(
        &format!("rm -f {d}/data.json && rm -rf {d}", d = quote(&dir)),
        &format!("removing agent '{}'", record.name),
    )?;
    workdir::remove_for(host, record, delete_branch)?;
    let mut data = host.read_host_data(prefix)?;
    let before = data.generated_work_dirs.len();
    data.generated_work_dirs.retain(|d| d != &record.work_dir);
    if data.generated_work_dirs.len() != before {
        host.write_host_data(&mut data)?;
    }
    Ok(())
}

/// Rename an agent: its tmux session, its env file, then its record (the commit point).
pub fn rename(host: &Host, agent: &AgentView, new_name: &str, prefix: &str) -> Result<AgentRecord> {
    SafeName::parse(new_name).map_err(|e| MngrError::usage(e.to_string()))?;
    let _lock = host.lock()?;
    let existing = recorded_names(host)?;
    if existing
        .iter()
        .any(|(_, r)| r.name == new_name && r.id != agent.record.id)
    {
        return Err(MngrError::already_exists(format!(
            "an agent named '{new_name}' already exists on host '{}'",
            host.name()
        )));
    }
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

/// Merge labels into an agent's record. Offline hosts: into the provider's copy.
pub fn label(agent: &AgentView, labels: &BTreeMap<String, String>) -> Result<AgentRecord> {
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
        None => Err(MngrError::not_running(format!(
            "host '{}' of agent '{}' is not running",
            agent.host.name(),
            agent.record.name
        ))
        .with_hint("start it first: mngr start AGENT")),
    }
}
