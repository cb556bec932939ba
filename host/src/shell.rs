//! Quoting values into POSIX shell scripts run on hosts: the one quoting function of the host
//! (agents build scripts with it, transports wrap them in `sh -c` with it).

/// Quote `s` as one shell word: bare when safe, else single quotes.
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
}
