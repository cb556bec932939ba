//! Identifiers and names, with the validation rules every mngr version shares.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError(pub String);

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for NameError {}

/// A SafeName: letters and digits, with `-` and `_` allowed only inside. No dots.
pub fn validate_safe_name(kind: &str, raw: &str) -> Result<String, NameError> {
    let name = raw.trim();
    let ok_edge = |c: char| c.is_ascii_alphanumeric();
    let ok_inner = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let valid = !name.is_empty()
        && name.chars().next().is_some_and(ok_edge)
        && name.chars().last().is_some_and(ok_edge)
        && name.chars().all(ok_inner);
    if valid {
        Ok(name.to_string())
    } else {
        Err(NameError(format!(
            "invalid {kind} '{raw}': use letters and digits, with '-' or '_' only between them (no dots or spaces)"
        )))
    }
}

fn validate_prefixed_hex(kind: &str, prefix: &str, raw: &str) -> Result<String, NameError> {
    let raw = raw.trim();
    match raw.strip_prefix(prefix) {
        Some(hex) if hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
            Ok(raw.to_string())
        }
        _ => Err(NameError(format!(
            "invalid {kind} '{raw}': expected '{prefix}' followed by 32 hex digits"
        ))),
    }
}

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident, $validate:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, NameError> {
                let f: fn(&str) -> Result<String, NameError> = $validate;
                f(raw).map($name)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::str::FromStr for $name {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::parse(s)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_newtype!(
    /// `host-` followed by 32 hex digits; globally unique.
    HostId,
    |raw| validate_prefixed_hex("host id", "host-", raw)
);
string_newtype!(
    /// `agent-` followed by 32 hex digits; unique per host.
    AgentId,
    |raw| validate_prefixed_hex("agent id", "agent-", raw)
);
string_newtype!(
    /// A SafeName of at most 63 characters (dots are forbidden: `HOST.PROVIDER` splits on them).
    HostName,
    |raw| {
        let name = validate_safe_name("host name", raw)?;
        if name.len() > 63 {
            return Err(NameError(format!("invalid host name '{raw}': at most 63 characters")));
        }
        Ok(name)
    }
);
string_newtype!(
    /// Agent names, provider instance names, backend names and agent type names.
    SafeName,
    |raw| validate_safe_name("name", raw)
);

impl HostId {
    pub fn generate() -> Self {
        HostId(format!("host-{}", uuid::Uuid::new_v4().simple()))
    }
}

impl AgentId {
    pub fn generate() -> Self {
        AgentId(format!("agent-{}", uuid::Uuid::new_v4().simple()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names_follow_the_shared_rules() {
        for good in ["a", "my-agent", "a_b", "A1", " trimmed "] {
            assert!(validate_safe_name("name", good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "a.b", "a b", "é", "_x"] {
            assert!(validate_safe_name("name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_need_their_prefix_and_32_hex_digits() {
        let id = HostId::generate();
        assert_eq!(HostId::parse(id.as_str()).unwrap(), id);
        assert!(HostId::parse("host-123").is_err());
        assert!(HostId::parse(&format!("agent-{}", "0".repeat(32))).is_err());
        assert!(AgentId::parse(&format!("agent-{}", "aB".repeat(16))).is_ok());
        assert!(HostName::parse(&"x".repeat(64)).is_err());
        assert!(HostName::parse(&"x".repeat(63)).is_ok());
    }
}
