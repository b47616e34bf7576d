//! Console sessions: the API's own bearer token, kept in an HttpOnly
//! cookie, and the CSRF token that every state-changing request must carry.
//!
//! **Why the API token.** A console login is an API login (same users,
//! roles, lockout, audit and expiry); storing that token in the cookie
//! means one revocation list, and `logout` in the console revokes it for
//! both. The cookie is `HttpOnly` (page scripts cannot read it) and
//! `SameSite=Strict` (other sites' pages cannot send it).
//!
//! **CSRF.** SameSite already stops cross-site form posts in current
//! browsers; the token is the second, browser-independent lock. It is
//! derived from the session token (SHA-256 with a domain prefix), so it
//! needs no storage, changes with every login, and cannot be computed by
//! anyone who cannot read the HttpOnly cookie. Forms carry it as `_csrf`;
//! htmx requests as the `X-CSRF-Token` header (set once on `<body>`).
//! [`require_csrf`] checks it for every non-GET request to the console, so
//! a new form cannot forget it.

use super::i18n::Lang;
use super::present::Zone;
use crate::api::{AppState, CurrentUser};
use crate::channels::secrets_match;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

/// The cookie holding the session (API) token.
pub const SESSION_COOKIE: &str = "hotline_session";

/// The form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";

/// The header that carries the CSRF token on script (htmx) requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Largest form body the CSRF check reads; console forms are small (an
/// IVR script is the largest, well under this).
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// The CSRF token that belongs to a session token.
pub fn csrf_token(session_token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"hotline console csrf\0");
    hasher.update(session_token.as_bytes());
    hex::encode(&hasher.finalize()[..16])
}

/// `Set-Cookie` for a new session.
pub fn session_cookie(token: &str, max_age_s: i64) -> String {
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}")
}

/// `Set-Cookie` that removes the session.
pub fn cleared_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Everything a console page needs about its request: who is signed in,
/// their CSRF token, the language and the institute's time zone (read
/// from the calendar in force at the request). Extracting it is the access check:
/// without a valid session a page redirects to the login form.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub user: CurrentUser,
    pub token: String,
    pub csrf: String,
    pub lang: Lang,
    pub zone: Zone,
}

impl Ctx {
    pub fn login(&self) -> &str {
        &self.user.0.login
    }
}

/// Why a console request has no session: a page redirects to the login
/// form (and comes back afterwards); an htmx fragment tells htmx to do so.
#[derive(Debug)]
pub struct NoSession {
    return_to: String,
    htmx: bool,
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        let target = format!("/login?next={}", encode_query_value(&self.return_to));
        if self.htmx {
            let mut response = StatusCode::UNAUTHORIZED.into_response();
            if let Ok(value) = HeaderValue::from_str(&target) {
                response.headers_mut().insert("hx-redirect", value);
            }
            response
        } else {
            Redirect::to(&target).into_response()
        }
    }
}

/// Percent-encodes a query value (the return path after login).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, NoSession> {
        let lang = Lang::from_headers(&parts.headers);
        let no_session = || NoSession {
            return_to: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
            htmx: parts.headers.contains_key("hx-request"),
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            return Err(no_session());
        };
        match CurrentUser::from_token(state, token).await {
            Ok(user) => Ok(Ctx {
                user,
                csrf: csrf_token(token),
                token: token.to_owned(),
                lang,
                zone: Zone::of(state),
            }),
            Err(_) => Err(no_session()),
        }
    }
}

/// Middleware: refuses (403) every non-GET console request whose CSRF token
/// is missing or is not the session's. The login form has no session yet;
/// it is checked by origin instead (a foreign `Origin` is refused), which
/// stops a site from signing a victim into an attacker's account.
pub async fn require_csrf(
    State(_state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    if request.uri().path() == "/login" {
        return if same_origin(request.headers()) {
            next.run(request).await
        } else {
            forbidden("cross-origin login refused")
        };
    }
    let expected = cookie(request.headers(), SESSION_COOKIE).map(csrf_token);
    let Some(expected) = expected else {
        return forbidden("no session: sign in again");
    };
    if let Some(sent) = request.headers().get(CSRF_HEADER) {
        return if secrets_match(&expected, sent.to_str().unwrap_or_default()) {
            next.run(request).await
        } else {
            forbidden("CSRF token does not match")
        };
    }
    let (parts, body) = request.into_parts();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return forbidden("CSRF token missing");
    }
    let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
    };
    let sent = form_urlencoded_value(&bytes, CSRF_FIELD);
    if !sent.is_some_and(|sent| secrets_match(&expected, &sent)) {
        return forbidden("CSRF token missing or does not match");
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The value of `name` in an `application/x-www-form-urlencoded` body.
/// The CSRF token is hex, so it needs no decoding beyond the field split.
fn form_urlencoded_value(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// True unless the request names an `Origin` other than its own host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    host.is_some_and(|host| host == origin_host)
}

fn forbidden(why: &'static str) -> Response {
    tracing::info!(why, "console request refused");
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("403 Forbidden: {why}\n"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_token_is_stable_per_session_and_differs_between_sessions() {
        assert_eq!(csrf_token("abc"), csrf_token("abc"));
        assert_ne!(csrf_token("abc"), csrf_token("abd"));
        assert_eq!(csrf_token("abc").len(), 32);
    }

    #[test]
    fn reads_cookies_and_form_fields() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("x=1; hotline_session=tok; y=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, "z"), None);
        assert_eq!(
            form_urlencoded_value(b"a=1&_csrf=ff00&b=2", CSRF_FIELD).as_deref(),
            Some("ff00")
        );
        assert_eq!(form_urlencoded_value(b"a=1", CSRF_FIELD), None);
    }

    #[test]
    fn origin_must_match_host_when_given() {
        let mut headers = HeaderMap::new();
        assert!(same_origin(&headers));
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&headers));
    }

    #[test]
    fn return_path_is_percent_encoded() {
        assert_eq!(encode_query_value("/board?x=1&y"), "/board%3Fx%3D1%26y");
    }
}
