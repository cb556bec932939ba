//! The process running an operation, recorded so that a later command (perhaps on another
//! machine) can tell whether it may still be at work or is gone: a mngr killed half-way
//! leaves its work recognisable as abandoned, for `mngr gc` to finish.

use serde::{Deserialize, Serialize};

/// How long a process on another machine is trusted to still be working on a host: its
/// liveness cannot be checked from here.
pub const FOREIGN_LEASE_SECS: u64 = 3600;

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
pub fn start_time(pid: u32) -> Option<u64> {
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

impl Process {
    /// This process, now.
    pub fn current() -> Process {
        let pid = std::process::id();
        Process {
            machine: machine_id(),
            boot: read_trimmed("/proc/sys/kernel/random/boot_id"),
            pid,
            started: start_time(pid).unwrap_or(0),
            since: now_secs(),
        }
    }

    /// A process that is not known (work recorded by a mngr that named no process): it
    /// counts as gone.
    pub fn lost() -> Process {
        Process {
            machine: String::new(),
            boot: String::new(),
            pid: 0,
            started: 0,
            since: 0,
        }
    }

    /// Whether this process may still be running. On this machine that is checked exactly;
    /// a process elsewhere gets a lease of an hour.
    pub fn alive(&self) -> bool {
        let here = Process::current();
        if self.machine.is_empty() || self.machine != here.machine {
            return now_secs().saturating_sub(self.since) < FOREIGN_LEASE_SECS;
        }
        if self.pid == here.pid && self.boot == here.boot {
            return true;
        }
        self.boot == here.boot && start_time(self.pid).is_some_and(|t| t == self.started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_one_is_not() {
        let mine = Process::current();
        assert!(mine.alive());
        let mut child = std::process::Command::new("sleep")
            .arg("0.3")
            .spawn()
            .unwrap();
        let mut gone = mine.clone();
        gone.pid = child.id();
        gone.started = start_time(child.id()).expect("the child runs");
        assert!(gone.alive(), "a running child is alive");
        std::thread::sleep(std::time::Duration::from_millis(600));
        assert!(!gone.alive(), "a zombie is not alive");
        child.wait().unwrap();
        assert!(!gone.alive(), "a reaped child is not alive");
        // Same pid, another start time: a reused pid, not the holder.
        let mut reused = mine.clone();
        reused.started += 1;
        reused.pid = 1;
        assert!(!reused.alive());
        // A process on another machine holds its lease for an hour.
        let mut foreign = mine.clone();
        foreign.machine = "elsewhere".into();
        assert!(foreign.alive());
        foreign.since -= FOREIGN_LEASE_SECS + 1;
        assert!(!foreign.alive());
        assert!(!Process::lost().alive());
    }
}
