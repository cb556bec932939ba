//! Addresses: `NAME[@HOST[.PROVIDER]]` for existing agents (NAME may be an agent id), and
//! `[NAME][@[HOST][.PROVIDER]]` for where `create` puts a new agent.

use crate::error::{MngrError, Result};
use mngr_plugin_api::{AgentId, HostName, SafeName};

/// An existing agent: by name or id, optionally narrowed to a host and provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentAddress {
    pub agent: String,
    pub host: Option<String>,
    pub provider: Option<String>,
}

impl AgentAddress {
    pub fn parse(raw: &str) -> Result<AgentAddress> {
        let raw = raw.trim();
        let (agent, location) = match raw.split_once('@') {
            Some((a, l)) => (a, Some(l)),
            None => (raw, None),
        };
        if agent.is_empty() {
            return Err(MngrError::usage(format!(
                "invalid agent address '{raw}': it must start with an agent name or id (NAME[@HOST[.PROVIDER]])"
            )));
        }
        if AgentId::parse(agent).is_err() {
            SafeName::parse(agent).map_err(|e| MngrError::usage(e.to_string()))?;
        }
        let (host, provider) = match location {
            None => (None, None),
            Some(l) => parse_location(raw, l)?,
        };
        Ok(AgentAddress {
            agent: agent.to_string(),
            host,
            provider,
        })
    }

    pub fn is_id(&self) -> bool {
        AgentId::parse(&self.agent).is_ok()
    }
}

/// An existing host: by name or id, optionally on one provider (`HOST[.PROVIDER]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAddress {
    pub host: String,
    pub provider: Option<String>,
}

impl HostAddress {
    pub fn parse(raw: &str) -> Result<HostAddress> {
        let raw = raw.trim();
        match parse_location(raw, raw)? {
            (Some(host), provider) => Ok(HostAddress { host, provider }),
            (None, _) => Err(MngrError::usage(format!(
                "invalid host address '{raw}': it must start with a host name or id (HOST[.PROVIDER])"
            ))),
        }
    }
}

/// `HOST[.PROVIDER]` or `.PROVIDER` (after the `@`).
fn parse_location(raw: &str, location: &str) -> Result<(Option<String>, Option<String>)> {
    if location.matches('.').count() > 1 {
        return Err(MngrError::usage(format!(
            "invalid address '{raw}': use HOST.PROVIDER with exactly one dot"
        )));
    }
    let (host, provider) = match location.split_once('.') {
        Some((h, p)) => (h, Some(p)),
        None => (location, None),
    };
    let host = if host.is_empty() {
        None
    } else {
        if !host.starts_with("host-") {
            HostName::parse(host).map_err(|e| MngrError::usage(e.to_string()))?;
        }
        Some(host.to_string())
    };
    let provider = match provider {
        None => None,
        Some(p) => {
            SafeName::parse(p).map_err(|e| {
                MngrError::usage(format!("invalid provider in address '{raw}': {e}"))
            })?;
            Some(p.to_string())
        }
    };
    if host.is_none() && provider.is_none() {
        return Err(MngrError::usage(format!(
            "invalid address '{raw}': nothing after '@' (use NAME@HOST or NAME@HOST.PROVIDER)"
        )));
    }
    Ok((host, provider))
}

/// Where `create` puts a new agent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateTarget {
    pub name: Option<String>,
    /// An existing host, by name or id.
    pub host: Option<String>,
    pub provider: Option<String>,
}

impl CreateTarget {
    pub fn parse(raw: &str) -> Result<CreateTarget> {
        let raw = raw.trim();
        let (name, location) = match raw.split_once('@') {
            Some((n, l)) => (n, Some(l)),
            None => (raw, None),
        };
        let name = if name.is_empty() {
            None
        } else {
            if AgentId::parse(name).is_ok() {
                return Err(MngrError::usage(format!(
                    "'{name}' is an agent id; a new agent needs a name"
                )));
            }
            Some(
                mngr_plugin_api::validate_new_agent_name(name)
                    .map_err(|e| MngrError::usage(e.to_string()))?,
            )
        };
        let (host, provider) = match location {
            None => (None, None),
            Some(l) => parse_location(raw, l)?,
        };
        Ok(CreateTarget {
            name,
            host,
            provider,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_agent_addresses() {
        let a = AgentAddress::parse("foo@box.docker").unwrap();
        assert_eq!(
            (a.agent.as_str(), a.host.as_deref(), a.provider.as_deref()),
            ("foo", Some("box"), Some("docker"))
        );
        let a = AgentAddress::parse("foo@.local").unwrap();
        assert_eq!((a.host, a.provider.as_deref()), (None, Some("local")));
        for bad in ["@x", "foo@", "foo@a.b.c", "bad name", "foo@bad host"] {
            assert!(AgentAddress::parse(bad).is_err(), "{bad}");
        }
        assert!(
            AgentAddress::parse(&format!("agent-{}", "a".repeat(32)))
                .unwrap()
                .is_id()
        );
    }

    #[test]
    fn parses_create_targets() {
        assert_eq!(
            CreateTarget::parse("x@.docker").unwrap(),
            CreateTarget {
                name: Some("x".into()),
                host: None,
                provider: Some("docker".into())
            }
        );
        let t = CreateTarget::parse("@box").unwrap();
        assert_eq!((t.name, t.host.as_deref()), (None, Some("box")));
        assert!(CreateTarget::parse("a.b").is_err());
    }
}
