//! `/api/v1/inquiries`: the inquiry log of every channel (ARCHITECTURE §6).
//! List with filters and cursor paging, one inquiry with its event
//! timeline, inquiries typed in by a manager (visits, chats, letters),
//! edits, and the two facts seed 3.5/3.6 asks for: the resolution and that
//! the client was told, each with who and when.
//!
//! Admins and the head see and change everything; a manager only the
//! inquiries they handle (`agent` = their login), and only the head or an
//! admin may hand an inquiry to someone else. Every read and every change
//! is written to the audit log before the answer leaves the server (client
//! data is confidential), refusals too (`denied`).

use super::AppState;
use super::auth::CurrentUser;
use super::error::{ApiError, ApiJson};
use super::now_ms;
use super::query::{DATE_FORMATS, DAY_MS, field_error, non_empty, parse_instant};
use crate::ivr::CATEGORIES;
use crate::phone;
use crate::role::AccessLevel;
use crate::store::ids::new_id;
use crate::store::{
    AuditEntry, Channel, ClientKey, Event, FieldError, Inquiry, InquiryFilter, InquiryStatus,
    InquiryUpdate, MAX_INQUIRY_PAGE, NewInquiry, normalize_email,
};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

const DEFAULT_PAGE: i64 = 100;
const MAX_TOPIC_CHARS: usize = 200;
/// Notes and resolutions are prose; this only stops abuse.
const MAX_TEXT_CHARS: usize = 10_000;

/// How a client can be told the outcome (`POST /{id}/inform`).
pub const INFORM_WAYS: &[&str] = &[
    "phone",
    "email",
    "messenger",
    "in_person",
    "chat",
    "sms",
    "post",
];

/// Query of the list. All strings, so that a bad value becomes a 422 that
/// names the field rather than a generic 400.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
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
    /// Free text: part of the address, topic, notes, resolution or the
    /// client's name.
    q: Option<String>,
    /// Created at or after: RFC 3339, or a date (from its UTC midnight).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Created before: RFC 3339 (exclusive), or a date (that whole UTC day
    /// included).
    #[param(format = DateTime)]
    to: Option<String>,
}

/// One page of a list, newest first; `next_cursor` is null on the last.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// One entry of an inquiry's timeline.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TimelineEvent {
    pub id: String,
    /// RFC 3339.
    pub at: String,
    /// `inquiry.created`, `inquiry.updated`, ...
    pub kind: String,
    pub inquiry_id: Option<String>,
    /// The agent the change concerns, if any.
    pub agent: Option<String>,
    /// What changed; `by` names the API user who changed it.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<Event> for TimelineEvent {
    fn from(e: Event) -> Self {
        TimelineEvent {
            id: e.id,
            at: super::rfc3339_from_ms(e.at_ms),
            kind: e.kind,
            inquiry_id: e.inquiry_id,
            agent: e.agent,
            data: e.data,
        }
    }
}

/// One inquiry with its timeline, oldest event first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InquiryWithEvents {
    #[serde(flatten)]
    pub inquiry: Inquiry,
    pub events: Vec<TimelineEvent>,
}

/// `POST /api/v1/inquiries`: a contact typed in by a manager.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInquiryRequest {
    /// `in_person`, `chat`, `email`, `messenger` or `phone`.
    #[schema(value_type = crate::store::Channel)]
    pub channel: String,
    /// Phone number (normalised), e-mail address (lower-cased) or handle.
    /// Needed unless `client_id` is given.
    pub from: Option<String>,
    /// A known client; otherwise the client is found or created by `from`
    /// when it is a phone number or an e-mail address.
    pub client_id: Option<String>,
    #[schema(pattern = "^(applicant|student|listener|graduate|parent|other)$")]
    pub category: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    pub topic: Option<String>,
    #[schema(max_length = 10000)]
    pub notes: Option<String>,
    /// Who handles it; the creator by default. Only the head or an admin
    /// may name someone else.
    #[serde(alias = "assignee")]
    pub agent: Option<String>,
}

/// `PATCH /api/v1/inquiries/{id}`: absent fields stay as they are.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInquiryRequest {
    #[schema(pattern = "^(applicant|student|listener|graduate|parent|other)$")]
    pub category: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    pub topic: Option<String>,
    #[schema(max_length = 10000)]
    pub notes: Option<String>,
    /// Reassigns the inquiry (head and admin only).
    #[serde(alias = "assignee")]
    pub agent: Option<String>,
}

/// `POST /api/v1/inquiries/{id}/resolve`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// What was done for the client; not empty.
    #[schema(min_length = 1, max_length = 10000)]
    pub resolution: String,
}

/// `POST /api/v1/inquiries/{id}/inform`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InformRequest {
    /// `phone`, `email`, `messenger`, `in_person`, `chat`, `sms` or `post`.
    #[schema(pattern = "^(phone|email|messenger|in_person|chat|sms|post)$")]
    pub how: String,
    pub note: Option<String>,
}

fn parse_filter(p: ListParams) -> Result<(InquiryFilter, i64, Option<String>), ApiError> {
    let mut errors = Vec::new();
    let limit = parse_limit(p.limit, DEFAULT_PAGE, MAX_INQUIRY_PAGE, &mut errors);
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
        q: non_empty(p.q),
        created_from_ms,
        created_before_ms,
    };
    Ok((filter, limit, non_empty(p.cursor)))
}

pub(super) use super::query::parse_limit;

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
pub(crate) async fn list(
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
            Some(agent) if *agent != user.0.login => {
                audit(
                    &state,
                    &user,
                    "denied",
                    "inquiries",
                    None,
                    raw_query.as_deref(),
                )
                .await?;
                return Err(ApiError::forbidden());
            }
            _ => filter.agent = Some(user.0.login.clone()),
        }
    }
    audit(
        &state,
        &user,
        "read",
        "inquiries",
        None,
        raw_query.as_deref(),
    )
    .await?;
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
pub(crate) async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<InquiryWithEvents>, ApiError> {
    let inquiry = accessible(&state, &user, &id, "read").await?;
    audit(&state, &user, "read", "inquiry", Some(&id), None).await?;
    with_events(&state, inquiry).await.map(Json)
}

#[utoipa::path(
    post,
    path = "/api/v1/inquiries",
    tag = "inquiries",
    request_body = CreateInquiryRequest,
    responses(
        (status = 201, description = "Created", body = InquiryWithEvents),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "A manager named another agent", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "Invalid fields (per-field messages)", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<CreateInquiryRequest>,
) -> Result<(StatusCode, Json<InquiryWithEvents>), ApiError> {
    let mut errors = Vec::new();
    let channel = match req.channel.parse::<Channel>() {
        Ok(c) => Some(c),
        Err(e) => {
            errors.push(field_error("channel", e.to_string()));
            None
        }
    };
    let client_id = non_empty(req.client_id);
    let address = match (non_empty(req.from.map(|f| f.trim().to_string())), channel) {
        (Some(from), Some(channel)) => match parse_address(&from, channel) {
            Ok(a) => Some(a),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        (None, _) if client_id.is_none() => {
            errors.push(field_error("from", "give `from` or `client_id`"));
            None
        }
        _ => None,
    };
    let mut details = InquiryUpdate::default();
    check_details(
        &mut details,
        req.category,
        req.topic,
        req.notes,
        &mut errors,
    );
    let agent = non_empty(req.agent).unwrap_or_else(|| user.0.login.clone());
    check_agent(&state, &agent, &mut errors).await?;
    let Some(channel) = channel.filter(|_| errors.is_empty()) else {
        return Err(errors.into());
    };
    if agent != user.0.login && user.access() < AccessLevel::Head {
        audit(
            &state,
            &user,
            "denied",
            "inquiry",
            None,
            Some("create for another agent"),
        )
        .await?;
        return Err(ApiError::forbidden());
    }
    details.agent = Some(agent);
    let now = now_ms();
    let id = new_id(now, &mut rand::thread_rng());
    let from = match (&address, &client_id) {
        (Some(a), _) => a.stored.clone(),
        // Typed in by client only: the address is the client's first
        // phone or e-mail, so lists and search still show how to reach them.
        (None, Some(client_id)) => match state.store.get_client(client_id).await? {
            Some(c) => c
                .phones
                .into_iter()
                .chain(c.emails)
                .next()
                .unwrap_or_default(),
            None => {
                return Err(
                    vec![field_error("client_id", format!("no client {client_id:?}"))].into(),
                );
            }
        },
        (None, None) => String::new(),
    };
    let key = match (&client_id, &address) {
        (Some(id), _) => ClientKey::Id(id),
        (None, Some(a)) => a.key(),
        (None, None) => ClientKey::None,
    };
    let new = NewInquiry {
        channel,
        from,
        client_id: None,
        status: InquiryStatus::InProgress,
        call_id: None,
        language: None,
        created_at_ms: now,
    };
    let inquiry = state
        .store
        .create_typed_inquiry(&id, &new, key, &details, &user.0.login)
        .await?;
    audit(
        &state,
        &user,
        "create",
        "inquiry",
        Some(&id),
        Some(channel.as_str()),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(with_events(&state, inquiry).await?),
    ))
}

#[utoipa::path(
    patch,
    path = "/api/v1/inquiries/{id}",
    tag = "inquiries",
    params(("id" = String, Path, description = "Inquiry id")),
    request_body = UpdateInquiryRequest,
    responses(
        (status = 200, description = "Updated", body = InquiryWithEvents),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "Another manager's inquiry, or a manager reassigning (audited)", body = super::error::ErrorBody),
        (status = 404, description = "No such inquiry", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "Invalid fields (per-field messages)", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateInquiryRequest>,
) -> Result<Json<InquiryWithEvents>, ApiError> {
    let current = accessible(&state, &user, &id, "update").await?;
    let mut errors = Vec::new();
    let mut update = InquiryUpdate::default();
    check_details(&mut update, req.category, req.topic, req.notes, &mut errors);
    if let Some(agent) = req.agent {
        check_agent(&state, &agent, &mut errors).await?;
        if current.agent.as_deref() != Some(agent.as_str()) {
            update.agent = Some(agent);
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    if update.agent.is_some() && user.access() < AccessLevel::Head {
        audit(
            &state,
            &user,
            "denied",
            "inquiry",
            Some(&id),
            Some("reassign"),
        )
        .await?;
        return Err(ApiError::forbidden());
    }
    change(&state, &user, &id, &update, "update").await
}

#[utoipa::path(
    post,
    path = "/api/v1/inquiries/{id}/resolve",
    tag = "inquiries",
    params(("id" = String, Path, description = "Inquiry id")),
    request_body = ResolveRequest,
    responses(
        (status = 200, description = "Resolved: status, resolution, resolved_at, resolved_by", body = InquiryWithEvents),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "Another manager's inquiry (audited)", body = super::error::ErrorBody),
        (status = 404, description = "No such inquiry", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "Empty resolution", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn resolve(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> Result<Json<InquiryWithEvents>, ApiError> {
    accessible(&state, &user, &id, "resolve").await?;
    let resolution = req.resolution.trim();
    if resolution.is_empty() || resolution.chars().count() > MAX_TEXT_CHARS {
        return Err(vec![field_error(
            "resolution",
            format!("must be 1 to {MAX_TEXT_CHARS} characters"),
        )]
        .into());
    }
    let update = InquiryUpdate {
        status: Some(InquiryStatus::Resolved),
        resolution: Some(resolution.to_string()),
        resolved_at_ms: Some(now_ms()),
        resolved_by: Some(user.0.login.clone()),
        ..InquiryUpdate::default()
    };
    change(&state, &user, &id, &update, "resolve").await
}

#[utoipa::path(
    post,
    path = "/api/v1/inquiries/{id}/inform",
    tag = "inquiries",
    params(("id" = String, Path, description = "Inquiry id")),
    request_body = InformRequest,
    responses(
        (status = 200, description = "Recorded: client_informed_at, informed_by, informed_how", body = InquiryWithEvents),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "Another manager's inquiry (audited)", body = super::error::ErrorBody),
        (status = 404, description = "No such inquiry", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "Unknown way of informing, or a note too long", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn inform(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<InformRequest>,
) -> Result<Json<InquiryWithEvents>, ApiError> {
    accessible(&state, &user, &id, "inform").await?;
    let mut errors = Vec::new();
    if !INFORM_WAYS.contains(&req.how.as_str()) {
        errors.push(field_error(
            "how",
            format!(
                "unknown way {:?} (expected one of {})",
                req.how,
                INFORM_WAYS.join(", ")
            ),
        ));
    }
    let note = non_empty(req.note.map(|n| n.trim().to_string()));
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_TEXT_CHARS)
    {
        errors.push(field_error(
            "note",
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let update = InquiryUpdate {
        client_informed_at_ms: Some(now_ms()),
        informed_by: Some(user.0.login.clone()),
        informed_how: Some(req.how),
        informed_note: note,
        ..InquiryUpdate::default()
    };
    change(&state, &user, &id, &update, "inform").await
}

/// Applies a validated change as `user`, audits it, answers with the
/// inquiry and its timeline.
async fn change(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    update: &InquiryUpdate,
    action: &str,
) -> Result<Json<InquiryWithEvents>, ApiError> {
    if *update == InquiryUpdate::default() {
        // Nothing to change: no event, no audit row of a change.
        let inquiry = state
            .store
            .get_inquiry(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no inquiry {id:?}")))?;
        return with_events(state, inquiry).await.map(Json);
    }
    let inquiry = state
        .store
        .update_inquiry_by(id, update, now_ms(), &user.0.login)
        .await?;
    audit(state, user, action, "inquiry", Some(id), None).await?;
    with_events(state, inquiry).await.map(Json)
}

/// The inquiry if `user` may touch it: 404 when unknown, 403 (audited as
/// `denied`, with the attempted `action`) when it is another manager's.
async fn accessible(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    action: &str,
) -> Result<Inquiry, ApiError> {
    let inquiry = state
        .store
        .get_inquiry(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no inquiry {id:?}")))?;
    if user.access() < AccessLevel::Head && inquiry.agent.as_deref() != Some(user.0.login.as_str())
    {
        tracing::info!(login = %user.0.login, inquiry = %id, action, "refused: another agent's inquiry");
        audit(state, user, "denied", "inquiry", Some(id), Some(action)).await?;
        return Err(ApiError::forbidden());
    }
    Ok(inquiry)
}

async fn with_events(state: &AppState, inquiry: Inquiry) -> Result<InquiryWithEvents, ApiError> {
    let events = state
        .store
        .events_of_inquiry(&inquiry.id)
        .await?
        .into_iter()
        .map(TimelineEvent::from)
        .collect();
    Ok(InquiryWithEvents { inquiry, events })
}

/// Category, topic and notes of a create or a patch, checked into `update`.
fn check_details(
    update: &mut InquiryUpdate,
    category: Option<String>,
    topic: Option<String>,
    notes: Option<String>,
    errors: &mut Vec<FieldError>,
) {
    if let Some(category) = category {
        if CATEGORIES.contains(&category.as_str()) {
            update.category = Some(category);
        } else {
            errors.push(field_error(
                "category",
                format!(
                    "unknown category {category:?} (expected one of {})",
                    CATEGORIES.join(", ")
                ),
            ));
        }
    }
    if let Some(topic) = topic.map(|t| t.trim().to_string()) {
        if topic.is_empty() || topic.chars().count() > MAX_TOPIC_CHARS {
            errors.push(field_error(
                "topic",
                format!("must be 1 to {MAX_TOPIC_CHARS} characters"),
            ));
        } else {
            update.topic = Some(topic);
        }
    }
    if let Some(notes) = notes {
        if notes.chars().count() > MAX_TEXT_CHARS {
            errors.push(field_error(
                "notes",
                format!("must be at most {MAX_TEXT_CHARS} characters"),
            ));
        } else {
            update.notes = Some(notes);
        }
    }
}

/// A field error unless `login` is an existing agent.
async fn check_agent(
    state: &AppState,
    login: &str,
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    if state.store.get_agent(login).await?.is_none() {
        errors.push(field_error("agent", format!("no agent {login:?}")));
    }
    Ok(())
}

/// A typed-in `from`, as it will be stored.
struct Address {
    stored: String,
    kind: AddressKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum AddressKind {
    Phone,
    Email,
    Other,
}

impl Address {
    fn key(&self) -> ClientKey<'_> {
        match self.kind {
            AddressKind::Phone => ClientKey::Phone(&self.stored),
            AddressKind::Email => ClientKey::Email(&self.stored),
            AddressKind::Other => ClientKey::None,
        }
    }
}

/// Phone numbers are normalised and e-mail addresses lower-cased, so the
/// same person is one client whichever way it was typed. A phone or
/// e-mail channel insists on its kind; a chat or messenger `from` may also
/// be a nickname or handle.
fn parse_address(from: &str, channel: Channel) -> Result<Address, FieldError> {
    let as_email = || {
        normalize_email(from)
            .map(|stored| Address {
                stored,
                kind: AddressKind::Email,
            })
            .ok_or_else(|| field_error("from", "is not an e-mail address"))
    };
    let as_phone = || {
        phone::normalize(from).map(|stored| Address {
            stored,
            kind: AddressKind::Phone,
        })
    };
    match channel {
        Channel::Email => as_email(),
        Channel::Phone => as_phone().ok_or_else(|| field_error("from", "is not a phone number")),
        _ if from.contains('@') && !from.starts_with('@') => as_email(),
        _ => Ok(as_phone().unwrap_or_else(|| Address {
            stored: from.to_string(),
            kind: AddressKind::Other,
        })),
    }
}

/// Records that `user` did `action` (`read`, `create`, `update`,
/// `resolve`, `inform`, `denied`, ...) on client data. Fails the request
/// when the audit row cannot be written: an unaudited access is not
/// allowed.
pub(crate) async fn audit(
    state: &AppState,
    user: &CurrentUser,
    action: &str,
    object_kind: &str,
    object_id: Option<&str>,
    detail: Option<&str>,
) -> Result<(), ApiError> {
    state
        .store
        .audit(
            &AuditEntry {
                actor: &user.0.login,
                action,
                object_kind,
                object_id,
                detail,
            },
            now_ms(),
        )
        .await?;
    Ok(())
}
