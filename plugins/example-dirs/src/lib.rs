//! An example mngr provider plugin, and the template for vendors: hosts are directories on
//! this machine.
//!
//! Each host lives in `<base_dir>/<host id>/`: `root/` is the host's directory (what agents
//! see, reached with `HostAccess::Local`), `host.json` its record, a `stopped` marker file
//! means stopped, and `snapshots/<id>/` holds copies of `root/`. Names are claimed atomically
//! in `<base_dir>/.names/<name>`, so two creates of one name cannot both win.
//!
//! See `docs/writing-a-plugin.md` for how this crate is built, installed and tested.

mod instance;
mod store;

use mngr_plugin_api::*;

pub use instance::DirsInstance;

/// The backend name users write in `[providers.NAME] backend = "dirs"`.
pub const BACKEND_NAME: &str = "dirs";

/// The backend: a stateless factory of [`DirsInstance`]s.
#[derive(Debug, Default, Clone, Copy)]
pub struct DirsBackend;

impl ProviderBackend for DirsBackend {
    fn describe(&self) -> BackendDescription {
        BackendDescription::new(
            BACKEND_NAME,
            "Hosts that are directories on this machine (an example plugin)",
        )
        .with_config_fields(vec![ConfigField::new(
            "base_dir",
            ConfigValueType::String,
            "Where host directories are kept (default: the instance's state dir)",
        )])
        .with_build_args_help(
            "No build arguments. --image PATH copies that directory into the new host.",
        )
        .with_start_args_help("No start arguments.")
        .with_create_flags(vec![FlagSpec::new(
            "note",
            ValueType::String,
            "Write this text to NOTE.txt in the new host's directory",
        )])
    }

    fn build_instance(
        &self,
        ctx: InstanceContext,
        mut config: serde_json::Map<String, serde_json::Value>,
    ) -> ProviderResult<Box<dyn ProviderInstance>> {
        let base_dir = match config.remove("base_dir") {
            None => ctx.state_dir.join("hosts"),
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                mngr_plugin_api::fs::expand_tilde(&s)
            }
            Some(other) => {
                return Err(ProviderError::invalid_config(format!(
                    "'base_dir' must be a non-empty string (a directory path), got {other}"
                )));
            }
        };
        if let Some(key) = config.keys().next() {
            return Err(ProviderError::invalid_config(format!(
                "unknown key '{key}' for the dirs backend; valid keys: base_dir"
            )));
        }
        // Building an instance must not create anything; directories appear on first create.
        Ok(Box::new(DirsInstance::new(
            ctx.instance_name,
            base_dir,
            ctx.services,
        )))
    }
}

mngr_plugin_api::export_plugin! {
    name: "example-dirs",
    version: env!("CARGO_PKG_VERSION"),
    description: "Example provider: hosts that are directories on this machine",
    backends: [DirsBackend],
}
