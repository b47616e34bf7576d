//! `/api/v1/inquiries`: the inquiry log, newest first, with filters and
//! cursor paging, and one inquiry with its event timeline. Admins and the
//! head see everything; a manager sees only inquiries they handled
//! (`agent` = their login). Every read is written to the audit log before
//! the data leaves the server (client data is confidential).

use super::AppState;
use super::auth::CurrentUser;
use super::error::ApiError;
use super::now_ms;
use super::query::{DATE_FORMATS, DAY_MS, Page, field_error, non_empty, parse_instant};
use crate::role::AccessLevel;
use crate::store::{AuditEntry, Event, Inquiry, InquiryFilter, MAX_INQUIRY_PAGE};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use serde::{Deserialize, Serialize};

const DEFAULT_PAGE: i64 = 100;

/// Query of the list. All strings, so that a bad value becomes a 422 that
/// names the field rather than a generic 400.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
    status: Option<String>,
    channel: Option<String>,
    category: Option<String>,
    topic: Option<String>,
    queue: Option<String>,
    agent: Option<String>,
    client_id: Option<String>,
    /// Created at or after: RFC 3339, or a date (from its UTC midnight).
    from: Option<String>,
    /// Created before: RFC 3339 (exclusive), or a date (that whole UTC day
    /// included).
    to: Option<String>,
}

/// One inquiry with its timeline, oldest event first.
#[derive(Serialize)]
pub(super) struct InquiryWithEvents {
    #[serde(flatten)]
    inquiry: Inquiry,
    events: Vec<Event>,
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
