//! The HTTP API (ARCHITECTURE §6): JSON under `/api/v1`, bearer tokens from
//! `auth/login`, errors as `{"error": {"code", "message", "fields"}}`.

pub(crate) mod agents;
mod audit;
pub(crate) mod auth;
pub(crate) mod calendar;
pub mod channels;
pub(crate) mod clients;
mod error;
pub(crate) mod events;
pub(crate) mod inquiries;
pub(crate) mod ivr_scripts;
mod metrics;
pub mod openapi;
mod query;
pub(crate) mod recordings;
pub(crate) mod reports;
pub(crate) mod routing;
mod time;

pub use auth::{CurrentUser, LoginRefused, SignedIn, sign_in, sign_out};
pub use error::{ApiError, ApiJson, TextDiagnostic};
pub use routing::RoutingState;
pub use time::{ms_from_rfc3339, rfc3339_from_ms};

use crate::store::Store;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

/// Everything the handlers share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    /// SIP digest realm: a new password needs it to compute HA1.
    pub realm: String,
    /// Lifetime of tokens issued by `auth/login`.
    pub token_ttl_s: i64,
    /// Agent changes the SIP side must apply (a new password takes effect,
    /// a deleted agent's phones are unregistered).
    pub agent_events: tokio::sync::broadcast::Sender<AgentEvent>,
    /// Routing and live calls; `None` where the API runs without them
    /// (their endpoints then answer 503).
    pub routing: Option<RoutingState>,
    /// The service-level threshold of `reports/summary`.
    pub reports: crate::config::ReportsConfig,
    /// E-mail and messenger ingest: tokens, secrets, limits.
    pub channels: std::sync::Arc<crate::config::ChannelsConfig>,
    /// Where call recordings are; stored paths are relative to it.
    pub recordings_dir: std::path::PathBuf,
    /// When failed logins lock a username (`http.lockout_*`).
    pub lockout: crate::store::LoginLockout,
    /// Prometheus metrics; the API counts its responses here and serves
    /// `/metrics`.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// Turns `true` when the server stops: endless responses (the event
    /// stream) end, so the graceful HTTP shutdown does not wait for them.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// Working hours in force (the IVR's `business_hours`); replaceable
    /// while the server runs.
    pub calendar: crate::ivr::calendar::LiveCalendar,
    /// The live IVR flows; `None` where the API runs without the SIP side
    /// (the IVR script endpoints then answer 503).
    pub ivr: Option<std::sync::Arc<crate::ivr::registry::ScriptRegistry>>,
    /// Today's figures shared by every open live board.
    pub board_today: crate::web::board::TodayFigures,
}

/// What changed about an agent, by login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    Changed(String),
    Deleted(String),
}

/// The API's router, with its state applied.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/agents", get(agents::list).post(agents::create))
        .route(
            "/api/v1/agents/{login}",
            get(agents::get)
                .patch(agents::update)
                .delete(agents::delete),
        )
        .route("/api/v1/agents/{login}/state", patch(routing::set_state))
        .route("/api/v1/queues", get(routing::queues))
        .route("/api/v1/calendar", get(calendar::get).put(calendar::put))
        .route("/api/v1/calls", get(routing::calls))
        .route("/api/v1/calls/{id}/transfer", post(routing::transfer))
        .route("/api/v1/calls/{id}/hangup", post(routing::hangup))
        .route(
            "/api/v1/inquiries",
            get(inquiries::list).post(inquiries::create),
        )
        .route(
            "/api/v1/inquiries/{id}",
            get(inquiries::get).patch(inquiries::update),
        )
        .route("/api/v1/inquiries/{id}/recording", get(recordings::get))
        .route("/api/v1/inquiries/{id}/resolve", post(inquiries::resolve))
        .route("/api/v1/inquiries/{id}/inform", post(inquiries::inform))
        .route(
            "/api/v1/clients",
            get(clients::search).post(clients::create),
        )
        .route(
            "/api/v1/clients/{id}",
            get(clients::get)
                .patch(clients::update)
                .delete(clients::delete),
        )
        .route("/api/v1/clients/{id}/merge", post(clients::merge))
        .route("/api/v1/clients/{id}/history", get(clients::history))
        .route(
            "/api/v1/clients/{id}/managers/{area}",
            put(clients::set_manager).delete(clients::clear_manager),
        )
        .route("/api/v1/reports/summary", get(reports::summary))
        .route("/api/v1/reports/agents", get(reports::agents))
        .route("/api/v1/ivr-scripts", get(ivr_scripts::list))
        .route(
            "/api/v1/ivr-scripts/{name}",
            get(ivr_scripts::get).put(ivr_scripts::put),
        )
        .route(
            "/api/v1/ivr-scripts/{name}/versions",
            get(ivr_scripts::versions),
        )
        .route(
            "/api/v1/ivr-scripts/{name}/versions/{version}",
            get(ivr_scripts::version),
        )
        .route(
            "/api/v1/ivr-scripts/{name}/versions/{version}/restore",
            post(ivr_scripts::restore),
        )
        .route(
            "/api/v1/ivr-scripts/{name}/simulate",
            post(ivr_scripts::simulate),
        )
        .route("/api/v1/audit", get(audit::list))
        .route("/api/v1/events", get(events::stream))
        .merge(openapi::routes())
        .route("/api/v1/channels/email", post(channels::email))
        .route(
            "/api/v1/channels/messenger/{name}",
            post(channels::messenger),
        )
        .merge(crate::web::routes(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::count_responses,
        ))
        .with_state(state)
}

/// Liveness plus a trivial query, so a dead database shows up in monitoring.
#[utoipa::path(
    get, path = "/healthz", tag = "system",
    responses(
        (status = 200, description = "Serving, database reachable", body = openapi::Health),
        (status = 503, description = "Database unreachable", body = openapi::Health),
    )
)]
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable" })),
            )
        }
    }
}

/// 404 as JSON for API clients, or as a page when a browser asked for a
/// console address that does not exist.
async fn not_found(
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let error = ApiError::not_found("no such endpoint");
    let wants_page = !uri.path().starts_with("/api/")
        && headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if wants_page {
        crate::web::error::WebError(error).into_response()
    } else {
        error.into_response()
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not support that method",
    )
}

/// Wall-clock time for token and binding expiry. The API is shell code;
/// the store's expiry queries take `now_ms` so that tests can pin it.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
