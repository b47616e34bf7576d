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
                            p.error-message { (self.0.message) }
                            @if !fields.is_empty() {
                                ul { @for (field, message) in fields { li { b { (field) } ": " (message) } } }
                            }
                            p { a href="/" { "hotline" } }
                        }
                    }
                }
            }
        };
        (status, body).into_response()
    }
}
