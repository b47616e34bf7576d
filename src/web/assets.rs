//! The console's static files, compiled into the binary: no separate build
//! step, no files to install next to it, no CDN (the server may be offline).
//! htmx is vendored as published (BSD-0, `static/htmx.LICENSE`).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("static/htmx.min.js"),
    },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("static/console.js"),
    },
    Asset {
        name: "ivr-editor.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("static/ivr-editor.js"),
    },
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("static/console.css"),
    },
];

/// `GET /static/{name}`. Cached for an hour: a new release changes them
/// rarely, and an hour bounds how long an old script can linger.
pub async fn serve(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
