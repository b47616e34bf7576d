//! Errors on console pages: the API's error (status and message) shown as
//! a small HTML page instead of JSON, so a 403 or 404 in the browser reads
//! as one.

use crate::api::ApiError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

#[derive(Debug)]
pub struct WebError(pub ApiError);

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        WebError(e)
    }
}

impl From<crate::store::StoreError> for WebError {
    fn from(e: crate::store::StoreError) -> Self {
        WebError(e.into())
    }
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        self.0.status
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        let fields: Vec<_> = self.0.fields.iter().collect();
        let body = html! {
            (maud::DOCTYPE)
            html {
                head {
                    meta charset="utf-8";
                    title { (status.as_u16()) " · hotline" }
                    link rel="stylesheet" href="/static/console.css";
                }
                body.bare {
                    main {
                        div.error-page {
                            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                            @if let Some((ru, en)) = explain(status) {
                                p.error-explained { (ru) br; span.muted { (en) } }
                            }
                            p.error-message { (self.0.message) }
                            @if !fields.is_empty() {
                                ul { @for (field, message) in fields { li { b { (field) } ": " (message) } } }
                            }
                            p { a href="/" { "← hotline" } }
                        }
                    }
                }
            }
        };
        (status, body).into_response()
    }
}

/// What the status means to a console user, in both languages: the error
/// page does not know the user's language (it may have no session at all).
fn explain(status: StatusCode) -> Option<(&'static str, &'static str)> {
    Some(match status {
        StatusCode::FORBIDDEN => (
            "Нет доступа: ваша роль не позволяет открыть эту страницу или запись.",
            "Access denied: your role does not allow this page or record.",
        ),
        StatusCode::NOT_FOUND => (
            "Не найдено: такой страницы или записи нет.",
            "Not found: no such page or record.",
        ),
        StatusCode::CONFLICT => (
            "Конфликт: запись изменилась или уже существует.",
            "Conflict: the record changed or already exists.",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "Сервис временно недоступен.",
            "The service is temporarily unavailable.",
        ),
        _ => return None,
    })
}
