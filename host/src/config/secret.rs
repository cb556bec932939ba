//! Settings whose values are secrets: errors name them, never print their values.
//!
//! A key is secret when it holds environment assignments (`commands.create.env`, the values
//! of `--env`) or when its name says so (`token`, `secret`, `password`, `api_key`,
//! `credential`, `private_key` anywhere in the last part, in any case).

use super::keys::base_key;

const SECRET_WORDS: [&str; 7] = [
    "token",
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "credential",
];

/// Settings that hold `KEY=VALUE` environment assignments.
const ENV_KEYS: [&str; 1] = ["commands.create.env"];

/// Whether the value at `path` (`["providers", "x", "api_token"]`) must never be printed.
pub fn is_secret(path: &[String]) -> bool {
    let Some(last) = path.last() else {
        return false;
    };
    let bases: Vec<&str> = path.iter().map(|p| base_key(p)).collect();
    let dotted = bases.join(".");
    let last = base_key(last).to_ascii_lowercase();
    ENV_KEYS.contains(&dotted.as_str())
        || SECRET_WORDS.iter().any(|w| last.contains(w))
        || last.contains("private_key")
}

/// The same for a dotted key (`providers.x.api_token`).
pub fn is_secret_key(dotted: &str) -> bool {
    let path: Vec<String> = dotted.split('.').map(|s| s.trim().to_string()).collect();
    is_secret(&path)
}

/// `text` with the value of every secret key of `table` (a settings table at `at`, such as
/// one provider's config) replaced by `<secret, not shown>`.
pub fn hide_values(
    text: &str,
    at: &[&str],
    table: &serde_json::Map<String, serde_json::Value>,
) -> String {
    let mut shown = text.to_string();
    for (key, value) in table {
        let mut path: Vec<String> = at.iter().map(|p| p.to_string()).collect();
        path.push(key.clone());
        let secret = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if is_secret(&path) && !secret.is_empty() {
            shown = shown.replace(&secret, "<secret, not shown>");
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_assignments_and_secret_looking_names_are_secret() {
        for key in [
            "commands.create.env",
            "commands.create.env__extend",
            "providers.vultr.api_key",
            "providers.x.API_TOKEN",
            "providers.x.db_password",
            "providers.x.ssh_private_key",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "prefix",
            "providers.lab.host_dir",
            "commands.create.env_files",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }
}
