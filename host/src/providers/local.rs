//! The built-in `local` backend: one host, this machine, with no isolation.
//!
//! The host id is created once and kept in `<mngr root>/host_id`; tags live in
//! `<mngr root>/providers/<instance>/labels.json`. The local host cannot be stopped,
//! destroyed, renamed or snapshotted.

use mngr_plugin_api::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub const BACKEND_NAME: &str = "local";

pub struct LocalBackend {
    /// The mngr root on this machine (`MNGR_ROOT` or `~/.mngr`).
    pub root: PathBuf,
}

impl ProviderBackend for LocalBackend {
    fn describe(&self) -> BackendDescription {
        BackendDescription::new(
            BACKEND_NAME,
            "Runs agents directly on your local machine with no isolation",
        )
        .with_config_fields(vec![ConfigField::new(
            "host_dir",
            ConfigValueType::String,
            "Directory for mngr's records on this machine (default: the mngr root)",
        )])
        .with_build_args_help("The local provider takes no build arguments.")
        .with_start_args_help("The local provider takes no start arguments.")
    }

    fn build_instance(
        &self,
        ctx: InstanceContext,
        mut config: serde_json::Map<String, serde_json::Value>,
    ) -> ProviderResult<Box<dyn ProviderInstance>> {
        let host_dir = match config.remove("host_dir") {
            None => self.root.clone(),
            Some(serde_json::Value::String(s)) => {
                let dir = crate::paths::expand_tilde(&s);
                // Relative to what? The current directory changes from run to run.
                if !dir.is_absolute() {
                    return Err(ProviderError::invalid_config(format!(
                        "'host_dir' must be an absolute path (or start with ~/), got '{s}'"
                    )));
                }
                dir
            }
            Some(other) => {
                return Err(ProviderError::invalid_config(format!(
                    "'host_dir' must be a string, got {other}"
                )));
            }
        };
        if let Some(key) = config.keys().next() {
            return Err(ProviderError::invalid_config(format!(
                "unknown key '{key}' for the local backend; valid keys: host_dir"
            )));
        }
        Ok(Box::new(LocalInstance {
            name: ctx.instance_name,
            root: self.root.clone(),
            host_dir,
            state_dir: ctx.state_dir,
        }))
    }
}

pub struct LocalInstance {
    name: String,
    root: PathBuf,
    host_dir: PathBuf,
    state_dir: PathBuf,
}

const LOCAL_HOST_NAME: &str = "localhost";

impl LocalInstance {
    fn io_err(what: &str, err: std::io::Error) -> ProviderError {
        ProviderError::internal(format!("{what}: {err}"))
    }

    /// The local host id, created on first use (atomically, so racing creators agree).
    fn host_id(&self) -> ProviderResult<HostId> {
        let path = self.root.join("host_id");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return HostId::parse(text.trim()).map_err(|e| {
                ProviderError::internal(format!("{}: {e}", path.display()))
                    .with_hint("delete the file; mngr will create a new local host id")
            });
        }
        crate::paths::private_dir(&self.root)
            .map_err(|e| Self::io_err("creating the mngr root", e))?;
        let id = HostId::generate();
        let tmp = self.root.join(format!(".host_id.{}", std::process::id()));
        crate::paths::write_atomic(&tmp, id.as_str().as_bytes(), None)
            .map_err(|e| Self::io_err("writing host_id", e))?;
        // hard_link fails if another process won the race; then read theirs.
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(id),
            Err(_) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| Self::io_err("reading host_id", e))?;
                HostId::parse(text.trim()).map_err(|e| ProviderError::internal(e.to_string()))
            }
        }
    }

    fn tags_path(&self) -> PathBuf {
        self.state_dir.join("labels.json")
    }

    fn read_tags(&self) -> ProviderResult<BTreeMap<String, String>> {
        match std::fs::read(self.tags_path()) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                ProviderError::internal(format!("{}: {e}", self.tags_path().display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Self::io_err("reading local tags", e)),
        }
    }

    fn record(&self) -> ProviderResult<HostRecord> {
        Ok(HostRecord::new(
            self.host_id()?,
            HostName::parse(LOCAL_HOST_NAME).expect("valid"),
            self.name.clone(),
            HostState::Running,
            self.host_dir.to_string_lossy(),
        )
        .with_tags(self.read_tags()?))
    }

    fn check_id(&self, host: &HostId) -> ProviderResult<()> {
        if *host == self.host_id()? {
            Ok(())
        } else {
            Err(ProviderError::not_found(format!(
                "no host '{host}' on provider '{}'",
                self.name
            )))
        }
    }
}

impl ProviderInstance for LocalInstance {
    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::none();
        caps.mutable_tags = true;
        caps
    }

    fn create_host(&self, _request: CreateHostRequest) -> ProviderResult<HostRecord> {
        Err(ProviderError::unsupported(
            "the local provider has exactly one host, 'localhost'; it cannot create more",
        )
        .with_hint(
            "omit --in/--host to use the local host, or choose a provider that creates hosts",
        ))
    }

    fn stop_host(&self, _host: &HostId) -> ProviderResult<()> {
        Err(
            ProviderError::unsupported("the local host cannot be stopped")
                .with_hint("stop the agents instead: mngr stop AGENT"),
        )
    }

    fn destroy_host(&self, _host: &HostId) -> ProviderResult<()> {
        Err(
            ProviderError::unsupported("the local host cannot be destroyed")
                .with_hint("destroy the agents instead: mngr destroy AGENT"),
        )
    }

    fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
        let record = self.record()?;
        if id_or_name == record.id.as_str()
            || id_or_name == LOCAL_HOST_NAME
            || id_or_name == "local"
        {
            Ok(record)
        } else {
            Err(ProviderError::not_found(format!(
                "no host '{id_or_name}' on provider '{}'",
                self.name
            )))
        }
    }

    fn discover_hosts(&self, _include_destroyed: bool) -> ProviderResult<Vec<HostRecord>> {
        Ok(vec![self.record()?])
    }

    fn host_access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        self.check_id(host)?;
        Ok(HostAccess::local(self.host_dir.to_string_lossy()))
    }

    fn set_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        self.check_id(host)?;
        crate::paths::private_dir(&self.state_dir)
            .map_err(|e| Self::io_err("creating provider state dir", e))?;
        let body = serde_json::to_vec_pretty(&tags).expect("tags serialize");
        crate::paths::write_atomic(&self.tags_path(), &body, None)
            .map_err(|e| Self::io_err("writing local tags", e))
    }
}
