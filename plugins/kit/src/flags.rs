//! Shared helpers for turning `docker build` / `docker run` style flag tokens into values.

use mngr_plugin_api::{ProviderError, ProviderResult};

/// The one `-f` flag a backend takes, a path (`--dockerfile`): its value, or none when
/// absent; any other flag, or a value that is not a string, is refused naming `backend`.
pub fn single_path_flag(
    flags: &std::collections::BTreeMap<String, serde_json::Value>,
    name: &str,
    backend: &str,
) -> ProviderResult<Option<String>> {
    let value = match flags.get(name) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(ProviderError::invalid_input(format!(
                "--{name} must be a path, got {other}"
            )));
        }
    };
    if let Some(flag) = flags.keys().find(|k| k.as_str() != name) {
        return Err(ProviderError::invalid_input(format!(
            "the {backend} backend has no flag --{flag}"
        )));
    }
    Ok(value)
}

/// One flag with its value, taken from a token list like `["--cpus=2", "-e", "A=1"]`.
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
}

/// Split tokens into flags. `takes_value(name)` says whether a flag without `=` consumes the
/// next token. Positional tokens are returned separately, in order.
pub fn split_flags(
    tokens: &[String],
    what: &str,
    takes_value: impl Fn(&str) -> Option<bool>,
) -> ProviderResult<(Vec<Flag>, Vec<String>)> {
    let mut flags = Vec::new();
    let mut positional = Vec::new();
    let mut iter = tokens.iter().peekable();
    while let Some(token) = iter.next() {
        let token = token.trim();
        if !token.starts_with('-') || token == "-" {
            positional.push(token.to_string());
            continue;
        }
        let (name, inline) = match token.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (token.to_string(), None),
        };
        let Some(needs_value) = takes_value(&name) else {
            return Err(ProviderError::invalid_input(format!(
                "unknown {what} flag '{name}'"
            )));
        };
        let value = match (inline, needs_value) {
            (Some(v), true) => Some(v),
            (Some(v), false) => Some(v), // --flag=true / --flag=false for switches
            (None, true) => match iter.next() {
                Some(v) => Some(v.clone()),
                None => {
                    return Err(ProviderError::invalid_input(format!(
                        "{what} flag '{name}' needs a value (write {name}=VALUE)"
                    )));
                }
            },
            (None, false) => None,
        };
        flags.push(Flag { name, value });
    }
    Ok((flags, positional))
}

impl Flag {
    pub fn value(&self) -> &str {
        self.value.as_deref().unwrap_or("")
    }

    /// A switch's value: absent or `true` is on, `false` is off.
    pub fn switch(&self) -> ProviderResult<bool> {
        match self.value.as_deref() {
            None | Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(other) => Err(ProviderError::invalid_input(format!(
                "'{}' is a switch; '{other}' is not true or false",
                self.name
            ))),
        }
    }

    pub fn bad(&self, why: &str) -> ProviderError {
        ProviderError::invalid_input(format!("'{}={}': {why}", self.name, self.value()))
    }
}

/// Docker's size syntax: `512`, `512b`, `64k`, `16m`, `4g`, `1t` (binary multiples).
pub fn parse_bytes(raw: &str) -> Option<i64> {
    let lower = raw.trim().to_ascii_lowercase();
    let lower = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b').filter(|s| !s.is_empty()))
        .unwrap_or(&lower);
    let (num, mult) = match lower.chars().last()? {
        'k' => (&lower[..lower.len() - 1], 1i64 << 10),
        'm' => (&lower[..lower.len() - 1], 1i64 << 20),
        'g' => (&lower[..lower.len() - 1], 1i64 << 30),
        't' => (&lower[..lower.len() - 1], 1i64 << 40),
        'p' => (&lower[..lower.len() - 1], 1i64 << 50),
        _ => (lower, 1),
    };
    let value: f64 = num.parse().ok()?;
    // Rejects NaN as well as negative sizes.
    if value.is_nan() || value < 0.0 {
        return None;
    }
    Some((value * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("16g"), Some(16 << 30));
        assert_eq!(parse_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("2GiB"), Some(2 << 30));
        assert_eq!(parse_bytes("1.5k"), Some(1536));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("-1g"), None);
    }

    #[test]
    fn a_single_path_flag_is_read_and_any_other_refused() {
        use serde_json::{Value, json};
        let flags = |pairs: &[(&str, Value)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let read = |f| single_path_flag(&f, "dockerfile", "acme");
        assert_eq!(read(flags(&[])).unwrap(), None);
        assert_eq!(read(flags(&[("dockerfile", Value::Null)])).unwrap(), None);
        assert_eq!(
            read(flags(&[("dockerfile", json!("./Dockerfile"))])).unwrap(),
            Some("./Dockerfile".to_string())
        );
        let err = read(flags(&[("dockerfile", json!(3))])).unwrap_err();
        assert_eq!(err.message, "--dockerfile must be a path, got 3");
        let err = read(flags(&[("colour", json!("red"))])).unwrap_err();
        assert_eq!(err.message, "the acme backend has no flag --colour");
    }
}
