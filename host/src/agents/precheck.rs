//! One look at a host before an agent is created or renamed on it: the agents recorded there
//! (readable or not), the programs it lacks and the host record, in one command. Read under
//! the host lock, it is what decides whether a name is free.

use super::host::Host;
use super::probe;
use super::record::{AgentRecord, Unreadable};
use super::workdir;
use crate::error::{MngrError, Result};
use crate::shell::quote;
use mngr_plugin_api::AgentId;

/// What one look at the host tells before anything is changed.
pub struct Precheck {
    /// The valid agent records, by agent dir id.
    pub records: Vec<(String, AgentRecord)>,
    /// The records that cannot be read, by agent dir id (with the name as far as it reads).
    pub unreadable: Vec<(String, Unreadable)>,
    /// The first of the asked-for programs the host lacks.
    pub missing: Option<String>,
    /// The host record's bytes, when it has one.
    pub host_data: Option<Vec<u8>>,
}

impl Precheck {
    fn from_probe(
        probe: probe::HostProbe,
        missing: Option<String>,
        host_data: Option<Vec<u8>>,
    ) -> Precheck {
        let (mut records, mut unreadable) = (Vec::new(), Vec::new());
        for (dir, record) in probe.records {
            match record {
                Ok(r) => records.push((dir, r)),
                Err(u) => unreadable.push((dir, u)),
            }
        }
        Precheck {
            records,
            unreadable,
            missing,
            host_data,
        }
    }

    /// Whether a generated name would clash: an agent has it, readable or not.
    pub fn is_taken(&self, name: &str) -> bool {
        self.records.iter().any(|(_, r)| r.name == name)
            || self
                .unreadable
                .iter()
                .any(|(_, u)| u.name.as_deref() == Some(name))
    }

    /// Refuse `name` for an agent (other than `except`) when another agent has it, or when a
    /// record that cannot be read may have it: its name is unknown, so the name is not known
    /// to be free. gc never touches such a record, so the user repairs or removes it.
    pub fn check_name_free(&self, host: &Host, name: &str, except: Option<&AgentId>) -> Result<()> {
        if self
            .records
            .iter()
            .any(|(_, r)| r.name == name && Some(&r.id) != except)
        {
            return Err(MngrError::already_exists(format!(
                "an agent named '{name}' already exists on host '{}'",
                host.name()
            ))
            .with_hint("choose another name, or destroy the existing agent first"));
        }
        let blocking = self.unreadable.iter().find(|(dir, u)| {
            Some(dir.as_str()) != except.map(AgentId::as_str)
                && u.name.as_deref().is_none_or(|n| n == name)
        });
        let Some((dir, unreadable)) = blocking else {
            return Ok(());
        };
        let why = format!(
            "agent record {}/data.json cannot be read: {}",
            host.agent_dir(dir),
            unreadable.reason
        );
        let err = match &unreadable.name {
            Some(_) => MngrError::already_exists(format!(
                "an agent named '{name}' may exist on host '{}': {why}",
                host.name()
            )),
            None => MngrError::failure(format!(
                "cannot tell whether the name '{name}' is free on host '{}': {why}",
                host.name()
            )),
        };
        Err(err.with_hint(
            "repair that record or remove its agent dir (gc leaves unreadable records alone), \
             or choose another name",
        ))
    }
}

/// Marks where the host record starts in the precheck's output.
const HOST_DATA_MARK: &str = "@@MNGR-HOST-DATA";

/// One command: the agents recorded on the host, the first of `programs` it lacks, and the
/// host record.
pub fn precheck(host: &Host, programs: &[&str]) -> Result<Precheck> {
    let host_data_path = format!("{}/data.json", host.host_dir);
    if host.transport.is_local() {
        // Same answer without starting a shell.
        let missing = programs
            .iter()
            .find(|p| !workdir::program_on_path(p))
            .map(|p| p.to_string());
        let host_data = host.read_file(&host_data_path)?;
        return Ok(Precheck::from_probe(
            probe::local_records(&host.host_dir),
            missing,
            host_data,
        ));
    }
    let mut script = String::new();
    for program in programs {
        script.push_str(&format!(
            "command -v {p} >/dev/null 2>&1 || echo MISSING:{p} >&2\n",
            p = quote(program)
        ));
    }
    script.push_str(&probe::records_script(&host.host_dir));
    script.push_str(&format!(
        "echo {HOST_DATA_MARK}\ncat {} 2>/dev/null\nexit 0\n",
        quote(&host_data_path)
    ));
    let out = host.run(&script)?;
    let (probe_text, host_data) = match out.stdout.split_once(&format!("\n{HOST_DATA_MARK}\n")) {
        Some((probe_text, data)) => (probe_text, (!data.is_empty()).then(|| data.into())),
        None => (out.stdout.as_str(), None),
    };
    let parsed = probe::parse(probe_text).map_err(MngrError::failure)?;
    let missing = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("MISSING:"))
        .map(str::to_string);
    Ok(Precheck::from_probe(parsed, missing, host_data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::fakes::{self, MemoryProvider};
    use crate::error::ExitCode;
    use mngr_plugin_api::{Capabilities, HostState};

    /// A host (read through scripts, as over SSH) with agent `alpha`, and `data.json` files
    /// in agent dirs as `unreadable` gives them (dir, bytes).
    fn host_with(dir: &std::path::Path, unreadable: &[(&str, &str)]) -> (Host, AgentId) {
        let provider = MemoryProvider::new("local", Capabilities::default(), dir);
        let record = provider.add_host("localhost", HostState::Running);
        let host = fakes::open(&fakes::handle("local", &provider), record);
        let alpha = fakes::agent_record("alpha", "/work/alpha", "in_place");
        let alpha_dir = host.agent_dir(alpha.id.as_str());
        std::fs::create_dir_all(&alpha_dir).unwrap();
        std::fs::write(format!("{alpha_dir}/data.json"), alpha.to_json()).unwrap();
        for (agent_dir, bytes) in unreadable {
            let agent_dir = host.agent_dir(agent_dir);
            std::fs::create_dir_all(&agent_dir).unwrap();
            std::fs::write(format!("{agent_dir}/data.json"), bytes).unwrap();
        }
        (host, alpha.id)
    }

    #[test]
    fn a_name_an_agent_has_is_taken_except_by_itself() {
        let dir = tempfile::tempdir().unwrap();
        let (host, alpha) = host_with(dir.path(), &[]);
        let checked = precheck(&host, &[]).unwrap();
        let err = checked.check_name_free(&host, "alpha", None).unwrap_err();
        assert_eq!(err.code, ExitCode::AlreadyExists);
        assert_eq!(
            err.message,
            "an agent named 'alpha' already exists on host 'localhost'"
        );
        checked
            .check_name_free(&host, "alpha", Some(&alpha))
            .unwrap();
        checked.check_name_free(&host, "beta", None).unwrap();
        assert!(checked.is_taken("alpha") && !checked.is_taken("beta"));
    }

    #[test]
    fn a_cut_short_record_holds_the_name_it_still_shows() {
        let dir = tempfile::tempdir().unwrap();
        let (host, _) = host_with(
            dir.path(),
            &[(
                "agent-cut",
                "{\"id\": \"agent-cut\", \"name\": \"beta\", \"ty",
            )],
        );
        let checked = precheck(&host, &[]).unwrap();
        let err = checked.check_name_free(&host, "beta", None).unwrap_err();
        assert_eq!(err.code, ExitCode::AlreadyExists, "{err:?}");
        let path = format!("{}/agents/agent-cut/data.json", host.host_dir);
        assert!(
            err.message.contains("may exist on host 'localhost'"),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains(&format!("agent record {path} cannot be read")),
            "{}",
            err.message
        );
        assert!(
            err.hint
                .unwrap()
                .contains("repair that record or remove its agent dir")
        );
        // Another name is free; a generated one avoids the name it shows.
        checked.check_name_free(&host, "gamma", None).unwrap();
        assert!(checked.is_taken("beta"));
    }

    #[test]
    fn a_record_without_a_readable_name_leaves_no_name_known_to_be_free() {
        let dir = tempfile::tempdir().unwrap();
        let (host, _) = host_with(dir.path(), &[("agent-junk", "{\"id\": \"agent-ju")]);
        let checked = precheck(&host, &[]).unwrap();
        let err = checked.check_name_free(&host, "gamma", None).unwrap_err();
        assert_eq!(err.code, ExitCode::Failure, "{err:?}");
        assert!(
            err.message.starts_with(
                "cannot tell whether the name 'gamma' is free on host 'localhost': agent record "
            ),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains("agents/agent-junk/data.json cannot be read"),
            "{}",
            err.message
        );
    }
}
