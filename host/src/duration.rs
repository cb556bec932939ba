//! Durations as people type them (`90`, `1.5`, `90s`, `10m`, `1h30m`, `7d`), for every flag and
//! setting that takes one. One parser with a range, so nothing downstream sees a NaN, a
//! negative or an overflowing value, and every error says what is accepted.

use std::time::Duration;

/// What one duration option accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub min: Duration,
    pub max: Duration,
    /// Only whole seconds (the value is stored as an integer number of seconds).
    pub whole_seconds: bool,
}

/// `exec --timeout`: a millisecond to a week.
pub const EXEC_TIMEOUT: Range = Range {
    min: Duration::from_millis(1),
    max: Duration::from_secs(7 * 86_400),
    whole_seconds: false,
};

/// `create --idle-timeout`: a second to a year, in whole seconds.
pub const IDLE_TIMEOUT: Range = Range {
    min: Duration::from_secs(1),
    max: Duration::from_secs(365 * 86_400),
    whole_seconds: true,
};

/// `provider_timeout`: a millisecond to an hour.
pub const PROVIDER_TIMEOUT: Range = Range {
    min: Duration::from_millis(1),
    max: Duration::from_secs(3600),
    whole_seconds: false,
};

/// `lock_timeout`: a millisecond to a day.
pub const LOCK_TIMEOUT: Range = Range {
    min: Duration::from_millis(1),
    max: Duration::from_secs(86_400),
    whole_seconds: false,
};

/// A duration written in a settings file: a number of seconds or a string in any form
/// [`parse`] takes.
pub fn parse_setting(value: &toml::Value, range: Range) -> Result<Duration, String> {
    let text = match value {
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::String(s) => s.clone(),
        other => {
            return Err(format!(
                "must be a duration, not a {} ({FORMS})",
                other.type_str()
            ));
        }
    };
    parse(&text, range)
}

const FORMS: &str =
    "write seconds (90, 1.5) or a number with units d, h, m, s (90s, 10m, 1h30m, 7d)";

/// Parse `raw` and check it against `range`. The error is one sentence naming the value and
/// what would be accepted; callers prefix it with the flag or setting.
pub fn parse(raw: &str, range: Range) -> Result<Duration, String> {
    let s = raw.trim();
    if !well_formed(s) {
        return Err(format!("'{raw}' is not a duration: {FORMS}"));
    }
    let too_long = || {
        format!(
            "'{raw}' is out of range: between {} and {}",
            display(range.min),
            display(range.max)
        )
    };
    let value = parse_unchecked(s).ok_or_else(too_long)?;
    if range.whole_seconds && value.subsec_nanos() != 0 {
        return Err(format!("'{raw}' is not a whole number of seconds"));
    }
    if value < range.min || value > range.max {
        return Err(too_long());
    }
    Ok(value)
}

/// Digits with an optional fraction, or `<digits><unit>` groups: no signs, exponents, `nan`.
fn well_formed(s: &str) -> bool {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some((whole, fraction)) = s.split_once('.') {
        return digits(whole) && digits(fraction);
    }
    if digits(s) {
        return true;
    }
    let mut pending = false;
    for c in s.chars() {
        match c {
            '0'..='9' => pending = true,
            'd' | 'h' | 'm' | 's' if pending => pending = false,
            _ => return false,
        }
    }
    !s.is_empty() && !pending
}

/// The value of a well-formed duration; `None` when it is too big to hold.
fn parse_unchecked(s: &str) -> Option<Duration> {
    if let Some((whole, fraction)) = s.split_once('.') {
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !digits(fraction) {
            return None;
        }
        let secs: u64 = whole.parse().ok()?;
        // Nanoseconds: the first nine fraction digits.
        let nanos = format!("{fraction:0<9}")[..9].parse::<u32>().ok()?;
        return Some(Duration::new(secs, nanos));
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(s.parse().ok()?));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            'd' => 86_400,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if !digits.is_empty() || s.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

/// `7d`, `1h30m`, `1s`, `0.001s`.
pub fn display(d: Duration) -> String {
    if d.subsec_nanos() != 0 || d.is_zero() {
        return format!("{}s", d.as_secs_f64());
    }
    let mut left = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [('d', 86_400), ('h', 3600), ('m', 60), ('s', 1)] {
        if left >= size {
            out.push_str(&format!("{}{unit}", left / size));
            left %= size;
        }
    }
    out
}

/// A clap value parser for a duration flag with `range`.
pub fn flag_parser(range: Range) -> impl Fn(&str) -> Result<Duration, String> + Clone {
    move |raw| parse(raw, range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        let p = |s| parse(s, EXEC_TIMEOUT).unwrap();
        assert_eq!(p("90"), Duration::from_secs(90));
        assert_eq!(p("1.5"), Duration::from_millis(1500));
        assert_eq!(p("0.001"), Duration::from_millis(1));
        assert_eq!(p("1h30m"), Duration::from_secs(5400));
        assert_eq!(p(" 7d "), Duration::from_secs(604_800));
        assert_eq!(display(Duration::from_secs(5400)), "1h30m");
    }

    #[test]
    fn garbage_sign_exponent_and_overflow_are_refused_with_the_forms() {
        for bad in [
            "nan", "inf", "-1", "-0.5", "1e300", "", "5x", "m", "10m5", "1.", ".5", "+3", "1dd",
        ] {
            let err = parse(bad, EXEC_TIMEOUT).unwrap_err();
            assert!(err.contains("is not a duration"), "{bad}: {err}");
        }
        for huge in [
            "99999999999999999999",
            "999999999999999999d",
            "18446744073709551615.5",
        ] {
            let err = parse(huge, EXEC_TIMEOUT).unwrap_err();
            assert!(err.contains("out of range"), "{huge}: {err}");
        }
        assert_eq!(
            parse("0", EXEC_TIMEOUT).unwrap_err(),
            "'0' is out of range: between 0.001s and 7d"
        );
        assert!(
            parse("8d", EXEC_TIMEOUT)
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            parse("1.5", IDLE_TIMEOUT)
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            parse("366d", IDLE_TIMEOUT)
                .unwrap_err()
                .contains("between 1s and 365d")
        );
    }
}
