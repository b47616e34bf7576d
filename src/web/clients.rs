//! `GET /clients`: find a client by name, phone number (in any written
//! form: the API normalises it) or e-mail, through the API's own client
//! search — a manager finds only their clients, and every result shown is
//! an audited read. Each result opens the client card ([`card`]).

pub mod card;

use super::error::WebError;
use super::inquiries::{Staff, query_url};
use super::layout::page;
use super::present::{self, phone};
use super::session::{Ctx, encode_query_value};
use crate::api::AppState;
use crate::api::clients::SearchParams;
use crate::role::AccessLevel;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

/// The search box's value and the page, read back to fill the form in.
#[derive(Deserialize, Default)]
pub struct SearchForm {
    q: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /clients`
pub(crate) async fn search(
    State(state): State<AppState>,
    ctx: Ctx,
    form: Result<Query<SearchForm>, QueryRejection>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, WebError> {
    let form = form.map(|Query(f)| f).unwrap_or_default();
    let lang = ctx.lang;
    let (status, found, error) =
        match crate::api::clients::search(State(state.clone()), ctx.user.clone(), params).await {
            Ok(Json(found)) => (StatusCode::OK, Some(found), None),
            // Only `limit` can be wrong, and only in a hand-written URL.
            Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => (
                e.status,
                None,
                Some(lang.t(
                    "Размер страницы — число от 1 до 200.",
                    "The page size must be a number from 1 to 200.",
                )),
            ),
            Err(e) => return Err(e.into()),
        };
    let staff = Staff::load(&state).await?;
    let q = form.q.clone().unwrap_or_default();
    let mut keep: Vec<(&str, &str)> = Vec::new();
    if !q.is_empty() {
        keep.push(("q", &q));
    }
    if let Some(limit) = form.limit.as_deref().filter(|l| !l.is_empty()) {
        keep.push(("limit", limit));
    }
    let paged = form.cursor.as_deref().is_some_and(|c| !c.is_empty());
    let next_url = found
        .as_ref()
        .and_then(|f| f.next_cursor.as_deref())
        .map(|next| {
            let mut pairs = keep.clone();
            pairs.push(("cursor", next));
            query_url("/clients", &pairs)
        });
    let body = html! {
        h1 { (lang.t("Клиенты", "Clients")) }
        form.card.search-form #client-search method="get" action="/clients" {
            @if let Some(error) = error { p.error role="alert" { (error) } }
            div.row {
                label.wide {
                    (lang.t("Имя, телефон или эл. почта", "Name, phone or e-mail"))
                    input type="search" name="q" id="client-q" value=(q) autofocus
                        placeholder=(lang.t("например, Иванова или 8 916 123-45-67", "e.g. Ivanova or +7 916 123-45-67"));
                }
            }
            div.form-actions {
                button type="submit" id="client-search-submit" { (lang.t("Найти", "Search")) }
                @if ctx.user.access() < AccessLevel::Head {
                    " "
                    span.muted { (lang.t("Показаны только ваши клиенты.", "Only your clients are shown.")) }
                }
            }
        }
        @if let Some(found) = &found {
            @if found.items.is_empty() {
                p.notice.empty #no-results { (lang.t("Никого не нашлось.", "No client found.")) }
            } @else {
                div.table-wrap {
                    table.records #client-results {
                        thead { tr {
                            th { (lang.t("Имя", "Name")) }
                            th { (lang.t("Телефоны", "Phones")) }
                            th { (lang.t("Эл. почта", "E-mail")) }
                            th { (lang.t("Категория", "Category")) }
                            th { (lang.t("Персональные менеджеры", "Personal managers")) }
                        } }
                        tbody {
                            @for c in &found.items {
                                tr data-client=(c.id) {
                                    td { a href={ "/clients/" (encode_query_value(&c.id)) } {
                                        (c.name.as_deref().unwrap_or(lang.t("без имени", "no name")))
                                    } }
                                    td.nowrap { @for p in &c.phones { (phone(p)) br; } }
                                    td { @for e in &c.emails { (e) br; } }
                                    td { @if let Some(cat) = &c.category { (present::category(lang, cat)) } }
                                    td { @for m in &c.managers {
                                        (present::area(lang, &m.area)) ": " (staff.name(&m.login)) br;
                                    } }
                                }
                            }
                        }
                    }
                }
            }
            nav.pager {
                @if paged {
                    a.button.secondary #first-page href=(query_url("/clients", &keep)) { "← " (lang.t("В начало", "First page")) }
                    " "
                }
                @if let Some(next_url) = &next_url {
                    a.button.secondary #next-page href=(next_url) { (lang.t("Следующая страница", "Next page")) " →" }
                }
            }
        }
    };
    let title = lang.t("Клиенты", "Clients");
    Ok((status, page(&ctx, "/clients", title, body)).into_response())
}
