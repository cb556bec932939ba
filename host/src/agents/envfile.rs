//! Env files (`KEY=VALUE` lines) as written for agents and hosts: sourced by `sh` with
//! `set -a`, and readable by dotenv parsers.

/// Format one assignment. Values that need it are quoted so that sourcing them with `sh`
/// yields the value unchanged.
pub fn format_line(key: &str, value: &str) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@,+%=".contains(c));
    if plain {
        format!("{key}={value}")
    } else if !value.contains('\'') {
        format!("{key}='{value}'")
    } else {
        let mut escaped = String::new();
        for c in value.chars() {
            if matches!(c, '\\' | '"' | '$' | '`') {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        format!("{key}=\"{escaped}\"")
    }
}

pub fn format(vars: &[(String, String)]) -> String {
    let mut out = String::new();
    for (key, value) in vars {
        out.push_str(&format_line(key, value));
        out.push('\n');
    }
    out
}

/// True for a valid environment variable name.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parse `KEY=VALUE` lines: blank lines and `#` comments skipped, an optional `export `
/// prefix, and one level of matching quotes removed.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut vars = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=VALUE, got '{raw}'", n + 1));
        };
        let key = key.trim();
        if !valid_key(key) {
            return Err(format!("line {}: invalid variable name '{key}'", n + 1));
        }
        let value = value.trim();
        let value = if value.len() >= 2
            && ((value.starts_with('"') && value.ends_with('"'))
                || (value.starts_with('\'') && value.ends_with('\'')))
        {
            let inner = &value[1..value.len() - 1];
            if value.starts_with('"') {
                unescape_double(inner)
            } else {
                inner.to_string()
            }
        } else {
            value.to_string()
        };
        vars.push((key.to_string(), value));
    }
    Ok(vars)
}

fn unescape_double(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parse `KEY=VALUE` from a command-line flag.
pub fn parse_assignment(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if valid_key(k.trim()) => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "invalid --env '{raw}': expected KEY=VALUE with a variable name"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_values_survive_sourcing_by_sh() {
        let vars = vec![
            ("A".to_string(), "plain".to_string()),
            ("B".to_string(), "two words $HOME".to_string()),
            ("C".to_string(), "it's \"q\" `x` \\".to_string()),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env");
        std::fs::write(&path, format(&vars)).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "set -a; . '{}'; printf '%s|%s|%s' \"$A\" \"$B\" \"$C\"",
                path.display()
            ))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "plain|two words $HOME|it's \"q\" `x` \\"
        );
        assert_eq!(parse(&format(&vars)).unwrap(), vars);
    }

    #[test]
    fn parses_env_files_and_rejects_garbage() {
        let vars = parse("# c\n\nexport X=1\nY='a b'\n").unwrap();
        assert_eq!(
            vars,
            vec![("X".into(), "1".into()), ("Y".into(), "a b".into())]
        );
        assert!(parse("novalue\n").is_err());
        assert!(parse("1X=2\n").is_err());
    }
}
