//! Modal credentials and server address, found the way Modal's own clients find them: the
//! environment (`MODAL_TOKEN_ID`, `MODAL_TOKEN_SECRET`, `MODAL_SERVER_URL`) wins over the
//! active profile of `~/.modal.toml` (or `MODAL_CONFIG_PATH`); the profile is `MODAL_PROFILE`,
//! else the one marked `active = true`, else `default`. The secret is never printed: `Debug`
//! hides it and no error message quotes it.

use mngr_plugin_api::{ErrorKind, ProviderError, ProviderResult};
use std::path::PathBuf;

/// Modal's public control plane.
pub const DEFAULT_SERVER_URL: &str = "https://api.modal.com";

#[derive(Clone, PartialEq)]
pub struct Credentials {
    pub token_id: String,
    pub token_secret: String,
    pub server_url: String,
    /// The Modal environment (`""`: the account's default).
    pub environment: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("token_id", &self.token_id)
            .field("token_secret", &"<hidden>")
            .field("server_url", &self.server_url)
            .field("environment", &self.environment)
            .finish()
    }
}

/// Where the values come from: the process environment and a file reader (a seam for tests).
pub struct Sources<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub home: Option<PathBuf>,
}

impl Sources<'_> {
    fn var(&self, key: &str) -> Option<String> {
        (self.env)(key).filter(|v| !v.is_empty())
    }
}

fn unauthenticated(message: String) -> ProviderError {
    ProviderError::new(ErrorKind::Unauthenticated, message).with_hint(
        "set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET, or run `modal token new` to write ~/.modal.toml",
    )
}

/// Resolve the credentials; `server_url_setting` is the instance's `server_url`, which wins
/// over the profile's but not over `MODAL_SERVER_URL`.
pub fn resolve(sources: &Sources, server_url_setting: Option<&str>) -> ProviderResult<Credentials> {
    let profile = read_profile(sources)?;
    let from_profile = |key: &str| {
        profile
            .as_ref()
            .and_then(|p| p.get(key))
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let token_id = sources
        .var("MODAL_TOKEN_ID")
        .or_else(|| from_profile("token_id"));
    let token_secret = sources
        .var("MODAL_TOKEN_SECRET")
        .or_else(|| from_profile("token_secret"));
    let (Some(token_id), Some(token_secret)) = (token_id, token_secret) else {
        return Err(unauthenticated(
            "no Modal token found: MODAL_TOKEN_ID/MODAL_TOKEN_SECRET are unset and the Modal config file has none".into(),
        ));
    };
    let server_url = sources
        .var("MODAL_SERVER_URL")
        .or_else(|| server_url_setting.map(str::to_string))
        .or_else(|| from_profile("server_url"))
        .unwrap_or_else(|| DEFAULT_SERVER_URL.to_string());
    // Modal accepts a comma list of servers; mngr uses the first.
    let server_url = server_url
        .split(',')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let environment = sources
        .var("MODAL_ENVIRONMENT")
        .or_else(|| from_profile("environment"))
        .unwrap_or_default();
    Ok(Credentials {
        token_id,
        token_secret,
        server_url,
        environment,
    })
}

fn config_path(sources: &Sources) -> Option<PathBuf> {
    sources
        .var("MODAL_CONFIG_PATH")
        .map(PathBuf::from)
        .or_else(|| sources.home.as_ref().map(|h| h.join(".modal.toml")))
}

/// The active profile's table, if the file exists.
fn read_profile(sources: &Sources) -> ProviderResult<Option<toml::Table>> {
    let Some(path) = config_path(sources) else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ProviderError::invalid_config(format!(
                "cannot read the Modal config file {}: {e}",
                path.display()
            )));
        }
    };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        ProviderError::invalid_config(format!(
            "the Modal config file {} is not valid TOML: {}",
            path.display(),
            e.message()
        ))
    })?;
    let profiles: Vec<(&String, &toml::Table)> = table
        .iter()
        .filter_map(|(name, v)| v.as_table().map(|t| (name, t)))
        .collect();
    let wanted = sources.var("MODAL_PROFILE");
    let chosen = match &wanted {
        Some(name) => profiles.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            ProviderError::invalid_config(format!(
                "MODAL_PROFILE names profile '{name}', which {} does not have",
                path.display()
            ))
        })?,
        None => {
            let active: Vec<_> = profiles
                .iter()
                .filter(|(_, t)| t.get("active").and_then(|v| v.as_bool()) == Some(true))
                .collect();
            match (active.as_slice(), profiles.as_slice()) {
                ([one], _) => *one,
                ([], [only]) => only,
                ([], all) => match all.iter().find(|(n, _)| n.as_str() == "default") {
                    Some(default) => default,
                    None if all.is_empty() => return Ok(None),
                    None => {
                        return Err(ProviderError::invalid_config(format!(
                            "{} has several profiles and none is active: set MODAL_PROFILE or mark one `active = true`",
                            path.display()
                        )));
                    }
                },
                _ => {
                    return Err(ProviderError::invalid_config(format!(
                        "{} marks more than one profile `active = true`",
                        path.display()
                    )));
                }
            }
        }
    };
    Ok(Some(chosen.1.clone()))
}

/// The sources of this process.
pub fn from_process(server_url_setting: Option<&str>) -> ProviderResult<Credentials> {
    let env = |key: &str| std::env::var(key).ok();
    let sources = Sources {
        env: &env,
        home: std::env::var_os("HOME").map(PathBuf::from),
    };
    resolve(&sources, server_url_setting)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(vars: &[(&str, &str)], file: Option<&str>) -> ProviderResult<Credentials> {
        let home = tempfile::tempdir().unwrap();
        if let Some(text) = file {
            std::fs::write(home.path().join(".modal.toml"), text).unwrap();
        }
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |key: &str| vars.get(key).cloned();
        resolve(
            &Sources {
                env: &env,
                home: Some(home.path().to_path_buf()),
            },
            None,
        )
    }

    #[test]
    fn the_environment_wins_over_the_profile() {
        let file = "[default]\ntoken_id = \"ak-file\"\ntoken_secret = \"as-file\"\nserver_url = \"http://127.0.0.1:1\"\n";
        let c = run(
            &[
                ("MODAL_TOKEN_ID", "ak-env"),
                ("MODAL_TOKEN_SECRET", "as-env"),
            ],
            Some(file),
        )
        .unwrap();
        assert_eq!(
            (c.token_id.as_str(), c.token_secret.as_str()),
            ("ak-env", "as-env")
        );
        assert_eq!(c.server_url, "http://127.0.0.1:1");
        let c = run(&[], Some(file)).unwrap();
        assert_eq!(c.token_id, "ak-file");
        assert_eq!(c.server_url, "http://127.0.0.1:1");
        assert!(
            !format!("{c:?}").contains("as-file"),
            "the secret is never printed"
        );
    }

    #[test]
    fn profiles_are_chosen_by_name_then_active_then_default() {
        let file = "[a]\ntoken_id = \"ak-a\"\ntoken_secret = \"as-a\"\n[b]\ntoken_id = \"ak-b\"\ntoken_secret = \"as-b\"\nactive = true\n";
        assert_eq!(run(&[], Some(file)).unwrap().token_id, "ak-b");
        assert_eq!(
            run(&[("MODAL_PROFILE", "a")], Some(file)).unwrap().token_id,
            "ak-a"
        );
        let err = run(&[("MODAL_PROFILE", "zz")], Some(file)).unwrap_err();
        assert!(err.message.contains("profile 'zz'"), "{}", err.message);
        let two = "[a]\ntoken_id = \"x\"\n[b]\ntoken_id = \"y\"\n";
        let err = run(&[], Some(two)).unwrap_err();
        assert!(err.message.contains("none is active"), "{}", err.message);
        assert_eq!(
            run(&[("MODAL_SERVER_URL", "http://h:2,http://h:3")], Some(file))
                .unwrap()
                .server_url,
            "http://h:2"
        );
    }

    #[test]
    fn no_token_is_unauthenticated_with_a_hint() {
        let err = run(&[], None).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unauthenticated);
        assert!(err.message.contains("no Modal token"), "{}", err.message);
    }
}
