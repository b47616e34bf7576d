//! `/api/v1/inquiries`: the inquiry log, newest first, with filters and
//! cursor paging, and one inquiry with its event timeline. Admins and the
//! head see everything; a manager sees only inquiries they handled
//! (`agent` = their login). Every read is written to the audit log before
//! the data leaves the server (client data is confidential).

use super::AppState;
use super::auth::CurrentUser;
use super::error::ApiError;
use super::now_ms;
use crate::role::AccessLevel;
use crate::store::{AuditEntry, Event, FieldError, Inquiry, InquiryFilter, MAX_INQUIRY_PAGE};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use serde::{Deserialize, Serialize};

const DEFAULT_PAGE: i64 = 100;
const DAY_MS: i64 = 86_400_000;

/// Query of the list. All strings, so that a bad value becomes a 422 that
/// names the field rather than a generic 400.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    /// Page size, 1 to 1000 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    #[param(value_type = Option<crate::store::InquiryStatus>)]
    status: Option<String>,
    #[param(value_type = Option<crate::store::Channel>)]
    channel: Option<String>,
    category: Option<String>,
    topic: Option<String>,
    queue: Option<String>,
    agent: Option<String>,
    client_id: Option<String>,
    /// Created at or after: RFC 3339, or a date (from its UTC midnight).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Created before: RFC 3339 (exclusive), or a date (that whole UTC day
    /// included).
    #[param(format = DateTime)]
    to: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Page<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

/// One inquiry with its timeline, oldest event first.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct InquiryWithEvents {
    #[serde(flatten)]
    inquiry: Inquiry,
    events: Vec<Event>,
}

fn field_error(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// Drops empty strings: `?status=` means "no filter", as HTML forms send it.
fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

fn parse_filter(p: ListParams) -> Result<(InquiryFilter, i64, Option<String>), ApiError> {
    let mut errors = Vec::new();
    let limit = match non_empty(p.limit) {
        None => DEFAULT_PAGE,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=MAX_INQUIRY_PAGE).contains(&n) => n,
            _ => {
                errors.push(field_error(
                    "limit",
                    format!("must be an integer from 1 to {MAX_INQUIRY_PAGE}"),
                ));
                DEFAULT_PAGE
            }
        },
    };
    let status = non_empty(p.status).and_then(|s| match s.parse() {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(field_error("status", format!("{e}")));
            None
        }
    });
    let channel = non_empty(p.channel).and_then(|s| match s.parse() {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(field_error("channel", format!("{e}")));
            None
        }
    });
    let created_from_ms = non_empty(p.from).and_then(|s| match parse_instant(&s) {
        Some((ms, _)) => Some(ms),
        None => {
            errors.push(field_error("from", DATE_FORMATS));
            None
        }
    });
    let created_before_ms = non_empty(p.to).and_then(|s| match parse_instant(&s) {
        // A bare date includes that whole day.
        Some((ms, true)) => Some(ms.saturating_add(DAY_MS)),
        Some((ms, false)) => Some(ms),
        None => {
            errors.push(field_error("to", DATE_FORMATS));
            None
        }
    });
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let filter = InquiryFilter {
        status,
        channel,
        category: non_empty(p.category),
        topic: non_empty(p.topic),
        queue: non_empty(p.queue),
        agent: non_empty(p.agent),
        client_id: non_empty(p.client_id),
        created_from_ms,
        created_before_ms,
    };
    Ok((filter, limit, non_empty(p.cursor)))
}

const DATE_FORMATS: &str = "must be an RFC 3339 time (2025-03-01T09:30:00Z) or a date (2025-03-01)";

#[utoipa::path(
    get, path = "/api/v1/inquiries", tag = "inquiries",
    params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of inquiries, newest first", body = Page<Inquiry>),
        (status = 400, description = "Malformed or unknown query parameter", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "A manager asked for another agent's inquiries", body = super::error::ErrorBody),
        (status = 422, description = "Invalid filter values", body = super::error::ErrorBody),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    RawQuery(raw_query): RawQuery,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Page<Inquiry>>, ApiError> {
    let Query(params) = params?;
    let (mut filter, limit, cursor) = parse_filter(params)?;
    if user.access() < AccessLevel::Head {
        // A manager's list is always their own; asking for another
        // agent's is refused rather than silently narrowed.
        match &filter.agent {
            Some(agent) if *agent != user.0.login => return Err(ApiError::forbidden()),
            _ => filter.agent = Some(user.0.login.clone()),
        }
    }
    audit_read(&state, &user, "inquiries", None, raw_query.as_deref()).await?;
    let (items, next_cursor) = state
        .store
        .list_inquiries(&filter, limit, cursor.as_deref())
        .await?;
    Ok(Json(Page { items, next_cursor }))
}

#[utoipa::path(
    get, path = "/api/v1/inquiries/{id}", tag = "inquiries",
    params(("id" = String, Path, description = "Inquiry id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The inquiry with its timeline", body = InquiryWithEvents),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "A manager asked for another agent's inquiry", body = super::error::ErrorBody),
        (status = 404, description = "No such inquiry", body = super::error::ErrorBody),
    )
)]
pub(super) async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<InquiryWithEvents>, ApiError> {
    let inquiry = state
        .store
        .get_inquiry(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no inquiry {id:?}")))?;
    if user.access() < AccessLevel::Head && inquiry.agent.as_deref() != Some(user.0.login.as_str())
    {
        tracing::info!(login = %user.0.login, inquiry = %id, "refused: another agent's inquiry");
        return Err(ApiError::forbidden());
    }
    audit_read(&state, &user, "inquiry", Some(&id), None).await?;
    let events = state.store.events_of_inquiry(&id).await?;
    Ok(Json(InquiryWithEvents { inquiry, events }))
}

/// Records that `user` read client data. Fails the request when the
/// audit row cannot be written: an unaudited read is not allowed.
/// Issue 6 adds `GET /api/v1/audit` over these rows and audits client
/// records and recordings the same way.
async fn audit_read(
    state: &AppState,
    user: &CurrentUser,
    object_kind: &str,
    object_id: Option<&str>,
    detail: Option<&str>,
) -> Result<(), ApiError> {
    state
        .store
        .audit(
            &AuditEntry {
                actor: &user.0.login,
                action: "read",
                object_kind,
                object_id,
                detail,
            },
            now_ms(),
        )
        .await?;
    Ok(())
}

/// Parses `YYYY-MM-DD` (UTC midnight; `true`) or an RFC 3339 time
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`false`) to Unix ms.
fn parse_instant(s: &str) -> Option<(i64, bool)> {
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
