//! Operations in progress on a host, recorded in its record before they change anything, so a
//! mngr killed half-way leaves a host that any later command can recognise as abandoned
//! (`HostRecord::abandoned`) and gc can finish: which operation, and which process on which machine runs it.

use serde::{Deserialize, Serialize};

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

/// The process running an operation (the kit's: same machine, boot, pid and start time).
pub use crate::holder::Process;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub operation: Operation,
    pub by: Process,
}

impl Pending {
    pub fn now(operation: Operation) -> Pending {
        Pending {
            operation,
            by: Process::current(),
        }
    }

    /// An operation whose process is not known (a container made by a mngr that labelled
    /// no creator): it counts as gone.
    pub fn lost(operation: Operation) -> Pending {
        Pending {
            operation,
            by: Process::lost(),
        }
    }

    /// Whether the process that began this operation may still be running it (see
    /// `Process::alive`).
    pub fn holder_alive(&self) -> bool {
        self.by.alive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_is_held_by_its_process() {
        // Liveness itself is the kit's (holder.rs); here only that Pending uses it.
        assert!(Pending::now(Operation::Creating).holder_alive());
        assert!(!Pending::lost(Operation::Creating).holder_alive());
    }
}
