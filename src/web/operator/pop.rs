//! The screen pop: when a call rings the operator's phone (or they are
//! talking), who is calling and why, before the first word.
//!
//! **Which call.** Routing's snapshot names, per agent, the call it is
//! offering them or they are talking on (`AgentSnapshot::call`); the live
//! call registry maps that call to its inquiry (`LiveCall::inquiry_id`,
//! set when the call starts). The snapshot is asked first because it
//! changes in the same step as the agent's state, whose `agent.state`
//! event is what makes the browser re-fetch this card; the registry's own
//! `agent` field (set a moment later by the call's task) is the fallback.
//! Nothing new had to be recorded.
//!
//! **Access.** The inquiry and the client are shown because the call is
//! offered to this operator, before the inquiry is theirs (it becomes
//! theirs when they answer) — the same reason their phone shows the
//! number. Every render that shows them is audited (`read`, detail
//! `screen pop`), as the API audits its reads. While a call lasts the card
//! re-fetches only on the operator's state changes and the events of that
//! call's inquiry (and twice a minute), so a long call does not write an
//! audit row every few seconds.

use crate::acd::AgentState;
use crate::api::AppState;
use crate::api::inquiries::audit;
use crate::routing::{LiveCallState, LiveCallView};
use crate::store::{Client, Inquiry, InquiryFilter};
use crate::web::error::WebError;
use crate::web::i18n::Lang;
use crate::web::present::{self, Zone, phone, status_badge};
use crate::web::session::Ctx;
use axum::extract::State;
use maud::{Markup, html};

/// The client's inquiries the pop looks at (newest first).
const HISTORY: i64 = 30;
/// Closed contacts listed under "last contacts".
const LAST_CONTACTS: usize = 5;

/// The call on the operator's phone.
struct MyCall {
    view: LiveCallView,
    ringing: bool,
}

async fn my_call(app: &AppState, login: &str) -> Option<MyCall> {
    let routing = app.routing.as_ref()?;
    let snapshot = routing.routing.snapshot().await;
    let from_engine = snapshot
        .agents
        .iter()
        .find(|a| a.login == login && matches!(a.state, AgentState::Ringing | AgentState::Busy))
        .and_then(|a| {
            let view = routing.live_calls.get(a.call?)?;
            Some(MyCall {
                view,
                ringing: a.state == AgentState::Ringing,
            })
        });
    from_engine.or_else(|| {
        routing
            .live_calls
            .list()
            .into_iter()
            .find(|c| {
                c.agent.as_deref() == Some(login)
                    && matches!(c.state, LiveCallState::Ringing | LiveCallState::Talking)
            })
            .map(|view| MyCall {
                ringing: view.state == LiveCallState::Ringing,
                view,
            })
    })
}

/// Everything the card shows about a call.
struct PopData {
    call: MyCall,
    inquiry: Option<Inquiry>,
    client: Option<Client>,
    open: Vec<Inquiry>,
    recent: Vec<Inquiry>,
}

async fn load(app: &AppState, ctx: &Ctx) -> Result<Option<PopData>, WebError> {
    let Some(call) = my_call(app, ctx.login()).await else {
        return Ok(None);
    };
    let inquiry = match &call.view.inquiry_id {
        Some(id) => app.store.get_inquiry(id).await?,
        None => None,
    };
    let Some(inquiry) = inquiry else {
        // The inquiry writer has not caught up: show the call alone.
        return Ok(Some(PopData {
            call,
            inquiry: None,
            client: None,
            open: Vec::new(),
            recent: Vec::new(),
        }));
    };
    audit(
        app,
        &ctx.user,
        "read",
        "inquiry",
        Some(&inquiry.id),
        Some("screen pop"),
    )
    .await?;
    let client = match &inquiry.client_id {
        Some(id) => app.store.get_client(id).await?,
        None => None,
    };
    let (mut open, mut recent) = (Vec::new(), Vec::new());
    if let Some(client) = &client {
        audit(
            app,
            &ctx.user,
            "read",
            "client",
            Some(&client.id),
            Some("screen pop"),
        )
        .await?;
        let filter = InquiryFilter {
            client_id: Some(client.id.clone()),
            ..InquiryFilter::default()
        };
        let (history, _) = app.store.list_inquiries(&filter, HISTORY, None).await?;
        for other in history.into_iter().filter(|i| i.id != inquiry.id) {
            if other.status.is_open() {
                open.push(other);
            } else if recent.len() < LAST_CONTACTS {
                recent.push(other);
            }
        }
    }
    Ok(Some(PopData {
        call,
        inquiry: Some(inquiry),
        client,
        open,
        recent,
    }))
}

/// `GET /operator/pop`: the card alone, for htmx.
pub async fn pop(State(app): State<AppState>, ctx: Ctx) -> Result<Markup, WebError> {
    card(&app, &ctx).await
}

/// The card. Idle, it re-fetches on any event and every 3 s (cheap: no
/// client data is read); during a call, on the operator's state changes
/// and the call's inquiry's events (the call layer writes the routing
/// reason when the call is answered), see the module doc.
pub(crate) async fn card(app: &AppState, ctx: &Ctx) -> Result<Markup, WebError> {
    let lang = ctx.lang;
    let data = load(app, ctx).await?;
    let trigger = match data
        .as_ref()
        .and_then(|d| d.call.view.inquiry_id.as_deref())
    {
        // Ids are ULIDs (letters and digits): safe inside the JS string.
        Some(id) if id.chars().all(|c| c.is_ascii_alphanumeric()) => format!(
            "hotline-event[detail.kind=='agent.state' || (detail.event && detail.event.inquiry_id=='{id}')] \
             from:body delay:150ms, every 30s"
        ),
        Some(_) => {
            "hotline-event[detail.kind=='agent.state'] from:body delay:150ms, every 30s".to_string()
        }
        None => "hotline-event from:body delay:150ms, every 3s".to_string(),
    };
    Ok(html! {
        div #screen-pop class={ "card" @if data.is_some() { " pop" } }
            hx-get="/operator/pop" hx-trigger=(trigger) hx-swap="outerHTML"
            data-inquiry=[data.as_ref().and_then(|d| d.call.view.inquiry_id.as_deref())] {
            @match &data {
                None => {
                    h2 { (lang.t("Звонок", "Call")) }
                    p.muted #no-call { (lang.t("Сейчас звонка нет", "No call right now")) }
                }
                Some(data) => (call_markup(lang, ctx.zone, data)),
            }
        }
    })
}

fn call_markup(lang: Lang, zone: Zone, data: &PopData) -> Markup {
    let view = &data.call.view;
    let elapsed_ms = crate::api::now_ms().saturating_sub(view.since_ms).max(0);
    let inquiry = data.inquiry.as_ref();
    let caller = inquiry.map_or(view.caller.as_str(), |i| i.from.as_str());
    html! {
        h2 {
            @if data.call.ringing {
                span.badge.state-ringing #pop-state data-state="ringing" { (lang.t("Входящий звонок", "Incoming call")) }
            } @else {
                span.badge.state-busy #pop-state data-state="talking" { (lang.t("Разговор", "On a call")) }
            }
            " "
            span.muted data-elapsed-ms=(elapsed_ms) { (present::clock(elapsed_ms)) }
        }
        dl.facts {
            dt { (lang.t("Номер", "Number")) }
            dd #pop-caller { (phone(caller)) }
            dt { (lang.t("Клиент", "Client")) }
            dd #pop-client {
                @match &data.client {
                    Some(client) => a href={ "/clients/" (client.id) } {
                        (client.name.as_deref().filter(|n| !n.is_empty()).unwrap_or(lang.t("без имени", "no name")))
                    },
                    None => span.muted { (lang.t("неизвестный клиент", "unknown caller")) },
                }
            }
            dt { (lang.t("Категория", "Category")) }
            dd #pop-category { (present::or_dash(inquiry.and_then(|i| i.category.as_deref()).map(|c| present::category(lang, c)))) }
            dt { (lang.t("Тема", "Topic")) }
            dd #pop-topic { (present::or_dash(inquiry.and_then(|i| i.topic.as_deref()).map(|t| present::topic(lang, t)))) }
            dt { (lang.t("Путь в меню", "IVR path")) }
            dd #pop-ivr-path { (present::or_dash(inquiry.and_then(|i| i.ivr_path.clone()))) }
            dt { (lang.t("Очередь", "Queue")) }
            dd #pop-queue { (present::or_dash(inquiry.and_then(|i| i.queue.clone()).or_else(|| view.queue.clone()))) }
            dt { (lang.t("Причина маршрутизации", "Routing reason")) }
            dd #pop-reason { (present::or_dash(inquiry.and_then(|i| i.routing_reason.as_deref()).or(view.routing_reason.as_deref()).map(|r| present::routing_reason(lang, r)))) }
        }
        @if let Some(inquiry) = inquiry {
            p {
                a.button #pop-open-inquiry href={ "/inquiries/" (inquiry.id) } {
                    (lang.t("Открыть форму обращения", "Open the inquiry form"))
                }
            }
        }
        @if data.client.is_some() {
            h3 { (lang.t("Открытые обращения клиента", "The client's open inquiries")) }
            (history_table(lang, zone, &data.open, "pop-open"))
            h3 { (lang.t("Последние обращения", "Last contacts")) }
            (history_table(lang, zone, &data.recent, "pop-recent"))
        }
    }
}

fn history_table(lang: Lang, zone: Zone, items: &[Inquiry], id: &str) -> Markup {
    html! {
        @if items.is_empty() {
            p.muted id=(id) { (lang.t("нет", "none")) }
        } @else {
            div.table-wrap {
                table.compact id=(id) {
                    thead { tr {
                        th { (zone.heading(lang.t("Дата", "Date"))) }
                        th { (lang.t("Канал", "Channel")) }
                        th { (lang.t("Тема", "Topic")) }
                        th { (lang.t("Статус", "Status")) }
                        th { (lang.t("Менеджер", "Manager")) }
                    } }
                    tbody {
                        @for i in items {
                            tr {
                                td { a href={ "/inquiries/" (i.id) } { (zone.time(i.created_at_ms)) } }
                                td { (present::channel(lang, i.channel)) }
                                td { (present::or_dash(i.topic.as_deref().map(|t| present::topic(lang, t)))) }
                                td { (status_badge(lang, i.status, None)) }
                                td { (i.agent.as_deref().unwrap_or("—")) }
                            }
                        }
                    }
                }
            }
        }
    }
}
