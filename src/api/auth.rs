//! Bearer-token authentication: `POST /api/v1/auth/login` issues tokens,
//! `POST /api/v1/auth/logout` revokes one, [`CurrentUser`] checks them on
//! every other request.
//!
//! Password guessing is met with a lockout: after `http.lockout_failures`
//! failed logins for one username within `http.lockout_window_s`, the login
//! answers **429 Too Many Requests** with `Retry-After` for `http.lockout_s`
//! seconds, even with the right password. 429 rather than 423 (WebDAV's
//! "Locked", about resources): clients and proxies know 429 + Retry-After
//! as "come back later". The failures live in the database, so a restart
//! does not reset them. An unknown username is counted and locked exactly
//! like a known one, and a wrong password and an unknown user get the same
//! 401 after the same password hashing work, so none of the answers tells
//! which logins exist. Logins, failures, lockouts and logouts are audited
//! (object kind `user`).

use super::error::{ApiError, ApiJson};
use super::time::rfc3339_from_ms;
use super::{AppState, now_ms};
use crate::role::AccessLevel;
use crate::store::{Agent, AuditEntry};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The authenticated user of a request, read fresh from the store (a role
/// change or a deletion takes effect on the next request).
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Agent);

impl CurrentUser {
    pub fn access(&self) -> AccessLevel {
        self.0.role.access()
    }

    /// 403 unless the user has at least `level`.
    pub fn require(&self, level: AccessLevel) -> Result<(), ApiError> {
        if self.access() >= level {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// The user a raw bearer token belongs to; 401 when it is unknown,
    /// revoked or expired. For endpoints that take the token from
    /// somewhere other than the `Authorization` header (the event stream).
    pub async fn from_token(state: &AppState, token: &str) -> Result<CurrentUser, ApiError> {
        if token.is_empty() {
            return Err(ApiError::invalid_token());
        }
        match state.store.token_user(token, now_ms()).await? {
            Some(agent) => Ok(CurrentUser(agent)),
            None => Err(ApiError::invalid_token()),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header: `Ok(None)`
/// without the header, 401 when it is there but not a bearer token.
pub(super) fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .map(Some)
        .ok_or_else(ApiError::invalid_token)
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers)?.ok_or_else(ApiError::unauthenticated)?;
        CurrentUser::from_token(state, token).await
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct LoginResponse {
    token: String,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    expires_at: String,
}

/// Why a login was refused: an API error, or a locked username (which
/// needs a `Retry-After` header the error shape does not carry).
pub enum LoginRefused {
    Api(ApiError),
    Locked { retry_after_s: i64 },
}

impl From<ApiError> for LoginRefused {
    fn from(e: ApiError) -> Self {
        LoginRefused::Api(e)
    }
}

impl From<crate::store::StoreError> for LoginRefused {
    fn from(e: crate::store::StoreError) -> Self {
        LoginRefused::Api(e.into())
    }
}

impl IntoResponse for LoginRefused {
    fn into_response(self) -> Response {
        match self {
            LoginRefused::Api(e) => e.into_response(),
            LoginRefused::Locked { retry_after_s } => {
                let error = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "login_locked",
                    format!(
                        "too many failed logins for this username; try again in {retry_after_s} s"
                    ),
                );
                let mut response = error.into_response();
                if let Ok(value) = HeaderValue::from_str(&retry_after_s.to_string()) {
                    response.headers_mut().insert(RETRY_AFTER, value);
                }
                response
            }
        }
    }
}

/// Whole seconds until `until_ms`, rounded up and at least 1 (a client
/// that waits `Retry-After` seconds must find the lock gone).
fn retry_after_s(until_ms: i64, now_ms: i64) -> i64 {
    let ms = until_ms.saturating_sub(now_ms).max(1);
    ms.saturating_add(999) / 1000
}

/// Longest username written to the audit log: a password typed into the
/// username field should not be kept whole, nor a flood of garbage.
const MAX_AUDITED_USERNAME: usize = 64;

async fn audit_login(
    state: &AppState,
    username: &str,
    action: &str,
    detail: Option<&str>,
    at_ms: i64,
) -> Result<(), ApiError> {
    let username: String = username.chars().take(MAX_AUDITED_USERNAME).collect();
    state
        .store
        .audit(
            &AuditEntry {
                actor: &username,
                action,
                object_kind: "user",
                object_id: Some(&username),
                detail,
            },
            at_ms,
        )
        .await?;
    Ok(())
}

/// Exchanges an agent's login and password for a bearer token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A bearer token", body = LoginResponse),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 401, description = "Wrong username or password (the same answer for both)", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "A body of the wrong shape", body = super::error::ErrorBody),
        (status = 429, description = "Too many failed logins; see the Retry-After header", body = super::error::ErrorBody,
            headers(("Retry-After" = i64, description = "Seconds until the lockout ends"))),
    ),
    tag = "auth"
)]
pub(super) async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, LoginRefused> {
    let session = sign_in(&state, &req.username, &req.password, "API").await?;
    Ok(Json(LoginResponse {
        token: session.token,
        expires_at: rfc3339_from_ms(session.expires_at_ms),
    }))
}

/// A token issued by [`sign_in`].
#[derive(Debug)]
pub struct SignedIn {
    pub agent: Agent,
    pub token: String,
    pub expires_at_ms: i64,
}

/// Checks a login and password under the lockout rules and issues a token:
/// the one way in for both the API's `auth/login` and the console's login
/// form (`via` names which, in the log).
pub async fn sign_in(
    state: &AppState,
    username: &str,
    password: &str,
    via: &str,
) -> Result<SignedIn, LoginRefused> {
    let now = now_ms();
    if let Some(until) = state.store.login_locked_until(username, now).await? {
        tracing::info!(username = ?username, via, "login refused: username locked");
        audit_login(state, username, "login_locked", None, now).await?;
        return Err(LoginRefused::Locked {
            retry_after_s: retry_after_s(until, now),
        });
    }
    let Some(agent) = state.store.verify_password(username, password).await? else {
        tracing::info!(username = ?username, via, "login failed");
        audit_login(state, username, "login_failed", None, now).await?;
        if let Some(until) = state
            .store
            .record_login_failure(username, now, state.lockout)
            .await?
        {
            tracing::warn!(username = ?username, until = %rfc3339_from_ms(until), "username locked after repeated failed logins");
            let detail = format!(
                "{} failed logins; locked until {}",
                state.lockout.max_failures,
                rfc3339_from_ms(until)
            );
            audit_login(state, username, "locked", Some(&detail), now).await?;
        }
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong username or password",
        )
        .into());
    };
    state.store.clear_login_failures(username).await?;
    let token = state
        .store
        .create_token(&agent.login, state.token_ttl_s, now)
        .await?;
    audit_login(state, &agent.login, "login", None, now).await?;
    tracing::info!(login = %agent.login, via, "login");
    Ok(SignedIn {
        agent,
        token,
        expires_at_ms: now.saturating_add(state.token_ttl_s.saturating_mul(1000)),
    })
}

/// Revokes `token` (a console logout); audited like the API's logout.
pub async fn sign_out(state: &AppState, token: &str) -> Result<(), ApiError> {
    let user = CurrentUser::from_token(state, token).await?;
    state.store.revoke_token(token).await?;
    audit_login(state, &user.0.login, "logout", None, now_ms()).await?;
    tracing::info!(login = %user.0.login, "logout");
    Ok(())
}

/// Revokes the presented token: later requests with it get 401.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    responses(
        (status = 204, description = "The token is revoked"),
        (status = 401, description = "No, bad or already revoked token", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])),
    tag = "auth"
)]
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = bearer_token(&headers)?.ok_or_else(ApiError::unauthenticated)?;
    sign_out(&state, token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::retry_after_s;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_s(10_000, 9_000), 1);
        assert_eq!(retry_after_s(10_000, 8_999), 2);
        assert_eq!(retry_after_s(10_000, 10_000), 1);
        assert_eq!(retry_after_s(900_000, 0), 900);
    }
}
