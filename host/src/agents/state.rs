//! Agent lifecycle states, derived from tmux and the process tree (one probe per host).

use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgentState {
    /// No tmux session (or the host is offline).
    Stopped,
    /// The agent's process runs and `$MNGR_AGENT_STATE_DIR/active` exists.
    Running,
    /// The agent's process runs and nothing marked it active.
    Waiting,
    /// Something else runs in the agent's pane.
    Replaced,
    /// The agent's process ended; the pane shows a shell (or is dead).
    Done,
    RunningUnknownAgentType,
    Unknown,
}

impl AgentState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Stopped => "STOPPED",
            AgentState::Running => "RUNNING",
            AgentState::Waiting => "WAITING",
            AgentState::Replaced => "REPLACED",
            AgentState::Done => "DONE",
            AgentState::RunningUnknownAgentType => "RUNNING_UNKNOWN_AGENT_TYPE",
            AgentState::Unknown => "UNKNOWN",
        }
    }

    pub fn parse(raw: &str) -> Option<AgentState> {
        let all = [
            AgentState::Stopped,
            AgentState::Running,
            AgentState::Waiting,
            AgentState::Replaced,
            AgentState::Done,
            AgentState::RunningUnknownAgentType,
            AgentState::Unknown,
        ];
        all.into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(raw.trim()))
    }

    /// The agent's process (or a replacement) is alive.
    pub fn is_running(self) -> bool {
        matches!(
            self,
            AgentState::Running
                | AgentState::Waiting
                | AgentState::Replaced
                | AgentState::RunningUnknownAgentType
        )
    }
}

/// The primary pane of an agent's tmux session.
#[derive(Debug, Clone, PartialEq)]
pub struct Pane {
    pub session: String,
    pub window: String,
    pub index: u32,
    pub dead: bool,
    pub pid: u32,
    /// The host dir that started the session (tmux option `@mngr_host_dir`); empty when unset.
    pub owner: String,
    /// The id of the agent the session was started for (tmux option `@mngr_agent_id`); empty
    /// for sessions an older mngr started.
    pub agent_id: String,
    pub current_command: String,
}

/// One `ps -e -o pid=,ppid=,comm=` snapshot.
#[derive(Debug, Default, Clone)]
pub struct ProcessTable {
    pub comm: HashMap<u32, String>,
    pub children: HashMap<u32, Vec<u32>>,
}

impl ProcessTable {
    pub fn parse(text: &str) -> ProcessTable {
        let mut table = ProcessTable::default();
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            let (Some(pid), Some(ppid)) = (parts.next(), parts.next()) else {
                continue;
            };
            let (Ok(pid), Ok(ppid)) = (pid.parse::<u32>(), ppid.parse::<u32>()) else {
                continue;
            };
            let comm = parts.collect::<Vec<_>>().join(" ");
            table.comm.insert(pid, comm);
            table.children.entry(ppid).or_default().push(pid);
        }
        table
    }

    /// Every descendant of `pid` (not `pid` itself), parents before children.
    pub fn descendants(&self, pid: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut stack = vec![pid];
        while let Some(p) = stack.pop() {
            if let Some(kids) = self.children.get(&p) {
                for &k in kids {
                    if k != pid && !out.contains(&k) {
                        out.push(k);
                        stack.push(k);
                    }
                }
            }
        }
        out
    }
}

const SHELLS: &[&str] = &["bash", "sh", "zsh", "fish", "dash", "ksh", "tcsh", "csh"];

fn is_shell(name: &str) -> bool {
    SHELLS.contains(&name.trim_start_matches('-'))
}

/// The process name an agent's command shows while it runs: the basename of its first word,
/// truncated as `ps` and tmux truncate it.
pub fn expected_process_name(command: &str) -> String {
    let command = command.trim_start().trim_start_matches("( ").trim_start();
    let first = command.split_whitespace().next().unwrap_or("");
    let base = first.rsplit('/').next().unwrap_or(first);
    base.chars().take(15).collect()
}

/// What an agent's state dir says beside its processes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// `active` exists: the agent marked itself busy.
    pub active: bool,
    /// `launching` exists: the agent's command has not ended since its session started, so a
    /// pane that shows only shells is still starting it, not done.
    pub launching: bool,
}

/// The state algorithm: tmux pane facts, the process tree and the agent's markers.
///
/// `expected` is the process name the agent's program shows; empty means "any program that is
/// not a shell", which is how `command` agents are judged: their command is arbitrary shell, so
/// its first word (`echo` in `echo hi; sleep 600`) says nothing about what runs later.
pub fn determine(
    pane: Option<&Pane>,
    expected: &str,
    known_type: bool,
    marks: Marks,
    processes: &ProcessTable,
) -> AgentState {
    let Some(pane) = pane else {
        return AgentState::Stopped;
    };
    if pane.dead {
        return AgentState::Done;
    }
    let running = if marks.active {
        AgentState::Running
    } else {
        AgentState::Waiting
    };
    let replaced = if known_type {
        AgentState::Replaced
    } else {
        AgentState::RunningUnknownAgentType
    };
    let matches = |name: &str| {
        if expected.is_empty() {
            !name.is_empty() && !is_shell(name)
        } else {
            name.chars().take(15).eq(expected.chars())
        }
    };
    if matches(&pane.current_command) {
        return running;
    }
    let descendants = processes.descendants(pane.pid);
    let names: Vec<&str> = descendants
        .iter()
        .filter_map(|p| processes.comm.get(p).map(String::as_str))
        .collect();
    if names.iter().any(|n| matches(n)) {
        return running;
    }
    let only_shells = names.iter().all(|n| is_shell(n));
    if only_shells && marks.launching {
        return running;
    }
    if known_type && is_shell(&pane.current_command) && only_shells {
        return AgentState::Done;
    }
    if names.iter().any(|n| !is_shell(n)) {
        return replaced;
    }
    let pane_comm = processes
        .comm
        .get(&pane.pid)
        .map(String::as_str)
        .unwrap_or("");
    if is_shell(&pane.current_command) || is_shell(pane_comm) {
        AgentState::Done
    } else {
        replaced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pane(cmd: &str, dead: bool) -> Pane {
        Pane {
            session: "mngr-a".into(),
            window: "agent".into(),
            index: 0,
            dead,
            pid: 10,
            owner: String::new(),
            agent_id: String::new(),
            current_command: cmd.into(),
        }
    }

    #[test]
    fn states_follow_the_pane_and_process_tree() {
        let ps = ProcessTable::parse("10 1 bash\n11 10 sleep\n12 11 cat\n");
        let none = Marks::default();
        let active = Marks {
            active: true,
            ..none
        };
        assert_eq!(
            determine(None, "sleep", true, none, &ps),
            AgentState::Stopped
        );
        assert_eq!(
            determine(Some(&pane("bash", true)), "sleep", true, none, &ps),
            AgentState::Done
        );
        assert_eq!(
            determine(Some(&pane("sleep", false)), "sleep", true, active, &ps),
            AgentState::Running
        );
        // `bash -c` keeps the process group, so tmux shows bash; the tree shows sleep.
        assert_eq!(
            determine(Some(&pane("bash", false)), "sleep", true, none, &ps),
            AgentState::Waiting
        );
        assert_eq!(
            determine(Some(&pane("bash", false)), "vim", true, none, &ps),
            AgentState::Replaced
        );
        // A `command` agent (no fixed program) runs while any non-shell process runs.
        assert_eq!(
            determine(Some(&pane("bash", false)), "", true, none, &ps),
            AgentState::Waiting
        );
        let idle = ProcessTable::parse("10 1 bash\n");
        assert_eq!(
            determine(Some(&pane("bash", false)), "", true, none, &idle),
            AgentState::Done
        );
        assert_eq!(
            determine(Some(&pane("bash", false)), "sleep", true, none, &idle),
            AgentState::Done
        );
        // Just after the session starts, the launch shell has not started the command yet:
        // starting, not done. A dead pane is done whatever the markers say.
        let launching = Marks {
            launching: true,
            ..none
        };
        assert_eq!(
            determine(Some(&pane("bash", false)), "", true, launching, &idle),
            AgentState::Waiting
        );
        assert_eq!(
            determine(Some(&pane("bash", false)), "claude", true, launching, &idle),
            AgentState::Waiting
        );
        assert_eq!(
            determine(Some(&pane("bash", true)), "", true, launching, &idle),
            AgentState::Done
        );
        assert_eq!(expected_process_name("/usr/bin/sleep 100"), "sleep");
        assert_eq!(expected_process_name("( cd x"), "cd");
        assert_eq!(ps.descendants(10), vec![11, 12]);
    }
}
