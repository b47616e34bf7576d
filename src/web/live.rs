//! `GET /live`: the API's event stream (`/api/v1/events`) for a console
//! session. The browser's `EventSource` sends the session cookie but no
//! `Authorization` header; this hands the cookie's token to the same
//! handler, so the console sees exactly what the API would show the user
//! (managers only their own events) and the stream is audited the same way.

use super::session::Ctx;
use crate::api::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub(crate) async fn stream(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    params: Result<Query<crate::api::events::StreamParams>, QueryRejection>,
) -> Response {
    let mut forwarded = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", ctx.token)) {
        forwarded.insert(header::AUTHORIZATION, value);
    }
    if let Some(last) = headers.get("last-event-id") {
        forwarded.insert("last-event-id", last.clone());
    }
    match crate::api::events::stream(State(state), forwarded, params).await {
        Ok(sse) => sse.into_response(),
        Err(e) => super::error::WebError(e).into_response(),
    }
}
