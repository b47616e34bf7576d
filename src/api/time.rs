//! Timestamps in API responses: RFC 3339 in UTC, e.g. `2025-03-01T09:30:00Z`.
//! Stored values are Unix milliseconds; this is the only conversion.

/// Formats Unix milliseconds as RFC 3339 UTC with second precision.
pub fn rfc3339_from_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// The Unix milliseconds of an RFC 3339 time (any offset) or a bare date
/// (its UTC midnight), as the API's `from`/`to` parameters read them;
/// `None` for anything else. The console reads the API's own timestamps
/// back with it to show them in the institute's time.
pub fn ms_from_rfc3339(text: &str) -> Option<i64> {
    super::query::parse_instant(text).map(|(ms, _)| ms)
}

/// Proleptic Gregorian date of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`). Exact for every i64 day count
/// that comes from milliseconds.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::rfc3339_from_ms;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_from_ms(0), "1970-01-01T00:00:00Z");
        // date -u -d @951782400 → 2000-02-29 00:00:00 (a leap day)
        assert_eq!(rfc3339_from_ms(951_782_400_000), "2000-02-29T00:00:00Z");
        // date -u -d @1735689599 → 2024-12-31 23:59:59
        assert_eq!(rfc3339_from_ms(1_735_689_599_999), "2024-12-31T23:59:59Z");
        assert_eq!(rfc3339_from_ms(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn never_panics_on_extremes() {
        rfc3339_from_ms(i64::MAX);
        rfc3339_from_ms(i64::MIN);
    }
}
