//! `GET /api/v1/audit`: who read or changed client data, newest first, for
//! the head and admins (a manager gets 403: the log shows what colleagues
//! looked at). Filters by actor, object and time; cursor paging like the
//! inquiry list.
//!
//! Reading the audit log is not itself audited: it holds logins and object
//! ids, not client data, and auditing it would make every read grow it.

use super::AppState;
use super::auth::CurrentUser;
use super::error::ApiError;
use super::query::{Page, non_empty, parse_bound, parse_limit};
use crate::role::AccessLevel;
use crate::store::{AuditFilter, AuditRecord, MAX_AUDIT_PAGE};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;

const DEFAULT_PAGE: i64 = 100;

/// Query of the audit list. All strings, so a bad value becomes a 422
/// that names the field.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditParams {
    /// Page size, 1 to 1000 (default 100).
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Login of the user who acted.
    actor: Option<String>,
    /// `inquiry`, `inquiries`, `client`, `recording`, `user`, ...
    object_kind: Option<String>,
    object_id: Option<String>,
    /// At or after: RFC 3339, or a date (from its UTC midnight).
    from: Option<String>,
    /// Before: RFC 3339 (exclusive), or a date (that whole UTC day included).
    to: Option<String>,
}

/// The audit log, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    params(AuditParams),
    responses(
        (status = 200, description = "One page of audit rows, newest first", body = Page<AuditRecord>),
        (status = 400, description = "An unknown query parameter", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "Not head or admin", body = super::error::ErrorBody),
        (status = 422, description = "A bad filter, limit or cursor", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "audit"
)]
pub(super) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<Page<AuditRecord>>, ApiError> {
    user.require(AccessLevel::Head)?;
    let Query(p) = params?;
    let mut errors = Vec::new();
    let limit = parse_limit(p.limit, DEFAULT_PAGE, MAX_AUDIT_PAGE, &mut errors);
    let filter = AuditFilter {
        actor: non_empty(p.actor),
        object_kind: non_empty(p.object_kind),
        object_id: non_empty(p.object_id),
        from_ms: parse_bound("from", p.from, false, &mut errors),
        before_ms: parse_bound("to", p.to, true, &mut errors),
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let (items, next_cursor) = state
        .store
        .list_audit(&filter, limit, non_empty(p.cursor).as_deref())
        .await?;
    Ok(Json(Page { items, next_cursor }))
}
