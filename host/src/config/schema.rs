//! The keys mngr knows and their types. Every layer is checked on its own, so an error names
//! the exact file, variable or `-S` argument that holds the bad key.
//!
//! Provider tables are checked only for the common keys (`backend`, `is_enabled`, `plugin`);
//! the rest belongs to the backend, which validates it when it builds the instance.

use super::merge::base_key;
use super::source::Source;
use crate::error::{MngrError, Result};
use mngr_plugin_api::validate_safe_name;
use std::collections::{BTreeMap, BTreeSet};
use toml::{Table, Value};

pub const TOP_LEVEL_KEYS: [&str; 8] = [
    "agent_types",
    "commands",
    "enabled_backends",
    "headless",
    "lock_timeout",
    "plugins",
    "prefix",
    "providers",
];
pub const AGENT_TYPE_KEYS: [&str; 2] = ["args", "command"];
pub const PLUGIN_KEYS: [&str; 1] = ["enabled"];
/// Keys of `[providers.NAME]` that mngr reads itself; the rest go to the backend.
pub const PROVIDER_COMMON_KEYS: [&str; 3] = ["backend", "is_enabled", "plugin"];

/// Command name -> the option names it accepts (for `[commands.NAME]`).
pub type CommandOptions = BTreeMap<String, BTreeSet<String>>;

/// What a check needs to know beyond the fixed keys.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Command name -> the option names it accepts, for `[commands.NAME]`. `None` skips the check.
    pub commands: Option<CommandOptions>,
    /// `MNGR_ALLOW_UNKNOWN_CONFIG`: unknown keys are dropped with a warning instead of refused.
    pub allow_unknown: bool,
}

/// A positive, finite number of seconds (at most a year), from an integer or a float.
pub fn seconds(value: &Value) -> Option<f64> {
    let n = match value {
        Value::Integer(i) => *i as f64,
        Value::Float(f) => *f,
        _ => return None,
    };
    (n > 0.0 && n <= 365.0 * 86_400.0).then_some(n)
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
                eprintln!(
                    "Warning: {}: ignoring unknown key '{full}' (MNGR_ALLOW_UNKNOWN_CONFIG is set)",
                    self.source.describe()
                );
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
            "a positive number of seconds" => seconds(value).is_some(),
            "a list of strings" => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_str)),
            _ => unreachable!("unknown type {wanted}"),
        };
        if ok {
            Ok(())
        } else {
            Err(self.error(format!("'{key}' must be {wanted}, not {}", describe(value))))
        }
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
                "prefix" => self.expect(key, value, "a string")?,
                "headless" => self.expect(key, value, "a boolean")?,
                "lock_timeout" => self.expect(key, value, "a positive number of seconds")?,
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
            let options: Vec<&str> = commands[command].iter().map(String::as_str).collect();
            self.unknown_keys(entry, &at, &options)?;
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

/// `an integer (3)`, `a table`, ...
pub fn describe(value: &Value) -> String {
    match value {
        Value::Table(_) => "a table".to_string(),
        Value::Array(_) => "a list".to_string(),
        Value::Integer(_) => format!("an integer ({value})"),
        other => format!("a {} ({other})", other.type_str()),
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
                BTreeSet::from(["provider".to_string()]),
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
            "environment variable T: unknown key 'prfix'; valid keys: agent_types, commands, enabled_backends, headless, lock_timeout, plugins, prefix, providers"
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
