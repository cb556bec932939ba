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
    }
}
