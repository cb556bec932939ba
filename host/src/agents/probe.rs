//! One command per host that reads everything `list` needs: every agent record, the `active`
//! markers, all tmux panes, and the process trees under the panes (walked through
//! `/proc/PID/task/*/children` with shell builtins, which reads a few files per agent instead
//! of every process on the machine; `ps -e` where that is missing). One round trip, whatever the
//! number of agents, so listing stays fast locally and over SSH.

use super::idle::{self, IdleFacts};
use super::record::{AgentRecord, Unreadable};
use super::state::{Pane, ProcessTable};
use crate::shell::quote;
use std::collections::HashSet;

const RECORDS: &str = "@@MNGR-RECORDS";
const FILE: &str = "@@MNGR-FILE ";
const ACTIVE: &str = "@@MNGR-ACTIVE";
const PANES: &str = "@@MNGR-PANES";
const PS: &str = "@@MNGR-PS";
const IDLE: &str = "@@MNGR-IDLE";
const END: &str = "@@MNGR-END";

/// What one probe of a host found.
#[derive(Debug, Default)]
pub struct HostProbe {
    /// Agent records by directory id (every agent dir that has a `data.json`); unreadable
    /// records carry the reason.
    pub records: Vec<(String, Result<AgentRecord, Unreadable>)>,
    /// Agent dirs whose `active` marker exists.
    pub active: HashSet<String>,
    /// Agent dirs whose `launching` marker exists: the agent's command has not ended since
    /// its session started.
    pub launching: HashSet<String>,
    pub panes: Vec<Pane>,
    pub processes: ProcessTable,
    /// Whether the probe ran `ps` (skipped when no tmux pane exists).
    pub tmux_running: bool,
    /// The host's activity, idle settings and last stop (hosts reached over a transport that
    /// is not this machine: the local host never idles).
    pub idle: Option<IdleFacts>,
}

impl HostProbe {
    /// The primary pane (`agent` window, lowest pane index) of a session.
    pub fn primary_pane(&self, session: &str) -> Option<&Pane> {
        self.panes
            .iter()
            .filter(|p| p.session == session && p.window == "agent")
            .min_by_key(|p| p.index)
            .or_else(|| {
                self.panes
                    .iter()
                    .filter(|p| p.session == session)
                    .min_by_key(|p| p.index)
            })
    }

    pub fn sessions(&self) -> HashSet<&str> {
        self.panes.iter().map(|p| p.session.as_str()).collect()
    }

    /// Forget panes of sessions another host dir started (several hosts, such as local
    /// instances with their own host dirs, can share one tmux server). Sessions without the
    /// mark (other tools, older mngr) stay.
    pub fn keep_panes_of(&mut self, host_dir: &str) {
        self.panes
            .retain(|p| p.owner.is_empty() || p.owner == host_dir);
    }
}

/// What `tmux list-panes -a -F` prints per pane.
const PANE_FORMAT: &str = "#{session_name}|#{window_name}|#{pane_index}|#{pane_dead}|#{pane_pid}|#{@mngr_host_dir}|#{@mngr_agent_id}|#{pane_current_command}";

fn parse_pane(line: &str) -> Option<Pane> {
    let f: Vec<&str> = line.splitn(8, '|').collect();
    (f.len() == 8).then(|| Pane {
        session: f[0].to_string(),
        window: f[1].to_string(),
        index: f[2].parse().unwrap_or(0),
        dead: f[3] == "1",
        pid: f[4].parse().unwrap_or(0),
        owner: f[5].to_string(),
        agent_id: f[6].to_string(),
        current_command: f[7].to_string(),
    })
}

/// The agent records and markers (`active`, `launching`) of a host dir on this machine, read
/// in process.
pub fn local_records(host_dir: &str) -> HostProbe {
    let mut probe = HostProbe::default();
    let agents = std::path::Path::new(host_dir).join("agents");
    if let Ok(entries) = std::fs::read_dir(&agents) {
        for entry in entries.flatten() {
            let dir = entry.file_name().to_string_lossy().into_owned();
            match std::fs::read(entry.path().join("data.json")) {
                Ok(bytes) => probe
                    .records
                    .push((dir.clone(), AgentRecord::read(&dir, &bytes))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => probe.records.push((
                    dir.clone(),
                    Err(Unreadable {
                        reason: e.to_string(),
                        name: None,
                    }),
                )),
            }
            if entry.path().join("launching").exists() {
                probe.launching.insert(dir.clone());
            }
            if entry.path().join("active").exists() {
                probe.active.insert(dir);
            }
        }
    }
    probe
}

/// The same probe for a host that is this machine, in process: the records and `/proc` are
/// read directly and tmux is run without a shell. Saves two process starts per `mngr list`.
pub fn local(host_dir: &str) -> HostProbe {
    let mut probe = local_records(host_dir);
    if let Ok(out) = std::process::Command::new("tmux")
        .args(["list-panes", "-a", "-F", PANE_FORMAT])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
    {
        probe.panes.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(parse_pane),
        );
    }
    probe.tmux_running = !probe.panes.is_empty();
    if probe.tmux_running {
        let roots: Vec<u32> = probe.panes.iter().map(|p| p.pid).collect();
        probe.processes = local_process_tree(&roots);
    }
    probe
}

/// The process trees under `roots`, from `/proc/PID/task/*/children`; all processes from
/// `ps` where that file does not exist.
fn local_process_tree(roots: &[u32]) -> ProcessTable {
    let comm = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default()
    };
    if !std::path::Path::new("/proc/self/task").exists() {
        let out = std::process::Command::new("ps")
            .args(["-e", "-o", "pid=,ppid=,comm="])
            .output();
        return ProcessTable::parse(
            &out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default(),
        );
    }
    let mut table = ProcessTable::default();
    let mut queue: Vec<u32> = roots.to_vec();
    for &pid in roots {
        table.comm.insert(pid, comm(pid));
    }
    while let Some(pid) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(kids) = std::fs::read_to_string(task.path().join("children")) else {
                continue;
            };
            for kid in kids
                .split_whitespace()
                .filter_map(|k| k.parse::<u32>().ok())
            {
                if table.comm.contains_key(&kid) {
                    continue;
                }
                table.comm.insert(kid, comm(kid));
                table.children.entry(pid).or_default().push(kid);
                queue.push(kid);
            }
        }
    }
    table
}

/// What a record file that exists but cannot be read prints instead of its contents.
const CANNOT_READ: &str = "@@MNGR-CANNOT-READ";

/// The script lines that print every agent record of `$H` after a [`FILE`] line: one awk for
/// the readable ones; a file that is empty or cannot be read gets its line too (and shows as
/// unreadable, never as absent).
fn records_section() -> String {
    format!(
        "echo {RECORDS}\n\
         set -- \"$H\"/agents/*/data.json\n\
         if [ -e \"$1\" ]; then\n\
           for f do shift; if [ -r \"$f\" ] && [ -s \"$f\" ]; then set -- \"$@\" \"$f\"; \
             else echo \"{FILE}$f\"; [ -r \"$f\" ] || echo {CANNOT_READ}; fi; done\n\
           [ $# -gt 0 ] && awk 'FNR==1{{print \"{FILE}\" FILENAME}}{{print}}' \"$@\"\n\
         fi\n"
    )
}

/// The probe script for a host dir.
pub fn script(host_dir: &str) -> String {
    let h = quote(host_dir);
    let records = records_section();
    let idle = idle::probe_section();
    format!(
        "H={h}\n\
         {records}\
         echo {IDLE}\n\
         {idle}\
         echo {ACTIVE}\n\
         for f in \"$H\"/agents/*/active \"$H\"/agents/*/launching; do [ -e \"$f\" ] && echo \"$f\"; done\n\
         echo {PANES}\n\
         P=$(tmux list-panes -a -F '{PANE_FORMAT}' 2>/dev/null)\n\
         [ -n \"$P\" ] && printf '%s\\n' \"$P\"\n\
         if [ -n \"$P\" ]; then\n\
           if [ -r /proc/$$/task/$$/children ]; then\n\
             echo {PS}\n\
             q=''\n\
             while IFS='|' read -r s w i d pid o c; do q=\"$q $pid\"; done <<MNGR_EOF\n\
         $P\n\
         MNGR_EOF\n\
             for p in $q; do n=''; read -r n < /proc/$p/comm; echo \"$p 0 $n\"; done 2>/dev/null\n\
             while [ -n \"$q\" ]; do\n\
               set -- $q; p=$1; shift; q=\"$*\"; kids=''\n\
               for f in /proc/$p/task/*/children; do k=''; read -r k < \"$f\"; kids=\"$kids $k\"; done 2>/dev/null\n\
               for k in $kids; do n=''; read -r n < /proc/$k/comm; echo \"$k $p $n\"; q=\"$q $k\"; done 2>/dev/null\n\
             done\n\
           else echo {PS}; ps -e -o pid=,ppid=,comm=; fi\n\
         fi\n\
         echo {END}\n"
    )
}

fn dir_id(path: &str) -> String {
    // .../agents/<id>/data.json, .../agents/<id>/active or .../agents/<id>/launching
    let mut parts = path.rsplit('/');
    parts.next();
    parts.next().unwrap_or("").to_string()
}

/// Parse the probe's output. Fails only if the output is not a probe's (cut short).
pub fn parse(output: &str) -> Result<HostProbe, String> {
    if !output.contains(END) {
        return Err("the host probe did not finish".to_string());
    }
    let mut probe = HostProbe::default();
    let mut section = "";
    let mut current: Option<(String, String)> = None;
    let mut ps_text = String::new();
    let flush = |current: &mut Option<(String, String)>, probe: &mut HostProbe| {
        if let Some((path, body)) = current.take() {
            let id = dir_id(&path);
            let record = if body.starts_with(CANNOT_READ) {
                Err(Unreadable {
                    reason: "it cannot be read (permission denied)".to_string(),
                    name: None,
                })
            } else {
                AgentRecord::read(&id, body.as_bytes())
            };
            probe.records.push((id, record));
        }
    };
    for line in output.lines() {
        match line {
            RECORDS | IDLE | ACTIVE | PANES | PS | END => {
                flush(&mut current, &mut probe);
                section = match line {
                    RECORDS => "records",
                    IDLE => "idle",
                    ACTIVE => "active",
                    PANES => "panes",
                    PS => "ps",
                    _ => "end",
                };
                continue;
            }
            _ => {}
        }
        match section {
            "records" => {
                if let Some(path) = line.strip_prefix(FILE) {
                    flush(&mut current, &mut probe);
                    current = Some((path.to_string(), String::new()));
                } else if let Some((_, body)) = current.as_mut() {
                    body.push_str(line);
                    body.push('\n');
                }
            }
            "idle" => {
                probe
                    .idle
                    .get_or_insert_with(IdleFacts::default)
                    .read_line(line);
            }
            "active" if line.ends_with("/launching") => {
                probe.launching.insert(dir_id(line));
            }
            "active" => {
                probe.active.insert(dir_id(line));
            }
            "panes" => probe.panes.extend(parse_pane(line)),
            "ps" => {
                ps_text.push_str(line);
                ps_text.push('\n');
            }
            _ => {}
        }
    }
    probe.tmux_running = !probe.panes.is_empty();
    probe.processes = ProcessTable::parse(&ps_text);
    Ok(probe)
}

/// A cheaper script that reads only the agent records (for name checks under the lock).
pub fn records_script(host_dir: &str) -> String {
    let h = quote(host_dir);
    let records = records_section();
    format!(
        "H={h}\n\
         {records}\
         echo {END}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host dir holding one valid, active agent record named a1.
    fn host_dir_with_one_active_agent() -> (tempfile::TempDir, mngr_plugin_api::AgentId) {
        let dir = tempfile::tempdir().unwrap();
        let id = mngr_plugin_api::AgentId::generate();
        let agent = dir.path().join("agents").join(id.as_str());
        std::fs::create_dir_all(&agent).unwrap();
        let json = format!(
            r#"{{"id":"{id}","name":"a1","type":"command","work_dir":"/w","create_time":"t","command":"sleep 1"}}"#
        );
        std::fs::write(agent.join("data.json"), json).unwrap();
        std::fs::write(agent.join("active"), "").unwrap();
        (dir, id)
    }

    #[test]
    fn parses_a_probe_of_this_machine() {
        let (dir, id) = host_dir_with_one_active_agent();
        std::fs::create_dir_all(dir.path().join("agents/agent-empty")).unwrap();
        std::fs::write(dir.path().join("agents/agent-empty/data.json"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("agents/agent-broken")).unwrap();
        std::fs::write(
            dir.path().join("agents/agent-broken/data.json"),
            "{not json",
        )
        .unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script(dir.path().to_str().unwrap()))
            .env("TMUX_TMPDIR", dir.path())
            .output()
            .unwrap();
        let probe = parse(&String::from_utf8_lossy(&out.stdout)).unwrap();
        assert_eq!(probe.records.len(), 3);
        assert!(probe.records.iter().any(
            |(d, r)| d == "agent-empty" && r.as_ref().is_err_and(|e| e.reason == "it is empty")
        ));
        let good = probe
            .records
            .iter()
            .find(|(d, _)| d == id.as_str())
            .unwrap();
        assert_eq!(good.1.as_ref().unwrap().name, "a1");
        assert!(
            probe
                .records
                .iter()
                .any(|(d, r)| d == "agent-broken" && r.is_err())
        );
        assert!(probe.active.contains(id.as_str()));
        assert!(
            probe.panes.is_empty(),
            "a private, empty tmux dir has no server"
        );
        assert!(parse("cut short").is_err());
    }

    #[test]
    fn the_in_process_probe_agrees_with_the_script() {
        let (dir, id) = host_dir_with_one_active_agent();
        let probe = local(dir.path().to_str().unwrap());
        assert_eq!(probe.records.len(), 1);
        assert!(probe.active.contains(id.as_str()));
        let roots = [std::process::id()];
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let table = local_process_tree(&roots);
        let _ = child.kill();
        let _ = child.wait();
        assert!(table.descendants(roots[0]).contains(&child.id()));
        assert_eq!(table.comm[&child.id()], "sleep");
    }

    #[test]
    fn walks_the_process_tree_under_each_pane() {
        let dir = tempfile::tempdir().unwrap();
        let tmux = |args: &[&str]| {
            std::process::Command::new("tmux")
                .args(args)
                .env("TMUX_TMPDIR", dir.path())
                .env_remove("TMUX")
                .status()
                .unwrap()
        };
        assert!(
            tmux(&[
                "new-session",
                "-d",
                "-s",
                "mngr-t",
                "-n",
                "agent",
                "sh -c 'sleep 1000 | cat'"
            ])
            .success()
        );
        // The pane's shell starts its children a moment after tmux returns: poll.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let names = loop {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(script(dir.path().to_str().unwrap()))
                .env("TMUX_TMPDIR", dir.path())
                .env_remove("TMUX")
                .output()
                .unwrap();
            let probe = parse(&String::from_utf8_lossy(&out.stdout)).unwrap();
            let pane = probe.primary_pane("mngr-t").expect("pane");
            let names: Vec<String> = probe
                .processes
                .descendants(pane.pid)
                .iter()
                .map(|p| probe.processes.comm[p].clone())
                .collect();
            let both = names.iter().any(|n| n == "sleep") && names.iter().any(|n| n == "cat");
            if both || std::time::Instant::now() > deadline {
                break names;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        tmux(&["kill-server"]);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert!(
            names.contains(&"sleep") && names.contains(&"cat"),
            "{names:?}"
        );
    }
}
