//! `GET /live`: the API's event stream (`/api/v1/events`) for a console
//! session. The browser's `EventSource` sends the session cookie but no
//! `Authorization` header; the session's user is handed to the same
//! stream, so the console sees exactly what the API would show the user
//! (managers only their own events) and the stream is audited the same way.

use super::session::Ctx;
use crate::api::{ApiError, AppState};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

pub(crate) async fn stream(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    params: Result<Query<crate::api::events::StreamParams>, QueryRejection>,
) -> Response {
    let opened = match params.map_err(ApiError::from) {
        Ok(Query(params)) => {
            crate::api::events::stream_for(state, ctx.user, &headers, params).await
        }
        Err(e) => Err(e),
    };
    match opened {
        Ok(sse) => sse.into_response(),
        Err(e) => super::error::WebError(e).into_response(),
    }
}
