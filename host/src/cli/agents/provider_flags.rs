//! Flags that provider backends add to `mngr create` (`FlagSpec`s such as `--gpu h100`): shown
//! in `mngr create --help` under a heading naming the backends, and handed to the chosen
//! backend's `create_host` in `CreateHostRequest::flags`. A flag of another backend is an error.
//!
//! Wiring (in `cli::main`, once the registry is loaded before parsing): add the flags with
//! [`add_provider_flags`] to the `create` subcommand, parse, then store
//! [`provider_flag_values`] of the `create` matches in `CreateArgs::provider_flags`.

use crate::error::{MngrError, Result};
use crate::registry::Registry;
use clap::{Arg, ArgAction};
use mngr_plugin_api::ValueType;
use std::collections::BTreeMap;

/// The clap id of a provider flag.
fn arg_id(name: &str) -> String {
    format!("provider-flag-{name}")
}

/// clap wants `'static` strings for names built at run time; a handful per process.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Every distinct provider flag: name, value type, help, and the backends that register it.
fn flags(registry: &Registry) -> BTreeMap<String, (ValueType, String, Vec<String>)> {
    let mut out: BTreeMap<String, (ValueType, String, Vec<String>)> = BTreeMap::new();
    for (backend, entry) in registry.iter() {
        for flag in &entry.description.create_flags {
            let slot = out
                .entry(flag.name.clone())
                .or_insert_with(|| (flag.value_type, flag.help.clone(), Vec::new()));
            slot.2.push(backend.clone());
        }
    }
    out
}

/// Add every backend's flags to the `create` subcommand. A flag `create` already has (such as
/// `--dockerfile`) keeps its built-in definition.
pub fn add_provider_flags(mut create: clap::Command, registry: &Registry) -> clap::Command {
    for (name, (value_type, help, backends)) in flags(registry) {
        if create
            .get_arguments()
            .any(|a| a.get_long() == Some(name.as_str()))
        {
            continue;
        }
        let mut arg = Arg::new(leak(arg_id(&name)))
            .long(leak(name.clone()))
            .help(leak(help))
            .help_heading(leak(format!("Provider {} options", backends.join(", "))));
        arg = match value_type {
            ValueType::Bool => arg.action(ArgAction::SetTrue),
            ValueType::Integer => arg.value_parser(clap::value_parser!(i64)),
            ValueType::Float => arg.value_parser(clap::value_parser!(f64)),
            ValueType::String | ValueType::Unknown => arg.value_name("VALUE"),
        };
        create = create.arg(arg);
    }
    create
}

/// The provider flags given on the command line, as JSON values for `backend`'s
/// `create_host`. A flag only other backends register is a usage error.
pub fn provider_flag_values(
    matches: &clap::ArgMatches,
    registry: &Registry,
    backend: &str,
) -> Result<BTreeMap<String, serde_json::Value>> {
    let mut values = BTreeMap::new();
    for (name, (value_type, _, backends)) in flags(registry) {
        let id = arg_id(&name);
        if matches.try_get_raw(&id).ok().flatten().is_none()
            || matches.value_source(&id) != Some(clap::parser::ValueSource::CommandLine)
        {
            continue;
        }
        if !backends.iter().any(|b| b == backend) {
            return Err(MngrError::usage(format!(
                "--{name} is a flag of backend '{}', but the agent goes to a '{backend}' provider",
                backends.join("', '")
            )));
        }
        let value = match value_type {
            ValueType::Bool => serde_json::Value::Bool(matches.get_flag(&id)),
            ValueType::Integer => serde_json::json!(matches.get_one::<i64>(&id).copied()),
            ValueType::Float => serde_json::json!(matches.get_one::<f64>(&id).copied()),
            ValueType::String | ValueType::Unknown => {
                serde_json::json!(matches.get_one::<String>(&id).cloned())
            }
        };
        values.insert(name, value);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::BackendOrigin;
    use mngr_plugin_api::*;
    use std::sync::Arc;

    struct FlagBackend(&'static str, Vec<FlagSpec>);

    impl ProviderBackend for FlagBackend {
        fn describe(&self) -> BackendDescription {
            BackendDescription::new(self.0, "").with_create_flags(self.1.clone())
        }
        fn build_instance(
            &self,
            _ctx: InstanceContext,
            _config: serde_json::Map<String, serde_json::Value>,
        ) -> ProviderResult<Box<dyn ProviderInstance>> {
            Err(ProviderError::unsupported("test backend"))
        }
    }

    fn flag(name: &str, value_type: ValueType) -> FlagSpec {
        FlagSpec::new(name, value_type, format!("the {name}"))
    }

    #[test]
    fn backend_flags_parse_for_their_backend_and_are_refused_for_others() {
        let mut registry = Registry::new();
        let gpu = FlagBackend(
            "cloud",
            vec![
                flag("gpu", ValueType::String),
                flag("disk", ValueType::Integer),
            ],
        );
        let spot = FlagBackend("other", vec![flag("spot", ValueType::Bool)]);
        let docker = FlagBackend("docker", vec![flag("dockerfile", ValueType::String)]);
        for b in [gpu, spot, docker] {
            registry
                .register(Arc::new(b), BackendOrigin::BuiltIn)
                .map_err(|_| ())
                .unwrap();
        }
        let create = clap::Command::new("create")
            .arg(Arg::new("dockerfile").long("dockerfile"))
            .no_binary_name(true);
        let create = add_provider_flags(create, &registry);
        let help = create.clone().render_help().to_string();
        assert!(
            help.contains("Provider cloud options") && help.contains("--gpu"),
            "{help}"
        );
        let matches = create
            .clone()
            .try_get_matches_from(["--gpu", "h100", "--disk", "40"])
            .unwrap();
        let values = provider_flag_values(&matches, &registry, "cloud").unwrap();
        assert_eq!(values["gpu"], "h100");
        assert_eq!(values["disk"], 40);
        let err = provider_flag_values(&matches, &registry, "other").unwrap_err();
        assert!(
            err.message.contains("--disk is a flag of backend 'cloud'"),
            "{}",
            err.message
        );
        let matches = create.try_get_matches_from(["--spot"]).unwrap();
        let values = provider_flag_values(&matches, &registry, "other").unwrap();
        assert_eq!(values["spot"], true);
        assert!(provider_flag_values(&matches, &registry, "cloud").is_err());
    }
}
