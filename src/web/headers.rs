//! Response headers every console page gets: pages show client data, so
//! they must not be framed by another site (clickjacking), sniffed into
//! another type, leak their URL (which may carry a search for a phone
//! number) to other sites, or stay in a shared computer's cache after
//! logout. The embedded assets are the exception to `no-store`.
//!
//! The Content-Security-Policy allows scripts from this server only: no
//! inline `<script>` or `on…=` handler runs, so a caller's name or an
//! e-mail subject that slipped past escaping still could not execute.
//! `'unsafe-eval'` stays because htmx evaluates its event filters
//! (`hx-trigger="hotline-event[detail.kind=='agent.state']"`) with
//! `Function`; injected markup cannot use that without an inline script.
//! Inline styles are allowed (htmx adds its indicator style).

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'unsafe-eval'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; media-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

pub async fn secure(request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
