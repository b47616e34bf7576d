//! Sign in and out of the console. The form posts to `/login`; a good
//! password sets the session cookie (see [`super::session`]) and returns
//! the user where they were going.

use super::i18n::{LANG_COOKIE, Lang};
use super::layout::bare_page;
use super::session::{Ctx, SESSION_COOKIE, cleared_session_cookie, cookie, session_cookie};
use crate::api::{AppState, LoginRefused, sign_in, sign_out};
use crate::role::AccessLevel;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// Only paths on this server: `next` comes from the URL, and an open
/// redirect after login would make a convincing phishing link.
fn safe_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
}

/// Where a user lands after signing in: the live board for the head and
/// the admin, the operator's desk for everyone else.
pub fn home_for(access: AccessLevel) -> &'static str {
    if access >= AccessLevel::Head {
        "/board"
    } else {
        "/operator"
    }
}

fn form(lang: Lang, next: Option<&str>, error: Option<&str>, username: &str) -> Markup {
    bare_page(
        lang,
        lang.t("Вход", "Sign in"),
        html! {
            form.login method="post" action="/login" {
                h1 { (lang.t("Вход в hotline", "Sign in to hotline")) }
                @if let Some(error) = error { p.error id="login-error" role="alert" { (error) } }
                label { (lang.t("Логин", "Login")) input type="text" name="username" id="username" value=(username) autocomplete="username" required autofocus; }
                label { (lang.t("Пароль", "Password")) input type="password" name="password" id="password" autocomplete="current-password" required; }
                @if let Some(next) = next { input type="hidden" name="next" value=(next); }
                button type="submit" id="sign-in" { (lang.t("Войти", "Sign in")) }
            }
        },
    )
}

/// `GET /login`
pub async fn show(headers: HeaderMap, Query(params): Query<NextParam>) -> Markup {
    form(
        Lang::from_headers(&headers),
        safe_next(params.next.as_deref()),
        None,
        "",
    )
}

/// `POST /login`
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(req): Form<LoginForm>,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let next = safe_next(req.next.as_deref());
    match sign_in(&state, &req.username, &req.password, "console").await {
        Ok(session) => {
            let target = next.unwrap_or(home_for(session.agent.role.access()));
            (
                [(
                    header::SET_COOKIE,
                    session_cookie(&session.token, state.token_ttl_s),
                )],
                Redirect::to(target),
            )
                .into_response()
        }
        Err(LoginRefused::Locked { retry_after_s }) => {
            let message = format!(
                "{} {retry_after_s} s",
                lang.t(
                    "Слишком много неудачных попыток. Повторите через",
                    "Too many failed attempts. Try again in"
                )
            );
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after_s.to_string())],
                form(lang, next, Some(&message), &req.username),
            )
                .into_response()
        }
        Err(LoginRefused::Api(e)) if e.status == StatusCode::UNAUTHORIZED => (
            StatusCode::UNAUTHORIZED,
            form(
                lang,
                next,
                Some(lang.t("Неверный логин или пароль", "Wrong login or password")),
                &req.username,
            ),
        )
            .into_response(),
        Err(LoginRefused::Api(e)) => super::error::WebError(e).into_response(),
    }
}

/// `POST /logout`: revokes the token and clears the cookie.
pub async fn logout(State(state): State<AppState>, ctx: Ctx) -> Response {
    if let Err(e) = sign_out(&state, &ctx.token).await {
        tracing::warn!(error = %e.message, "console logout");
    }
    (
        [(header::SET_COOKIE, cleared_session_cookie())],
        Redirect::to("/login"),
    )
        .into_response()
}

/// `GET /lang/{code}`: remembers the language and goes back to the page.
pub async fn set_lang(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let lang = Lang::from_code(&code).unwrap_or_default();
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()))
        .filter(|p| safe_next(Some(p)).is_some())
        .unwrap_or_else(|| "/".to_owned());
    (
        [(
            header::SET_COOKIE,
            format!(
                "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
                lang.code()
            ),
        )],
        Redirect::to(&back),
    )
        .into_response()
}

/// `GET /`: the user's home page, or the login form.
pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = cookie(&headers, SESSION_COOKIE).unwrap_or("");
    match crate::api::CurrentUser::from_token(&state, token).await {
        Ok(user) => Redirect::to(home_for(user.access())).into_response(),
        Err(_) => Redirect::to("/login").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next(Some("/board")), Some("/board"));
        assert_eq!(safe_next(Some("//evil.example/")), None);
        assert_eq!(safe_next(Some("https://evil.example/")), None);
        assert_eq!(safe_next(Some("/\\evil.example")), None);
        assert_eq!(safe_next(None), None);
    }
}
