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
        // Values may be secrets: errors name the line and the variable, never the value.
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "line {}: expected KEY=VALUE (the line is not shown: it may hold a secret)",
                n + 1
            ));
        };
        let key = key.trim();
        if !valid_key(key) {
            return Err(format!("line {}: {}", n + 1, invalid_name(key)));
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

/// Why `key` is no variable name. Names are shown (they are not secret), cut short in case a
/// whole assignment was typed where the name goes.
fn invalid_name(key: &str) -> String {
    let shown: String = key.chars().take(40).collect();
    let cut = if shown.len() < key.len() { "..." } else { "" };
    format!(
        "invalid variable name '{shown}{cut}': use letters, digits and '_', not starting with a digit"
    )
}

/// Parse `KEY=VALUE` from a command-line flag (`flag` names it in errors). The value may be
/// a secret, so no error shows it: a malformed argument is described, not echoed.
pub fn parse_assignment(flag: &str, raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if valid_key(k.trim()) => Ok((k.trim().to_string(), v.to_string())),
        Some((k, _)) => Err(format!("invalid {flag}: {}", invalid_name(k.trim()))),
        None => Err(format!(
            "invalid {flag}: expected KEY=VALUE, got a value without '=' (not shown: it may be a secret)"
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

    #[test]
    fn errors_never_show_values() {
        let secret = "s3cret";
        for bad in [
            "1TOKEN=s3cret",
            "s3cret",
            "=s3cret",
            "A B=s3cret",
            "T-K=s3cret=x",
        ] {
            let err = parse_assignment("--env", bad).unwrap_err();
            assert!(!err.contains(secret), "{bad}: {err}");
            assert!(err.starts_with("invalid --env: "), "{err}");
            let err = parse(&format!("OK=1\n{bad}\n")).unwrap_err();
            assert!(
                !err.contains(secret) && err.starts_with("line 2: "),
                "{bad}: {err}"
            );
        }
        assert_eq!(
            parse_assignment("--env", "1TOKEN=s3cret").unwrap_err(),
            "invalid --env: invalid variable name '1TOKEN': use letters, digits and '_', not starting with a digit"
        );
    }
}
