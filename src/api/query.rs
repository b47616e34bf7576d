//! Query-string pieces shared by the list endpoints: the `{"items",
//! "next_cursor"}` page, field errors for 422 answers, and the date/time
//! parameters (`from`, `to`).

use crate::store::FieldError;
use serde::Serialize;

pub(super) const DAY_MS: i64 = 86_400_000;

/// One page of a list: `next_cursor` is `null` on the last page.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Page<T> {
    pub(super) items: Vec<T>,
    pub(super) next_cursor: Option<String>,
}

pub(super) fn field_error(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// Drops empty strings: `?status=` means "no filter", as HTML forms send it.
pub(super) fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// `?limit=`: `default` when absent, an error on `limit` unless 1..=`max`.
pub(super) fn parse_limit(
    value: Option<String>,
    default: i64,
    max: i64,
    errors: &mut Vec<FieldError>,
) -> i64 {
    match non_empty(value) {
        None => default,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                errors.push(field_error(
                    "limit",
                    format!("must be an integer from 1 to {max}"),
                ));
                default
            }
        },
    }
}

/// A time-range bound in Unix ms: `from` (inclusive) when `end` is false,
/// `to` (exclusive; a bare date includes that whole day) when it is true.
pub(super) fn parse_bound(
    field: &'static str,
    value: Option<String>,
    end: bool,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    let value = non_empty(value)?;
    match parse_instant(&value) {
        Some((ms, true)) if end => Some(ms.saturating_add(DAY_MS)),
        Some((ms, _)) => Some(ms),
        None => {
            errors.push(field_error(field, DATE_FORMATS));
            None
        }
    }
}

pub(super) const DATE_FORMATS: &str =
    "must be an RFC 3339 time (2025-03-01T09:30:00Z) or a date (2025-03-01)";

/// Parses `YYYY-MM-DD` (UTC midnight; `true`) or an RFC 3339 time
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`false`) to Unix ms.
pub(super) fn parse_instant(s: &str) -> Option<(i64, bool)> {
    let date = s.get(..10)?;
    let days = parse_date(date)?;
    let midnight = days.checked_mul(DAY_MS)?;
    let rest = s.get(10..)?;
    if rest.is_empty() {
        return Some((midnight, true));
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let hh = two_digits(rest.get(0..2)?)?;
    let mm = two_digits(rest.get(3..5)?)?;
    let ss = two_digits(rest.get(6..8)?)?;
    if rest.get(2..3)? != ":" || rest.get(5..6)? != ":" || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut rest = rest.get(8..)?;
    let mut millis = 0_i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let frac = fraction.get(..digits)?;
        // Milliseconds from the first three digits; finer ones are dropped.
        millis = format!("{:0<3}", frac.get(..digits.min(3))?).parse().ok()?;
        rest = fraction.get(digits..)?;
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.get(3..4)? != ":" {
                return None;
            }
            let oh = two_digits(rest.get(1..3)?)?;
            let om = two_digits(rest.get(4..6)?)?;
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 60 + om)
        }
    };
    let seconds = hh * 3600 + mm * 60 + ss - offset_min * 60;
    let ms = midnight
        .checked_add(seconds.checked_mul(1000)?)?
        .checked_add(millis)?;
    Some((ms, false))
}

fn two_digits(s: &str) -> Option<i64> {
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Days since 1970-01-01 of a valid `YYYY-MM-DD`, written exactly so (the
/// calendar's `Date` does the civil-date arithmetic for the whole crate).
fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits_at =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() != 10
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !digits_at(0..4)
        || !digits_at(5..7)
        || !digits_at(8..10)
    {
        return None;
    }
    crate::ivr::calendar::Date::parse(s).map(|d| d.days_since_epoch())
}

#[cfg(test)]
mod tests {
    use super::parse_instant;
    use crate::api::rfc3339_from_ms;

    #[test]
    fn parses_dates_and_rfc3339_times() {
        assert_eq!(parse_instant("1970-01-01"), Some((0, true)));
        assert_eq!(parse_instant("2000-02-29"), Some((951_782_400_000, true)));
        assert_eq!(
            parse_instant("2024-12-31T23:59:59Z"),
            Some((1_735_689_599_000, false))
        );
        assert_eq!(
            parse_instant("2024-12-31T23:59:59.999Z"),
            Some((1_735_689_599_999, false))
        );
        assert_eq!(
            parse_instant("2025-01-01T02:59:59.5+03:00"),
            Some((1_735_689_599_500, false))
        );
        assert_eq!(
            parse_instant("2024-12-31T20:00:00-03:30"),
            parse_instant("2024-12-31T23:30:00Z")
        );
        for ms in [0, 951_782_400_000, 1_735_689_599_000] {
            assert_eq!(parse_instant(&rfc3339_from_ms(ms)), Some((ms, false)));
        }
    }

    #[test]
    fn rejects_what_is_not_a_date() {
        for bad in [
            "",
            "2025",
            "2025-02-29",
            "2025-13-01",
            "2025-00-10",
            "2025-1-01",
            "yesterday",
            "2025-03-01T",
            "2025-03-01T25:00:00Z",
            "2025-03-01T10:00:00",
            "2025-03-01T10:00:00+3",
            "2025-03-01T10:00:00.Z",
            "2025-03-01T10:00:00Zjunk",
            "+025-03-01",
            "2025-03-01Ж",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad:?}");
        }
    }
}
