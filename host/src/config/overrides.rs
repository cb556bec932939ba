//! The two layers above the files: `MNGR__SECTION__KEY` environment variables (plus the
//! `MNGR_PREFIX` and `MNGR_HEADLESS` aliases) and `-S KEY=VALUE` arguments. Each variable or
//! argument becomes its own one-key layer, so errors can name it.

use super::source::Source;
use crate::error::{MngrError, Result};
use toml::{Table, Value};

/// One variable or argument turned into a table.
pub struct OverrideLayer {
    pub source: Source,
    pub table: Table,
}

/// `MNGR__A__B=value` -> `{a = {b = value}}`. Names must be uppercase `[A-Z0-9_]` segments
/// separated by `__`; other spellings are ignored. A trailing `__EXTEND` extends the previous
/// key. Values are JSON if they parse as JSON, otherwise the raw string.
pub fn env_layers(vars: &[(String, String)]) -> Result<Vec<OverrideLayer>> {
    let mut sorted: Vec<&(String, String)> = vars.iter().collect();
    sorted.sort();
    let mut layers = Vec::new();
    for (name, raw) in sorted {
        let Some(path) = env_path(name) else { continue };
        layers.push(OverrideLayer {
            source: Source::Env(name.clone()),
            table: nest(&path, json_or_string(raw)),
        });
    }
    let alias = |alias: &str, key: &str, value: Value, layers: &mut Vec<OverrideLayer>| {
        let canonical = format!("MNGR__{}", key.to_uppercase());
        let disagree = layers.iter().any(|l| {
            matches!(&l.source, Source::Env(v) if *v == canonical)
                && l.table.get(key) != Some(&value)
        });
        if disagree {
            return Err(MngrError::settings(format!(
                "environment variables {alias} and {canonical} disagree; set only one of them"
            )));
        }
        layers.push(OverrideLayer {
            source: Source::Env(alias.to_string()),
            table: nest(&[key.to_string()], value),
        });
        Ok(())
    };
    let get = |n: &str| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    if let Some(prefix) = get("MNGR_PREFIX") {
        alias("MNGR_PREFIX", "prefix", Value::String(prefix), &mut layers)?;
    }
    if let Some(headless) = get("MNGR_HEADLESS") {
        let truthy = matches!(
            headless.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        );
        alias(
            "MNGR_HEADLESS",
            "headless",
            Value::Boolean(truthy),
            &mut layers,
        )?;
    }
    Ok(layers)
}

fn env_path(name: &str) -> Option<Vec<String>> {
    let rest = name.strip_prefix("MNGR__")?;
    // Segments are uppercase words; a leading or trailing `_` would make `___` ambiguous.
    let word = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit();
    let ok = |s: &str| {
        s.starts_with(word) && s.ends_with(word) && s.chars().all(|c| word(c) || c == '_')
    };
    let mut segments: Vec<String> = rest.split("__").map(str::to_string).collect();
    if !segments.iter().all(|s| ok(s)) {
        return None;
    }
    if segments.len() > 1 && segments.last().map(String::as_str) == Some("EXTEND") {
        segments.pop();
        let last = segments.pop()?;
        segments.push(format!("{last}__EXTEND"));
    }
    Some(segments.into_iter().map(|s| s.to_lowercase()).collect())
}

/// `-S KEY=VALUE`: a dotted key; the value is TOML if it parses (`3`, `true`, `["a"]`,
/// `{x = 1}`), else JSON, else the raw string.
pub fn setting_layer(arg: &str) -> Result<OverrideLayer> {
    let source = Source::Setting(arg.to_string());
    let bad = |at: &str, why: &str| {
        MngrError::settings(format!("{at}: {why}")).with_hint(
            "write -S KEY=VALUE with a dotted key, for example -S providers.local.host_dir=/tmp/x",
        )
    };
    // Without '=' there is no value to hide; with one, `describe` hides a secret value.
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| bad(&source.describe(), "expected KEY=VALUE"))?;
    let path = dotted_path(key.trim()).map_err(|why| bad(&source.describe(), &why))?;
    Ok(OverrideLayer {
        source,
        table: nest(&path, parse_value(raw)),
    })
}

/// Split a dotted key (`providers.lab.host_dir`) into its parts.
pub fn dotted_path(key: &str) -> std::result::Result<Vec<String>, String> {
    let parts: Vec<String> = key.split('.').map(|s| s.trim().to_string()).collect();
    if parts.iter().any(String::is_empty) {
        return Err(format!(
            "'{key}' is not a dotted key such as providers.local.host_dir"
        ));
    }
    Ok(parts)
}

/// A value typed on the command line: TOML, else JSON, else the raw string.
pub fn parse_value(raw: &str) -> Value {
    if let Ok(value) = raw.trim().parse::<Value>() {
        return value;
    }
    json_or_string(raw)
}

fn json_or_string(raw: &str) -> Value {
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| json_to_toml(&v))
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

/// JSON to TOML; `None` where TOML has no equivalent (null).
pub fn json_to_toml(value: &serde_json::Value) -> Option<Value> {
    use serde_json::Value as J;
    Some(match value {
        J::Null => return None,
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64()?),
        },
        J::String(s) => Value::String(s.clone()),
        J::Array(items) => Value::Array(items.iter().map(json_to_toml).collect::<Option<_>>()?),
        J::Object(map) => Value::Table(
            map.iter()
                .map(|(k, v)| Some((k.clone(), json_to_toml(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

/// TOML to JSON; datetimes become strings.
pub fn toml_to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::String(s) => J::String(s.clone()),
        Value::Integer(i) => J::from(*i),
        Value::Float(f) => J::from(*f),
        Value::Boolean(b) => J::Bool(*b),
        Value::Datetime(d) => J::String(d.to_string()),
        Value::Array(items) => J::Array(items.iter().map(toml_to_json).collect()),
        Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

fn nest(path: &[String], value: Value) -> Table {
    let mut value = value;
    for key in path[1..].iter().rev() {
        let mut t = Table::new();
        t.insert(key.clone(), value);
        value = Value::Table(t);
    }
    let mut top = Table::new();
    top.insert(path[0].clone(), value);
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_names_map_to_lowercase_paths_with_json_values() {
        let layers = env_layers(&vars(&[
            ("MNGR__PROVIDERS__LAB__HOST_DIR", "/srv"),
            ("MNGR__ENABLED_BACKENDS__EXTEND", "[\"docker\"]"),
            ("MNGR__lower", "x"),
            ("MNGR___X", "x"),
            ("MNGR_ROOT", "/r"),
        ]))
        .unwrap();
        let tables: Vec<String> = layers
            .iter()
            .map(|l| toml::to_string(&l.table).unwrap().replace('\n', " "))
            .collect();
        assert_eq!(
            tables,
            vec![
                "enabled_backends__extend = [\"docker\"] ",
                "[providers.lab] host_dir = \"/srv\" ",
            ]
        );
    }

    #[test]
    fn aliases_must_agree_with_canonical_names() {
        assert!(env_layers(&vars(&[("MNGR_PREFIX", "a-"), ("MNGR__PREFIX", "a-")])).is_ok());
        let err = env_layers(&vars(&[("MNGR_PREFIX", "a-"), ("MNGR__PREFIX", "b-")]))
            .err()
            .unwrap();
        assert!(err.message.contains("MNGR_PREFIX and MNGR__PREFIX"));
    }

    #[test]
    fn setting_values_are_toml_then_json_then_strings() {
        assert_eq!(parse_value("3"), Value::Integer(3));
        assert_eq!(
            parse_value("[\"a\"]"),
            Value::Array(vec![Value::String("a".into())])
        );
        assert_eq!(
            parse_value("{\"a\": 1}").as_table().unwrap()["a"],
            Value::Integer(1)
        );
        assert_eq!(parse_value("/tmp/x"), Value::String("/tmp/x".into()));
        assert!(setting_layer("prefix").is_err());
        assert!(setting_layer("a..b=1").is_err());
    }
}
