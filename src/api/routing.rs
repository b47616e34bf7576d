//! Routing in the API: an agent's own state (`PATCH
//! /api/v1/agents/{login}/state`), the live board (`GET /api/v1/queues`),
//! calls in progress (`GET /api/v1/calls`) and the console's transfer and
//! hang-up buttons.
//!
//! Rights (ARCHITECTURE §6): anyone signed in sees the queue board; a
//! manager changes only their own state and sees, transfers and hangs up
//! only calls they are on; the head and admins do all of it for everyone.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiJson};
use super::{AppState, now_ms};
use crate::acd::{AcdError, AgentRequest, AgentState, CallId};
use crate::config::DepartmentConfig;
use crate::role::AccessLevel;
use crate::routing::{CallControl, LiveCallView, LiveCalls, Routing, TransferTarget};
use crate::store::AuditEntry;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the routing endpoints need, in [`AppState`].
#[derive(Clone, Debug)]
pub struct RoutingState {
    pub routing: Routing,
    pub live_calls: LiveCalls,
    /// Transfer targets for "other" callers, from `[[departments]]`.
    pub departments: Arc<[DepartmentConfig]>,
    /// The queues' settings from `[[queues]]` (read-only while running),
    /// for the console's admin page.
    pub queues: Arc<[crate::config::QueueSettings]>,
}

fn routing_of(state: &AppState) -> Result<&RoutingState, ApiError> {
    state.routing.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "routing_unavailable",
            "routing is not running in this server",
        )
    })
}

fn one_field(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::validation(BTreeMap::from([(field.to_string(), message.into())]))
}

async fn audit(
    state: &AppState,
    user: &CurrentUser,
    kind: &str,
    id: &str,
    detail: &str,
) -> Result<(), ApiError> {
    state
        .store
        .audit(
            &AuditEntry {
                actor: &user.0.login,
                action: "update",
                object_kind: kind,
                object_id: Some(id),
                detail: Some(detail),
            },
            now_ms(),
        )
        .await?;
    Ok(())
}

/// A state an agent may choose.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChosenState {
    Available,
    Paused,
}

/// Body of `PATCH /api/v1/agents/{login}/state`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStateBody {
    pub state: ChosenState,
}

/// An agent's routing state after a change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentStateView {
    pub login: String,
    /// offline, available, ringing, busy, wrap_up or paused.
    pub state: String,
    /// A pause asked for during a call, applied when the call ends.
    pub pause_pending: bool,
}

/// Makes an agent available or pauses them, as `*50` / `*51` do from the
/// softphone. A pause during a call applies when the call ends.
#[utoipa::path(
    patch,
    path = "/api/v1/agents/{login}/state",
    params(("login" = String, Path, description = "The agent's login")),
    request_body = SetStateBody,
    responses(
        (status = 200, description = "The agent's state now", body = AgentStateView),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "A manager changing someone else", body = super::error::ErrorBody),
        (status = 404, description = "No such agent", body = super::error::ErrorBody),
        (status = 409, description = "Refused: the agent has no registered phone", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "state is not available or paused", body = super::error::ErrorBody),
        (status = 503, description = "Routing is not running in this server", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "routing"
)]
pub(crate) async fn set_state(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(login): Path<String>,
    ApiJson(body): ApiJson<SetStateBody>,
) -> Result<Json<AgentStateView>, ApiError> {
    if user.access() < AccessLevel::Head && user.0.login != login {
        return Err(ApiError::forbidden());
    }
    let routing = routing_of(&state)?;
    let request = match body.state {
        ChosenState::Available => AgentRequest::Available,
        ChosenState::Paused => AgentRequest::Pause,
    };
    let now = routing
        .routing
        .agent_request(&login, request)
        .await
        .map_err(|e| match e {
            AcdError::UnknownAgent(_) => ApiError::not_found(format!("no agent {login:?}")),
            AcdError::NotRegistered(_) => ApiError::conflict(
                "agent_offline",
                format!("agent {login:?} has no registered phone; register it first"),
            ),
            other => ApiError::conflict("agent_state_refused", other.to_string()),
        })?;
    let pause_pending = routing
        .routing
        .snapshot()
        .await
        .agents
        .into_iter()
        .find(|a| a.login == login)
        .is_some_and(|a| a.pause_pending);
    let chosen = match body.state {
        ChosenState::Available => "available",
        ChosenState::Paused => "paused",
    };
    audit(&state, &user, "agent_state", &login, chosen).await?;
    tracing::info!(by = %user.0.login, login = %login, state = %now, "agent state requested");
    Ok(Json(AgentStateView {
        login,
        state: now.as_str().to_string(),
        pause_pending,
    }))
}

/// Agents of a queue by state.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct StateCountsView {
    pub offline: usize,
    pub available: usize,
    pub ringing: usize,
    pub busy: usize,
    pub wrap_up: usize,
    pub paused: usize,
}

/// One queue on the live board.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueView {
    pub name: String,
    /// Callers (and callback requests) waiting for an agent.
    pub waiting: usize,
    /// Of which callback requests.
    pub callbacks: usize,
    pub longest_wait_ms: u64,
    pub agents: StateCountsView,
}

/// One agent on the live board.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BoardAgentView {
    pub login: String,
    pub state: String,
    pub in_state_ms: u64,
    pub calls_today: u32,
    pub pause_pending: bool,
}

/// The live board.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueuesView {
    pub items: Vec<QueueView>,
    pub agents: Vec<BoardAgentView>,
}

/// The live board: per queue the waiting callers, the longest wait and its
/// agents by state; and every agent's state.
#[utoipa::path(
    get,
    path = "/api/v1/queues",
    responses(
        (status = 200, description = "Queues and agents now", body = QueuesView),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 503, description = "Routing is not running in this server", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "routing"
)]
pub(crate) async fn queues(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> Result<Json<QueuesView>, ApiError> {
    let snapshot = routing_of(&state)?.routing.snapshot().await;
    let items = snapshot
        .queues
        .into_iter()
        .map(|q| QueueView {
            agents: StateCountsView {
                offline: q.agents.get(AgentState::Offline),
                available: q.agents.get(AgentState::Available),
                ringing: q.agents.get(AgentState::Ringing),
                busy: q.agents.get(AgentState::Busy),
                wrap_up: q.agents.get(AgentState::WrapUp),
                paused: q.agents.get(AgentState::Paused),
            },
            name: q.name,
            waiting: q.waiting,
            callbacks: q.callbacks,
            longest_wait_ms: q.longest_wait_ms,
        })
        .collect();
    let agents = snapshot
        .agents
        .into_iter()
        .map(|a| BoardAgentView {
            login: a.login,
            state: a.state.as_str().to_string(),
            in_state_ms: a.in_state_ms,
            calls_today: a.calls_today,
            pause_pending: a.pause_pending,
        })
        .collect();
    Ok(Json(QueuesView { items, agents }))
}

/// Calls in progress.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallsView {
    pub items: Vec<LiveCallView>,
}

/// Calls in progress (callers' numbers masked). A manager sees the calls
/// they are on; the head and admins see all.
#[utoipa::path(
    get,
    path = "/api/v1/calls",
    responses(
        (status = 200, description = "Live calls", body = CallsView),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 503, description = "Routing is not running in this server", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "routing"
)]
pub(crate) async fn calls(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<CallsView>, ApiError> {
    let mut items = routing_of(&state)?.live_calls.list();
    if user.access() < AccessLevel::Head {
        items.retain(|c| c.agent.as_deref() == Some(user.0.login.as_str()));
    }
    Ok(Json(CallsView { items }))
}

/// The live call `id` if the user may act on it: 404 when there is no such
/// call, 403 when a manager is not on it.
fn call_for(
    routing: &RoutingState,
    user: &CurrentUser,
    id: &str,
) -> Result<(CallId, LiveCallView), ApiError> {
    let not_found = || ApiError::not_found(format!("no live call {id:?}"));
    let call = CallId(id.parse().map_err(|_| not_found())?);
    let view = routing.live_calls.get(call).ok_or_else(not_found)?;
    if user.access() < AccessLevel::Head && view.agent.as_deref() != Some(user.0.login.as_str()) {
        return Err(ApiError::forbidden());
    }
    Ok((call, view))
}

/// Body of `POST /api/v1/calls/{id}/transfer`: exactly one target.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// A queue by name.
    pub queue: Option<String>,
    /// An agent by login.
    pub agent: Option<String>,
    /// A department from the configuration, by name or number.
    pub department: Option<String>,
}

/// A control request the call accepted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallControlAccepted {
    pub id: u64,
    /// For a transfer: where the caller goes, `{"queue": "admission"}`.
    pub target: Option<TransferTarget>,
}

/// Blind transfer of a live call to a queue, an agent or a department.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/transfer",
    params(("id" = u64, Path, description = "Live call id")),
    request_body = TransferBody,
    responses(
        (status = 202, description = "The call is being transferred", body = CallControlAccepted),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "A manager not on this call", body = super::error::ErrorBody),
        (status = 404, description = "No such live call", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "No target, several, or an unknown one", body = super::error::ErrorBody),
        (status = 503, description = "Routing is not running in this server", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "routing"
)]
pub(crate) async fn transfer(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TransferBody>,
) -> Result<(StatusCode, Json<CallControlAccepted>), ApiError> {
    let routing = routing_of(&state)?;
    let (call, _) = call_for(routing, &user, &id)?;
    let target = match (body.queue, body.agent, body.department) {
        (Some(queue), None, None) => {
            let snapshot = routing.routing.snapshot().await;
            if !snapshot.queues.iter().any(|q| q.name == queue) {
                return Err(one_field("queue", format!("no queue {queue:?}")));
            }
            TransferTarget::Queue(queue)
        }
        (None, Some(agent), None) => {
            let snapshot = routing.routing.snapshot().await;
            if !snapshot.agents.iter().any(|a| a.login == agent) {
                return Err(one_field("agent", format!("no agent {agent:?}")));
            }
            TransferTarget::Agent(agent)
        }
        (None, None, Some(department)) => {
            let found = routing
                .departments
                .iter()
                .find(|d| d.name == department || d.number == department)
                .ok_or_else(|| one_field("department", format!("no department {department:?}")))?;
            TransferTarget::Department(found.name.clone())
        }
        _ => {
            return Err(ApiError::validation(BTreeMap::from([(
                "target".to_string(),
                "give exactly one of queue, agent or department".to_string(),
            )])));
        }
    };
    if !routing
        .live_calls
        .send(call, CallControl::Transfer(target.clone()))
    {
        return Err(ApiError::not_found(format!("no live call {id:?}")));
    }
    audit(&state, &user, "call", &id, "transfer").await?;
    tracing::info!(by = %user.0.login, call = call.0, target = ?target, "transfer requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(CallControlAccepted {
            id: call.0,
            target: Some(target),
        }),
    ))
}

/// Ends a live call on every leg.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/hangup",
    params(("id" = u64, Path, description = "Live call id")),
    responses(
        (status = 202, description = "The call is being hung up", body = CallControlAccepted),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "A manager not on this call", body = super::error::ErrorBody),
        (status = 404, description = "No such live call", body = super::error::ErrorBody),
        (status = 503, description = "Routing is not running in this server", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "routing"
)]
pub(super) async fn hangup(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<CallControlAccepted>), ApiError> {
    let routing = routing_of(&state)?;
    let (call, _) = call_for(routing, &user, &id)?;
    if !routing.live_calls.send(call, CallControl::Hangup) {
        return Err(ApiError::not_found(format!("no live call {id:?}")));
    }
    audit(&state, &user, "call", &id, "hangup").await?;
    tracing::info!(by = %user.0.login, call = call.0, "hang-up requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(CallControlAccepted {
            id: call.0,
            target: None,
        }),
    ))
}
