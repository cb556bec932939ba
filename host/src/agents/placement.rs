//! Placement: the host a new agent goes on. An existing host the address names (started first
//! when it is stopped and its provider can start hosts), a new host its provider makes, or the
//! running host of a provider that makes none (local). A host made here that cannot be opened
//! is destroyed again, and so is one made for an agent whose create then fails or is
//! interrupted ([`place_and_create`]): a failed create leaves no host behind.

use super::address::HostAddress;
use super::create::{self, CreateRequest};
use super::host::Host;
use super::hosts;
use super::record::AgentRecord;
use crate::error::{MngrError, Result};
use crate::instances::{ProviderHandle, ProviderSet};
use crate::interrupt::{self, Undo};
use mngr_plugin_api::{ActivitySource, CreateHostRequest, HostName, HostRecord, HostState};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// What a new host is made with (the "New host" options of `mngr create`). Only a provider
/// that makes hosts takes them.
#[derive(Debug, Clone, Default)]
pub struct NewHost {
    pub tags: BTreeMap<String, String>,
    pub build_args: Vec<String>,
    pub start_args: Vec<String>,
    /// Built into the host's image; handed to the provider as flag `dockerfile`.
    pub dockerfile: Option<PathBuf>,
    pub snapshot: Option<String>,
    pub idle_timeout: Option<Duration>,
    /// The activity sources that keep the new host up (from `--idle-mode` or
    /// `--activity-sources`).
    pub activity_sources: Option<Vec<ActivitySource>>,
    /// Values of backend-registered flags, by flag name.
    pub flags: BTreeMap<String, serde_json::Value>,
}

/// The options every refusal of [`NewHost`] names.
const NEW_HOST_OPTIONS: &str =
    "-b, -s, --tag, --dockerfile, --snapshot, --idle-timeout, --idle-mode and --activity-sources";

impl NewHost {
    /// Whether any option asks something of a new host.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
            && self.build_args.is_empty()
            && self.start_args.is_empty()
            && self.dockerfile.is_none()
            && self.snapshot.is_none()
            && self.idle_timeout.is_none()
            && self.activity_sources.is_none()
            && self.flags.is_empty()
    }

    /// The provider's request for a host named `name`.
    fn request(&self, name: &str) -> Result<CreateHostRequest> {
        let mut flags = self.flags.clone();
        if let Some(path) = &self.dockerfile {
            let path = path.canonicalize().map_err(|e| {
                MngrError::not_found(format!(
                    "Dockerfile '{}' cannot be read: {e}",
                    path.display()
                ))
            })?;
            flags.insert(
                "dockerfile".to_string(),
                serde_json::Value::String(path.to_string_lossy().into_owned()),
            );
        }
        let mut request = CreateHostRequest::new(
            HostName::parse(name).map_err(|e| MngrError::usage(e.to_string()))?,
        );
        request.tags = self.tags.clone();
        request.build_args = self.build_args.clone();
        request.start_args = self.start_args.clone();
        request.snapshot = self.snapshot.clone();
        request.flags = flags;
        request.lifecycle.idle_timeout_seconds = self.idle_timeout.map(|d| d.as_secs());
        request.lifecycle.activity_sources = self.activity_sources.clone();
        Ok(request)
    }
}

/// Where a new agent should go.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    /// An existing host, by name or id (`@HOST` of the address).
    pub host: Option<&'a str>,
    /// The provider instance; `None`: `local`, or for `host`, whichever provider has it.
    pub provider: Option<&'a str>,
    pub new_host: &'a NewHost,
    /// The name a new host gets (the agent's).
    pub new_host_name: &'a str,
}

/// The chosen host, opened.
pub struct Placed {
    pub host: Host,
    /// The provider made the host for this agent (so undoing the create destroys it).
    pub made: bool,
}

/// Choose, start or make the host for a new agent and open it.
pub fn place(providers: ProviderSet, placement: Placement) -> Result<Placed> {
    if let Some(host_name) = placement.host {
        return existing_host(providers, placement, host_name);
    }
    let provider = providers.find(placement.provider.unwrap_or("local"))?;
    if provider.capabilities.create_hosts {
        return new_host(provider, placement);
    }
    if placement.new_host.idle_timeout.is_some() || placement.new_host.activity_sources.is_some() {
        return Err(MngrError::usage(format!(
            "provider '{}' does not create hosts and its hosts never shut down when idle, so --idle-timeout, --idle-mode and --activity-sources do not apply",
            provider.name
        ))
        .with_hint("drop the idle options, or choose a provider that makes hosts, for example --in docker"));
    }
    if !placement.new_host.is_empty() {
        return Err(MngrError::usage(format!(
            "provider '{}' does not create hosts, so {NEW_HOST_OPTIONS} do not apply",
            provider.name
        ))
        .with_hint("choose a provider that makes hosts, for example --in docker"));
    }
    let hosts = provider
        .instance
        .discover_hosts(false)
        .map_err(|e| MngrError::from_provider(&provider.name, e))?;
    let record = hosts
        .into_iter()
        .find(|h| h.state == HostState::Running)
        .ok_or_else(|| {
            MngrError::not_found(format!("provider '{}' has no running host", provider.name))
        })?;
    Ok(Placed {
        host: Host::open(provider, record)?,
        made: false,
    })
}

/// The host named `host_name`, on the one provider that has it, running.
fn existing_host(providers: ProviderSet, placement: Placement, host_name: &str) -> Result<Placed> {
    let address = HostAddress {
        host: host_name.to_string(),
        provider: placement.provider.map(str::to_string),
    };
    let (provider, record) = hosts::find(providers, &address)?;
    if !placement.new_host.is_empty() {
        return Err(MngrError::usage(format!(
            "{NEW_HOST_OPTIONS} apply to a new host, but @HOST names an existing one"
        )));
    }
    let record = ensure_running(provider, record)?;
    Ok(Placed {
        host: Host::open(provider, record)?,
        made: false,
    })
}

/// A host `provider` makes for the agent; destroyed again when it cannot be opened.
fn new_host(provider: &ProviderHandle, placement: Placement) -> Result<Placed> {
    let request = placement.new_host.request(placement.new_host_name)?;
    let record = crate::timing::timed("provider: creating the host", || {
        provider.instance.create_host(request)
    })
    .map_err(|e| MngrError::from_provider(&provider.name, e))?;
    match Host::open(provider, record.clone()) {
        Ok(host) => Ok(Placed { host, made: true }),
        Err(e) => {
            // The error that matters is why it could not be opened.
            let _ = provider.instance.destroy_host(&record.id);
            Err(e)
        }
    }
}

/// A new agent and the host it went on.
pub struct Created {
    pub host: Host,
    pub record: AgentRecord,
}

/// Place a new agent ([`place`]) and create it there. A host made for it takes the agent's
/// name (`placement.new_host_name`, which the agent then gets too) and is destroyed again when
/// the create fails or a signal interrupts it; a host that existed is left as it was.
pub fn place_and_create(
    providers: ProviderSet,
    placement: Placement,
    mut request: CreateRequest,
) -> Result<Created> {
    // From here a signal undoes the create instead of ending mngr half-way.
    let _guard = interrupt::guard();
    let Placed { host, made } = place(providers, placement)?;
    let mut undo = Undo::new();
    if made {
        undo.push(|| {
            if let Err(e) = host.instance.destroy_host(&host.record.id) {
                crate::warnings::warn(format!(
                    "could not destroy the new host '{}': {}",
                    host.name(),
                    e.message
                ));
            }
        });
        request.name = Some(placement.new_host_name.to_string());
    }
    interrupt::check()?;
    let record = crate::timing::timed("creating the agent", || create::create(&host, request))?;
    undo.keep();
    Ok(Created { host, record })
}

/// Start a stopped host when its provider can.
pub fn ensure_running(provider: &ProviderHandle, record: HostRecord) -> Result<HostRecord> {
    if record.state == HostState::Running {
        return Ok(record);
    }
    if !provider.capabilities.stop_start {
        let line = super::discovery::not_running_line(&provider.name, &record);
        // UNKNOWN: the provider cannot see the host (an existing machine that does not
        // answer, or answers with the wrong host key): unreachable, not stopped.
        return Err(if record.state == HostState::Unknown {
            MngrError::unavailable(line)
        } else {
            MngrError::not_running(line)
        });
    }
    provider
        .instance
        .start_host(&record.id, None)
        .map_err(|e| MngrError::from_provider(&provider.name, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::fakes::{self, MemoryProvider};
    use crate::error::ExitCode;
    use mngr_plugin_api::Capabilities;
    use std::path::Path;
    use std::sync::Arc;

    /// A provider that makes hosts (docker-like) and one that has one host (local-like).
    fn providers(dir: &Path) -> (Arc<MemoryProvider>, Arc<MemoryProvider>) {
        let maker = fakes::capabilities(|c| {
            c.create_hosts = true;
            c.destroy_hosts = true;
            c.stop_start = true;
        });
        (
            MemoryProvider::new("docker", maker, &dir.join("docker")),
            MemoryProvider::new("local", Capabilities::default(), &dir.join("local")),
        )
    }

    fn place_on(
        handles: &[ProviderHandle],
        host: Option<&str>,
        provider: Option<&str>,
        new_host: &NewHost,
    ) -> Result<Placed> {
        place(
            fakes::provider_set(handles),
            Placement {
                host,
                provider,
                new_host,
                new_host_name: "fixer",
            },
        )
    }

    #[test]
    fn without_a_host_a_provider_that_makes_none_gives_its_running_host() {
        let dir = tempfile::tempdir().unwrap();
        let (_, local) = providers(dir.path());
        local.add_host("old", HostState::Stopped);
        local.add_host("localhost", HostState::Running);
        let handles = [fakes::handle("local", &local)];
        let placed = place_on(&handles, None, None, &NewHost::default()).unwrap();
        assert_eq!(placed.host.name(), "localhost");
        assert!(!placed.made);
        assert!(local.calls().is_empty(), "{:?}", local.calls());
    }

    #[test]
    fn a_named_running_host_is_used_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let (docker, local) = providers(dir.path());
        docker.add_host("box", HostState::Running);
        let handles = [
            fakes::handle("docker", &docker),
            fakes::handle("local", &local),
        ];
        let placed = place_on(&handles, Some("box"), None, &NewHost::default()).unwrap();
        assert_eq!(placed.host.name(), "box");
        assert_eq!(placed.host.provider, "docker");
        assert!(!placed.made);
        assert!(docker.calls().is_empty(), "{:?}", docker.calls());
    }

    #[test]
    fn a_named_stopped_host_is_started_first() {
        let dir = tempfile::tempdir().unwrap();
        let (docker, _) = providers(dir.path());
        docker.add_host("box", HostState::Stopped);
        let handles = [fakes::handle("docker", &docker)];
        let placed = place_on(&handles, Some("box"), Some("docker"), &NewHost::default()).unwrap();
        assert_eq!(placed.host.record.state, HostState::Running);
        assert!(!placed.made);
        assert_eq!(docker.calls(), ["start box"]);
    }

    #[test]
    fn a_stopped_host_its_provider_cannot_start_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, local) = providers(dir.path());
        local.add_host("localhost", HostState::Stopped);
        let handles = [fakes::handle("local", &local)];
        let err = place_on(&handles, Some("localhost"), None, &NewHost::default())
            .err()
            .unwrap();
        assert_eq!(err.code, ExitCode::NotRunning, "{err:?}");
        assert!(err.message.contains("is STOPPED"), "{}", err.message);
        assert!(local.calls().is_empty());
    }

    #[test]
    fn a_provider_that_makes_hosts_makes_one_named_after_the_agent() {
        let dir = tempfile::tempdir().unwrap();
        let (docker, _) = providers(dir.path());
        docker.add_host("other", HostState::Running);
        let handles = [fakes::handle("docker", &docker)];
        let placed = place_on(&handles, None, Some("docker"), &NewHost::default()).unwrap();
        assert_eq!(placed.host.name(), "fixer");
        assert!(placed.made);
        assert_eq!(docker.calls(), ["create fixer"]);
    }

    #[test]
    fn a_made_host_that_cannot_be_opened_is_destroyed_again() {
        let dir = tempfile::tempdir().unwrap();
        let (docker, _) = providers(dir.path());
        docker.make_unreachable();
        let handles = [fakes::handle("docker", &docker)];
        let err = place_on(&handles, None, Some("docker"), &NewHost::default())
            .err()
            .unwrap();
        assert_eq!(err.code, ExitCode::ProviderUnavailable, "{err:?}");
        assert_eq!(docker.calls(), ["create fixer", "destroy fixer"]);
        assert!(docker.host_names().is_empty());
    }

    /// A request whose agent type needs a program no host has, so `create` fails at its
    /// precheck, before it changes anything on the host.
    fn failing_request(source: &Path) -> CreateRequest {
        CreateRequest {
            name: None,
            agent_type: crate::agents::types::ResolvedType {
                name: "needy".to_string(),
                command: "needy".to_string(),
                requires: Some((
                    "mngr-test-no-such-program".to_string(),
                    "install it".to_string(),
                )),
            },
            labels: BTreeMap::new(),
            env: Vec::new(),
            source: crate::agents::workdir::inspect(source).unwrap(),
            mode: Some(crate::agents::workdir::Mode::InPlace),
            initial_message: None,
            prefix: "mngr-test-".to_string(),
        }
    }

    fn place_and_create_on(
        handles: &[ProviderHandle],
        host: Option<&str>,
        provider: Option<&str>,
        source: &Path,
    ) -> Result<Created> {
        place_and_create(
            fakes::provider_set(handles),
            Placement {
                host,
                provider,
                new_host: &NewHost::default(),
                new_host_name: "fixer",
            },
            failing_request(source),
        )
    }

    #[test]
    fn a_host_made_for_an_agent_whose_create_fails_is_destroyed_again() {
        let dir = tempfile::tempdir().unwrap();
        let (docker, _) = providers(dir.path());
        docker.add_host("other", HostState::Running);
        let handles = [fakes::handle("docker", &docker)];
        let err = place_and_create_on(&handles, None, Some("docker"), dir.path())
            .err()
            .unwrap();
        assert_eq!(err.code, ExitCode::MissingTool, "{err:?}");
        assert!(
            err.message
                .contains("mngr-test-no-such-program is not installed on host 'fixer'"),
            "{}",
            err.message
        );
        assert_eq!(docker.calls(), ["create fixer", "destroy fixer"]);
        assert_eq!(docker.host_names(), ["other"]);
    }

    #[test]
    fn a_host_that_existed_is_kept_when_the_create_on_it_fails() {
        let dir = tempfile::tempdir().unwrap();
        let (docker, local) = providers(dir.path());
        docker.add_host("box", HostState::Stopped);
        local.add_host("localhost", HostState::Running);
        let handles = [
            fakes::handle("docker", &docker),
            fakes::handle("local", &local),
        ];
        for (host, provider) in [(Some("box"), None), (None, Some("local"))] {
            let err = place_and_create_on(&handles, host, provider, dir.path())
                .err()
                .unwrap();
            assert_eq!(err.code, ExitCode::MissingTool, "{err:?}");
        }
        // Started for the agent, and left running: only a host made for it is undone.
        assert_eq!(docker.calls(), ["start box"]);
        assert!(local.calls().is_empty(), "{:?}", local.calls());
        assert_eq!(docker.host_names(), ["box"]);
        assert_eq!(local.host_names(), ["localhost"]);
    }

    #[test]
    fn new_host_options_are_refused_where_no_host_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let (docker, local) = providers(dir.path());
        docker.add_host("box", HostState::Running);
        local.add_host("localhost", HostState::Running);
        let handles = [
            fakes::handle("docker", &docker),
            fakes::handle("local", &local),
        ];
        let tagged = NewHost {
            tags: BTreeMap::from([("team".to_string(), "web".to_string())]),
            ..NewHost::default()
        };
        for (host, provider) in [(None, None), (Some("box"), None)] {
            let err = place_on(&handles, host, provider, &tagged).err().unwrap();
            assert_eq!(err.code, ExitCode::Usage, "{err:?}");
            assert!(err.message.contains("--tag"), "{}", err.message);
        }
        assert!(docker.calls().is_empty() && local.calls().is_empty());
    }

    #[test]
    fn a_host_name_on_two_providers_must_name_its_provider() {
        let dir = tempfile::tempdir().unwrap();
        let (docker, local) = providers(dir.path());
        docker.add_host("box", HostState::Running);
        local.add_host("box", HostState::Running);
        let handles = [
            fakes::handle("docker", &docker),
            fakes::handle("local", &local),
        ];
        let err = place_on(&handles, Some("box"), None, &NewHost::default())
            .err()
            .unwrap();
        assert_eq!(err.code, ExitCode::Usage);
        assert!(
            err.message.contains("box.docker, box.local"),
            "{}",
            err.message
        );
        let placed = place_on(&handles, Some("box"), Some("local"), &NewHost::default()).unwrap();
        assert_eq!(placed.host.provider, "local");
    }
}
