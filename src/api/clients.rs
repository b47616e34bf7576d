//! `/api/v1/clients`: the client database (ARCHITECTURE §6). Search by
//! name, phone (in any written form) or e-mail with cursor paging; create,
//! read, edit; delete (admin only; the client's inquiries stay, detached);
//! merge a duplicate into the right record; the history of all inquiries
//! across channels; personal managers per area.
//!
//! Access: the head and admins see every client. A manager sees their own
//! clients only: those with an inquiry the manager handled, or whom the
//! manager is personal manager of; any other is 403, audited as `denied`.
//! Every read of a client (one record, a history, each search result) is
//! audited before the data leaves the server.

use super::AppState;
use super::auth::CurrentUser;
use super::error::{ApiError, ApiJson};
use super::inquiries::{Page, audit, parse_limit};
use super::now_ms;
use crate::role::AccessLevel;
use crate::store::{
    Client, ClientFields, FieldError, Inquiry, InquiryFilter, MAX_CLIENT_PAGE, MAX_INQUIRY_PAGE,
    MessengerHandle, validate_client_fields,
};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

const DEFAULT_PAGE: i64 = 50;

/// Query of the search. Strings, so a bad limit is a 422 naming the field.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchParams {
    /// Part of the name (any case), a phone number in any form, part of an
    /// e-mail address or a messenger handle. Absent: all clients.
    q: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Query of a client's history.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryParams {
    /// Page size, 1 to 1000 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub(crate) limit: Option<String>,
    pub(crate) cursor: Option<String>,
}

/// `POST /api/v1/clients` and `PATCH /{id}`: absent fields are left empty
/// (create) or unchanged (patch); a list replaces the whole list.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRequest {
    pub name: Option<String>,
    /// applicant, student, listener, graduate, parent, other.
    pub category: Option<String>,
    /// Any written form; stored normalised (digits, 8… → 7… for Russia).
    pub phones: Option<Vec<String>>,
    /// Stored lower-cased.
    pub emails: Option<Vec<String>>,
    pub handles: Option<Vec<MessengerHandle>>,
}

impl From<ClientRequest> for ClientFields {
    fn from(r: ClientRequest) -> Self {
        ClientFields {
            name: r.name,
            category: r.category,
            phones: r.phones,
            emails: r.emails,
            handles: r.handles,
        }
    }
}

/// `POST /api/v1/clients/{id}/merge`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The duplicate: everything of it moves into `{id}`, then it is deleted.
    pub from: String,
}

/// `PUT /api/v1/clients/{id}/managers/{area}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagerRequest {
    /// An agent of the area's queue.
    pub login: String,
}

/// Validated fields, or a 422 listing every problem.
fn checked(req: ClientRequest) -> Result<ClientFields, ApiError> {
    validate_client_fields(&req.into()).map_err(ApiError::from)
}

/// 403 unless `user` may see the client (see the module doc); the refusal
/// is audited with the attempted `action`. 404 when it does not exist.
async fn visible(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    action: &str,
) -> Result<Client, ApiError> {
    let client = state
        .store
        .get_client(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no client {id:?}")))?;
    if user.access() < AccessLevel::Head
        && !state.store.client_visible_to(id, &user.0.login).await?
    {
        tracing::info!(login = %user.0.login, client = %id, action, "refused: not this manager's client");
        audit(state, user, "denied", "client", Some(id), Some(action)).await?;
        return Err(ApiError::forbidden());
    }
    Ok(client)
}

/// 403 (audited) unless `user` is the head or an admin.
async fn head_only(
    state: &AppState,
    user: &CurrentUser,
    level: AccessLevel,
    id: Option<&str>,
    action: &str,
) -> Result<(), ApiError> {
    if user.access() < level {
        audit(state, user, "denied", "client", id, Some(action)).await?;
        return Err(ApiError::forbidden());
    }
    Ok(())
}

#[utoipa::path(
    get,
    path = "/api/v1/clients",
    tag = "clients",
    params(SearchParams),
    responses(
        (status = 200, description = "Newest first; a manager gets only their clients", body = Page<Client>),
        (status = 400, description = "Unknown query parameter", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 422, description = "Bad limit", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    user: CurrentUser,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<Page<Client>>, ApiError> {
    let Query(p) = params?;
    let mut errors: Vec<FieldError> = Vec::new();
    let limit = parse_limit(p.limit, DEFAULT_PAGE, MAX_CLIENT_PAGE, &mut errors);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let visible_to = (user.access() < AccessLevel::Head).then_some(user.0.login.as_str());
    let cursor = p.cursor.filter(|c| !c.is_empty());
    let (items, next_cursor) = state
        .store
        .search_clients(p.q.as_deref(), visible_to, limit, cursor.as_deref())
        .await?;
    for client in &items {
        audit(
            &state,
            &user,
            "read",
            "client",
            Some(&client.id),
            Some("search"),
        )
        .await?;
    }
    Ok(Json(Page { items, next_cursor }))
}

#[utoipa::path(
    post,
    path = "/api/v1/clients",
    tag = "clients",
    request_body = ClientRequest,
    responses(
        (status = 201, description = "Created", body = Client),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 409, description = "A phone, e-mail or handle belongs to another client", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "Invalid fields (per-field messages)", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<ClientRequest>,
) -> Result<(StatusCode, Json<Client>), ApiError> {
    let fields = checked(req)?;
    let client = state
        .store
        .create_client(&fields, &user.0.login, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(client)))
}

#[utoipa::path(
    get,
    path = "/api/v1/clients/{id}",
    tag = "clients",
    params(("id" = String, Path, description = "Client id")),
    responses(
        (status = 200, description = "The client with phones, e-mails, handles, managers", body = Client),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "Not this manager's client (audited)", body = super::error::ErrorBody),
        (status = 404, description = "No such client", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Client>, ApiError> {
    let client = visible(&state, &user, &id, "read").await?;
    audit(&state, &user, "read", "client", Some(&id), None).await?;
    Ok(Json(client))
}

#[utoipa::path(
    patch,
    path = "/api/v1/clients/{id}",
    tag = "clients",
    params(("id" = String, Path, description = "Client id")),
    request_body = ClientRequest,
    responses(
        (status = 200, description = "Updated", body = Client),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "Not this manager's client (audited)", body = super::error::ErrorBody),
        (status = 404, description = "No such client", body = super::error::ErrorBody),
        (status = 409, description = "A phone, e-mail or handle belongs to another client", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "Invalid fields (per-field messages)", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ClientRequest>,
) -> Result<Json<Client>, ApiError> {
    visible(&state, &user, &id, "update").await?;
    let fields = checked(req)?;
    let client = state
        .store
        .update_client(&id, &fields, &user.0.login, now_ms())
        .await?;
    Ok(Json(client))
}

#[utoipa::path(
    delete,
    path = "/api/v1/clients/{id}",
    tag = "clients",
    params(("id" = String, Path, description = "Client id")),
    responses(
        (status = 204, description = "Deleted; its inquiries remain with client_id null"),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "Not an admin (audited)", body = super::error::ErrorBody),
        (status = 404, description = "No such client", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    head_only(&state, &user, AccessLevel::Admin, Some(&id), "delete").await?;
    state.store.delete_client(&id, &user.0.login).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/clients/{id}/merge",
    tag = "clients",
    params(("id" = String, Path, description = "The client that stays")),
    request_body = MergeRequest,
    responses(
        (status = 200, description = "The merged client", body = Client),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "Not the head or an admin (audited)", body = super::error::ErrorBody),
        (status = 404, description = "Either client is unknown", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "Merging a client into itself", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn merge(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<MergeRequest>,
) -> Result<Json<Client>, ApiError> {
    head_only(&state, &user, AccessLevel::Head, Some(&id), "merge").await?;
    let client = state
        .store
        .merge_clients(&id, &req.from, &user.0.login, now_ms())
        .await?;
    Ok(Json(client))
}

#[utoipa::path(
    get,
    path = "/api/v1/clients/{id}/history",
    tag = "clients",
    params(("id" = String, Path, description = "Client id"), HistoryParams),
    responses(
        (status = 200, description = "All its inquiries on every channel, newest first", body = Page<Inquiry>),
        (status = 400, description = "Unknown query parameter", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "Not this manager's client (audited)", body = super::error::ErrorBody),
        (status = 404, description = "No such client", body = super::error::ErrorBody),
        (status = 422, description = "Bad limit or cursor", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn history(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Json<Page<Inquiry>>, ApiError> {
    let Query(p) = params?;
    let mut errors: Vec<FieldError> = Vec::new();
    let limit = parse_limit(p.limit, DEFAULT_PAGE, MAX_INQUIRY_PAGE, &mut errors);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    visible(&state, &user, &id, "history").await?;
    audit(&state, &user, "read", "client", Some(&id), Some("history")).await?;
    // The whole history, whoever handled each contact: knowing what the
    // client asked before is why a manager opens it.
    let filter = InquiryFilter {
        client_id: Some(id),
        ..InquiryFilter::default()
    };
    let cursor = p.cursor.filter(|c| !c.is_empty());
    let (items, next_cursor) = state
        .store
        .list_inquiries(&filter, limit, cursor.as_deref())
        .await?;
    Ok(Json(Page { items, next_cursor }))
}

#[utoipa::path(
    put,
    path = "/api/v1/clients/{id}/managers/{area}",
    tag = "clients",
    params(
        ("id" = String, Path, description = "Client id"),
        ("area" = String, Path, description = "admission or education", pattern = "^(admission|education)$"),
    ),
    request_body = ManagerRequest,
    responses(
        (status = 200, description = "The client with its managers", body = Client),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "A manager naming someone else, or not their client (audited)", body = super::error::ErrorBody),
        (status = 404, description = "No such client", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "Unknown area, or the login is not an agent of that area", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn set_manager(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, area)): Path<(String, String)>,
    ApiJson(req): ApiJson<ManagerRequest>,
) -> Result<Json<Client>, ApiError> {
    // A manager may take on their own client; assigning others is the head's.
    if req.login != user.0.login {
        head_only(&state, &user, AccessLevel::Head, Some(&id), "set manager").await?;
    }
    visible(&state, &user, &id, "set manager").await?;
    state
        .store
        .set_personal_manager(&id, &area, Some(&req.login), &user.0.login)
        .await?;
    let client = state
        .store
        .get_client(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no client {id:?}")))?;
    Ok(Json(client))
}

#[utoipa::path(
    delete,
    path = "/api/v1/clients/{id}/managers/{area}",
    tag = "clients",
    params(
        ("id" = String, Path, description = "Client id"),
        ("area" = String, Path, description = "admission or education", pattern = "^(admission|education)$"),
    ),
    responses(
        (status = 204, description = "No personal manager in that area any more"),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "Not the head, an admin or that manager (audited)", body = super::error::ErrorBody),
        (status = 404, description = "No such client", body = super::error::ErrorBody),
        (status = 422, description = "Unknown area", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn clear_manager(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, area)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let current = state.store.personal_manager(&id, &area).await?;
    if current.as_deref() != Some(user.0.login.as_str()) {
        head_only(&state, &user, AccessLevel::Head, Some(&id), "clear manager").await?;
    }
    state
        .store
        .set_personal_manager(&id, &area, None, &user.0.login)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
