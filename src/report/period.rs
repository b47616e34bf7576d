//! The calendar side of a report: the date range asked for, the time zone
//! it is read in, and how instants fall into days, weeks and months.
//!
//! Reports are asked for in whole days (`from` and `to` both included),
//! because that is how the head reports to the vice-rector ("March",
//! "week 10"). Days start at local midnight of a fixed UTC offset (`tz`,
//! UTC by default): Russia has no daylight saving, so a fixed offset is
//! exact for the institute, as in [`crate::ivr::calendar`].

use crate::ivr::calendar::Date;
use crate::store::FieldError;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

pub(crate) const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// Longest range one report covers: ten years of days is still a small
/// answer, and it keeps a typo in a year from building a huge one.
pub const MAX_RANGE_DAYS: i64 = 3_660;

/// How the summary splits its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Day,
    /// ISO weeks: Monday to Sunday.
    Week,
    Month,
}

impl Group {
    pub const ALL: [Group; 3] = [Group::Day, Group::Week, Group::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Group::Day => "day",
            Group::Week => "week",
            Group::Month => "month",
        }
    }
}

impl FromStr for Group {
    type Err = String;
    fn from_str(s: &str) -> Result<Group, String> {
        Group::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| "must be one of day, week, month".to_string())
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The days a report covers, both ends included, read at a UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// Days since 1970-01-01 of the first day.
    pub first_day: i64,
    /// Days since 1970-01-01 of the last day (included).
    pub last_day: i64,
    /// Local time = UTC + this many minutes.
    pub utc_offset_minutes: i32,
}

impl DateRange {
    /// Validates `from`, `to` (`YYYY-MM-DD`) and `tz` (`±HH:MM`, `Z`,
    /// default UTC); every problem is reported against its field.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        tz: Option<&str>,
    ) -> Result<DateRange, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut day = |field: &'static str, value: Option<&str>| match value {
            None | Some("") => {
                errors.push(field_error(field, "is required (a date: 2025-03-01)"));
                None
            }
            Some(s) => parse_day(s).or_else(|| {
                errors.push(field_error(field, "must be a date written YYYY-MM-DD"));
                None
            }),
        };
        let first = day("from", from);
        let last = day("to", to);
        let offset = match tz.filter(|s| !s.is_empty()) {
            None => Some(0),
            Some(s) => parse_utc_offset(s).or_else(|| {
                errors.push(field_error(
                    "tz",
                    "must be a UTC offset written +HH:MM or -HH:MM (e.g. +03:00), or Z",
                ));
                None
            }),
        };
        if let (Some(first), Some(last)) = (first, last) {
            if last < first {
                errors.push(field_error("to", "must not be before from"));
            } else if last - first >= MAX_RANGE_DAYS {
                errors.push(field_error(
                    "to",
                    format!("the range may cover at most {MAX_RANGE_DAYS} days"),
                ));
            }
        }
        match (first, last, offset) {
            (Some(first_day), Some(last_day), Some(utc_offset_minutes)) if errors.is_empty() => {
                Ok(DateRange {
                    first_day,
                    last_day,
                    utc_offset_minutes,
                })
            }
            _ => Err(errors),
        }
    }

    /// The single local day (at a UTC offset) that holds `at_ms`: the live
    /// board's "today", computed with the same day boundaries as a report.
    pub fn day_of(at_ms: i64, utc_offset_minutes: i32) -> DateRange {
        let mut range = DateRange {
            first_day: 0,
            last_day: 0,
            utc_offset_minutes,
        };
        let day = range.local_day(at_ms);
        range.first_day = day;
        range.last_day = day;
        range
    }

    fn offset_ms(&self) -> i64 {
        i64::from(self.utc_offset_minutes) * 60_000
    }

    /// The first instant of local day `day`, in Unix ms.
    pub fn day_start_ms(&self, day: i64) -> i64 {
        day * DAY_MS - self.offset_ms()
    }

    /// The first instant of the range.
    pub fn start_ms(&self) -> i64 {
        self.day_start_ms(self.first_day)
    }

    /// The first instant after the range (exclusive end).
    pub fn end_ms(&self) -> i64 {
        self.day_start_ms(self.last_day + 1)
    }

    /// The local day an instant falls on.
    pub fn local_day(&self, at_ms: i64) -> i64 {
        (at_ms + self.offset_ms()).div_euclid(DAY_MS)
    }

    /// The local hour of day an instant falls in, `0..24`.
    pub fn local_hour(&self, at_ms: i64) -> usize {
        let hour = (at_ms + self.offset_ms()).rem_euclid(DAY_MS) / HOUR_MS;
        usize::try_from(hour).unwrap_or(0)
    }

    /// `+03:00` style label of the offset.
    pub fn tz_label(&self) -> String {
        let sign = if self.utc_offset_minutes < 0 {
            '-'
        } else {
            '+'
        };
        let m = self.utc_offset_minutes.unsigned_abs();
        format!("{sign}{:02}:{:02}", m / 60, m % 60)
    }

    /// The range split by `group`, in order; the first and last period
    /// are clipped to the range (a week that starts before `from` counts
    /// only from `from`).
    pub fn periods(&self, group: Group) -> Vec<Period> {
        let mut out = Vec::new();
        let mut day = self.first_day;
        while day <= self.last_day {
            let (start, next) = bucket(group, day);
            let last = (next - 1).min(self.last_day);
            out.push(Period {
                label: label(group, start),
                first_day: day,
                last_day: last,
            });
            day = next;
        }
        out
    }
}

/// One row of the summary: a run of whole local days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// `2025-03-01` (day), `2025-03-03` (the week's Monday, even when the
    /// range starts mid-week), `2025-03` (month).
    pub label: String,
    pub first_day: i64,
    /// Included.
    pub last_day: i64,
}

/// The bucket of `group` that holds `day`: its first day and the first
/// day of the next bucket.
pub fn bucket(group: Group, day: i64) -> (i64, i64) {
    match group {
        Group::Day => (day, day + 1),
        Group::Week => {
            // 1970-01-01 was a Thursday: three days after a Monday.
            let monday = day - (day + 3).rem_euclid(7);
            (monday, monday + 7)
        }
        Group::Month => {
            let d = Date::from_days_since_epoch(day);
            let first = day - i64::from(d.day) + 1;
            let (year, month) = if d.month == 12 {
                (d.year + 1, 1)
            } else {
                (d.year, d.month + 1)
            };
            let next = Date::new(year, month, 1).map_or(first + 31, Date::days_since_epoch);
            (first, next)
        }
    }
}

fn label(group: Group, first_day: i64) -> String {
    let d = Date::from_days_since_epoch(first_day);
    match group {
        Group::Day | Group::Week => d.to_string(),
        Group::Month => format!("{:04}-{:02}", d.year, d.month),
    }
}

/// `YYYY-MM-DD` of a day number.
pub fn date_label(day: i64) -> String {
    Date::from_days_since_epoch(day).to_string()
}

/// Days since 1970-01-01 of a valid date written exactly `YYYY-MM-DD`.
fn parse_day(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape_ok {
        return None;
    }
    Date::parse(s).map(Date::days_since_epoch)
}

/// `Z`, `+HH:MM` or `-HH:MM` (up to ±14:00, the widest real offset) to minutes.
fn parse_utc_offset(s: &str) -> Option<i32> {
    if s == "Z" || s == "z" {
        return Some(0);
    }
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    if b.len() != 6 || b.get(3) != Some(&b':') {
        return None;
    }
    let two = |r: std::ops::Range<usize>| -> Option<i32> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (h, m) = (two(1..3)?, two(4..6)?);
    let minutes = h * 60 + m;
    (m < 60 && minutes <= 14 * 60).then_some(sign * minutes)
}

fn field_error(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> i64 {
        parse_day(s).unwrap()
    }

    fn range(from: &str, to: &str) -> DateRange {
        DateRange::parse(Some(from), Some(to), None).unwrap()
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2025-03-03 was a Monday, 2025-03-09 a Sunday.
        for d in ["2025-03-03", "2025-03-05", "2025-03-09"] {
            assert_eq!(
                bucket(Group::Week, day(d)),
                (day("2025-03-03"), day("2025-03-10"))
            );
        }
        assert_eq!(bucket(Group::Week, day("2025-03-10")).0, day("2025-03-10"));
        // Before the epoch too: 1969-12-29 was a Monday.
        assert_eq!(bucket(Group::Week, day("1970-01-01")).0, day("1969-12-29"));
    }

    #[test]
    fn months_have_their_real_lengths() {
        assert_eq!(
            bucket(Group::Month, day("2024-02-29")),
            (day("2024-02-01"), day("2024-03-01"))
        );
        assert_eq!(
            bucket(Group::Month, day("2025-12-31")),
            (day("2025-12-01"), day("2026-01-01"))
        );
        assert_eq!(bucket(Group::Day, day("2025-12-31")).1, day("2026-01-01"));
    }

    #[test]
    fn periods_cover_the_range_clipped_at_both_ends() {
        // Wednesday 2025-02-26 to Tuesday 2025-03-11.
        let weeks = range("2025-02-26", "2025-03-11").periods(Group::Week);
        let summary: Vec<_> = weeks
            .iter()
            .map(|p| {
                (
                    p.label.as_str(),
                    date_label(p.first_day),
                    date_label(p.last_day),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("2025-02-24", "2025-02-26".into(), "2025-03-02".into()),
                ("2025-03-03", "2025-03-03".into(), "2025-03-09".into()),
                ("2025-03-10", "2025-03-10".into(), "2025-03-11".into()),
            ]
        );
        let months = range("2025-01-15", "2025-03-01").periods(Group::Month);
        let labels: Vec<_> = months.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["2025-01", "2025-02", "2025-03"]);
        assert_eq!(months[0].first_day, day("2025-01-15"));
        assert_eq!(months[2].last_day, day("2025-03-01"));
        assert_eq!(
            range("2025-03-01", "2025-03-01").periods(Group::Day).len(),
            1
        );
    }

    #[test]
    fn a_time_zone_moves_the_day_boundaries() {
        let utc = range("2025-03-01", "2025-03-01");
        assert_eq!(utc.start_ms(), 1_740_787_200_000);
        assert_eq!(utc.end_ms(), 1_740_787_200_000 + DAY_MS);
        let msk = DateRange::parse(Some("2025-03-01"), Some("2025-03-01"), Some("+03:00")).unwrap();
        assert_eq!(msk.start_ms(), 1_740_787_200_000 - 3 * 3_600_000);
        assert_eq!(msk.tz_label(), "+03:00");
        // 22:30 UTC on 1 March is already 2 March in Moscow.
        let late = 1_740_787_200_000 + 22 * 3_600_000 + 1_800_000;
        assert_eq!(utc.local_day(late), day("2025-03-01"));
        assert_eq!(msk.local_day(late), day("2025-03-02"));
        assert_eq!(utc.local_hour(late), 22);
        assert_eq!(msk.local_hour(late), 1);
        assert_eq!(utc.local_hour(utc.start_ms() - 1), 23);
        // "Today" in Moscow at 22:30 UTC on 1 March is 2 March.
        let today = DateRange::day_of(late, 180);
        assert_eq!(
            (today.first_day, today.last_day),
            (day("2025-03-02"), day("2025-03-02"))
        );
        assert_eq!(today.start_ms(), 1_740_787_200_000 + 21 * 3_600_000);
    }

    #[test]
    fn bad_input_names_its_field() {
        let fields = |from, to, tz| -> Vec<&'static str> {
            DateRange::parse(from, to, tz)
                .unwrap_err()
                .iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields(None, Some("2025-03-01"), None), ["from"]);
        assert_eq!(
            fields(Some("2025-02-30"), Some("2025-3-1"), None),
            ["from", "to"]
        );
        assert_eq!(fields(Some("2025-03-02"), Some("2025-03-01"), None), ["to"]);
        assert_eq!(fields(Some("2000-01-01"), Some("2025-03-01"), None), ["to"]);
        for tz in ["3", "+3:00", "+03:60", "+15:00", "UTC", "+03:00x"] {
            assert_eq!(
                fields(Some("2025-03-01"), Some("2025-03-01"), Some(tz)),
                ["tz"],
                "{tz}"
            );
        }
        assert_eq!(parse_utc_offset("-03:30"), Some(-210));
        assert_eq!("week".parse::<Group>(), Ok(Group::Week));
        assert!("year".parse::<Group>().is_err());
    }
}
