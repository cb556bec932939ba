//! The keys mngr knows and their types. Every layer is checked on its own, so an error names
//! the exact file, variable or `-S` argument that holds the bad key.
//!
//! Provider tables are checked only for the common keys (`backend`, `is_enabled`, `plugin`);
//! the rest belongs to the backend, which validates it when it builds the instance.

use super::keys::base_key;
use super::source::Source;
use crate::error::{MngrError, Result};
use mngr_plugin_api::validate_safe_name;
use std::collections::BTreeMap;
use std::sync::Arc;
use toml::{Table, Value};

pub const TOP_LEVEL_KEYS: [&str; 9] = [
    "agent_types",
    "commands",
    "enabled_backends",
    "headless",
    "lock_timeout",
    "plugins",
    "prefix",
    "provider_timeout",
    "providers",
];
pub const AGENT_TYPE_KEYS: [&str; 2] = ["args", "command"];
pub const PLUGIN_KEYS: [&str; 1] = ["enabled"];
/// Keys of `[providers.NAME]` that mngr reads itself; the rest go to the backend.
pub const PROVIDER_COMMON_KEYS: [&str; 4] = ["backend", "is_enabled", "plugin", "provider_timeout"];

/// Command name -> the options it accepts, by name (for `[commands.NAME]`).
pub type CommandOptions = BTreeMap<String, BTreeMap<String, OptionSpec>>;

/// Checks one value of an option as its command line would, with the reason it is refused.
pub type ValueCheck = Arc<dyn Fn(&str) -> std::result::Result<(), String> + Send + Sync>;

/// What one option of a command accepts as a default in `[commands.NAME]`.
#[derive(Clone)]
pub struct OptionSpec {
    pub kind: OptionKind,
    /// The option's own value check (a duration's range, a choice among names, ...).
    pub check: Option<ValueCheck>,
}

impl std::fmt::Debug for OptionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OptionSpec({:?})", self.kind)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// An on/off flag: a boolean.
    Flag,
    /// One value: a string, or a number standing for its text (`timeout = 90`).
    Value,
    /// A repeatable option: a string or a list of strings.
    Values,
    /// A subcommand's name (not an option; left to the subcommand).
    Subcommand,
}

impl OptionSpec {
    pub fn plain(kind: OptionKind) -> Self {
        OptionSpec { kind, check: None }
    }
}

/// What a check needs to know beyond the fixed keys.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Command name -> the option names it accepts, for `[commands.NAME]`. `None` skips the check.
    pub commands: Option<CommandOptions>,
    /// `MNGR_ALLOW_UNKNOWN_CONFIG`: unknown keys are dropped with a warning instead of refused.
    pub allow_unknown: bool,
}

struct Checker<'a> {
    schema: &'a Schema,
    source: &'a Source,
}

impl Checker<'_> {
    fn error(&self, problem: String) -> MngrError {
        MngrError::settings(format!("{}: {problem}", self.source.describe()))
    }

    /// Refuse (or drop, in lenient mode) keys not in `valid`.
    fn unknown_keys(&self, table: &mut Table, at: &str, valid: &[&str]) -> Result<()> {
        let unknown: Vec<String> = table
            .keys()
            .filter(|k| !valid.contains(&base_key(k)))
            .cloned()
            .collect();
        for key in unknown {
            let full = join(at, &key);
            if self.schema.allow_unknown {
                crate::warnings::warn(format_args!(
                    "{}: ignoring unknown key '{full}' (MNGR_ALLOW_UNKNOWN_CONFIG is set)",
                    self.source.describe()
                ));
                table.remove(&key);
            } else {
                return Err(self
                    .error(format!("unknown key '{full}'; valid keys{}: {}", in_table(at), valid.join(", ")))
                    .with_hint("fix the key's spelling or remove it (MNGR_ALLOW_UNKNOWN_CONFIG=1 turns this into a warning)"));
            }
        }
        Ok(())
    }

    fn expect(&self, key: &str, value: &Value, wanted: &str) -> Result<()> {
        let ok = match wanted {
            "a string" => value.is_str(),
            "a boolean" => value.is_bool(),
            "a table" => value.is_table(),
            "a list of strings" => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_str)),
            "a string or a number" => value.is_str() || value.is_integer() || value.is_float(),
            "a string or a list of strings" => {
                value.is_str()
                    || value
                        .as_array()
                        .is_some_and(|items| items.iter().all(Value::is_str))
            }
            _ => unreachable!("unknown type {wanted}"),
        };
        if ok {
            Ok(())
        } else if super::secret::is_secret_key(key) {
            Err(self.error(format!(
                "'{key}' must be {wanted}, not {} (value not shown: it may be a secret)",
                kind_of(value)
            )))
        } else {
            Err(self.error(format!("'{key}' must be {wanted}, not {}", describe(value))))
        }
    }

    /// `provider_timeout`: seconds, more than 0 and at most an hour.
    fn duration(&self, key: &str, value: &Value, range: crate::duration::Range) -> Result<()> {
        crate::duration::parse_setting(value, range)
            .map(|_| ())
            .map_err(|e| self.error(format!("'{key}' = {value}: {e}")))
    }

    fn name(&self, key: &str, name: &str) -> Result<()> {
        validate_safe_name("name", name)
            .map(|_| ())
            .map_err(|e| self.error(format!("'{key}': {e}")))
    }

    /// Each entry of a registry table (`[providers.NAME]`, ...) must be a table with a valid name.
    fn entries<'t>(&self, key: &str, value: &'t mut Value) -> Result<Vec<(String, &'t mut Table)>> {
        self.expect(key, value, "a table")?;
        let mut out = Vec::new();
        for (name, entry) in value.as_table_mut().expect("checked").iter_mut() {
            let at = join(key, name);
            self.name(&at, base_key(name))?;
            self.expect(&at, entry, "a table")?;
            out.push((at, entry.as_table_mut().expect("checked")));
        }
        Ok(out)
    }

    fn check(&self, table: &mut Table) -> Result<()> {
        self.unknown_keys(table, "", &TOP_LEVEL_KEYS)?;
        for (key, value) in table.iter_mut() {
            match base_key(key) {
                "prefix" => {
                    self.expect(key, value, "a string")?;
                    mngr_plugin_api::validate_prefix(value.as_str().expect("checked"))
                        .map_err(|e| self.error(format!("'{key}': {e}")))?;
                }
                "headless" => self.expect(key, value, "a boolean")?,
                "provider_timeout" => {
                    self.duration(key, value, crate::duration::PROVIDER_TIMEOUT)?
                }
                "lock_timeout" => self.duration(key, value, crate::duration::LOCK_TIMEOUT)?,
                "enabled_backends" => self.expect(key, value, "a list of strings")?,
                "agent_types" => {
                    for (at, entry) in self.entries(key, value)? {
                        self.unknown_keys(entry, &at, &AGENT_TYPE_KEYS)?;
                        for (field, v) in entry.iter() {
                            let wanted = match base_key(field) {
                                "command" => "a string",
                                _ => "a list of strings",
                            };
                            self.expect(&join(&at, field), v, wanted)?;
                        }
                    }
                }
                "providers" => {
                    for (at, entry) in self.entries(key, value)? {
                        for (field, v) in entry.iter() {
                            match base_key(field) {
                                "is_enabled" => self.expect(&join(&at, field), v, "a boolean")?,
                                "provider_timeout" => self.duration(
                                    &join(&at, field),
                                    v,
                                    crate::duration::PROVIDER_TIMEOUT,
                                )?,
                                "backend" | "plugin" => {
                                    self.expect(&join(&at, field), v, "a string")?;
                                    self.name(&join(&at, field), v.as_str().expect("checked"))?;
                                }
                                _ => {}
                            }
                        }
                    }
                }
                "plugins" => {
                    for (at, entry) in self.entries(key, value)? {
                        self.unknown_keys(entry, &at, &PLUGIN_KEYS)?;
                        for (field, v) in entry.iter() {
                            self.expect(&join(&at, field), v, "a boolean")?;
                        }
                    }
                }
                "commands" => self.check_commands(key, value)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// `[commands.NAME]` holds defaults for the options of command NAME.
    fn check_commands(&self, key: &str, value: &mut Value) -> Result<()> {
        let Some(commands) = self.schema.commands.clone() else {
            return self.entries(key, value).map(|_| ());
        };
        let names: Vec<&str> = commands.keys().map(String::as_str).collect();
        self.unknown_keys(
            value.as_table_mut().map_or(&mut Table::new(), |t| t),
            key,
            &names,
        )?;
        for (at, entry) in self.entries(key, value)? {
            let command = at.rsplit('.').next().map(base_key).unwrap_or_default();
            let specs = &commands[command];
            let options: Vec<&str> = specs.keys().map(String::as_str).collect();
            self.unknown_keys(entry, &at, &options)?;
            for (option, v) in entry.iter() {
                if let Some(spec) = specs.get(base_key(option)) {
                    self.check_option(&join(&at, option), spec, v)?;
                }
            }
        }
        Ok(())
    }

    /// A default's type (a flag takes a boolean, a repeatable option a list) and each of its
    /// values as the command line would check them, so a bad default stops every command at
    /// load, not only the one that uses it.
    fn check_option(&self, key: &str, spec: &OptionSpec, value: &Value) -> Result<()> {
        let wanted = match spec.kind {
            OptionKind::Flag => "a boolean",
            OptionKind::Value => "a string or a number",
            OptionKind::Values => "a string or a list of strings",
            OptionKind::Subcommand => return Ok(()),
        };
        self.expect(key, value, wanted)?;
        let Some(check) = &spec.check else {
            return Ok(());
        };
        // Numbers are checked as the text a command line would carry (`90`, `1.5`).
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Float(f) => format!("{f:?}"),
            other => other.to_string(),
        };
        let values: Vec<String> = match value {
            Value::Array(items) => items.iter().map(text).collect(),
            other => vec![text(other)],
        };
        for raw in &values {
            let raw = raw.as_str();
            check(raw).map_err(|why| {
                let why = if super::secret::is_secret_key(key) && why.contains(raw) {
                    "invalid value (not shown: it may be a secret)".to_string()
                } else {
                    why
                };
                self.error(format!("'{key}': {why}"))
            })?;
        }
        Ok(())
    }
}

/// Check one layer, dropping unknown keys in lenient mode.
pub fn check_layer(table: &mut Table, source: &Source, schema: &Schema) -> Result<()> {
    Checker { schema, source }.check(table)
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

fn in_table(at: &str) -> String {
    if at.is_empty() {
        String::new()
    } else {
        format!(" in [{at}]")
    }
}

/// `an integer`, `a string`, `a table`: the type alone.
fn kind_of(value: &Value) -> String {
    match value {
        Value::Table(_) => "a table".to_string(),
        Value::Array(_) => "a list".to_string(),
        Value::Integer(_) => "an integer".to_string(),
        other => format!("a {}", other.type_str()),
    }
}

/// `an integer (3)`, `a table`, ...
pub fn describe(value: &Value) -> String {
    match value {
        Value::Table(_) | Value::Array(_) => kind_of(value),
        scalar => format!("{} ({scalar})", kind_of(scalar)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Table> {
        let mut table: Table = text.parse().unwrap();
        let schema = Schema {
            commands: Some(BTreeMap::from([(
                "create".to_string(),
                BTreeMap::from([("provider".to_string(), OptionSpec::plain(OptionKind::Value))]),
            )])),
            allow_unknown: false,
        };
        check_layer(&mut table, &Source::Env("T".into()), &schema).map(|()| table)
    }

    #[test]
    fn known_keys_with_the_right_types_pass() {
        check(
            "prefix = 'x-'\nheadless = true\nenabled_backends = ['local']\n\
             [agent_types.claude]\ncommand = 'claude'\nargs = ['--x']\n\
             [providers.lab]\nbackend = 'ssh'\nanything = 1\n[plugins.modal]\nenabled = false\n\
             [commands.create]\nprovider = 'lab'",
        )
        .unwrap();
    }

    #[test]
    fn bad_keys_types_and_names_are_refused_with_the_valid_choices() {
        let msg = |t: &str| check(t).unwrap_err().message;
        assert_eq!(
            msg("prfix = 'a'"),
            "environment variable T: unknown key 'prfix'; valid keys: agent_types, commands, enabled_backends, headless, lock_timeout, plugins, prefix, provider_timeout, providers"
        );
        assert_eq!(
            msg("prefix = 3"),
            "environment variable T: 'prefix' must be a string, not an integer (3)"
        );
        assert!(msg("[agent_types.a]\ncmd = 'x'").contains(
            "unknown key 'agent_types.a.cmd'; valid keys in [agent_types.a]: args, command"
        ));
        assert!(
            msg("[providers.lab]\nis_enabled = 'no'")
                .contains("'providers.lab.is_enabled' must be a boolean")
        );
        assert!(
            msg("provider_timeout = 'slow'")
                .contains("'provider_timeout' = \"slow\": 'slow' is not a duration")
        );
        for bad in ["-1", "nan", "inf", "true"] {
            let m = msg(&format!("provider_timeout = {bad}"));
            assert!(
                m.contains("not a duration") || m.contains("must be a duration"),
                "{bad}: {m}"
            );
        }
        for bad in ["0", "1e300", "3601", "'2h'"] {
            assert!(
                msg(&format!("provider_timeout = {bad}"))
                    .contains("is out of range: between 0.001s and 1h"),
                "{bad}"
            );
        }
        assert!(
            msg("[providers.lab]\nprovider_timeout = 0")
                .contains("'providers.lab.provider_timeout' = 0: '0' is out of range")
        );
        check("provider_timeout = 2.5\n[providers.lab]\nprovider_timeout = '1m'").unwrap();
        assert!(msg("[providers.'a.b']\nx = 1").contains("'providers.a.b': invalid name"));
        assert!(
            msg("[commands.craete]\nx = 1")
                .contains("unknown key 'commands.craete'; valid keys in [commands]: create")
        );
        assert!(
            msg("[commands.create]\nprovder = 1")
                .contains("valid keys in [commands.create]: provider")
        );
    }
}
