//! The operator's desk (`GET /operator`): my state with one-click changes,
//! the screen pop of the call on my phone, my inquiries, and the way to
//! register a visitor.
//!
//! Each card is a fragment with its own URL that htmx re-fetches when the
//! event stream (`/live`) says something changed, so the page stays
//! current without reloading; the first render is complete server-side and
//! works without scripts.

mod pop;
mod state;

pub use pop::pop;
pub use state::{set_state, state_card};

use super::error::WebError;
use super::i18n::Lang;
use super::layout::page as frame;
use super::present::{self, Zone, phone, status_badge};
use super::session::{Ctx, encode_query_value};
use crate::api::AppState;
use crate::api::inquiries::{ListParams, list};
use crate::store::Inquiry;
use axum::Json;
use axum::extract::{Query, RawQuery, State};
use axum::http::Uri;
use maud::{Markup, html};

/// Rows of "my inquiries".
const MY_INQUIRIES: usize = 15;

#[derive(serde::Deserialize)]
pub struct DeskParams {
    /// Set after a transfer from an inquiry page: the call has left.
    transferred: Option<String>,
}

/// `GET /operator`
pub async fn page(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(params): Query<DeskParams>,
) -> Result<Markup, WebError> {
    let lang = ctx.lang;
    let state_card = state::card(&app, &ctx, None).await;
    let pop_card = pop::card(&app, &ctx).await?;
    let inquiries = my_inquiries_card(&app, &ctx).await?;
    Ok(frame(
        &ctx,
        "/operator",
        lang.t("Оператор", "Operator"),
        html! {
            div.operator-head {
                h1 { (lang.t("Рабочее место оператора", "Operator desk")) }
                a.button #new-visit href="/visits/new" { (lang.t("Новый визит", "New visit")) }
                span #live-status data-live title=(lang.t("Обновления в реальном времени", "Live updates")) {
                    (lang.t("онлайн", "live"))
                }
            }
            @if params.transferred.is_some() {
                p.notice #notice role="status" { (lang.t("Звонок переведён.", "The call was transferred.")) }
            }
            div.grid.operator-grid {
                (state_card)
                (pop_card)
            }
            (inquiries)
        },
    ))
}

/// `GET /operator/inquiries`: the card alone, for htmx.
pub async fn my_inquiries(State(app): State<AppState>, ctx: Ctx) -> Result<Markup, WebError> {
    my_inquiries_card(&app, &ctx).await
}

/// My newest inquiries, through the API's own list (a manager's list is
/// their own; the head's is narrowed to theirs by `agent`), audited there.
async fn my_inquiries_card(app: &AppState, ctx: &Ctx) -> Result<Markup, WebError> {
    let lang = ctx.lang;
    let query = format!(
        "agent={}&limit={MY_INQUIRIES}",
        encode_query_value(ctx.login())
    );
    let uri: Uri = format!("/?{query}")
        .parse()
        .map_err(|_| crate::api::ApiError::internal())?;
    let Json(page) = list(
        State(app.clone()),
        ctx.user.clone(),
        RawQuery(Some(query)),
        Query::<ListParams>::try_from_uri(&uri),
    )
    .await?;
    Ok(html! {
        section.card #my-inquiries
            hx-get="/operator/inquiries"
            hx-trigger="hotline-event[detail.kind!='agent.state'] from:body delay:500ms"
            hx-swap="outerHTML" {
            h2 { (lang.t("Мои обращения", "My inquiries")) }
            (inquiry_table(lang, ctx.zone, &page.items))
        }
    })
}

fn inquiry_table(lang: Lang, zone: Zone, items: &[Inquiry]) -> Markup {
    html! {
        @if items.is_empty() {
            p.muted { (lang.t("Обращений пока нет.", "No inquiries yet.")) }
        } @else {
            div.table-wrap {
                table.compact {
                    thead { tr {
                        th { (zone.heading(lang.t("Создано", "Created"))) }
                        th { (lang.t("Канал", "Channel")) }
                        th { (lang.t("Откуда", "From")) }
                        th { (lang.t("Категория", "Category")) }
                        th { (lang.t("Тема", "Topic")) }
                        th { (lang.t("Статус", "Status")) }
                    } }
                    tbody {
                        @for i in items {
                            tr class=[i.status.is_open().then_some("open")] {
                                td { a href={ "/inquiries/" (i.id) } { (zone.time(i.created_at_ms)) } }
                                td { (present::channel(lang, i.channel)) }
                                td.nowrap { (phone(&i.from)) }
                                td { (present::or_dash(i.category.as_deref().map(|c| present::category(lang, c)))) }
                                td { (present::or_dash(i.topic.as_deref().map(|t| present::topic(lang, t)))) }
                                td { (status_badge(lang, i.status, None)) }
                            }
                        }
                    }
                }
            }
        }
    }
}
