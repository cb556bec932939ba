//! Identifiers and names, with the validation rules every mngr version shares.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A name or id that breaks the rules, with a message that says which rule and how to fix it.
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

/// The longest name a new agent may get (in characters). Its branch `mngr/NAME` and worktree
/// dir `NAME-<32 hex digits>` must each fit in one file name (255 bytes) with room to spare.
/// Agents made before the limit keep their longer names: only new names are checked.
pub const MAX_NEW_AGENT_NAME_LEN: usize = 200;

/// A name for a new agent (create, rename): a SafeName of at most [`MAX_NEW_AGENT_NAME_LEN`].
pub fn validate_new_agent_name(raw: &str) -> Result<String, NameError> {
    let name = validate_safe_name("name", raw)?;
    let length = name.chars().count();
    if length > MAX_NEW_AGENT_NAME_LEN {
        let start: String = name.chars().take(20).collect();
        return Err(NameError(format!(
            "invalid name '{start}...': {length} characters, but an agent name has at most {MAX_NEW_AGENT_NAME_LEN}"
        )));
    }
    Ok(name)
}

/// The longest `prefix` (tmux sessions and provider resources are named `<prefix><name>`).
pub const MAX_PREFIX_LEN: usize = 32;

/// A `prefix`: empty, or letters, digits, `-` and `_`, starting with a letter or digit (Docker
/// names start so), at most [`MAX_PREFIX_LEN`] characters. tmux turns `:` and `.` in session
/// names into `_`, so a prefix holding them would name sessions mngr could never find again.
pub fn validate_prefix(raw: &str) -> Result<String, NameError> {
    let ok = raw
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && raw.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && raw.chars().count() <= MAX_PREFIX_LEN;
    if ok {
        Ok(raw.to_string())
    } else {
        Err(NameError(format!(
            "invalid prefix '{raw}': use at most {MAX_PREFIX_LEN} letters, digits, '-' and '_', starting with a letter or digit (no ':', '.' or spaces: tmux would rename the sessions)"
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
            /// Check `raw` against the rules and wrap it; the error says which rule it breaks.
            pub fn parse(raw: &str) -> Result<Self, NameError> {
                let f: fn(&str) -> Result<String, NameError> = $validate;
                f(raw).map($name)
            }
            /// The text, as it goes on the wire.
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
    /// A new random id; a provider calls this once per host it creates.
    pub fn generate() -> Self {
        HostId(format!("host-{}", uuid::Uuid::new_v4().simple()))
    }
}

impl AgentId {
    /// A new random id for an agent.
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
    fn new_agent_names_and_prefixes_have_a_length_and_a_character_rule() {
        assert!(validate_new_agent_name(&"a".repeat(200)).is_ok());
        let err = validate_new_agent_name(&"a".repeat(300)).unwrap_err().0;
        assert!(
            err.contains("300 characters, but an agent name has at most 200"),
            "{err}"
        );
        // Older, longer names stay valid names.
        assert!(SafeName::parse(&"a".repeat(300)).is_ok());
        for good in ["", "mngr-", "team_a-", "x"] {
            assert!(validate_prefix(good).is_ok(), "{good}");
        }
        for bad in ["a:b", "a.b-", "a b", "-x", "é", &"p".repeat(33)] {
            assert!(validate_prefix(bad).is_err(), "{bad}");
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
