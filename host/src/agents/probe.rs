//! One command per host that reads everything `list` needs: every agent record, the `active`
//! markers, all tmux panes and one process snapshot (`/proc/*/stat` where there is a /proc,
//! several times cheaper than `ps`; else `ps`). One round trip, whatever the number of agents,
//! so listing stays fast locally and over SSH.

use super::record::AgentRecord;
use super::shell::quote;
use super::state::{Pane, ProcessTable};
use std::collections::HashSet;

const RECORDS: &str = "@@MNGR-RECORDS";
const FILE: &str = "@@MNGR-FILE ";
const ACTIVE: &str = "@@MNGR-ACTIVE";
const PANES: &str = "@@MNGR-PANES";
const PS: &str = "@@MNGR-PS";
const PROC: &str = "@@MNGR-PROC";
const END: &str = "@@MNGR-END";

/// What one probe of a host found.
#[derive(Debug, Default)]
pub struct HostProbe {
    /// Agent records by directory id; unreadable records carry the reason.
    pub records: Vec<(String, Result<AgentRecord, String>)>,
    /// Agent dirs whose `active` marker exists.
    pub active: HashSet<String>,
    pub panes: Vec<Pane>,
    pub processes: ProcessTable,
    /// Whether the probe ran `ps` (skipped when no tmux pane exists).
    pub tmux_running: bool,
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
}

/// The probe script for a host dir.
pub fn script(host_dir: &str) -> String {
    let h = quote(host_dir);
    format!(
        "H={h}\n\
         echo {RECORDS}\n\
         set -- \"$H\"/agents/*/data.json\n\
         [ -e \"$1\" ] && awk 'FNR==1{{print \"{FILE}\" FILENAME}}{{print}}' \"$@\"\n\
         echo {ACTIVE}\n\
         for f in \"$H\"/agents/*/active; do [ -e \"$f\" ] && echo \"$f\"; done\n\
         echo {PANES}\n\
         P=$(tmux list-panes -a -F '#{{session_name}}|#{{window_name}}|#{{pane_index}}|#{{pane_dead}}|#{{pane_pid}}|#{{pane_current_command}}' 2>/dev/null)\n\
         [ -n \"$P\" ] && printf '%s\\n' \"$P\"\n\
         if [ -n \"$P\" ]; then\n\
           if [ -r /proc/self/stat ]; then echo {PROC}; cat /proc/[0-9]*/stat 2>/dev/null;\n\
           else echo {PS}; ps -e -o pid=,ppid=,comm=; fi\n\
         fi\n\
         echo {END}\n"
    )
}

fn dir_id(path: &str) -> String {
    // .../agents/<id>/data.json or .../agents/<id>/active
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
            probe
                .records
                .push((id, AgentRecord::parse(body.as_bytes())));
        }
    };
    for line in output.lines() {
        match line {
            RECORDS | ACTIVE | PANES | PS | PROC | END => {
                flush(&mut current, &mut probe);
                section = match line {
                    RECORDS => "records",
                    ACTIVE => "active",
                    PANES => "panes",
                    PS => "ps",
                    PROC => "proc",
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
            "active" => {
                probe.active.insert(dir_id(line));
            }
            "panes" => {
                let f: Vec<&str> = line.splitn(6, '|').collect();
                if f.len() == 6 {
                    probe.panes.push(Pane {
                        session: f[0].to_string(),
                        window: f[1].to_string(),
                        index: f[2].parse().unwrap_or(0),
                        dead: f[3] == "1",
                        pid: f[4].parse().unwrap_or(0),
                        current_command: f[5].to_string(),
                    });
                }
            }
            "ps" => {
                ps_text.push_str(line);
                ps_text.push('\n');
            }
            "proc" => {
                // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
                if let (Some(open), Some(close)) = (line.find('('), line.rfind(')')) {
                    let pid = line[..open].trim();
                    let comm = &line[open + 1..close];
                    let ppid = line[close + 1..].split_whitespace().nth(1).unwrap_or("");
                    ps_text.push_str(&format!("{pid} {ppid} {comm}\n"));
                }
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
    format!(
        "H={h}\n\
         echo {RECORDS}\n\
         set -- \"$H\"/agents/*/data.json\n\
         [ -e \"$1\" ] && awk 'FNR==1{{print \"{FILE}\" FILENAME}}{{print}}' \"$@\"\n\
         echo {END}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_probe_of_this_machine() {
        let dir = tempfile::tempdir().unwrap();
        let id = mngr_plugin_api::AgentId::generate();
        let agent = dir.path().join("agents").join(id.as_str());
        std::fs::create_dir_all(&agent).unwrap();
        let json = format!(
            r#"{{"id":"{id}","name":"a1","type":"command","work_dir":"/w","create_time":"t","command":"sleep 1"}}"#
        );
        std::fs::write(agent.join("data.json"), json).unwrap();
        std::fs::write(agent.join("active"), "").unwrap();
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
        assert_eq!(probe.records.len(), 2);
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
    fn reads_proc_stat_lines_with_odd_command_names() {
        let text = format!(
            "{PANES}\nmngr-a|agent|0|0|10|bash\n{PROC}\n10 (bash) S 1 10 10\n11 (my (odd) name) S 10 11 11\n{END}\n"
        );
        let probe = parse(&text).unwrap();
        assert_eq!(probe.processes.comm[&11], "my (odd) name");
        assert_eq!(probe.processes.descendants(10), vec![11]);
        assert_eq!(probe.primary_pane("mngr-a").unwrap().pid, 10);
    }
}
