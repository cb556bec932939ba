//! Settings: the merged view of every layer, lowest first:
//! built-in defaults < user `<root>/settings.toml` < project `.mngr/settings.toml` <
//! project-local `.mngr/settings.local.toml` < `MNGR__*` environment < `-S KEY=VALUE` < flags.
//!
//! Flags are applied by the commands themselves; everything below them is merged here.

pub mod edit;
pub mod files;
pub mod keys;
pub mod merge;
pub mod overrides;
pub mod schema;
pub mod secret;
pub mod source;
pub mod trust;

pub use files::Locations;
pub use schema::Schema;
pub use source::{Provenance, Scope, Source};

use crate::error::{MngrError, Result};
use overrides::toml_to_json;
use source::path_of;
use std::collections::BTreeMap;
use toml::{Table, Value};

/// An agent type defined in settings (`[agent_types.NAME]`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentTypeSettings {
    /// The program to run (for example `claude`).
    pub command: String,
    /// Arguments appended to the command.
    #[serde(default)]
    pub args: Vec<String>,
}

/// One `[providers.NAME]` table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderSettings {
    /// Backend name; defaults to the table name.
    pub backend: String,
    pub is_enabled: bool,
    /// The plugin that provides the backend (`plugin = ...`, else the backend name); an instance
    /// whose plugin is disabled is skipped rather than refused.
    pub plugin: String,
    /// How long a call to this instance may take (`provider_timeout`), when it overrides the
    /// global setting.
    pub provider_timeout: Option<std::time::Duration>,
    /// The remaining keys, for the backend to validate.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Which layers set this table, joined with `+` ("user", "user+local", "env", "-S").
    pub source: String,
    /// The layers themselves, lowest first, for error messages.
    pub sources: Vec<Source>,
    /// The layer that set each key of the table (`backend` and the backend's keys).
    pub key_sources: BTreeMap<String, Source>,
}

impl ProviderSettings {
    /// Where the table was set, for error messages: `/a/settings.toml`, or with several layers
    /// the ones that set a key `message` names (`'host_dir'`), else all of them.
    pub fn describe_sources(&self, message: &str) -> String {
        let mut named: Vec<&Source> = self
            .key_sources
            .iter()
            .filter(|(key, _)| message.contains(&format!("'{key}'")))
            .map(|(_, source)| source)
            .collect();
        named.dedup();
        let chosen: Vec<&Source> = if named.is_empty() {
            self.sources.iter().collect()
        } else {
            named
        };
        let all: Vec<String> = chosen.iter().map(|s| s.describe()).collect();
        all.join(" and ")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Prefix of tmux sessions and provider resources.
    pub prefix: String,
    /// Never prompt or open an editor (`headless`, `MNGR_HEADLESS`; `--headless` adds to it).
    pub headless: bool,
    /// How long a query to a provider (listing hosts, reading records) may take before the
    /// provider counts as unreachable (`provider_timeout`).
    pub provider_timeout: std::time::Duration,
    /// How long a command waits for a host lock another mngr holds (`lock_timeout`).
    pub lock_timeout: std::time::Duration,
    /// Only instances of these backends are enabled; empty means all.
    pub enabled_backends: Vec<String>,
    pub agent_types: BTreeMap<String, AgentTypeSettings>,
    pub providers: BTreeMap<String, ProviderSettings>,
    /// Plugins disabled in settings (`[plugins.NAME] enabled = false`).
    pub disabled_plugins: Vec<String>,
    /// Per-command option defaults: `[commands.create] provider = "docker"` ->
    /// `commands["create"]["provider"]`.
    pub commands: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// The merged table, for `mngr config list/get`.
    pub merged: Table,
    /// Which layer set each value.
    pub provenance: Provenance,
    pub locations: Locations,
}

impl Default for Settings {
    fn default() -> Self {
        let mut provenance = Provenance::default();
        let layer = provenance.add_layer(Source::Default);
        let merged = defaults();
        for key in merged.keys() {
            provenance.assign(std::slice::from_ref(key), layer);
        }
        Settings {
            prefix: "mngr-".to_string(),
            headless: false,
            provider_timeout: DEFAULT_PROVIDER_TIMEOUT,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            enabled_backends: Vec::new(),
            agent_types: BTreeMap::new(),
            providers: BTreeMap::new(),
            disabled_plugins: Vec::new(),
            commands: BTreeMap::new(),
            merged,
            provenance,
            locations: Locations {
                root: crate::paths::mngr_root(),
                project_dir: None,
            },
        }
    }
}

impl Settings {
    /// The default for option `option` of command `command`, if settings give one.
    pub fn command_default(&self, command: &str, option: &str) -> Option<&serde_json::Value> {
        self.commands.get(command)?.get(option)
    }

    /// A value of the merged settings by dotted key.
    pub fn get(&self, dotted: &str) -> Option<&Value> {
        let mut parts = dotted.split('.');
        let mut value = self.merged.get(parts.next()?)?;
        for part in parts {
            value = value.as_table()?.get(part)?;
        }
        Some(value)
    }
}

/// `provider_timeout` when no layer sets it.
pub const DEFAULT_PROVIDER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// `lock_timeout` when settings name none.
pub const DEFAULT_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A duration setting, already checked by the schema.
fn duration(value: &Value, range: crate::duration::Range) -> Option<std::time::Duration> {
    crate::duration::parse_setting(value, range).ok()
}

fn defaults() -> Table {
    let mut t = Table::new();
    t.insert("prefix".into(), Value::String("mngr-".into()));
    t.insert("headless".into(), Value::Boolean(false));
    t.insert("enabled_backends".into(), Value::Array(Vec::new()));
    t
}

/// Everything `load` reads, gathered up front so tests and `mngr config set` can vary it.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub locations: Locations,
    /// The process environment (only `MNGR__*`, `MNGR_PREFIX` and `MNGR_HEADLESS` matter).
    pub env: Vec<(String, String)>,
    /// `-S KEY=VALUE` arguments, in order.
    pub setting_args: Vec<String>,
    pub schema: Schema,
    /// Text standing in for one scope's file, to check a change before writing it.
    pub replace: Option<(Scope, String)>,
    /// Refuse project layers whose program-choosing settings are not trusted (see [`trust`]).
    /// Off only for commands that read settings without running anything (`config list`).
    pub check_trust: bool,
    /// The `replace` text counts as trusted: the user is making that change through mngr.
    pub replacement_trusted: bool,
}

impl LoadOptions {
    /// From this process: its environment, the current directory and the given `-S` arguments.
    pub fn from_process(
        setting_args: &[String],
        schema_commands: Option<schema::CommandOptions>,
    ) -> Self {
        let allow_unknown = std::env::var("MNGR_ALLOW_UNKNOWN_CONFIG").is_ok_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
        LoadOptions {
            locations: Locations::from_process(),
            env: std::env::vars()
                .filter(|(k, _)| k.starts_with("MNGR"))
                .collect(),
            setting_args: setting_args.to_vec(),
            schema: Schema {
                commands: schema_commands,
                allow_unknown,
            },
            replace: None,
            check_trust: true,
            replacement_trusted: false,
        }
    }
}

/// One layer ready to merge.
struct Layer {
    source: Source,
    table: Table,
    /// A project file's text, whose program-choosing settings need the user's trust.
    needs_trust: Option<String>,
}

/// Read, check and merge every layer.
pub fn load(opts: &LoadOptions) -> Result<Settings> {
    // A relative root would follow the current directory (and put records inside a repo).
    if !opts.locations.root.is_absolute() {
        return Err(MngrError::settings(format!(
            "MNGR_ROOT '{}' is a relative path; the mngr root must be absolute",
            opts.locations.root.display()
        ))
        .with_hint("set MNGR_ROOT to an absolute path (for example MNGR_ROOT=\"$PWD/mngr-root\"), or unset it for ~/.mngr"));
    }
    let mut layers = Vec::new();
    for scope in Scope::ALL {
        let Some(path) = opts.locations.file(scope) else {
            continue;
        };
        let text = match &opts.replace {
            Some((s, text)) if *s == scope => Some(text.clone()),
            _ => files::read_file(&path)?,
        };
        if let Some(text) = text {
            let replaced = matches!(&opts.replace, Some((s, _)) if *s == scope);
            let needs_trust = (scope != Scope::User
                && opts.check_trust
                && !(replaced && opts.replacement_trusted))
                .then(|| text.clone());
            layers.push(Layer {
                table: files::parse(&path, &text)?,
                source: Source::File { scope, path },
                needs_trust,
            });
        }
    }
    for o in overrides::env_layers(&opts.env)? {
        layers.push(Layer {
            source: o.source,
            table: o.table,
            needs_trust: None,
        });
    }
    for arg in &opts.setting_args {
        let o = overrides::setting_layer(arg)?;
        layers.push(Layer {
            source: o.source,
            table: o.table,
            needs_trust: None,
        });
    }

    let mut settings = Settings::default();
    for mut layer in layers {
        schema::check_layer(&mut layer.table, &layer.source, &opts.schema)?;
        if let (Some(text), Source::File { scope, path }) = (&layer.needs_trust, &layer.source) {
            trust::check(
                &opts.locations.root,
                path,
                text,
                &layer.table,
                scope.as_str(),
            )?;
        }
        let index = settings.provenance.add_layer(layer.source);
        merge::merge_layer(
            &mut settings.merged,
            layer.table,
            index,
            &mut settings.provenance,
        );
    }
    settings.locations = opts.locations.clone();
    extract(&mut settings)?;
    Ok(settings)
}

/// Fill the typed fields from the merged table. Each layer was checked already, so only
/// problems that need every layer together (a missing required key) can appear here.
fn extract(s: &mut Settings) -> Result<()> {
    let merged = s.merged.clone();
    let string = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let entries = |key: &str| -> Vec<(String, Table)> {
        merged
            .get(key)
            .and_then(Value::as_table)
            .map(|t| {
                t.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_table()?.clone())))
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(prefix) = merged.get("prefix") {
        s.prefix = string(prefix);
    }
    s.headless = merged
        .get("headless")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    s.provider_timeout = merged
        .get("provider_timeout")
        .and_then(|v| duration(v, crate::duration::PROVIDER_TIMEOUT))
        .unwrap_or(DEFAULT_PROVIDER_TIMEOUT);
    s.enabled_backends = strings(merged.get("enabled_backends"));
    if let Some(limit) = merged
        .get("lock_timeout")
        .and_then(|v| duration(v, crate::duration::LOCK_TIMEOUT))
    {
        s.lock_timeout = limit;
    }

    for (name, entry) in entries("agent_types") {
        let Some(command) = entry.get("command").and_then(Value::as_str) else {
            let sources = s
                .provenance
                .sources_under(&path_of(&format!("agent_types.{name}")));
            let from: Vec<String> = sources.iter().map(|s| s.describe()).collect();
            return Err(MngrError::settings(format!(
                "{}: [agent_types.{name}] needs a 'command' (the program to run)",
                from.join(" and ")
            )));
        };
        s.agent_types.insert(
            name,
            AgentTypeSettings {
                command: command.to_string(),
                args: strings(entry.get("args")),
            },
        );
    }

    for (name, mut entry) in entries("providers") {
        let at = |key: &str| path_of(&format!("providers.{name}.{key}"));
        let key_sources: BTreeMap<String, Source> = entry
            .keys()
            .filter_map(|k| Some((k.clone(), s.provenance.source_of(&at(k))?.clone())))
            .collect();
        let backend = entry
            .remove("backend")
            .map(|v| string(&v))
            .unwrap_or_else(|| name.clone());
        let plugin = entry
            .remove("plugin")
            .map(|v| string(&v))
            .unwrap_or_else(|| backend.clone());
        let is_enabled = entry
            .remove("is_enabled")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        let provider_timeout = entry
            .remove("provider_timeout")
            .as_ref()
            .and_then(|v| duration(v, crate::duration::PROVIDER_TIMEOUT));
        let sources: Vec<Source> = s
            .provenance
            .sources_under(&path_of(&format!("providers.{name}")))
            .into_iter()
            .cloned()
            .collect();
        let mut labels: Vec<&str> = sources.iter().map(Source::label).collect();
        labels.dedup();
        s.providers.insert(
            name,
            ProviderSettings {
                backend,
                is_enabled,
                plugin,
                provider_timeout,
                config: entry
                    .iter()
                    .map(|(k, v)| (k.clone(), toml_to_json(v)))
                    .collect(),
                source: labels.join("+"),
                sources,
                key_sources,
            },
        );
    }

    for (name, entry) in entries("plugins") {
        if entry.get("enabled").and_then(Value::as_bool) == Some(false) {
            s.disabled_plugins.push(name);
        }
    }

    for (name, entry) in entries("commands") {
        let options = entry
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect();
        s.commands.insert(name, options);
    }
    Ok(())
}
