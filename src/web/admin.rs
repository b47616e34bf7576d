//! The admin view (`/admin`, admins only; the head and managers get 403):
//! users and agents, queues and their members, working hours and holidays,
//! as three sections of one page, plus an edit page and a delete
//! confirmation per agent.
//!
//! Every change goes through the JSON API's own handlers
//! (`crate::api::agents`, `crate::api::calendar`) with the signed-in user,
//! so the console has the API's access rules, validation, SIP and routing
//! side effects and audit, and cannot drift from them. A form that fails
//! validation is shown again with the API's status (422, 409) and each
//! message next to its field; a good one redirects (303) back to the page.
//!
//! One module per section: [`agents`], [`queues`], [`hours`]; this one
//! loads what they show and assembles the page.

mod agents;
mod hours;
mod queues;

use super::error::WebError;
use super::i18n::Lang;
use super::layout::page;
use super::session::Ctx;
use crate::api::agents::{AgentView, ListParams};
use crate::api::calendar::CalendarView;
use crate::api::{ApiError, AppState};
use crate::config::QueueSettings;
use crate::role::AccessLevel;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The admin view's routes; merged into the console's router (behind its
/// CSRF check).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(show))
        .route("/admin/agents", axum::routing::post(agents::create))
        .route(
            "/admin/agents/{login}",
            get(agents::edit_page).post(agents::update),
        )
        .route(
            "/admin/agents/{login}/delete",
            get(agents::delete_page).post(agents::delete),
        )
        .route(
            "/admin/queues/{queue}/members",
            axum::routing::post(queues::add_member),
        )
        .route(
            "/admin/queues/{queue}/members/{login}/remove",
            axum::routing::post(queues::remove_member),
        )
        .route("/admin/hours", axum::routing::post(hours::save))
}

/// 403 unless the signed-in user is an admin (ARCHITECTURE §6: the head
/// may do everything but manage users).
fn require_admin(ctx: &Ctx) -> Result<(), WebError> {
    Ok(ctx.user.require(AccessLevel::Admin)?)
}

/// Field → message, as the API's 422 names them.
pub(super) type FieldErrors = BTreeMap<String, String>;

/// The message for `field`, shown under its input.
fn field_error(errors: &FieldErrors, field: &str) -> Markup {
    html! {
        @if let Some(message) = errors.get(field) {
            p.error.field-error id=(format!("error-{}", html_id(field))) { (message) }
        }
    }
}

/// `field` as an HTML id: `hours.mon` → `hours-mon`.
fn html_id(field: &str) -> String {
    field
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// A urlencoded form as its pairs, in order: repeated keys (checked
/// queues) and keys named after data (`skill.general`) need no fixed
/// struct, and nothing the browser sends can fail to deserialize.
pub(super) struct FormPairs(Vec<(String, String)>);

impl FormPairs {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, trimmed; empty when absent.
    fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl From<Vec<(String, String)>> for FormPairs {
    fn from(pairs: Vec<(String, String)>) -> Self {
        FormPairs(pairs)
    }
}

/// Turns a refusal of the API into what a form shows: field messages
/// (422), or the message under `fallback_field` (409 and the like).
/// Other failures (403, 404, 5xx) are error pages.
fn form_errors(e: ApiError, fallback_field: &str) -> Result<(StatusCode, FieldErrors), WebError> {
    if e.status == StatusCode::UNPROCESSABLE_ENTITY && !e.fields.is_empty() {
        return Ok((e.status, e.fields));
    }
    if e.status == StatusCode::UNPROCESSABLE_ENTITY || e.status == StatusCode::CONFLICT {
        return Ok((
            e.status,
            BTreeMap::from([(fallback_field.to_string(), e.message)]),
        ));
    }
    Err(WebError(e))
}

/// Every agent, through the API's list (all pages).
async fn all_agents(state: &AppState, ctx: &Ctx) -> Result<Vec<AgentView>, WebError> {
    let mut agents = Vec::new();
    let mut cursor = None;
    loop {
        let params = ListParams {
            limit: Some("1000".to_string()),
            cursor: cursor.take(),
        };
        let page = crate::api::agents::list(
            State(state.clone()),
            ctx.user.clone(),
            Ok::<_, QueryRejection>(Query(params)),
        )
        .await?
        .0;
        agents.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(agents),
        }
    }
}

/// The configured queues (read-only while the server runs).
fn queue_settings(state: &AppState) -> &[QueueSettings] {
    state.routing.as_ref().map_or(&[], |r| &r.queues)
}

/// What the sections show, loaded once per page.
struct AdminData {
    agents: Vec<AgentView>,
    calendar: CalendarView,
    /// Now (Unix ms), and whether the institute is open by the calendar
    /// in force.
    now: (i64, bool),
}

fn institute_now(state: &AppState) -> (i64, bool) {
    let now_ms = crate::api::now_ms();
    let calendar = state.calendar.get();
    let local = calendar.local_time(now_ms.div_euclid(1000));
    (now_ms, calendar.is_open(&local))
}

async fn load(state: &AppState, ctx: &Ctx) -> Result<AdminData, WebError> {
    Ok(AdminData {
        agents: all_agents(state, ctx).await?,
        calendar: crate::api::calendar::get(State(state.clone()), ctx.user.clone())
            .await?
            .0,
        now: institute_now(state),
    })
}

/// Forms shown again with what was typed and what is wrong with it.
#[derive(Default)]
struct Retry {
    create: agents::CreateForm,
    /// A queue's add-member form: the queue and its errors.
    queue: Option<(String, FieldErrors)>,
    hours: Option<hours::HoursForm>,
}

/// The confirmation after a successful change (Post/Redirect/Get).
#[derive(Debug, Default, Deserialize)]
struct Done {
    created: Option<String>,
    updated: Option<String>,
    deleted: Option<String>,
    queue: Option<String>,
    hours: Option<String>,
}

fn notice(lang: Lang, done: &Done) -> Option<String> {
    if let Some(login) = &done.created {
        return Some(format!(
            "{} {login}",
            lang.t("Создан пользователь", "Created user")
        ));
    }
    if let Some(login) = &done.updated {
        return Some(format!(
            "{} {login}",
            lang.t("Сохранён пользователь", "Saved user")
        ));
    }
    if let Some(login) = &done.deleted {
        return Some(format!(
            "{} {login}",
            lang.t("Удалён пользователь", "Deleted user")
        ));
    }
    if let Some(queue) = &done.queue {
        return Some(format!(
            "{} {queue}",
            lang.t("Изменён состав очереди", "Changed the members of queue")
        ));
    }
    done.hours.as_ref().map(|_| {
        lang.t(
            "Рабочее время сохранено; новые звонки уже идут по нему",
            "Working hours saved; new calls already follow them",
        )
        .to_string()
    })
}

fn render(ctx: &Ctx, state: &AppState, data: &AdminData, retry: &Retry, done: &Done) -> Markup {
    let lang = ctx.lang;
    let queues = queue_settings(state);
    let hours_form = retry
        .hours
        .clone()
        .unwrap_or_else(|| hours::HoursForm::of(&data.calendar));
    let body = html! {
        h1 { (lang.t("Администрирование", "Administration")) }
        nav.admin-sections {
            a href="#agents" { (lang.t("Пользователи и операторы", "Users and agents")) }
            a href="#queues" { (lang.t("Очереди", "Queues")) }
            a href="#hours" { (lang.t("Рабочее время и праздники", "Working hours and holidays")) }
        }
        @if let Some(text) = notice(lang, done) { p.notice id="admin-notice" role="status" { (text) } }
        (agents::section(ctx, &data.agents, queues, &retry.create))
        (queues::section(ctx, queues, &data.agents, retry.queue.as_ref()))
        (hours::section(ctx, &data.calendar, &hours_form, &data.now))
    };
    page(
        ctx,
        "/admin",
        lang.t("Администрирование", "Administration"),
        body,
    )
}

/// `GET /admin`
async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    done: Result<Query<Done>, QueryRejection>,
) -> Result<Markup, WebError> {
    require_admin(&ctx)?;
    let done = done.map(|Query(d)| d).unwrap_or_default();
    let data = load(&state, &ctx).await?;
    Ok(render(&ctx, &state, &data, &Retry::default(), &done))
}

/// The page again with `retry`'s forms, answered with `status`.
async fn show_again(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    retry: Retry,
) -> Result<Response, WebError> {
    let data = load(state, ctx).await?;
    Ok((status, render(ctx, state, &data, &retry, &Done::default())).into_response())
}

/// Back to the page after a change, with its confirmation.
fn back_to_admin(query: &str, anchor: &str) -> Response {
    Redirect::to(&format!("/admin?{query}#{anchor}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_pairs_keep_repeated_keys_and_trim_text() {
        let form = FormPairs::from(vec![
            ("queue".to_string(), "general".to_string()),
            ("name".to_string(), "  Anna ".to_string()),
            ("queue".to_string(), "admission".to_string()),
        ]);
        assert_eq!(
            form.all("queue").collect::<Vec<_>>(),
            ["general", "admission"]
        );
        assert_eq!(form.text("name"), "Anna");
        assert_eq!(form.text("missing"), "");
        assert_eq!(html_id("holidays[2]"), "holidays-2-");
    }

    #[test]
    fn a_conflict_is_shown_at_the_form_and_a_403_is_a_page() {
        let (status, fields) =
            form_errors(ApiError::conflict("login_taken", "taken"), "login").unwrap();
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(fields["login"], "taken");
        assert!(form_errors(ApiError::forbidden(), "login").is_err());
    }
}
