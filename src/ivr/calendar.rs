//! Working hours for `business_hours` nodes: weekly hours, a fixed UTC
//! offset, and holidays.
//!
//! Why a fixed offset instead of an IANA zone: the institute is in Russia,
//! which has had no daylight saving since 2014, so `+03:00` (Moscow) is exact
//! and we avoid a time-zone database dependency. A site in a zone with DST
//! would need `chrono-tz`/`jiff` here; only [`Calendar::local_time`] changes.
//!
//! Configuration (a `[calendar]` table; every key optional):
//! ```toml
//! utc_offset = "+03:00"
//! holidays = ["2026-01-01", "2026-05-09"]
//! [hours]                      # absent day = closed
//! mon = "09:00-18:00"
//! fri = "09:00-13:00, 14:00-17:00"
//! sat = "closed"
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// A valid date, or `None` (e.g. 2026-02-30).
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days_in_month)
            .contains(&day)
            .then_some(Date { year, month, day })
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.trim().splitn(3, '-');
        let year = parts.next()?.parse().ok()?;
        let month = parts.next()?.parse().ok()?;
        let day = parts.next()?.parse().ok()?;
        Date::new(year, month, day)
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub fn days_since_epoch(self) -> i64 {
        let month = i64::from(self.month);
        let year = i64::from(self.year) - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let day_of_year =
            (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The inverse of [`Date::days_since_epoch`] (`civil_from_days`).
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Date {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
        }
    }

    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday (index 3 from Monday).
        let index = (self.days_since_epoch() + 3).rem_euclid(7);
        Weekday::ALL
            .get(usize::try_from(index).unwrap_or(0))
            .copied()
            .unwrap_or(Weekday::Mon)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// The config spelling: `mon` … `sun`.
    pub fn key(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A local wall-clock moment at the institute, as `business_hours` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarTime {
    pub date: Date,
    /// Minutes since local midnight, `0..1440`.
    pub minute_of_day: u16,
}

impl CalendarTime {
    /// `None` for an invalid date or time.
    pub fn new(year: i32, month: u8, day: u8, hour: u8, minute: u8) -> Option<CalendarTime> {
        if hour >= 24 || minute >= 60 {
            return None;
        }
        Some(CalendarTime {
            date: Date::new(year, month, day)?,
            minute_of_day: u16::from(hour) * 60 + u16::from(minute),
        })
    }

    pub fn weekday(&self) -> Weekday {
        self.date.weekday()
    }
}

impl fmt::Display for CalendarTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}",
            self.date,
            self.minute_of_day / 60,
            self.minute_of_day % 60
        )
    }
}

/// Working hours. Built from [`CalendarConfig`] (it deserializes directly
/// from a config table) or [`Calendar::default`]: Monday to Friday
/// 09:00–18:00 Moscow time, no holidays.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "CalendarConfig")]
pub struct Calendar {
    /// Local time = UTC + this many minutes.
    pub utc_offset_minutes: i32,
    /// Per weekday (Monday first): open intervals `[start, end)` in minutes
    /// since midnight.
    pub weekly: [Vec<(u16, u16)>; 7],
    /// Whole days closed regardless of the weekday.
    pub holidays: BTreeSet<Date>,
}

impl Default for Calendar {
    fn default() -> Self {
        let workday = vec![(9 * 60, 18 * 60)];
        Calendar {
            utc_offset_minutes: 3 * 60,
            weekly: [
                workday.clone(),
                workday.clone(),
                workday.clone(),
                workday.clone(),
                workday,
                Vec::new(),
                Vec::new(),
            ],
            holidays: BTreeSet::new(),
        }
    }
}

impl Calendar {
    /// Is the hotline staffed at `time`?
    pub fn is_open(&self, time: &CalendarTime) -> bool {
        if self.holidays.contains(&time.date) {
            return false;
        }
        self.weekly
            .get(time.weekday().index())
            .is_some_and(|intervals| {
                intervals
                    .iter()
                    .any(|&(start, end)| (start..end).contains(&time.minute_of_day))
            })
    }

    /// The local time at `unix_seconds` (seconds since 1970-01-01 UTC); the
    /// shell passes `SystemTime::now()` here when a call arrives.
    pub fn local_time(&self, unix_seconds: i64) -> CalendarTime {
        let local = unix_seconds.saturating_add(i64::from(self.utc_offset_minutes) * 60);
        let days = local.div_euclid(86_400);
        let minute = local.rem_euclid(86_400) / 60;
        CalendarTime {
            date: Date::from_days_since_epoch(days),
            minute_of_day: u16::try_from(minute).unwrap_or(0),
        }
    }
}

/// The calendar in force, shared by the call layer (each new call reads it
/// once, when its IVR starts) and the console, which can replace it while
/// the server runs. A call in progress keeps the calendar it started with,
/// as it keeps its IVR script version.
#[derive(Debug, Clone, Default)]
pub struct LiveCalendar(std::sync::Arc<std::sync::RwLock<std::sync::Arc<Calendar>>>);

impl LiveCalendar {
    pub fn new(calendar: Calendar) -> LiveCalendar {
        LiveCalendar(std::sync::Arc::new(std::sync::RwLock::new(
            std::sync::Arc::new(calendar),
        )))
    }

    /// The calendar for a call starting now.
    pub fn get(&self) -> std::sync::Arc<Calendar> {
        let guard = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::sync::Arc::clone(&guard)
    }

    /// Puts `calendar` in force for calls that start from now on.
    pub fn set(&self, calendar: Calendar) {
        let mut guard = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = std::sync::Arc::new(calendar);
    }
}

/// The `[calendar]` config table as written; see the module docs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    #[serde(default)]
    pub utc_offset: Option<String>,
    #[serde(default)]
    pub hours: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub holidays: Vec<String>,
}

impl TryFrom<CalendarConfig> for Calendar {
    type Error = String;

    fn try_from(config: CalendarConfig) -> Result<Self, String> {
        let mut calendar = Calendar::default();
        if let Some(offset) = &config.utc_offset {
            calendar.utc_offset_minutes = parse_offset(offset)
                .ok_or_else(|| format!("bad utc_offset `{offset}`: expected like +03:00"))?;
        }
        if let Some(hours) = &config.hours {
            calendar.weekly = Default::default();
            for (day, spec) in hours {
                let weekday = Weekday::ALL
                    .iter()
                    .find(|w| w.key() == day)
                    .ok_or_else(|| format!("unknown day `{day}` in hours: expected mon … sun"))?;
                let intervals = parse_intervals(spec).ok_or_else(|| {
                    format!("bad hours `{spec}` for {day}: expected like 09:00-18:00 or closed")
                })?;
                if let Some(slot) = calendar.weekly.get_mut(weekday.index()) {
                    *slot = intervals;
                }
            }
        }
        for holiday in &config.holidays {
            let date = Date::parse(holiday)
                .ok_or_else(|| format!("bad holiday `{holiday}`: expected YYYY-MM-DD"))?;
            calendar.holidays.insert(date);
        }
        Ok(calendar)
    }
}

/// `+03:00`, `-05:30`, `Z` → minutes east of UTC.
fn parse_offset(text: &str) -> Option<i32> {
    let text = text.trim();
    if text == "Z" || text == "UTC" {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, text.get(1..)?),
        b'-' => (-1, text.get(1..)?),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

/// `09:00-18:00, 19:00-21:00` or `closed`/empty → open intervals.
fn parse_intervals(text: &str) -> Option<Vec<(u16, u16)>> {
    let text = text.trim();
    if text.is_empty() || text == "closed" {
        return Some(Vec::new());
    }
    text.split(',')
        .map(|part| {
            let (start, end) = part.trim().split_once('-')?;
            let (start, end) = (parse_clock(start)?, parse_clock(end)?);
            (start < end).then_some((start, end))
        })
        .collect()
}

/// `HH:MM` → minutes; `24:00` allowed as an end of day.
fn parse_clock(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h.checked_mul(60)?.checked_add(m)?;
    (m < 60 && minutes <= 24 * 60).then_some(minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_and_unix_conversion_agree_with_known_dates() {
        assert_eq!(Date::new(1970, 1, 1).unwrap().weekday(), Weekday::Thu);
        assert_eq!(Date::new(2026, 11, 26).unwrap().weekday(), Weekday::Thu);
        assert_eq!(Date::new(2000, 2, 29).unwrap().weekday(), Weekday::Tue);
        assert!(Date::new(2026, 2, 29).is_none());
        // 2026-11-26T06:30:00Z is 09:30 in Moscow.
        let t = Calendar::default().local_time(1_795_674_600);
        assert_eq!(t.to_string(), "2026-11-26 09:30");
        for days in [-1000, 0, 1, 20_000, 30_000] {
            let date = Date::from_days_since_epoch(days);
            assert_eq!(date.days_since_epoch(), days);
        }
    }

    #[test]
    fn open_only_inside_hours_and_not_on_holidays() {
        let config: CalendarConfig = toml::from_str(
            "utc_offset = \"+03:00\"\nholidays = [\"2026-11-04\"]\n[hours]\nmon = \"09:00-13:00, 14:00-18:00\"\nwed = \"09:00-18:00\"\n",
        )
        .unwrap();
        let calendar = Calendar::try_from(config).unwrap();
        let at = |d, h, m| CalendarTime::new(2026, 11, d, h, m).unwrap();
        assert!(calendar.is_open(&at(2, 9, 0))); // Monday
        assert!(!calendar.is_open(&at(2, 13, 30))); // lunch
        assert!(!calendar.is_open(&at(2, 18, 0))); // end is exclusive
        assert!(!calendar.is_open(&at(3, 10, 0))); // Tuesday not listed
        assert!(!calendar.is_open(&at(4, 10, 0))); // Wednesday holiday
        assert!(calendar.is_open(&at(11, 10, 0))); // next Wednesday
        assert!(toml::from_str::<Calendar>("utc_offset = \"Moscow\"").is_err());
        assert!(toml::from_str::<Calendar>("[hours]\nmon = \"18:00-09:00\"").is_err());
    }
}
