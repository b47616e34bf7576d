//! `/api/v1/channels/...`: inquiries arriving in writing (ARCHITECTURE §6).
//!
//! - `POST /api/v1/channels/email`: a raw RFC 5322 message, piped in by an
//!   MTA. The MTA proves itself with the configured ingest token in
//!   `X-Hotline-Token` (a pipe cannot log in); a head or admin may post with
//!   a bearer token instead (to file a message by hand).
//! - `POST /api/v1/channels/messenger/{name}`: a Telegram-style bot webhook
//!   update, authenticated by the bot's shared secret in
//!   `X-Telegram-Bot-Api-Secret-Token`.
//!
//! Both find or create the client, join the message's thread or open a new
//! inquiry, and append the message to the inquiry's timeline: 201 when an
//! inquiry was created, 200 when the message joined one or was a repeat.

use super::AppState;
use super::auth::CurrentUser;
use super::error::ApiError;
use super::now_ms;
use crate::channels::email::IncomingEmail;
use crate::channels::messenger::MessengerUpdate;
use crate::channels::secrets_match;
use crate::role::AccessLevel;
use crate::store::{AuditEntry, Filed};
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Header carrying the e-mail ingest token.
pub const INGEST_TOKEN_HEADER: &str = "x-hotline-token";
/// Header carrying a Telegram bot's webhook secret.
pub const MESSENGER_SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// Largest webhook update read (Telegram's are a few KiB).
const MAX_UPDATE_BYTES: usize = 1024 * 1024;

/// Where a posted message went.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelMessageFiled {
    pub inquiry_id: String,
    pub client_id: String,
    /// `true`: the message joined an existing inquiry (a reply in its
    /// thread, or the chat's open inquiry); `false`: it created one.
    pub joined: bool,
    /// `true`: this message was filed before (same Message-ID or update
    /// id); nothing was written again.
    pub duplicate: bool,
}

/// A webhook update that is not a person's message, acknowledged so the
/// platform stops redelivering it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessengerUpdateIgnored {
    pub update_id: i64,
    pub ignored: bool,
    /// The update's kind, e.g. `edited_message`, `callback_query`.
    pub kind: String,
}

/// The 200 answer of a webhook: a filed message or an ignored update.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum MessengerWebhookReply {
    Filed(ChannelMessageFiled),
    Ignored(MessengerUpdateIgnored),
}

fn filed_response(filed: Filed) -> Response {
    let status = if filed.joined || filed.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let body = ChannelMessageFiled {
        inquiry_id: filed.inquiry_id,
        client_id: filed.client_id,
        joined: filed.joined,
        duplicate: filed.duplicate,
    };
    (status, Json(body)).into_response()
}

/// Files a raw e-mail as an inquiry, or into the inquiry of the thread it
/// answers.
#[utoipa::path(
    post,
    path = "/api/v1/channels/email",
    tag = "channels",
    request_body(
        description = "The raw RFC 5322 message, as received",
        content(
            (String = "message/rfc822"),
            (String = "text/plain"),
            (String = "application/octet-stream"),
        ),
    ),
    responses(
        (status = 200, description = "The message joined its thread's inquiry, or was filed before", body = ChannelMessageFiled),
        (status = 201, description = "A new inquiry was created", body = ChannelMessageFiled),
        (status = 400, description = "The body could not be read", body = super::error::ErrorBody),
        (status = 401, description = "No or wrong ingest token / bearer token", body = super::error::ErrorBody),
        (status = 403, description = "A bearer token of a manager", body = super::error::ErrorBody),
        (status = 413, description = "The message exceeds `channels.max_email_bytes`", body = super::error::ErrorBody),
        (status = 415, description = "Content-Type is none of message/rfc822, text/plain, application/octet-stream", body = super::error::ErrorBody),
        (status = 422, description = "Not a usable message: fields `message`, `from`, `body`", body = super::error::ErrorBody),
    ),
    security(("bearer" = []), ("ingest_token" = [])),
)]
pub async fn email(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let actor = email_actor(&state, &mut parts).await?;
    check_content_type(&parts.headers)?;
    let raw = read_body(&parts.headers, body, state.channels.max_email_bytes).await?;
    let message = IncomingEmail::parse(&raw).map_err(ApiError::from)?;
    let now = now_ms();
    let filed = state.store.file_email(&message, now).await?;
    if !filed.duplicate {
        audit_filing(&state, &actor, &filed, "e-mail received", now).await?;
    }
    tracing::info!(
        inquiry = %filed.inquiry_id,
        client = %filed.client_id,
        joined = filed.joined,
        duplicate = filed.duplicate,
        attachments = message.attachments.len(),
        "e-mail filed"
    );
    Ok(filed_response(filed))
}

/// Files a messenger bot's webhook update.
#[utoipa::path(
    post,
    path = "/api/v1/channels/messenger/{name}",
    tag = "channels",
    params(
        ("name" = String, Path, description = "The bot, as configured in `[channels.messenger.<name>]`"),
        ("X-Telegram-Bot-Api-Secret-Token" = String, Header,
         description = "The bot's configured `secret`"),
    ),
    request_body(
        description = "A Telegram-style update: `{\"update_id\", \"message\": {\"message_id\", \"from\", \"chat\", \"date\", \"text\"}}`",
        content = Object, content_type = "application/json",
    ),
    responses(
        (status = 200, description = "The message joined the chat's open inquiry, was filed before, or the update is not a message and was ignored", body = MessengerWebhookReply),
        (status = 201, description = "A new inquiry was created", body = ChannelMessageFiled),
        (status = 400, description = "The body could not be read", body = super::error::ErrorBody),
        (status = 401, description = "No or wrong secret", body = super::error::ErrorBody),
        (status = 404, description = "No messenger of that name is configured", body = super::error::ErrorBody),
        (status = 413, description = "The update is larger than 1 MiB", body = super::error::ErrorBody),
        (status = 422, description = "Not an update: field `update`", body = super::error::ErrorBody),
    ),
)]
pub async fn messenger(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let Some(bot) = state.channels.messenger.get(&name) else {
        return Err(ApiError::not_found(format!("no messenger {name:?}")));
    };
    let (parts, body) = request.into_parts();
    let given = parts
        .headers
        .get(MESSENGER_SECRET_HEADER)
        .and_then(|v| v.to_str().ok());
    if !given.is_some_and(|given| secrets_match(&bot.secret, given)) {
        tracing::warn!(messenger = %name, "webhook refused: wrong or missing secret");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_secret",
            "X-Telegram-Bot-Api-Secret-Token is missing or wrong",
        ));
    }
    let raw = read_body(&parts.headers, body, MAX_UPDATE_BYTES).await?;
    let message = match MessengerUpdate::parse(&raw).map_err(ApiError::from)? {
        MessengerUpdate::Message(message) => message,
        MessengerUpdate::Ignored { update_id, kind } => {
            tracing::debug!(messenger = %name, update_id, kind = %kind, "webhook update ignored");
            let reply = MessengerWebhookReply::Ignored(MessengerUpdateIgnored {
                update_id,
                ignored: true,
                kind,
            });
            return Ok(Json(reply).into_response());
        }
    };
    let now = now_ms();
    let window_ms = i64::try_from(state.channels.messenger_thread_window_s)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    let filed = state
        .store
        .file_messenger_message(&name, &message, window_ms, now)
        .await?;
    if !filed.duplicate {
        let actor = format!("messenger:{name}");
        audit_filing(&state, &actor, &filed, "messenger message received", now).await?;
    }
    tracing::info!(
        messenger = %name,
        inquiry = %filed.inquiry_id,
        client = %filed.client_id,
        joined = filed.joined,
        duplicate = filed.duplicate,
        "messenger message filed"
    );
    Ok(filed_response(filed))
}

/// Who posts an e-mail: the MTA (by ingest token) or a head/admin user (by
/// bearer token). A presented ingest token is decisive: wrong is 401 even
/// if a bearer token is also sent.
async fn email_actor(
    state: &AppState,
    parts: &mut axum::http::request::Parts,
) -> Result<String, ApiError> {
    if let Some(given) = parts.headers.get(INGEST_TOKEN_HEADER) {
        let given = given.to_str().unwrap_or_default().trim();
        return match &state.channels.email_ingest_token {
            Some(expected) if secrets_match(expected, given) => Ok("channel:email".to_string()),
            _ => {
                tracing::warn!("e-mail ingest refused: wrong ingest token");
                Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_ingest_token",
                    "X-Hotline-Token is not the configured channels.email_ingest_token",
                ))
            }
        };
    }
    let user = CurrentUser::from_request_parts(parts, state).await?;
    user.require(AccessLevel::Head)?;
    Ok(user.0.login)
}

/// A raw message may come as `message/rfc822` (what it is), `text/plain`
/// or `application/octet-stream` (what generic HTTP tools send), or
/// without a type.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if matches!(
        essence.as_str(),
        "message/rfc822" | "text/plain" | "application/octet-stream"
    ) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Type {essence:?}: send the raw message as message/rfc822"),
        ))
    }
}

/// Reads the whole body, refusing with 413 beyond `limit` bytes: counted
/// as the bytes arrive, so a lying or missing Content-Length does not
/// matter, and an honest one too large is refused before reading.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    use futures_util::StreamExt;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut raw = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "body_unreadable",
                format!("the request body could not be read: {e}"),
            )
        })?;
        if raw.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        raw.extend_from_slice(&chunk);
    }
    Ok(raw)
}

/// Filing a message creates or changes an inquiry and may create a client:
/// recorded like every other change.
async fn audit_filing(
    state: &AppState,
    actor: &str,
    filed: &Filed,
    detail: &str,
    now: i64,
) -> Result<(), ApiError> {
    let action = if filed.joined { "update" } else { "create" };
    state
        .store
        .audit(
            &AuditEntry {
                actor,
                action,
                object_kind: "inquiry",
                object_id: Some(&filed.inquiry_id),
                detail: Some(detail),
            },
            now,
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    #[derive(OpenApi)]
    #[openapi(
        paths(super::email, super::messenger),
        components(schemas(
            super::ChannelMessageFiled,
            super::MessengerUpdateIgnored,
            super::MessengerWebhookReply
        ))
    )]
    struct ChannelsDoc;

    #[test]
    fn the_endpoints_document_their_bodies_and_answers() {
        let doc = serde_json::to_value(ChannelsDoc::openapi()).unwrap();
        let email = &doc["paths"]["/api/v1/channels/email"]["post"];
        let content = &email["requestBody"]["content"];
        assert!(content["message/rfc822"].is_object(), "{email}");
        assert!(content["text/plain"].is_object(), "{email}");
        for status in ["200", "201", "401", "403", "413", "415", "422"] {
            assert!(email["responses"][status].is_object(), "{status}: {email}");
        }
        let webhook = &doc["paths"]["/api/v1/channels/messenger/{name}"]["post"];
        for status in ["200", "201", "401", "404", "422"] {
            assert!(
                webhook["responses"][status].is_object(),
                "{status}: {webhook}"
            );
        }
        let reply = &doc["components"]["schemas"]["MessengerWebhookReply"];
        assert_eq!(reply["oneOf"].as_array().map(Vec::len), Some(2), "{reply}");
    }
}
