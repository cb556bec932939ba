//! ISO-8601 UTC timestamps (the `created_at`/`updated_at` strings providers report), without
//! a date crate.

/// `2026-11-23T19:04:05Z` for a time in whole seconds since the Unix epoch.
pub fn iso8601_utc(secs: i64) -> String {
    let (date, time) = date_and_time(secs);
    format!("{date}T{time}Z")
}

/// `2026-11-23T19:04:05.000123Z`: like [`iso8601_utc`] with microseconds.
pub fn iso8601_utc_micros(secs: i64, micros: u32) -> String {
    let (date, time) = date_and_time(secs);
    format!("{date}T{time}.{micros:06}Z")
}

/// `2026-11-23T19:04:05.000123+00:00`: the form Python's `isoformat` writes, which agent and
/// host records of every mngr version use.
pub fn iso8601_utc_micros_offset(secs: i64, micros: u32) -> String {
    let (date, time) = date_and_time(secs);
    format!("{date}T{time}.{micros:06}+00:00")
}

/// Now, as seconds and microseconds since the Unix epoch.
pub fn now_unix() -> (i64, u32) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_secs() as i64, now.subsec_micros())
}

/// Now as [`iso8601_utc_micros`].
pub fn now_iso8601_utc_micros() -> String {
    let (secs, micros) = now_unix();
    iso8601_utc_micros(secs, micros)
}

/// Seconds since the epoch of an ISO-8601 timestamp in UTC (`Z`, `+00:00` or no offset; the
/// fraction is ignored). `None` if it does not start with `YYYY-MM-DDTHH:MM:SS`.
pub fn unix_from_iso8601(s: &str) -> Option<i64> {
    let field = |range: std::ops::Range<usize>| s.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// `YYYY-MM-DD` and `HH:MM:SS` of a UTC time in seconds since the epoch.
fn date_and_time(secs: i64) -> (String, String) {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60),
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after Howard Hinnant's
/// published civil-from-days algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_utc(1_795_461_845), "2026-11-23T19:24:05Z");
        assert_eq!(iso8601_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601_utc(-1), "1969-12-31T23:59:59Z");
        assert_eq!(iso8601_utc_micros(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            iso8601_utc_micros(1_700_000_000, 5),
            "2023-11-14T22:13:20.000005Z"
        );
        assert_eq!(
            iso8601_utc_micros_offset(0, 7),
            "1970-01-01T00:00:00.000007+00:00"
        );
    }

    #[test]
    fn parsing_inverts_formatting() {
        for secs in [0, 951_782_400, 1_795_461_845, -86_401] {
            assert_eq!(unix_from_iso8601(&iso8601_utc(secs)), Some(secs));
            assert_eq!(
                unix_from_iso8601(&iso8601_utc_micros_offset(secs, 9)),
                Some(secs)
            );
        }
        assert_eq!(unix_from_iso8601("yesterday"), None);
    }
}
