//! "My state": the operator's routing state with the time in it, the
//! wrap-up countdown, and one click to become available or take a pause.
//!
//! The click goes through the API's own handler (`PATCH
//! /api/v1/agents/{login}/state`), so the console and the softphone's
//! `*50`/`*51` change state by the same rules, with the same audit row.

use crate::api::routing::{ChosenState, SetStateBody};
use crate::api::{ApiError, ApiJson, AppState};
use crate::store::InquiryFilter;
use crate::web::error::WebError;
use crate::web::layout::csrf_field;
use crate::web::present::{agent_state_badge, clock};
use crate::web::session::Ctx;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

/// The operator's state as routing sees it now.
struct MyState {
    state: &'static str,
    in_state_ms: u64,
    pause_pending: bool,
    registered: bool,
    /// Left of the wrap-up, when in wrap-up and its length is known.
    wrap_up_left_ms: Option<u64>,
}

/// `None` when routing is not running or the user is not a routing agent.
async fn my_state(app: &AppState, login: &str) -> Option<MyState> {
    let routing = app.routing.as_ref()?;
    let snapshot = routing.routing.snapshot().await;
    let me = snapshot.agents.into_iter().find(|a| a.login == login)?;
    let state = me.state.as_str();
    let wrap_up_left_ms = if state == "wrap_up" {
        wrap_up_length(app, login)
            .await
            .map(|total| total.saturating_sub(me.in_state_ms))
    } else {
        None
    };
    Some(MyState {
        state,
        in_state_ms: me.in_state_ms,
        pause_pending: me.pause_pending,
        registered: me.registered,
        wrap_up_left_ms,
    })
}

/// The wrap-up time of the queue the operator's last call ended in (the
/// engine applies that queue's setting). Only the queue name is read, to
/// look the setting up; nothing of the inquiry is shown.
async fn wrap_up_length(app: &AppState, login: &str) -> Option<u64> {
    let routing = app.routing.as_ref()?;
    let filter = InquiryFilter {
        agent: Some(login.to_string()),
        channel: Some(crate::store::Channel::Phone),
        ..InquiryFilter::default()
    };
    let (last, _) = app
        .store
        .list_inquiries(&filter, 1, None)
        .await
        .map_err(|e| tracing::warn!(error = %e, "wrap-up: cannot read the last call"))
        .ok()?;
    let queue = last.into_iter().next()?.queue?;
    let length = routing.routing.wrap_up_of(&queue)?;
    u64::try_from(length.as_millis()).ok()
}

/// The card, refreshed by itself when an `agent.state` event arrives (the
/// stream only carries this operator's own).
pub(crate) async fn card(app: &AppState, ctx: &Ctx, error: Option<&str>) -> Markup {
    let lang = ctx.lang;
    let me = my_state(app, ctx.login()).await;
    html! {
        div.card #my-state
            hx-get="/operator/state"
            hx-trigger="hotline-event[detail.kind=='agent.state'] from:body delay:150ms, every 30s"
            hx-swap="outerHTML" {
            h2 { (lang.t("Моё состояние", "My state")) }
            @match &me {
                None => p.muted { (lang.t("Вы не оператор маршрутизации: звонки вам не распределяются.",
                                          "You are not a routing agent: no calls are routed to you.")) }
                Some(me) => {
                    p.my-state-line {
                        (agent_state_badge(lang, me.state, Some("my-state-badge")))
                        " "
                        span.muted title=(lang.t("Время в состоянии", "Time in state")) data-elapsed-ms=(me.in_state_ms) {
                            (clock(i64::try_from(me.in_state_ms).unwrap_or(i64::MAX)))
                        }
                    }
                    @if let Some(left) = me.wrap_up_left_ms {
                        p #wrap-up-left {
                            (lang.t("До конца постобработки: ", "Wrap-up ends in "))
                            b data-remaining-ms=(left) { (clock(i64::try_from(left).unwrap_or(i64::MAX))) }
                        }
                    }
                    @if me.pause_pending {
                        p.notice #pause-pending { (lang.t("Пауза начнётся после звонка.", "The pause starts when the call ends.")) }
                    }
                    @if !me.registered {
                        p.muted { (lang.t("Телефон не зарегистрирован: зарегистрируйте софтфон, чтобы принимать звонки.",
                                          "No phone registered: register your softphone to take calls.")) }
                    }
                    @if let Some(error) = error { p.error #state-error role="alert" { (error) } }
                    div.state-buttons {
                        (state_button(ctx, "available", lang.t("Готов", "Available"), me.state == "available"))
                        (state_button(ctx, "paused", lang.t("Пауза", "Pause"), me.state == "paused"))
                    }
                }
            }
        }
    }
}

/// One state button: a plain form (works without scripts) that htmx posts
/// in place, replacing the card with the answer.
fn state_button(ctx: &Ctx, value: &str, label: &str, current: bool) -> Markup {
    html! {
        form.inline method="post" action="/operator/state"
            hx-post="/operator/state" hx-target="#my-state" hx-swap="outerHTML" {
            (csrf_field(ctx))
            input type="hidden" name="state" value=(value);
            button type="submit" id={ "state-" (value) } class=[(!current).then_some("secondary")] {
                (label)
            }
        }
    }
}

/// `GET /operator/state`: the card alone, for htmx.
pub async fn state_card(State(app): State<AppState>, ctx: Ctx) -> Markup {
    card(&app, &ctx, None).await
}

#[derive(Deserialize)]
pub struct StateForm {
    #[serde(default)]
    state: String,
}

/// `POST /operator/state`: the API's state change as the signed-in user.
/// htmx gets the card back (with the refusal in it, if any); a plain form
/// post is redirected to the page, or shown the error page.
pub async fn set_state(
    State(app): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(form): Form<StateForm>,
) -> Response {
    let lang = ctx.lang;
    let chosen = match form.state.as_str() {
        "available" => Ok(ChosenState::Available),
        "paused" => Ok(ChosenState::Paused),
        other => Err(ApiError::validation(
            [(
                "state".to_string(),
                format!("unknown state {other:?} (available or paused)"),
            )]
            .into(),
        )),
    };
    let result = match chosen {
        Ok(state) => crate::api::routing::set_state(
            State(app.clone()),
            ctx.user.clone(),
            Path(ctx.login().to_string()),
            ApiJson(SetStateBody { state }),
        )
        .await
        .map(|_| ()),
        Err(e) => Err(e),
    };
    let htmx = headers.contains_key("hx-request");
    match result {
        Ok(()) if htmx => card(&app, &ctx, None).await.into_response(),
        Ok(()) => Redirect::to("/operator").into_response(),
        Err(e) if htmx => {
            let message = match e.code {
                "agent_offline" => lang
                    .t(
                        "Телефон не зарегистрирован: сначала зарегистрируйте софтфон.",
                        "No phone registered: register your softphone first.",
                    )
                    .to_string(),
                _ if e.status == StatusCode::FORBIDDEN => {
                    lang.t("Нет доступа.", "Forbidden.").to_string()
                }
                _ => e.message.clone(),
            };
            card(&app, &ctx, Some(&message)).await.into_response()
        }
        Err(e) => WebError(e).into_response(),
    }
}
