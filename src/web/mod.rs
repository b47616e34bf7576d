//! The web console (issue 7): server-rendered pages for operators, the
//! head and the admin, served by `hotline serve` at `/`.
//!
//! **Why server-rendered.** Pages are HTML built with `maud` from the same
//! store and API functions the JSON API uses, so access checks, audit and
//! events are the API's own and the console cannot drift from them. Live
//! parts (the board, the screen pop) are fragments re-fetched by htmx when
//! the event stream (`/live`, SSE) says something changed. Everything is
//! compiled into the binary ([`assets`]): no build step, no CDN.
//!
//! Module per concern: [`session`] (cookie, CSRF), [`i18n`] (ru/en),
//! [`layout`] (the page frame), [`present`] (how stored values read: labels,
//! phone numbers, local times), [`login`], [`live`] (SSE), then one module
//! per view.

pub mod admin;
pub mod assets;
pub mod board;
pub mod chart;
pub mod clients;
pub mod error;
pub mod headers;
pub mod i18n;
pub mod inquiries;
pub mod inquiry;
pub mod ivr;
pub mod layout;
pub mod live;
pub mod login;
pub mod operator;
pub mod present;
pub mod reports;
pub mod session;
pub mod visit;

use crate::api::AppState;
use axum::Router;
use axum::routing::{get, post};

/// The console's routes, merged into the server's router next to
/// `/api/v1`. Every non-GET route is behind the CSRF check.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(login::home))
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/lang/{code}", get(login::set_lang))
        .route("/live", get(live::stream))
        .route("/static/{name}", get(assets::serve))
        .route("/inquiries", get(inquiries::search))
        .route("/clients", get(clients::search))
        .route(
            "/clients/{id}",
            get(clients::card::show).post(clients::card::save),
        )
        .route("/board", get(board::show))
        .route("/board/fragment", get(board::fragment))
        .route("/reports", get(reports::show))
        .route("/reports/summary.csv", get(reports::summary_csv))
        .route("/reports/agents.csv", get(reports::agents_csv))
        .route("/operator", get(operator::page))
        .route(
            "/operator/state",
            get(operator::state_card).post(operator::set_state),
        )
        .route("/operator/pop", get(operator::pop))
        .route("/operator/inquiries", get(operator::my_inquiries))
        .route("/inquiries/{id}", get(inquiry::show).post(inquiry::save))
        .route("/inquiries/{id}/transfer", post(inquiry::transfer))
        .route("/inquiries/{id}/recording", get(inquiry::recording))
        .route("/visits/new", get(visit::show).post(visit::submit))
        .route("/ivr", get(ivr::index))
        .route("/ivr/{name}", get(ivr::editor).post(ivr::save))
        .route("/ivr/{name}/simulate", post(ivr::simulate))
        .route("/ivr/{name}/versions/{version}", get(ivr::version))
        .route("/ivr/{name}/versions/{version}/restore", post(ivr::restore))
        .merge(admin::routes())
        .layer(axum::middleware::from_fn_with_state(
            state,
            session::require_csrf,
        ))
        .layer(axum::middleware::from_fn(headers::secure))
}
