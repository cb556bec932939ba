//! The conformance suite: the provider contract, run against any [`ProviderInstance`].
//!
//! Every backend runs it against itself, built in or plugin, directly and through the FFI
//! layer. It adapts to [`Capabilities`]: what an instance says it supports must work, and what
//! it says it does not support must be refused with kind `Unsupported`.
//!
//! ```text
//! use mngr_plugin_api::conformance::Suite;
//! Suite::new(instance.as_ref()).assert_conforms();
//! // or, when creating a host needs more than a name (an image, flags):
//! Suite::new(instance.as_ref())
//!     .with_request(|name| CreateHostRequest { image: Some("img".into()), ..basic_request(name) })
//!     .assert_conforms();
//! ```
//!
//! Hosts the suite creates get names starting with a random `conf-xxxxxx-` prefix and are
//! destroyed at the end, also when a check fails.

use crate::error::{ErrorKind, ProviderResult};
use crate::ids::{HostId, HostName};
use crate::provider::{HostServices, LogLevel, ProviderInstance};
use crate::types::{Capabilities, CreateHostRequest, HostAccess, HostRecord, HostState};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Mutex;

/// A failed check: which one, and what was wrong.
pub type CheckResult = Result<(), String>;

/// The smallest create request: just the name.
pub fn basic_request(name: HostName) -> CreateHostRequest {
    CreateHostRequest {
        name,
        image: None,
        tags: BTreeMap::new(),
        build_args: Vec::new(),
        start_args: Vec::new(),
        snapshot: None,
        flags: BTreeMap::new(),
        lifecycle: Default::default(),
        authorized_keys: Vec::new(),
    }
}

/// Host services for tests: keeps every log and progress line a provider sends, in order, to
/// see them reach the host (also across the FFI layer).
#[derive(Default)]
pub struct RecordedServices(Mutex<Vec<String>>);

impl RecordedServices {
    /// The lines received so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl HostServices for RecordedServices {
    fn log(&self, _level: LogLevel, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
    fn progress(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
    fn host_version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }
}

type MakeRequest<'a> = Box<dyn Fn(HostName) -> CreateHostRequest + 'a>;

/// The suite, bound to one instance.
pub struct Suite<'a> {
    instance: &'a dyn ProviderInstance,
    make_request: MakeRequest<'a>,
    prefix: String,
    created: RefCell<Vec<HostId>>,
}

/// One named check.
type Check<'a> = (&'static str, fn(&Suite<'a>) -> CheckResult);

impl<'a> Suite<'a> {
    /// The suite for `instance`, creating hosts with [`basic_request`].
    pub fn new(instance: &'a dyn ProviderInstance) -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        Suite {
            instance,
            make_request: Box::new(basic_request),
            prefix: format!("conf-{}", &tag[..6]),
            created: RefCell::new(Vec::new()),
        }
    }

    /// How to build a create request for a host name (default: [`basic_request`]).
    pub fn with_request(mut self, make: impl Fn(HostName) -> CreateHostRequest + 'a) -> Self {
        self.make_request = Box::new(make);
        self
    }

    /// The checks, in the order [`Suite::run`] runs them.
    pub fn checks() -> Vec<Check<'a>> {
        vec![
            (
                "existing hosts can be found",
                Suite::existing_hosts_can_be_found,
            ),
            (
                "unknown hosts are not found",
                Suite::unknown_hosts_are_not_found,
            ),
            ("create, find and discover", Suite::create_find_discover),
            ("a taken name is refused", Suite::taken_name_is_refused),
            ("stop and start", Suite::stop_and_start),
            ("snapshots", Suite::snapshots),
            ("tags", Suite::tags),
            ("rename", Suite::rename),
            ("destroy leaves nothing", Suite::destroy_leaves_nothing),
        ]
    }

    /// Run every check, stopping at the first failure; hosts created are destroyed either way.
    pub fn run(&self) -> CheckResult {
        let result = Self::checks()
            .into_iter()
            .try_for_each(|(name, check)| check(self).map_err(|e| format!("{name}: {e}")));
        self.cleanup();
        result
    }

    /// [`Suite::run`], panicking with the failure.
    #[track_caller]
    pub fn assert_conforms(&self) {
        if let Err(failure) = self.run() {
            panic!("conformance check failed: {failure}");
        }
    }

    fn caps(&self) -> Capabilities {
        self.instance.capabilities()
    }

    fn name(&self, suffix: &str) -> HostName {
        HostName::parse(&format!("{}-{suffix}", self.prefix)).expect("suite names are valid")
    }

    /// Create a host for a check (remembered for cleanup).
    fn create(&self, suffix: &str) -> Result<HostRecord, String> {
        let name = self.name(suffix);
        let record = ok(
            "create_host",
            self.instance.create_host((self.make_request)(name.clone())),
        )?;
        self.created.borrow_mut().push(record.id.clone());
        expect_eq("created host's name", &record.name, &name)?;
        Ok(record)
    }

    /// A host to exercise operations on: a new one if the instance creates hosts, else the
    /// first existing one.
    fn subject(&self, suffix: &str) -> Result<HostRecord, String> {
        if self.caps().create_hosts {
            return self.create(suffix);
        }
        let hosts = ok("discover_hosts", self.instance.discover_hosts(false))?;
        hosts
            .into_iter()
            .next()
            .ok_or_else(|| "the instance cannot create hosts and has none to test".to_string())
    }

    fn cleanup(&self) {
        for id in self.created.borrow_mut().drain(..) {
            let _ = self.instance.destroy_host(&id);
        }
    }

    fn existing_hosts_can_be_found(&self) -> CheckResult {
        for host in ok("discover_hosts", self.instance.discover_hosts(false))? {
            let by_id = ok("get_host by id", self.instance.get_host(host.id.as_str()))?;
            expect_eq("host found by id", &by_id.id, &host.id)?;
            let by_name = ok(
                "get_host by name",
                self.instance.get_host(host.name.as_str()),
            )?;
            expect_eq("host found by name", &by_name.id, &host.id)?;
        }
        Ok(())
    }

    fn unknown_hosts_are_not_found(&self) -> CheckResult {
        let id = HostId::generate();
        expect_kind(
            "get_host of an unknown id",
            self.instance.get_host(id.as_str()),
            ErrorKind::NotFound,
        )?;
        let name = self.name("never-created");
        expect_kind(
            "get_host of an unknown name",
            self.instance.get_host(name.as_str()),
            ErrorKind::NotFound,
        )
    }

    fn create_find_discover(&self) -> CheckResult {
        if !self.caps().create_hosts {
            let request = basic_request(self.name("refused"));
            return expect_kind(
                "create_host",
                self.instance.create_host(request),
                ErrorKind::Unsupported,
            );
        }
        let created = self.create("find")?;
        if !matches!(created.state, HostState::Running | HostState::Starting) {
            return Err(format!(
                "a new host should be RUNNING, it is {}",
                created.state.as_str()
            ));
        }
        let by_id = ok(
            "get_host by id",
            self.instance.get_host(created.id.as_str()),
        )?;
        expect_eq("host found by id", &by_id.id, &created.id)?;
        let by_name = ok(
            "get_host by name",
            self.instance.get_host(created.name.as_str()),
        )?;
        expect_eq("host found by name", &by_name.id, &created.id)?;
        let hosts = ok("discover_hosts", self.instance.discover_hosts(false))?;
        let Some(listed) = hosts.iter().find(|h| h.id == created.id) else {
            return Err(format!(
                "discover_hosts does not list the new host {}",
                created.id
            ));
        };
        // Its creator (this process) is alive: the host is no one's leftover, and gc would
        // destroy a host reported abandoned.
        for (call, record) in [
            ("create_host", &created),
            ("get_host", &by_id),
            ("discover_hosts", listed),
        ] {
            if let Some(why) = &record.abandoned {
                return Err(format!(
                    "{call} reports a host this process just created as abandoned: {why}"
                ));
            }
        }
        match ok("host_access", self.instance.host_access(&created.id))? {
            HostAccess::Local { host_dir } if host_dir.is_empty() => {
                Err("host_access gave an empty host_dir".to_string())
            }
            HostAccess::Ssh(ssh) if ssh.host_public_key.is_empty() => {
                Err("host_access gave an SSH endpoint without a pinned host key".to_string())
            }
            _ => Ok(()),
        }
    }

    fn taken_name_is_refused(&self) -> CheckResult {
        if !self.caps().create_hosts {
            return Ok(());
        }
        let first = self.create("taken")?;
        let again = self
            .instance
            .create_host((self.make_request)(first.name.clone()));
        if let Ok(record) = &again {
            self.created.borrow_mut().push(record.id.clone());
        }
        expect_kind(
            "a second create_host with the same name",
            again,
            ErrorKind::AlreadyExists,
        )?;
        let same_name = ok("discover_hosts", self.instance.discover_hosts(false))?
            .into_iter()
            .filter(|h| h.name == first.name)
            .count();
        expect_eq("hosts with the taken name", &same_name, &1)
    }

    fn stop_and_start(&self) -> CheckResult {
        let host = self.subject("stop")?;
        if !self.caps().stop_start {
            return expect_kind(
                "stop_host",
                self.instance.stop_host(&host.id),
                ErrorKind::Unsupported,
            );
        }
        ok("stop_host", self.instance.stop_host(&host.id))?;
        let stopped = ok("get_host", self.instance.get_host(host.id.as_str()))?;
        if !matches!(stopped.state, HostState::Stopped | HostState::Paused) {
            return Err(format!(
                "after stop_host the host is {}",
                stopped.state.as_str()
            ));
        }
        let started = ok("start_host", self.instance.start_host(&host.id, None))?;
        expect_eq("started host's id", &started.id, &host.id)?;
        let state = ok("get_host", self.instance.get_host(host.id.as_str()))?.state;
        if !matches!(state, HostState::Running | HostState::Starting) {
            return Err(format!("after start_host the host is {}", state.as_str()));
        }
        Ok(())
    }

    fn snapshots(&self) -> CheckResult {
        let host = self.subject("snap")?;
        if !self.caps().snapshots {
            expect_kind(
                "create_snapshot",
                self.instance.create_snapshot(&host.id, Some("s")),
                ErrorKind::Unsupported,
            )?;
            let list = ok("list_snapshots", self.instance.list_snapshots(&host.id))?;
            return expect_eq("snapshots of a provider without snapshots", &list.len(), &0);
        }
        let first = ok(
            "create_snapshot",
            self.instance.create_snapshot(&host.id, Some("first")),
        )?;
        let second = ok(
            "create_snapshot",
            self.instance.create_snapshot(&host.id, None),
        )?;
        if first.id == second.id {
            return Err("two snapshots got the same id".to_string());
        }
        expect_eq("snapshot name", &first.name.as_str(), &"first")?;
        let ids: Vec<String> = ok("list_snapshots", self.instance.list_snapshots(&host.id))?
            .into_iter()
            .map(|s| s.id)
            .collect();
        expect_eq(
            "snapshots, newest first",
            &ids,
            &vec![second.id.clone(), first.id.clone()],
        )?;
        ok(
            "delete_snapshot",
            self.instance.delete_snapshot(&host.id, &first.id),
        )?;
        let ids: Vec<String> = ok("list_snapshots", self.instance.list_snapshots(&host.id))?
            .into_iter()
            .map(|s| s.id)
            .collect();
        expect_eq("snapshots after a delete", &ids, &vec![second.id.clone()])?;
        expect_kind(
            "delete_snapshot of a deleted snapshot",
            self.instance.delete_snapshot(&host.id, &first.id),
            ErrorKind::NotFound,
        )?;
        if self.caps().stop_start {
            ok("stop_host", self.instance.stop_host(&host.id))?;
            ok(
                "start_host from a snapshot",
                self.instance.start_host(&host.id, Some(&second.id)),
            )?;
        }
        Ok(())
    }

    fn tags(&self) -> CheckResult {
        let host = self.subject("tags")?;
        let original = ok("get_tags", self.instance.get_tags(&host.id))?;
        let one = BTreeMap::from([("conf-a".to_string(), "1".to_string())]);
        if !self.caps().mutable_tags {
            return expect_kind(
                "set_tags",
                self.instance.set_tags(&host.id, one),
                ErrorKind::Unsupported,
            );
        }
        let result = (|| {
            ok("set_tags", self.instance.set_tags(&host.id, one.clone()))?;
            expect_eq(
                "tags after set_tags",
                &ok("get_tags", self.instance.get_tags(&host.id))?,
                &one,
            )?;
            let two = BTreeMap::from([("conf-b".to_string(), "2".to_string())]);
            ok("add_tags", self.instance.add_tags(&host.id, two))?;
            let both = BTreeMap::from([
                ("conf-a".to_string(), "1".to_string()),
                ("conf-b".to_string(), "2".to_string()),
            ]);
            expect_eq(
                "tags after add_tags",
                &ok("get_tags", self.instance.get_tags(&host.id))?,
                &both,
            )?;
            ok(
                "remove_tags",
                self.instance
                    .remove_tags(&host.id, vec!["conf-a".to_string()]),
            )?;
            let left = BTreeMap::from([("conf-b".to_string(), "2".to_string())]);
            expect_eq(
                "tags after remove_tags",
                &ok("get_tags", self.instance.get_tags(&host.id))?,
                &left,
            )?;
            let record = ok("get_host", self.instance.get_host(host.id.as_str()))?;
            expect_eq("the host record's tags", &record.tags, &left)
        })();
        // Hosts the suite did not create get their tags back.
        let restored = self.instance.set_tags(&host.id, original);
        result.and_then(|()| ok("set_tags (restoring)", restored))
    }

    fn rename(&self) -> CheckResult {
        let host = self.subject("rename")?;
        if !self.caps().rename {
            let new = self.name("renamed");
            return expect_kind(
                "rename_host",
                self.instance.rename_host(&host.id, &new),
                ErrorKind::Unsupported,
            );
        }
        let new = self.name("renamed");
        let renamed = ok("rename_host", self.instance.rename_host(&host.id, &new))?;
        expect_eq("renamed host's name", &renamed.name, &new)?;
        expect_eq("renamed host's id", &renamed.id, &host.id)?;
        let found = ok(
            "get_host by the new name",
            self.instance.get_host(new.as_str()),
        )?;
        expect_eq("host found by its new name", &found.id, &host.id)?;
        expect_kind(
            "get_host by the old name",
            self.instance.get_host(host.name.as_str()),
            ErrorKind::NotFound,
        )?;
        if self.caps().create_hosts {
            let other = self.create("other")?;
            expect_kind(
                "rename_host to a taken name",
                self.instance.rename_host(&host.id, &other.name),
                ErrorKind::AlreadyExists,
            )?;
        }
        Ok(())
    }

    fn destroy_leaves_nothing(&self) -> CheckResult {
        if !self.caps().destroy_hosts {
            let host = self.subject("destroy")?;
            return expect_kind(
                "destroy_host",
                self.instance.destroy_host(&host.id),
                ErrorKind::Unsupported,
            );
        }
        let host = self.subject("destroy")?;
        ok("destroy_host", self.instance.destroy_host(&host.id))?;
        expect_kind(
            "get_host by id after destroy",
            self.instance.get_host(host.id.as_str()),
            ErrorKind::NotFound,
        )?;
        expect_kind(
            "get_host by name after destroy",
            self.instance.get_host(host.name.as_str()),
            ErrorKind::NotFound,
        )?;
        if ok("discover_hosts", self.instance.discover_hosts(false))?
            .iter()
            .any(|h| h.id == host.id)
        {
            return Err("discover_hosts still lists a destroyed host".to_string());
        }
        // Destroying what is already gone changes nothing: it succeeds, or says NotFound
        // (so that of two concurrent destroys the loser can tell the user).
        match self.instance.destroy_host(&host.id) {
            Err(e) if e.kind == ErrorKind::NotFound => {}
            other => ok("destroy_host a second time", other)?,
        }
        // Every host the suite made goes the same way; none may be left.
        self.cleanup();
        let left: Vec<String> = ok("discover_hosts", self.instance.discover_hosts(false))?
            .into_iter()
            .filter(|h| h.name.as_str().starts_with(&self.prefix))
            .map(|h| h.name.to_string())
            .collect();
        expect_eq(
            "hosts left after destroying the suite's hosts",
            &left,
            &Vec::<String>::new(),
        )
    }
}

fn ok<T>(what: &str, result: ProviderResult<T>) -> Result<T, String> {
    result.map_err(|e| format!("{what} failed: [{}] {}", e.kind.as_str(), e.message))
}

fn expect_kind<T: Debug>(what: &str, result: ProviderResult<T>, kind: ErrorKind) -> CheckResult {
    match result {
        Err(e) if e.kind == kind => Ok(()),
        Err(e) => Err(format!(
            "{what} should fail with {}, it failed with [{}] {}",
            kind.as_str(),
            e.kind.as_str(),
            e.message
        )),
        Ok(value) => Err(format!(
            "{what} should fail with {}, it succeeded: {value:?}",
            kind.as_str()
        )),
    }
}

fn expect_eq<T: PartialEq + Debug>(what: &str, actual: &T, expected: &T) -> CheckResult {
    if actual == expected {
        Ok(())
    } else {
        Err(format!("{what}: expected {expected:?}, got {actual:?}"))
    }
}
