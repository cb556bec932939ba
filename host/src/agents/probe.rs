//! One command per host that reads everything `list` needs: every agent record, the `active`
//! markers, all tmux panes and one `ps` snapshot. One round trip, whatever the number of
//! agents, so listing stays fast locally and over SSH.

use super::record::AgentRecord;
use super::shell::quote;
use super::state::{Pane, ProcessTable};
use std::collections::HashSet;

const RECORDS: &str = "@@MNGR-RECORDS";
const FILE: &str = "@@MNGR-FILE ";
const ACTIVE: &str = "@@MNGR-ACTIVE";
const PANES: &str = "@@MNGR-PANES";
const PS: &str = "@@MNGR-PS";
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
         echo {PS}\n\
         [ -n \"$P\" ] && ps -e -o pid=,ppid=,comm=\n\
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
            RECORDS | ACTIVE | PANES | PS | END => {
                flush(&mut current, &mut probe);
                section = match line {
                    RECORDS => "records",
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
