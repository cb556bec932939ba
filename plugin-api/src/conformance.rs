//! The conformance suite: the provider contract, run against any [`ProviderInstance`].
//!
//! Every backend runs it against itself, built in or plugin, directly and through the FFI
//! layer. It adapts to [`Capabilities`]: what an instance says it supports must work, and what
//! it says it does not support must be refused with kind `Unsupported`.
//!
//! Each check is its own test: [`conformance_tests!`](crate::conformance_tests) expands to one
//! `#[test]` per check, named after it (filter with `cargo test stop_and_start`), so every
//! failing check shows, not only the first. A check the instance's capabilities rule out passes
//! with a `skipped:` line saying which capability it needs.
//!
//! ```text
//! mngr_plugin_api::conformance_tests!(acme, |check| {
//!     let instance = AcmeBackend.build_instance(ctx, config).unwrap();
//!     check.run(&Suite::new(instance.as_ref()));
//!     // or, when creating a host needs more than a name (an image, flags):
//!     check.run(&Suite::new(instance.as_ref()).with_request(|name| {
//!         let mut request = CreateHostRequest::new(name);
//!         request.image = Some("img".into());
//!         request
//!     }));
//! });
//! ```
//!
//! [`Suite::assert_conforms`] runs every check in one test, stopping at the first failure.
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

/// The smallest create request: just the name ([`CreateHostRequest::new`]).
pub fn basic_request(name: HostName) -> CreateHostRequest {
    CreateHostRequest::new(name)
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

/// One named check of the contract, and the capability it applies under.
#[derive(Clone, Copy)]
pub struct Check {
    /// The check's name, also its test's name.
    pub name: &'static str,
    needs: Needs,
    run: fn(&Suite<'_>) -> CheckResult,
}

/// When a check applies: always, or only when a capability is on (or off).
#[derive(Clone, Copy)]
enum Needs {
    Always,
    /// The capability's name, and whether the check needs it on.
    Capability(&'static str, fn(&Capabilities) -> bool, bool),
}

impl Needs {
    /// `None` if the check applies to these capabilities, else why it is skipped.
    fn skip_reason(&self, caps: &Capabilities) -> Option<String> {
        match *self {
            Needs::Always => None,
            Needs::Capability(name, has, wanted) if has(caps) != wanted => Some(if wanted {
                format!("the instance lacks capability {name}")
            } else {
                format!("only for instances without capability {name}")
            }),
            Needs::Capability(..) => None,
        }
    }
}

impl Check {
    /// The check called `name`; panics if there is none (the macro's list and [`Suite::checks`]
    /// disagree).
    pub fn named(name: &str) -> Check {
        Suite::checks()
            .into_iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no conformance check named {name}"))
    }

    /// Run this check on `suite` (or print why it is skipped), destroy the hosts it created,
    /// and panic with the failure if there is one.
    #[track_caller]
    pub fn run(&self, suite: &Suite<'_>) {
        if let Some(why) = self.needs.skip_reason(&suite.caps()) {
            println!("skipped: conformance check {}: {why}", self.name);
            return;
        }
        let result = (self.run)(suite);
        suite.cleanup();
        if let Err(failure) = result {
            panic!("conformance check {} failed: {failure}", self.name);
        }
    }
}

/// Defines a module `$module` with one `#[test]` per conformance check, named after the check.
///
/// `$setup` is a closure given the [`Check`](crate::conformance::Check) to run: it builds the
/// instance (and whatever must outlive it), calls `check.run(&Suite::new(instance))`, and may
/// assert more afterwards (for example that nothing is left on disk). Each test builds its own
/// instance, so the checks are independent of each other. The module also holds a test that
/// the list of checks is complete.
///
/// ```text
/// mngr_plugin_api::conformance_tests!(acme_backend, |check| {
///     let instance = AcmeBackend.build_instance(ctx, config).unwrap();
///     check.run(&Suite::new(instance.as_ref()));
/// });
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($module:ident, $setup:expr) => {
        $crate::conformance_tests!(@tests $module, $setup;
            existing_hosts_can_be_found,
            unknown_hosts_are_not_found,
            create_find_discover,
            create_is_unsupported,
            taken_name_is_refused,
            stop_and_start,
            stop_is_unsupported,
            snapshots,
            snapshots_are_unsupported,
            tags,
            tags_are_read_only,
            rename,
            rename_is_unsupported,
            destroy_leaves_nothing,
            destroy_is_unsupported
        );
    };
    (@tests $module:ident, $setup:expr; $($check:ident),*) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $check() {
                    let setup: fn($crate::conformance::Check) = $setup;
                    setup($crate::conformance::Check::named(stringify!($check)));
                }
            )*
            #[test]
            fn every_check_has_a_test() {
                let tested = [$(stringify!($check)),*];
                let checks: Vec<&str> = $crate::conformance::Suite::checks()
                    .iter()
                    .map(|c| c.name)
                    .collect();
                assert_eq!(checks, tested);
            }
        }
    };
}

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
    pub fn checks() -> Vec<Check> {
        vec![
            check("existing_hosts_can_be_found", Needs::Always, |s| {
                s.existing_hosts_can_be_found()
            }),
            check("unknown_hosts_are_not_found", Needs::Always, |s| {
                s.unknown_hosts_are_not_found()
            }),
            check(
                "create_find_discover",
                Needs::Capability("create_hosts", |c| c.create_hosts, true),
                |s| s.create_find_discover(),
            ),
            check(
                "create_is_unsupported",
                Needs::Capability("create_hosts", |c| c.create_hosts, false),
                |s| s.create_is_unsupported(),
            ),
            check(
                "taken_name_is_refused",
                Needs::Capability("create_hosts", |c| c.create_hosts, true),
                |s| s.taken_name_is_refused(),
            ),
            check(
                "stop_and_start",
                Needs::Capability("stop_start", |c| c.stop_start, true),
                |s| s.stop_and_start(),
            ),
            check(
                "stop_is_unsupported",
                Needs::Capability("stop_start", |c| c.stop_start, false),
                |s| s.stop_is_unsupported(),
            ),
            check(
                "snapshots",
                Needs::Capability("snapshots", |c| c.snapshots, true),
                |s| s.snapshots(),
            ),
            check(
                "snapshots_are_unsupported",
                Needs::Capability("snapshots", |c| c.snapshots, false),
                |s| s.snapshots_are_unsupported(),
            ),
            check(
                "tags",
                Needs::Capability("mutable_tags", |c| c.mutable_tags, true),
                |s| s.tags(),
            ),
            check(
                "tags_are_read_only",
                Needs::Capability("mutable_tags", |c| c.mutable_tags, false),
                |s| s.tags_are_read_only(),
            ),
            check(
                "rename",
                Needs::Capability("rename", |c| c.rename, true),
                |s| s.rename(),
            ),
            check(
                "rename_is_unsupported",
                Needs::Capability("rename", |c| c.rename, false),
                |s| s.rename_is_unsupported(),
            ),
            check(
                "destroy_leaves_nothing",
                Needs::Capability("destroy_hosts", |c| c.destroy_hosts, true),
                |s| s.destroy_leaves_nothing(),
            ),
            check(
                "destroy_is_unsupported",
                Needs::Capability("destroy_hosts", |c| c.destroy_hosts, false),
                |s| s.destroy_is_unsupported(),
            ),
        ]
    }

    /// Run every check, stopping at the first failure; hosts created are destroyed either way.
    pub fn run(&self) -> CheckResult {
        let caps = self.caps();
        let result = Self::checks()
            .into_iter()
            .filter(|check| check.needs.skip_reason(&caps).is_none())
            .try_for_each(|check| (check.run)(self).map_err(|e| format!("{}: {e}", check.name)));
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

    fn create_is_unsupported(&self) -> CheckResult {
        let request = basic_request(self.name("refused"));
        expect_kind(
            "create_host",
            self.instance.create_host(request),
            ErrorKind::Unsupported,
        )
    }

    fn create_find_discover(&self) -> CheckResult {
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

    fn stop_is_unsupported(&self) -> CheckResult {
        let host = self.subject("stop")?;
        expect_kind(
            "stop_host",
            self.instance.stop_host(&host.id),
            ErrorKind::Unsupported,
        )
    }

    fn stop_and_start(&self) -> CheckResult {
        let host = self.subject("stop")?;
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

    fn snapshots_are_unsupported(&self) -> CheckResult {
        let host = self.subject("snap")?;
        expect_kind(
            "create_snapshot",
            self.instance.create_snapshot(&host.id, Some("s")),
            ErrorKind::Unsupported,
        )?;
        let list = ok("list_snapshots", self.instance.list_snapshots(&host.id))?;
        expect_eq("snapshots of a provider without snapshots", &list.len(), &0)
    }

    fn snapshots(&self) -> CheckResult {
        let host = self.subject("snap")?;
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

    fn tags_are_read_only(&self) -> CheckResult {
        let host = self.subject("tags")?;
        ok("get_tags", self.instance.get_tags(&host.id))?;
        let one = BTreeMap::from([("conf-a".to_string(), "1".to_string())]);
        expect_kind(
            "set_tags",
            self.instance.set_tags(&host.id, one),
            ErrorKind::Unsupported,
        )
    }

    fn tags(&self) -> CheckResult {
        let host = self.subject("tags")?;
        let original = ok("get_tags", self.instance.get_tags(&host.id))?;
        let one = BTreeMap::from([("conf-a".to_string(), "1".to_string())]);
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

    fn rename_is_unsupported(&self) -> CheckResult {
        let host = self.subject("rename")?;
        let new = self.name("renamed");
        expect_kind(
            "rename_host",
            self.instance.rename_host(&host.id, &new),
            ErrorKind::Unsupported,
        )
    }

    fn rename(&self) -> CheckResult {
        let host = self.subject("rename")?;
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

    fn destroy_is_unsupported(&self) -> CheckResult {
        let host = self.subject("destroy")?;
        expect_kind(
            "destroy_host",
            self.instance.destroy_host(&host.id),
            ErrorKind::Unsupported,
        )
    }

    fn destroy_leaves_nothing(&self) -> CheckResult {
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

fn check(name: &'static str, needs: Needs, run: fn(&Suite<'_>) -> CheckResult) -> Check {
    Check { name, needs, run }
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
