//! Operations in progress on a host, recorded in its record before they change anything, so a
//! mngr killed half-way leaves a host that any later command can recognise as abandoned
//! (`HostRecord::abandoned`) and gc can finish: which operation, and which process on which machine runs it.

use serde::{Deserialize, Serialize};

/// How long a process on another machine is trusted to still be working on a host: its
/// liveness cannot be checked from here.
const FOREIGN_LEASE_SECS: u64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Being created: until its first agent record arrives the host is the creator's.
    Creating,
    /// Its last agent was removed; the host goes next (a host made for agents goes with them).
    Emptied,
    /// Being destroyed: whoever finds it abandoned finishes the job.
    Destroying,
}

/// A process, recognisable later: same machine, same boot, same pid and start time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub machine: String,
    pub boot: String,
    pub pid: u32,
    /// The process's start time in clock ticks since boot (`/proc/PID/stat`), so a reused
    /// pid is not mistaken for it.
    pub started: u64,
    /// When the operation began, in seconds since the epoch.
    pub since: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub operation: Operation,
    pub by: Process,
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn machine_id() -> String {
    let id = read_trimmed("/etc/machine-id");
    if id.is_empty() {
        read_trimmed("/proc/sys/kernel/hostname")
    } else {
        id
    }
}

/// Field 22 of `/proc/PID/stat` of a living process (a zombie is dead, only not yet reaped);
/// the command name (field 2) may hold spaces, so count from the closing parenthesis.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Pending {
    pub fn now(operation: Operation) -> Pending {
        let pid = std::process::id();
        Pending {
            operation,
            by: Process {
                machine: machine_id(),
                boot: read_trimmed("/proc/sys/kernel/random/boot_id"),
                pid,
                started: start_time(pid).unwrap_or(0),
                since: now_secs(),
            },
        }
    }

    /// An operation whose process is not known (a container made by a mngr that labelled
    /// no creator): it counts as gone.
    pub fn lost(operation: Operation) -> Pending {
        Pending {
            operation,
            by: Process {
                machine: String::new(),
                boot: String::new(),
                pid: 0,
                started: 0,
                since: 0,
            },
        }
    }

    /// Whether the process that began this operation may still be running it. On this
    /// machine that is checked exactly; a process elsewhere gets a lease of an hour.
    pub fn holder_alive(&self) -> bool {
        let by = &self.by;
        let here = Pending::now(self.operation).by;
        if by.machine.is_empty() || by.machine != here.machine {
            return now_secs().saturating_sub(by.since) < FOREIGN_LEASE_SECS;
        }
        if by.pid == here.pid && by.boot == here.boot {
            return true;
        }
        by.boot == here.boot && start_time(by.pid).is_some_and(|t| t == by.started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_one_is_not() {
        let mine = Pending::now(Operation::Creating);
        assert!(mine.holder_alive());
        let mut child = std::process::Command::new("sleep")
            .arg("0.3")
            .spawn()
            .unwrap();
        let mut gone = mine.clone();
        gone.by.pid = child.id();
        gone.by.started = start_time(child.id()).expect("the child runs");
        assert!(gone.holder_alive(), "a running child is alive");
        std::thread::sleep(std::time::Duration::from_millis(600));
        assert!(!gone.holder_alive(), "a zombie is not alive");
        child.wait().unwrap();
        assert!(!gone.holder_alive(), "a reaped child is not alive");
        // Same pid, another start time: a reused pid, not the holder.
        let mut reused = mine.clone();
        reused.by.started += 1;
        reused.by.pid = 1;
        assert!(!reused.holder_alive());
        // A process on another machine holds its lease for an hour.
        let mut foreign = mine.clone();
        foreign.by.machine = "elsewhere".into();
        assert!(foreign.holder_alive());
        foreign.by.since -= FOREIGN_LEASE_SECS + 1;
        assert!(!foreign.holder_alive());
        assert!(!Pending::lost(Operation::Creating).holder_alive());
    }
}
