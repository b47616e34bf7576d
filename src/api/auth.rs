//! Bearer-token authentication: `POST /api/v1/auth/login` issues tokens,
//! [`CurrentUser`] checks them on every other request.

use super::error::{ApiError, ApiJson};
use super::time::rfc3339_from_ms;
use super::{AppState, now_ms};
use crate::role::AccessLevel;
use crate::store::Agent;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
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
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Err(ApiError::unauthenticated());
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(ApiError::invalid_token)?;
        match state.store.token_user(token, now_ms()).await? {
            Some(agent) => Ok(CurrentUser(agent)),
            None => Err(ApiError::invalid_token()),
        }
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
    #[schema(format = DateTime)]
    expires_at: String,
}

/// Exchanges an agent's login and password for a bearer token. A wrong
/// password and an unknown user get the same 401, in the same time.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A bearer token", body = LoginResponse),
        (status = 400, description = "Malformed JSON", body = super::error::ErrorBody),
        (status = 401, description = "Wrong username or password", body = super::error::ErrorBody),
        (status = 415, description = "Not `application/json`", body = super::error::ErrorBody),
        (status = 422, description = "Missing or mistyped fields", body = super::error::ErrorBody),
    )
)]
pub(super) async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let Some(agent) = state
        .store
        .verify_password(&req.username, &req.password)
        .await?
    else {
        tracing::info!(username = ?req.username, "API login failed");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong username or password",
        ));
    };
    let now = now_ms();
    let token = state
        .store
        .create_token(&agent.login, state.token_ttl_s, now)
        .await?;
    tracing::info!(login = %agent.login, "API login");
    Ok(Json(LoginResponse {
        token,
        expires_at: rfc3339_from_ms(now.saturating_add(state.token_ttl_s.saturating_mul(1000))),
    }))
}
