//! Creating an agent on a host, in as few commands as the host allows: one precheck (records,
//! missing programs and the host record together, see [`super::precheck`]), the host record when it changes, the work
//! dir, then one script that writes the agent's files, commits its record and starts its tmux
//! session while the provider keeps its copy of the record.

use super::batch::FileBatch;
use super::envfile;
use super::host::Host;
use super::lifecycle::{activity_json, send_message, session_name, session_script, start_outcome};
use super::names;
use super::precheck::precheck;
use super::record::{self, AgentRecord, TmuxOptions};
use super::types::ResolvedType;
use super::workdir::{self, Plan};
use crate::error::{MngrError, Result};
use crate::interrupt::{self, Undo};
use crate::shell::quote;
use mngr_plugin_api::AgentId;
use std::collections::BTreeMap;

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
    let checked = precheck(host, &names)?;
    if let Some(missing) = checked.missing {
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
    let name = match &request.name {
        Some(name) => {
            checked.check_name_free(host, name, None)?;
            name.clone()
        }
        None => names::generate(&|n| checked.is_taken(n)),
    };
    let plan = workdir::plan(
        host,
        request.source.clone(),
        request.mode,
        &name,
        agent_id.as_str(),
    )?;
    let session = session_name(&request.prefix, &name);
    let mut undo = Undo::new();
    interrupt::check()?;

    // Record the work dir and branch before making them, so gc finds them if this process dies.
    let host_had_record = checked.host_data.is_some();
    let mut host_data = host.host_data_from(checked.host_data, &request.prefix)?;
    if plan.is_generated() {
        host_data.generated_work_dirs.push(plan.target.clone());
        host_data.generated_branches.extend(plan.generated_branch());
        undo.push(|| forget_generated(host, &plan, &request.prefix));
        host.write_host_data(&mut host_data)?;
    } else if !host_had_record {
        host.write_host_data(&mut host_data)?;
    }
    interrupt::check()?;

    let info = workdir::create(host, &plan, &mut undo)?;
    interrupt::check()?;
    let mut record = new_record(&request, &plan, &name, &agent_id);
    record.set_work_dir_info(&info);
    undo.push(|| remove_agent(host, &agent_id, &session));
    let setup = agent_files(host, &record, &request.env).into_script(host)?;
    // The record is committed by `setup`; from then on an agent claims the work dir.
    let claim = if plan.is_generated() {
        format!("rm -f {}\n", quote(&plan.unclaimed_marker))
    } else {
        String::new()
    };
    let script = format!("{setup}{claim}{}", session_script(host, &record, &session));
    // The provider's copy is written while the agent starts; both finish before the outcome
    // is known, so a failure below can remove it again.
    let started = std::thread::scope(|scope| {
        let persisting = scope.spawn(|| host.persist_agent_record(&record));
        let started = host.run(&script);
        let _ = persisting.join();
        started
    })?;
    if !start_outcome(host, &record, &started)? {
        return Err(MngrError::already_exists(format!(
            "tmux session '{session}' already exists on host '{}' but no agent records it",
            host.name()
        ))
        .with_hint("run mngr gc to remove orphaned sessions, or choose another name"));
    }
    interrupt::check()?;
    if let Some(message) = &request.initial_message {
        send_message(host, &session, message)?;
    }
    interrupt::check()?;
    undo.keep();
    Ok(record)
}

/// Undo of the agent's own part: its session, its dir and the provider's copy of its record.
fn remove_agent(host: &Host, agent_id: &AgentId, session: &str) {
    let _ = host.run(&format!(
        "tmux kill-session -t {} 2>/dev/null; rm -rf {}",
        quote(&format!("={session}")),
        quote(&host.agent_dir(agent_id.as_str()))
    ));
    let _ = host
        .instance
        .remove_persisted_agent_record(&host.record.id, agent_id.as_str());
}

/// Undo of the host record's entries for a work dir that is gone again.
fn forget_generated(host: &Host, plan: &Plan, prefix: &str) {
    if let Ok(mut data) = host.read_host_data(prefix) {
        data.generated_work_dirs.retain(|d| d != &plan.target);
        if let Some(branch) = plan.generated_branch() {
            data.generated_branches.retain(|b| b != &branch);
        }
        let _ = host.write_host_data(&mut data);
    }
}

fn new_record(request: &CreateRequest, plan: &Plan, name: &str, id: &AgentId) -> AgentRecord {
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
    AgentRecord {
        name: name.to_string(),
        agent_type: request.agent_type.name.clone(),
        work_dir: plan.target.clone(),
        create_time: record::now_iso(),
        command: request.agent_type.command.clone(),
        initial_message: request.initial_message.clone(),
        labels,
        created_branch_name: plan.branch.clone(),
        ..placeholder_record(id)
    }
}

/// The agent's files, its record last: the record is the commit point.
fn agent_files(host: &Host, record: &AgentRecord, env: &[(String, String)]) -> FileBatch {
    let dir = host.agent_dir(record.id.as_str());
    let mut batch = FileBatch::new();
    for events in ["services", "requests"] {
        batch.add(format!("{dir}/events/{events}/events.jsonl"), "", None);
    }
    batch.add(format!("{dir}/env"), agent_env(host, record, env), None);
    batch.add(
        format!("{dir}/launch_agent.sh"),
        format!("{}\n", record.command),
        Some(0o700),
    );
    batch.add(
        format!("{dir}/activity/create"),
        activity_json(record),
        None,
    );
    let json = String::from_utf8(record.to_json()).expect("JSON is UTF-8");
    batch.add(format!("{dir}/data.json"), json, None);
    batch
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
        unread: BTreeMap::new(),
    }
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
