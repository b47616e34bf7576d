//! `GET /metrics` (Prometheus text format) and the middleware that counts
//! every HTTP response by status.
//!
//! `/metrics` needs no token: Prometheus scrapers are configured with a
//! URL, and the figures are counts only (no logins, numbers or client
//! data). The HTTP listener is on loopback by default; expose it, or put
//! a reverse proxy with its own auth in front, on purpose.

use super::AppState;
use crate::metrics::{CONTENT_TYPE, Metrics};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The server's metrics in Prometheus text format 0.0.4.
#[utoipa::path(
    get,
    path = "/metrics",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain")),
    tag = "monitoring"
)]
pub(super) async fn render(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics.render(),
    )
}

/// Counts the response of every request, error answers included.
pub(super) async fn count_responses(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    metrics.http_response(response.status().as_u16());
    response
}
