//! Quoting values into POSIX shell command lines: the one quoting function of the workspace,
//! for the host's agent scripts and for providers that run commands on their hosts.

/// Quote `s` as one shell word: bare when it is safe as it is, else in single quotes.
pub fn quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%^".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Join arguments into one command line, quoting each.
pub fn join(args: &[String]) -> String {
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote("abc/d.e"), "abc/d.e");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(join(&["echo".into(), "$HOME".into()]), "echo '$HOME'");
    }

    #[test]
    fn quoted_words_survive_a_real_shell() {
        let words = ["plain", "two words", "it's", "$(rm -rf /)", "", "a\nb", "*"];
        let line = join(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>());
        let out = std::process::Command::new("sh")
            .args([
                "-c",
                &format!("for w in {line}; do printf '%s\\0' \"$w\"; done"),
            ])
            .output()
            .unwrap();
        // Each word comes back whole, followed by its NUL.
        let got: Vec<String> = out
            .stdout
            .split_inclusive(|b| *b == 0)
            .map(|w| String::from_utf8_lossy(&w[..w.len() - 1]).into_owned())
            .collect();
        assert_eq!(got, words);
    }
}
