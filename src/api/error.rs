//! The one error shape of the API, `{"error": {"code", "message", "fields"}}`,
//! and the JSON extractor that makes axum's own rejections use it too.

use crate::store::{FieldError, StoreError};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// An error answer. `code` is stable and machine-readable; `message` is for
/// people; `fields` maps request fields to what is wrong with them.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: BTreeMap<String, String>,
    /// Positioned problems in a submitted text (an IVR script); empty,
    /// and left out of the body, for every other error.
    pub diagnostics: Vec<TextDiagnostic>,
    /// RFC 6750 challenge sent with 401.
    www_authenticate: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: BTreeMap::new(),
            diagnostics: Vec::new(),
            www_authenticate: None,
        }
    }

    /// No credentials at all.
    pub fn unauthenticated() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "a bearer token is required (POST /api/v1/auth/login)",
        );
        e.www_authenticate = Some(r#"Bearer realm="hotline""#);
        e
    }

    /// A token that is unknown, malformed or expired.
    pub fn invalid_token() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the bearer token is invalid or expired",
        );
        e.www_authenticate = Some(r#"Bearer realm="hotline", error="invalid_token""#);
        e
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "your role does not allow this",
        )
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 422 with one message per field; empty `fields` is a programming error
    /// upstream, but still answers sensibly.
    pub fn validation(fields: BTreeMap<String, String>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "some fields are invalid",
        );
        e.fields = fields;
        e
    }

    /// 422 for a text that does not validate (an IVR script): every
    /// problem at its line and column, and `fields[field]` naming the
    /// first, for clients that only read `fields`.
    pub fn invalid_text(field: &str, diagnostics: Vec<TextDiagnostic>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("the {field} has {} problem(s)", diagnostics.len()),
        );
        if let Some(first) = diagnostics.first() {
            e.fields.insert(field.to_owned(), first.to_string());
        }
        e.diagnostics = diagnostics;
        e
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error, see the server log",
        )
    }
}

/// The body of every error answer, as sent and as documented in the
/// OpenAPI document (one type serves both, so they cannot drift apart).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: see [`ApiError`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `unauthenticated`, `invalid_token`,
    /// `forbidden`, `not_found`, `validation_failed`, ...
    #[schema(example = "validation_failed")]
    pub code: String,
    /// For people.
    pub message: String,
    /// Request field → what is wrong with it (empty unless validation failed).
    pub fields: BTreeMap<String, String>,
    /// Only when a submitted text (an IVR script) does not validate: each
    /// problem at its 1-based line and column (columns count characters).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub diagnostics: Vec<TextDiagnostic>,
}

/// One problem in a submitted text, where an editor can put the cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TextDiagnostic {
    #[schema(example = 42)]
    pub line: u32,
    #[schema(example = 7)]
    pub col: u32,
    #[schema(example = "unknown node `aplicants`")]
    pub message: String,
}

impl std::fmt::Display for TextDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

impl From<crate::ivr::Diagnostic> for TextDiagnostic {
    fn from(d: crate::ivr::Diagnostic) -> Self {
        TextDiagnostic {
            line: d.line,
            col: d.col,
            message: d.message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                fields: self.fields,
                diagnostics: self.diagnostics,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(challenge) = self.www_authenticate {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("not found"),
            StoreError::Conflict(message) => ApiError::conflict("conflict", message),
            StoreError::Invalid { field, message } => {
                ApiError::validation(BTreeMap::from([(field.to_string(), message)]))
            }
            other => {
                tracing::error!(error = %other, "store failure while serving the API");
                ApiError::internal()
            }
        }
    }
}

impl From<Vec<FieldError>> for ApiError {
    fn from(errors: Vec<FieldError>) -> Self {
        let mut fields = BTreeMap::new();
        for e in errors {
            // The first problem of a field is the one to fix first.
            fields.entry(e.field.to_string()).or_insert(e.message);
        }
        ApiError::validation(fields)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            // Well-formed JSON of the wrong shape is a validation problem.
            JsonRejection::JsonDataError(e) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                e.body_text(),
            ),
            JsonRejection::MissingJsonContentType(e) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                e.body_text(),
            ),
            other => Self::new(StatusCode::BAD_REQUEST, "malformed_json", other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_query", r.body_text())
    }
}

/// `axum::Json` whose rejections are [`ApiError`]s.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(value))
    }
}
