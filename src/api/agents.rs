//! `/api/v1/agents`: agent (and user) administration, with each agent's
//! live registrations. Admins manage; heads read; a manager reads only
//! themselves. Passwords and HA1 never leave the store.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiJson, ErrorBody};
use super::time::rfc3339_from_ms;
use super::{AgentEvent, AppState, now_ms};
use crate::role::{AccessLevel, Role};
use crate::sip::digest::Algorithm;
use crate::sip::registrar::Binding;
use crate::store::{
    Agent, AgentPatch, FieldError, NewAgent, QueueSkill, validate_new_agent, validate_patch,
};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

const DEFAULT_PAGE: i64 = 100;
const MAX_PAGE: i64 = 1000;

/// An agent as the API shows it: never its password or HA1.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Agent)]
pub(crate) struct AgentView {
    pub(crate) login: String,
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) queues: Vec<QueueSkill>,
    pub(crate) digest_algorithms: Vec<Algorithm>,
    pub(crate) nat: bool,
    /// The routing state: `offline`, `available`, `ringing`, `busy`,
    /// `wrap_up` or `paused` (without routing: `offline` or `available`
    /// by registration).
    #[schema(value_type = String, example = "offline")]
    pub(crate) state: &'static str,
    pub(crate) registrations: Vec<RegistrationView>,
    #[schema(format = DateTime)]
    pub(crate) created_at: String,
}

/// One live SIP registration of the agent's phone.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Registration)]
pub(crate) struct RegistrationView {
    pub(crate) contact: String,
    /// `udp` or `tcp`.
    pub(crate) transport: String,
    /// Address the REGISTER came from.
    pub(crate) source: String,
    #[schema(format = DateTime)]
    pub(crate) expires_at: String,
    pub(crate) user_agent: Option<String>,
}

fn view(agent: Agent, bindings: Vec<Binding>, routed: Option<&'static str>) -> AgentView {
    AgentView {
        state: routed.unwrap_or(if bindings.is_empty() {
            "offline"
        } else {
            "available"
        }),
        registrations: bindings
            .into_iter()
            .map(|b| RegistrationView {
                contact: b.contact,
                transport: b.transport.as_str().to_string(),
                source: b.source.to_string(),
                expires_at: rfc3339_from_ms(b.expires_at_ms),
                user_agent: b.user_agent,
            })
            .collect(),
        login: agent.login,
        name: agent.name,
        role: agent.role,
        queues: agent.queues,
        digest_algorithms: agent.digest_algorithms,
        nat: agent.nat,
        created_at: rfc3339_from_ms(agent.created_at_ms),
    }
}

async fn view_one(state: &AppState, agent: Agent) -> Result<AgentView, ApiError> {
    let bindings = state.store.bindings_of(&agent.login, now_ms()).await?;
    let routed = routing_states(state).await.remove(&agent.login);
    Ok(view(agent, bindings, routed))
}

/// Each agent's state as routing sees it (the one owner of agent state).
async fn routing_states(state: &AppState) -> HashMap<String, &'static str> {
    match &state.routing {
        Some(r) => r
            .routing
            .snapshot()
            .await
            .agents
            .into_iter()
            .map(|a| (a.login, a.state.as_str()))
            .collect(),
        None => HashMap::new(),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Page size, 1 to 1000 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub(crate) limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub(crate) cursor: Option<String>,
}

/// A page of agents, ordered by login.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub(crate) next_cursor: Option<String>,
}

/// Lists agents with their live registrations (head and admin).
#[utoipa::path(
    get, path = "/api/v1/agents", tag = "agents",
    params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of agents", body = Page<AgentView>),
        (status = 400, description = "Malformed query", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Role may not list agents", body = ErrorBody),
        (status = 422, description = "Invalid `limit`", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Page<AgentView>>, ApiError> {
    user.require(AccessLevel::Head)?;
    let Query(params) = params?;
    let limit = match params.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(vec![FieldError {
                    field: "limit",
                    message: format!("must be an integer from 1 to {MAX_PAGE}"),
                }]
                .into());
            }
        },
    };
    // One extra row tells whether another page exists.
    let mut agents = state
        .store
        .list_agents_page(params.cursor.as_deref(), limit + 1)
        .await?;
    let next_cursor = if agents.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        agents.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        agents.last().map(|a| a.login.clone())
    } else {
        None
    };
    let mut bindings: HashMap<String, Vec<Binding>> = HashMap::new();
    for b in state.store.load_bindings(now_ms()).await? {
        bindings.entry(b.login.clone()).or_default().push(b);
    }
    let mut routed = routing_states(&state).await;
    let items = agents
        .into_iter()
        .map(|a| {
            let own = bindings.remove(&a.login).unwrap_or_default();
            let state = routed.remove(&a.login);
            view(a, own, state)
        })
        .collect();
    Ok(Json(Page { items, next_cursor }))
}

/// One agent; a manager may read only themselves.
#[utoipa::path(
    get, path = "/api/v1/agents/{login}", tag = "agents",
    params(("login" = String, Path, description = "The agent's login")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The agent", body = AgentView),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Another agent, and the role is a manager", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(login): Path<String>,
) -> Result<Json<AgentView>, ApiError> {
    if user.access() < AccessLevel::Head && user.0.login != login {
        // 403 whether or not the login exists: managers cannot probe logins.
        return Err(ApiError::forbidden());
    }
    let agent = state
        .store
        .get_agent(&login)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no agent {login:?}")))?;
    Ok(Json(view_one(&state, agent).await?))
}

/// Body of `POST /api/v1/agents`. Strings where the domain type would
/// reject a value, so a bad role or algorithm becomes a field error.
///
/// The document lists what is accepted; a missing required field is a 422
/// naming it, not a generic 400.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewAgent)]
pub(crate) struct CreateAgentBody {
    #[schema(required = true, value_type = String, pattern = r"^[a-z0-9._-]{1,64}$")]
    pub(crate) login: Option<String>,
    #[schema(required = true, value_type = String, max_length = 200, pattern = r"\S")]
    pub(crate) name: Option<String>,
    /// Default `contact_manager`.
    #[schema(value_type = Option<Role>)]
    pub(crate) role: Option<String>,
    /// Opens both the API and the SIP phone (digest).
    #[schema(required = true, value_type = String, min_length = 8, max_length = 1024)]
    pub(crate) password: Option<String>,
    /// Each queue at most once.
    #[serde(default)]
    #[schema(value_type = Vec<QueueSkillInput>)]
    pub(crate) queues: Vec<QueueSkill>,
    #[schema(schema_with = algorithm_list)]
    pub(crate) digest_algorithms: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) nat: bool,
}

/// Body of `PATCH /api/v1/agents/{login}`: only the fields given change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AgentPatch)]
pub(crate) struct PatchAgentBody {
    #[schema(max_length = 200, pattern = r"\S")]
    pub(crate) name: Option<String>,
    #[schema(value_type = Option<Role>)]
    pub(crate) role: Option<String>,
    #[schema(min_length = 8, max_length = 1024)]
    pub(crate) password: Option<String>,
    /// Each queue at most once.
    #[schema(value_type = Option<Vec<QueueSkillInput>>)]
    pub(crate) queues: Option<Vec<QueueSkill>>,
    #[schema(schema_with = algorithm_list)]
    pub(crate) digest_algorithms: Option<Vec<String>>,
    pub(crate) nat: Option<bool>,
}

/// `digest_algorithms` of a request: each at most once, in order of
/// preference (`uniqueItems`, which the derive cannot say).
fn algorithm_list() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ArrayBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(utoipa::openapi::Ref::from_schema_name("Algorithm"))
        .min_items(Some(1))
        .unique_items(true)
        .description(Some("Challenges offered, in order; default `[\"MD5\"]`."))
        .build()
}

/// A queue as a request may give it: a name (skill 1) or with a skill.
/// Documentation only: [`QueueSkill`]'s own `Deserialize` accepts both.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(super) enum QueueSkillInput {
    Name(QueueName),
    WithSkill(QueueSkillTable),
}

/// `{"queue": "general", "skill": 3}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct QueueSkillTable {
    queue: QueueName,
    /// Default 1; higher = preferred.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 255)]
    skill: u8,
}

/// A queue's name as the store accepts it.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(pattern = r"^[a-z0-9_-]{1,64}$")]
#[allow(dead_code)]
pub(super) struct QueueName(String);

fn required(errors: &mut Vec<FieldError>, field: &'static str, value: Option<String>) -> String {
    value.unwrap_or_else(|| {
        errors.push(FieldError {
            field,
            message: "is required".into(),
        });
        String::new()
    })
}

fn parse_role(errors: &mut Vec<FieldError>, role: Option<&str>) -> Option<Role> {
    let role = role?;
    match role.parse() {
        Ok(r) => Some(r),
        Err(e) => {
            errors.push(FieldError {
                field: "role",
                message: format!("{e}"),
            });
            None
        }
    }
}

fn parse_algorithms(
    errors: &mut Vec<FieldError>,
    names: Option<Vec<String>>,
) -> Option<Vec<Algorithm>> {
    let names = names?;
    if names.is_empty() {
        errors.push(FieldError {
            field: "digest_algorithms",
            message: "must name at least one of MD5, SHA-256".into(),
        });
        return None;
    }
    let mut algorithms = Vec::with_capacity(names.len());
    for name in names {
        match name.parse() {
            Ok(a) => algorithms.push(a),
            Err(e) => {
                errors.push(FieldError {
                    field: "digest_algorithms",
                    message: format!("{e}"),
                });
                return None;
            }
        }
    }
    Some(algorithms)
}

/// Creates an agent, who is also a user of the API (admin).
#[utoipa::path(
    post, path = "/api/v1/agents", tag = "agents",
    request_body = CreateAgentBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = AgentView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "The login is taken", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<CreateAgentBody>,
) -> Result<(StatusCode, Json<AgentView>), ApiError> {
    user.require(AccessLevel::Admin)?;
    let mut errors = Vec::new();
    let new = NewAgent {
        login: required(&mut errors, "login", body.login),
        name: required(&mut errors, "name", body.name),
        password: required(&mut errors, "password", body.password),
        // The least privileged role when none is given.
        role: parse_role(&mut errors, body.role.as_deref()).unwrap_or(Role::ContactManager),
        queues: body.queues,
        digest_algorithms: parse_algorithms(&mut errors, body.digest_algorithms)
            .unwrap_or_else(|| vec![Algorithm::Md5]),
        nat: body.nat,
    };
    errors.extend(validate_new_agent(&new));
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let agent = state
        .store
        .create_agent(&new, &state.realm)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(m) => ApiError::conflict("login_taken", m),
            other => other.into(),
        })?;
    let detail = format!("role={}", agent.role.as_str());
    audit_user_change(&state, &user, "create", &agent.login, Some(&detail)).await?;
    tracing::info!(by = %user.0.login, login = %agent.login, role = %agent.role, "agent created");
    let _ = state
        .agent_events
        .send(AgentEvent::Changed(agent.login.clone()));
    Ok((StatusCode::CREATED, Json(view_one(&state, agent).await?)))
}

/// Changes an agent (admin). A new password takes effect on the phone too,
/// and signs the agent out everywhere: its API tokens and console sessions
/// are revoked.
#[utoipa::path(
    patch, path = "/api/v1/agents/{login}", tag = "agents",
    params(("login" = String, Path, description = "The agent's login")),
    request_body = PatchAgentBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed agent", body = AgentView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 409, description = "Would demote the last admin", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(login): Path<String>,
    ApiJson(body): ApiJson<PatchAgentBody>,
) -> Result<Json<AgentView>, ApiError> {
    user.require(AccessLevel::Admin)?;
    let mut errors = Vec::new();
    let patch = AgentPatch {
        role: parse_role(&mut errors, body.role.as_deref()),
        digest_algorithms: parse_algorithms(&mut errors, body.digest_algorithms),
        name: body.name,
        password: body.password,
        queues: body.queues,
        nat: body.nat,
    };
    errors.extend(validate_patch(&patch));
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let current = state
        .store
        .get_agent(&login)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no agent {login:?}")))?;
    if current.role == Role::Admin
        && patch.role.is_some_and(|r| r != Role::Admin)
        && state.store.count_admins().await? <= 1
    {
        return Err(last_admin());
    }
    let agent = state
        .store
        .update_agent(&login, &patch, &state.realm)
        .await?;
    let detail = changed_fields(&patch);
    audit_user_change(&state, &user, "update", &agent.login, Some(&detail)).await?;
    tracing::info!(by = %user.0.login, login = %agent.login, "agent updated");
    let _ = state
        .agent_events
        .send(AgentEvent::Changed(agent.login.clone()));
    Ok(Json(view_one(&state, agent).await?))
}

/// Deletes an agent and unregisters its phones (admin).
#[utoipa::path(
    delete, path = "/api/v1/agents/{login}", tag = "agents",
    params(("login" = String, Path, description = "The agent's login")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such agent", body = ErrorBody),
        (status = 409, description = "The last admin", body = ErrorBody),
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(login): Path<String>,
) -> Result<StatusCode, ApiError> {
    user.require(AccessLevel::Admin)?;
    let current = state
        .store
        .get_agent(&login)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no agent {login:?}")))?;
    if current.role == Role::Admin && state.store.count_admins().await? <= 1 {
        return Err(last_admin());
    }
    state.store.delete_agent(&login).await?;
    audit_user_change(&state, &user, "delete", &login, None).await?;
    tracing::info!(by = %user.0.login, login = %login, "agent deleted");
    let _ = state.agent_events.send(AgentEvent::Deleted(login));
    Ok(StatusCode::NO_CONTENT)
}

/// Writes a change of a user (object kind `agent`) to the audit log before
/// the answer goes out: who may sign in, with which role, is exactly what an
/// audit must be able to reconstruct.
async fn audit_user_change(
    state: &AppState,
    user: &CurrentUser,
    action: &str,
    login: &str,
    detail: Option<&str>,
) -> Result<(), ApiError> {
    super::inquiries::audit(state, user, action, "agent", Some(login), detail).await
}

/// Which fields a patch changed, for the audit row (never the password
/// itself).
fn changed_fields(patch: &AgentPatch) -> String {
    let mut fields = Vec::new();
    if patch.name.is_some() {
        fields.push("name".to_owned());
    }
    if let Some(role) = patch.role {
        fields.push(format!("role={}", role.as_str()));
    }
    if patch.password.is_some() {
        fields.push("password".to_owned());
    }
    if patch.queues.is_some() {
        fields.push("queues".to_owned());
    }
    if patch.digest_algorithms.is_some() {
        fields.push("digest_algorithms".to_owned());
    }
    if patch.nat.is_some() {
        fields.push("nat".to_owned());
    }
    fields.join(", ")
}

/// Removing the last admin would leave nobody able to manage users.
fn last_admin() -> ApiError {
    ApiError::conflict(
        "last_admin",
        "this is the only admin; create another admin first",
    )
}
