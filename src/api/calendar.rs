//! `/api/v1/calendar`: the working hours and holidays that `business_hours`
//! IVR nodes check. The head reads them; the admin replaces them.
//!
//! **Precedence.** A calendar saved here (or from the console's admin page,
//! which calls [`put`]) is stored in the database and put in force at once:
//! the next call that starts reads it. At start-up the newest saved calendar
//! wins over `[calendar]` in the config file ([`calendar_at_start`] logs
//! that, with who saved it and when), because the console is where the
//! department changes its hours; `GET` says which one is in force.
//!
//! The body uses the spelling of the config's `[calendar]` table, and each
//! value is checked by the same parser ([`Calendar`]'s), one value at a
//! time, so a 422 names the field: `utc_offset`, `hours.mon`,
//! `holidays[2]`. Overlapping intervals of a day are refused here (the
//! parser accepts them): they are almost always a typo.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiJson, ErrorBody};
use super::time::rfc3339_from_ms;
use super::{AppState, now_ms};
use crate::config::calendar_toml::{intervals_text, offset_text};
use crate::ivr::Calendar;
use crate::ivr::calendar::{CalendarConfig, Weekday};
use crate::role::AccessLevel;
use crate::store::{SavedCalendar, Store};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most holidays one calendar may list (bounds the stored row).
const MAX_HOLIDAYS: usize = 1000;

/// Body of `PUT /api/v1/calendar`: the whole calendar, replacing the one in
/// force.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CalendarInput)]
pub(crate) struct CalendarBody {
    /// Local time's offset from UTC: `+03:00`, `-05:30` or `Z`.
    #[schema(required = true, value_type = String, example = "+03:00")]
    pub(crate) utc_offset: Option<String>,
    /// Weekday (`mon` … `sun`) → open intervals, `09:00-18:00` or
    /// `09:00-13:00, 14:00-18:00` (end exclusive, `24:00` allowed), or
    /// `closed`. A weekday not listed is closed.
    #[schema(required = true, value_type = BTreeMap<String, String>, example = json!({"mon": "09:00-18:00", "sat": "closed"}))]
    pub(crate) hours: Option<BTreeMap<String, String>>,
    /// Whole days closed, `YYYY-MM-DD`.
    #[serde(default)]
    #[schema(example = json!(["2026-01-01"]))]
    pub(crate) holidays: Vec<String>,
}

/// Open intervals of each weekday, `closed` for a day off.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = CalendarHours)]
pub(crate) struct HoursView {
    pub(crate) mon: String,
    pub(crate) tue: String,
    pub(crate) wed: String,
    pub(crate) thu: String,
    pub(crate) fri: String,
    pub(crate) sat: String,
    pub(crate) sun: String,
}

/// The calendar in force and where it comes from.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Calendar)]
pub(crate) struct CalendarView {
    #[schema(example = "+03:00")]
    pub(crate) utc_offset: String,
    pub(crate) hours: HoursView,
    pub(crate) holidays: Vec<String>,
    /// `saved`: saved through this API or the console, and in force over
    /// the config file's `[calendar]`; `config`: the config file's.
    #[schema(value_type = String, example = "saved")]
    pub(crate) source: &'static str,
    /// Who saved it (with `source` = `saved`).
    pub(crate) saved_by: Option<String>,
    #[schema(format = DateTime)]
    pub(crate) saved_at: Option<String>,
}

/// The weekday `key` names (`mon` … `sun`).
fn weekday_of(key: &str) -> Option<Weekday> {
    Weekday::ALL.into_iter().find(|d| d.key() == key)
}

/// `09:00-13:00` for an interval in minutes.
fn interval_text(interval: (u16, u16)) -> String {
    intervals_text(&[interval])
}

/// Builds the calendar a body describes, or every problem with it by
/// field. Each value is parsed alone by [`Calendar`]'s own rules, so the
/// messages are the config file's.
pub(crate) fn parse_calendar(body: &CalendarBody) -> Result<Calendar, BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let check = |alone: CalendarConfig| Calendar::try_from(alone);
    match &body.utc_offset {
        None => {
            errors.insert("utc_offset".to_string(), "is required".to_string());
        }
        Some(offset) => {
            if let Err(e) = check(CalendarConfig {
                utc_offset: Some(offset.clone()),
                ..CalendarConfig::default()
            }) {
                errors.insert("utc_offset".to_string(), e);
            }
        }
    }
    match &body.hours {
        None => {
            errors.insert("hours".to_string(), "is required".to_string());
        }
        Some(hours) => {
            for (key, spec) in hours {
                let field = format!("hours.{key}");
                let Some(day) = weekday_of(key) else {
                    errors.insert(
                        field,
                        "unknown day: expected mon, tue, wed, thu, fri, sat or sun".to_string(),
                    );
                    continue;
                };
                let alone = CalendarConfig {
                    hours: Some(BTreeMap::from([(key.clone(), spec.clone())])),
                    ..CalendarConfig::default()
                };
                match check(alone) {
                    Err(e) => {
                        errors.insert(field, e);
                    }
                    Ok(calendar) => {
                        let intervals = &calendar.weekly[day as usize];
                        if let Some((a, b)) = overlap(intervals) {
                            errors.insert(
                                field,
                                format!(
                                    "intervals {} and {} overlap",
                                    interval_text(a),
                                    interval_text(b)
                                ),
                            );
                        }
                    }
                }
            }
        }
    }
    if body.holidays.len() > MAX_HOLIDAYS {
        errors.insert(
            "holidays".to_string(),
            format!("at most {MAX_HOLIDAYS} dates"),
        );
    }
    for (i, holiday) in body.holidays.iter().enumerate() {
        if let Err(e) = check(CalendarConfig {
            holidays: vec![holiday.clone()],
            ..CalendarConfig::default()
        }) {
            errors.insert(format!("holidays[{i}]"), e);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut calendar = Calendar::try_from(CalendarConfig {
        utc_offset: body.utc_offset.clone(),
        hours: body.hours.clone(),
        holidays: body.holidays.clone(),
    })
    .map_err(|e| BTreeMap::from([("calendar".to_string(), e)]))?;
    for intervals in &mut calendar.weekly {
        intervals.sort_unstable();
    }
    Ok(calendar)
}

/// The first two intervals of a day that share a minute, if any
/// (`09:00-13:00, 13:00-18:00` do not: ends are exclusive).
fn overlap(intervals: &[(u16, u16)]) -> Option<((u16, u16), (u16, u16))> {
    let mut sorted = intervals.to_vec();
    sorted.sort_unstable();
    sorted.windows(2).find_map(|pair| match pair {
        [a, b] if b.0 < a.1 => Some((*a, *b)),
        _ => None,
    })
}

fn view(calendar: &Calendar, saved: Option<SavedCalendar>) -> CalendarView {
    let day = |d: Weekday| intervals_text(&calendar.weekly[d as usize]);
    CalendarView {
        utc_offset: offset_text(calendar.utc_offset_minutes),
        hours: HoursView {
            mon: day(Weekday::Mon),
            tue: day(Weekday::Tue),
            wed: day(Weekday::Wed),
            thu: day(Weekday::Thu),
            fri: day(Weekday::Fri),
            sat: day(Weekday::Sat),
            sun: day(Weekday::Sun),
        },
        holidays: calendar.holidays.iter().map(ToString::to_string).collect(),
        source: if saved.is_some() { "saved" } else { "config" },
        saved_at: saved.as_ref().map(|s| rfc3339_from_ms(s.saved_at_ms)),
        saved_by: saved.map(|s| s.saved_by),
    }
}

/// The working hours in force (head and admin).
#[utoipa::path(
    get, path = "/api/v1/calendar", tag = "calendar",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The calendar in force", body = CalendarView),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not head or admin", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<CalendarView>, ApiError> {
    user.require(AccessLevel::Head)?;
    let saved = state.store.saved_calendar().await?;
    Ok(Json(view(&state.calendar.get(), saved)))
}

/// Replaces the working hours (admin): saved in the database (audited),
/// in force for every call that starts from now on, and over the config
/// file's `[calendar]` after a restart.
#[utoipa::path(
    put, path = "/api/v1/calendar", tag = "calendar",
    request_body = CalendarBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Saved; the calendar now in force", body = CalendarView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "A bad offset, day, interval or date, or overlapping intervals", body = ErrorBody),
    )
)]
pub(crate) async fn put(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<CalendarBody>,
) -> Result<Json<CalendarView>, ApiError> {
    user.require(AccessLevel::Admin)?;
    let calendar = parse_calendar(&body).map_err(ApiError::validation)?;
    state
        .store
        .save_calendar(&calendar, &user.0.login, now_ms())
        .await?;
    state.calendar.set(calendar);
    tracing::info!(by = %user.0.login, "working hours saved; calls starting from now use them");
    let saved = state.store.saved_calendar().await?;
    Ok(Json(view(&state.calendar.get(), saved)))
}

/// The calendar to start with: the newest one saved through the API or the
/// console, when there is one, else the config file's `[calendar]`. The
/// log says which, so an admin who edits the file and sees no effect finds
/// out why. A saved row that cannot be read is logged and skipped: the
/// hotline must answer calls with the file's hours rather than not start.
pub async fn calendar_at_start(store: &Store, configured: &Calendar) -> Calendar {
    match store.saved_calendar().await {
        Ok(Some(saved)) => {
            tracing::info!(
                saved_by = %saved.saved_by,
                saved_at = %rfc3339_from_ms(saved.saved_at_ms),
                config_differs = saved.calendar != *configured,
                "working hours: using the calendar saved in the console; [calendar] in the config \
                 file is not used while a saved one exists"
            );
            saved.calendar
        }
        Ok(None) => configured.clone(),
        Err(e) => {
            tracing::error!(error = %e, "working hours: the saved calendar is unreadable; using [calendar] from the config file");
            configured.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(offset: &str, hours: &[(&str, &str)], holidays: &[&str]) -> CalendarBody {
        CalendarBody {
            utc_offset: Some(offset.to_string()),
            hours: Some(
                hours
                    .iter()
                    .map(|(d, h)| (d.to_string(), h.to_string()))
                    .collect(),
            ),
            holidays: holidays.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_good_body_builds_the_calendar_with_sorted_intervals() {
        let calendar = parse_calendar(&body(
            "+05:00",
            &[("mon", "14:00-18:00, 09:00-13:00"), ("sat", "closed")],
            &["2026-01-07"],
        ))
        .unwrap();
        assert_eq!(calendar.utc_offset_minutes, 300);
        assert_eq!(calendar.weekly[0], vec![(540, 780), (840, 1080)]);
        assert!(calendar.weekly[1].is_empty(), "a day not listed is closed");
        assert_eq!(calendar.holidays.len(), 1);
        let shown = view(&calendar, None);
        assert_eq!(shown.hours.mon, "09:00-13:00, 14:00-18:00");
        assert_eq!(shown.hours.sun, "closed");
        assert_eq!(shown.source, "config");
    }

    #[test]
    fn every_bad_value_is_named_by_its_field() {
        let errors = parse_calendar(&body(
            "Moscow",
            &[
                ("mon", "09:00-13:00, 12:00-18:00"),
                ("tue", "18:00-09:00"),
                ("wed", "09:00-13:00, 13:00-18:00"),
                ("funday", "10:00-11:00"),
            ],
            &["2026-01-01", "2026-02-30"],
        ))
        .unwrap_err();
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "holidays[1]",
                "hours.funday",
                "hours.mon",
                "hours.tue",
                "utc_offset"
            ]
        );
        assert!(errors["hours.mon"].contains("overlap"), "{errors:?}");
        assert!(errors["holidays[1]"].contains("2026-02-30"), "{errors:?}");
        let missing = parse_calendar(&CalendarBody::default()).unwrap_err();
        assert_eq!(missing["utc_offset"], "is required");
        assert_eq!(missing["hours"], "is required");
    }
}
