//! `/api/v1/agents`: agent (and user) administration, with each agent's
//! live registrations. Admins manage; heads read; a manager reads only
//! themselves. Passwords and HA1 never leave the store.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiJson};
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

#[derive(Serialize)]
pub(super) struct AgentView {
    login: String,
    name: String,
    role: Role,
    queues: Vec<QueueSkill>,
    digest_algorithms: Vec<Algorithm>,
    nat: bool,
    /// `offline` without a live registration, else `available`; the ACD
    /// states (ringing, busy, ...) arrive with routing.
    state: &'static str,
    registrations: Vec<RegistrationView>,
    created_at: String,
}

#[derive(Serialize)]
struct RegistrationView {
    contact: String,
    transport: String,
    source: String,
    expires_at: String,
    user_agent: Option<String>,
}

fn view(agent: Agent, bindings: Vec<Binding>) -> AgentView {
    AgentView {
        state: if bindings.is_empty() {
            "offline"
        } else {
            "available"
        },
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
    Ok(view(agent, bindings))
}

#[derive(Deserialize)]
pub(super) struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Serialize)]
pub(super) struct Page<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

pub(super) async fn list(
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
    let items = agents
        .into_iter()
        .map(|a| {
            let own = bindings.remove(&a.login).unwrap_or_default();
            view(a, own)
        })
        .collect();
    Ok(Json(Page { items, next_cursor }))
}

pub(super) async fn get(
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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateAgentBody {
    login: Option<String>,
    name: Option<String>,
    role: Option<String>,
    password: Option<String>,
    #[serde(default)]
    queues: Vec<QueueSkill>,
    digest_algorithms: Option<Vec<String>>,
    #[serde(default)]
    nat: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchAgentBody {
    name: Option<String>,
    role: Option<String>,
    password: Option<String>,
    queues: Option<Vec<QueueSkill>>,
    digest_algorithms: Option<Vec<String>>,
    nat: Option<bool>,
}

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

pub(super) async fn create(
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
    tracing::info!(by = %user.0.login, login = %agent.login, role = %agent.role, "agent created");
    let _ = state
        .agent_events
        .send(AgentEvent::Changed(agent.login.clone()));
    Ok((StatusCode::CREATED, Json(view_one(&state, agent).await?)))
}

pub(super) async fn update(
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
    tracing::info!(by = %user.0.login, login = %agent.login, "agent updated");
    let _ = state
        .agent_events
        .send(AgentEvent::Changed(agent.login.clone()));
    Ok(Json(view_one(&state, agent).await?))
}

pub(super) async fn delete(
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
    tracing::info!(by = %user.0.login, login = %login, "agent deleted");
    let _ = state.agent_events.send(AgentEvent::Deleted(login));
    Ok(StatusCode::NO_CONTENT)
}

/// Removing the last admin would leave nobody able to manage users.
fn last_admin() -> ApiError {
    ApiError::conflict(
        "last_admin",
        "this is the only admin; create another admin first",
    )
}
