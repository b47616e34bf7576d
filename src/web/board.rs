//! `GET /board`: the head's live board — agents and their states with
//! time in state, queues with callers waiting and the longest wait, calls
//! in progress, and today's figures.
//!
//! **How it stays live.** The page's `#board` holds a fragment
//! (`GET /board/fragment`) that htmx re-fetches whenever the event stream
//! reports something (`hotline-event`, at most every 300 ms) and every 5 s
//! in any case (a queue's waiting callers change without an event). The
//! server figures are exact at render time; `console.js` counts the clocks
//! (`data-elapsed-ms`) up between refreshes, so a clock never jumps back.
//!
//! **Where the figures come from.** Live state is what `GET
//! /api/v1/queues` and `GET /api/v1/calls` answer (the routing engine's
//! snapshot, which already knows how long each agent has been in their
//! state, and the live calls registry); today's figures are the report
//! summary ([`crate::report::summary_report`]) of today in the
//! institute's time zone, so the board and `/reports` cannot disagree.
//! That summary reads every inquiry of the day, so it is shared by all
//! open boards ([`TodayFigures`]) and recomputed only when something was
//! written since.

use super::error::WebError;
use super::i18n::Lang;
use super::layout::page;
use super::present::{Zone, agent_state_badge, call_state_badge, clock, opt_clock, phone, share};
use super::reports::figure;
use super::session::Ctx;
use crate::api::routing::{BoardAgentView, CallsView, QueueView, QueuesView};
use crate::api::{AppState, CurrentUser};
use crate::report::{DateRange, Group, SummaryRow, summary_report};
use crate::role::AccessLevel;
use crate::routing::LiveCallView;
use crate::store::StoreError;
use axum::extract::State;
use axum::http::StatusCode;
use maud::{Markup, html};
use std::collections::HashMap;
use std::sync::Arc;

/// Today's figures as every open board shows them, computed once per
/// change: a summary is recomputed only when an event was written since
/// the last one (every change the figures depend on — an inquiry's status,
/// wait, answer; an agent's state — appends an event in its own
/// transaction) or the day rolled over, and by one request at a time, so
/// ten boards refreshing after the same event cost one summary, not ten.
#[derive(Debug, Clone, Default)]
pub struct TodayFigures(Arc<tokio::sync::Mutex<Option<CachedToday>>>);

#[derive(Debug)]
struct CachedToday {
    day_start_ms: i64,
    last_event: Option<String>,
    row: SummaryRow,
}

impl TodayFigures {
    async fn get(
        &self,
        state: &AppState,
        today: &DateRange,
        now_ms: i64,
    ) -> Result<SummaryRow, StoreError> {
        // Read before computing: an event written during the computation
        // leaves the cache keyed to the older id, so the next board
        // refresh recomputes.
        let last_event = state.store.last_event_id().await?;
        let mut cached = self.0.lock().await;
        if let Some(c) = cached.as_ref()
            && c.day_start_ms == today.start_ms()
            && c.last_event == last_event
        {
            return Ok(c.row.clone());
        }
        let row = summary_report(
            &state.store,
            today,
            Group::Day,
            state.reports.service_level_s,
            now_ms,
        )
        .await?
        .total;
        *cached = Some(CachedToday {
            day_start_ms: today.start_ms(),
            last_event,
            row: row.clone(),
        });
        Ok(row)
    }
}

/// Everything the board shows, read at one instant.
struct Board {
    /// `None` when routing does not run in this server.
    live: Option<Live>,
    today: SummaryRow,
    /// Login → display name.
    names: HashMap<String, String>,
    now_ms: i64,
}

struct Live {
    queues: Vec<QueueView>,
    agents: Vec<BoardAgentView>,
    calls: Vec<LiveCallView>,
}

impl Board {
    async fn read(state: &AppState, user: &CurrentUser, zone: Zone) -> Result<Board, WebError> {
        user.require(AccessLevel::Head)?;
        let queues = crate::api::routing::queues(State(state.clone()), user.clone()).await;
        let calls = crate::api::routing::calls(State(state.clone()), user.clone()).await;
        let live = match (queues, calls) {
            (Ok(queues), Ok(calls)) => {
                let QueuesView { items, agents } = queues.0;
                let CallsView { items: calls } = calls.0;
                Some(Live {
                    queues: items,
                    agents,
                    calls,
                })
            }
            (Err(e), _) | (_, Err(e)) if e.status == StatusCode::SERVICE_UNAVAILABLE => None,
            (Err(e), _) | (_, Err(e)) => return Err(e.into()),
        };
        let now_ms = crate::api::now_ms();
        let today = state
            .board_today
            .get(state, &zone.today(now_ms), now_ms)
            .await?;
        let names = state
            .store
            .list_agents()
            .await?
            .into_iter()
            .map(|a| (a.login, a.name))
            .collect();
        Ok(Board {
            live,
            today,
            names,
            now_ms,
        })
    }

    fn name<'a>(&'a self, login: &'a str) -> &'a str {
        self.names.get(login).map_or(login, String::as_str)
    }
}

/// The board page: the frame, the live indicator and the first fragment.
/// Opening it is on the audit log (as reading a report is); its refreshes
/// are not, or the log would fill with one line every few seconds.
pub(crate) async fn show(State(state): State<AppState>, ctx: Ctx) -> Result<Markup, WebError> {
    ctx.user.require(AccessLevel::Head)?;
    crate::api::reports::audit_report(&state, &ctx.user, "board", None).await?;
    let board = Board::read(&state, &ctx.user, ctx.zone).await?;
    let lang = ctx.lang;
    let title = lang.t("Монитор", "Live board");
    let body = html! {
        div.board-head {
            h1 { (title) }
            span #live-status title=(lang.t("Обновляется сразу по событиям", "Updates as events arrive")) {
                (lang.t("В реальном времени", "Live"))
            }
        }
        div #board data-live
            hx-get="/board/fragment"
            hx-trigger="hotline-event from:body throttle:300ms, every 5s"
            hx-swap="innerHTML" {
            (fragment_markup(lang, &board))
        }
    };
    Ok(page(&ctx, "/board", title, body))
}

/// `GET /board/fragment`: the board's content, re-fetched by htmx.
pub(crate) async fn fragment(State(state): State<AppState>, ctx: Ctx) -> Result<Markup, WebError> {
    let board = Board::read(&state, &ctx.user, ctx.zone).await?;
    Ok(fragment_markup(ctx.lang, &board))
}

fn fragment_markup(lang: Lang, board: &Board) -> Markup {
    html! {
        (today(lang, &board.today))
        @match &board.live {
            None => p.notice #routing-off {
                (lang.t("Маршрутизация звонков в этом сервере не запущена: живых данных нет.",
                        "Call routing is not running in this server: there is no live state."))
            },
            Some(live) => {
                div.grid {
                    (agents(lang, board, live))
                    (queues(lang, &live.queues))
                }
                (calls(lang, board, &live.calls))
            }
        }
        p.muted.updated data-rendered-ms=(board.now_ms) {
            (lang.t("Данные на момент загрузки; часы идут в браузере.",
                    "Figures as of loading; the clocks tick in the browser."))
        }
    }
}

fn today(lang: Lang, today: &SummaryRow) -> Markup {
    html! {
        section #today {
            h2 { (lang.t("Сегодня", "Today")) }
            div.figures {
                (figure(lang.t("Звонков", "Calls"), today.calls_offered.to_string(), "calls"))
                (figure(lang.t("Отвечено", "Answered"), today.calls_answered.to_string(), "answered"))
                (figure(lang.t("Уровень обслуживания", "Service level"), share(today.service_level), "service-level"))
                (figure(lang.t("Доля потерянных", "Abandon rate"), share(today.abandoned_share), "abandoned"))
                (figure(lang.t("Среднее ожидание", "Average wait"), opt_clock(today.avg_wait_ms), "avg-wait"))
            }
        }
    }
}

/// A clock counting up from `ms`, written as the server sees it now.
fn elapsed(ms: i64) -> Markup {
    html! { span.clock data-elapsed-ms=(ms.max(0)) { (clock(ms)) } }
}

fn agents(lang: Lang, board: &Board, live: &Live) -> Markup {
    html! {
        section.card #agents {
            h2 { (lang.t("Операторы", "Agents")) }
            div.table-wrap {
                table {
                    thead { tr {
                        th { (lang.t("Оператор", "Agent")) }
                        th { (lang.t("Состояние", "State")) }
                        th { (lang.t("В состоянии", "Time in state")) }
                        th { (lang.t("Текущий звонок", "Current call")) }
                    } }
                    tbody {
                        @for agent in &live.agents {
                            @let call = live.calls.iter().find(|c| c.agent.as_deref() == Some(agent.login.as_str()));
                            tr id={ "agent-" (agent.login) } data-state=(agent.state) {
                                td { (board.name(&agent.login)) " " span.muted { (agent.login) } }
                                td {
                                    (agent_state_badge(lang, &agent.state, None))
                                    @if agent.pause_pending {
                                        " " span.muted.pause-pending { (lang.t("пауза после звонка", "pause after the call")) }
                                    }
                                }
                                td { (elapsed(i64::try_from(agent.in_state_ms).unwrap_or(i64::MAX))) }
                                td {
                                    @if let Some(call) = call {
                                        span.call { (phone(&call.caller)) }
                                        @if let Some(queue) = &call.queue { " · " (queue) }
                                    } @else { span.muted { "—" } }
                                }
                            }
                        }
                        @if live.agents.is_empty() {
                            tr { td.muted colspan="4" { (lang.t("Операторов нет.", "No agents.")) } }
                        }
                    }
                }
            }
        }
    }
}

fn queues(lang: Lang, queues: &[QueueView]) -> Markup {
    html! {
        section.card #queues {
            h2 { (lang.t("Очереди", "Queues")) }
            div.table-wrap {
                table {
                    thead { tr {
                        th { (lang.t("Очередь", "Queue")) }
                        th.num { (lang.t("Ждут", "Waiting")) }
                        th.num { (lang.t("Дольше всех ждёт", "Longest wait")) }
                        th.num { (lang.t("Свободно операторов", "Agents available")) }
                    } }
                    tbody {
                        @for queue in queues {
                            tr id={ "queue-" (queue.name) } {
                                td { (queue.name) }
                                td.num.waiting {
                                    (queue.waiting)
                                    @if queue.callbacks > 0 {
                                        " " span.muted { "(" (queue.callbacks) " " (lang.t("обратных звонков", "callbacks")) ")" }
                                    }
                                }
                                td.num {
                                    @if queue.waiting > 0 {
                                        (elapsed(i64::try_from(queue.longest_wait_ms).unwrap_or(i64::MAX)))
                                    } @else { span.muted { "—" } }
                                }
                                td.num.available { (queue.agents.available) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn calls(lang: Lang, board: &Board, calls: &[LiveCallView]) -> Markup {
    html! {
        section.card #calls {
            h2 { (lang.t("Звонки сейчас", "Calls in progress")) }
            div.table-wrap {
                table {
                    thead { tr {
                        th { (lang.t("Звонящий", "Caller")) }
                        th { (lang.t("Очередь", "Queue")) }
                        th { (lang.t("Оператор", "Agent")) }
                        th { (lang.t("Состояние", "State")) }
                        th { (lang.t("Длительность состояния", "Time in state")) }
                    } }
                    tbody {
                        @for call in calls {
                            tr id={ "call-" (call.id) } {
                                td { (phone(&call.caller)) }
                                td { (call.queue.as_deref().unwrap_or("—")) }
                                td { (call.agent.as_deref().map_or("—", |a| board.name(a))) }
                                td { (call_state_badge(lang, call.state)) }
                                td { (elapsed(board.now_ms - call.since_ms)) }
                            }
                        }
                        @if calls.is_empty() {
                            tr { td.muted colspan="5" { (lang.t("Сейчас звонков нет.", "No calls right now.")) } }
                        }
                    }
                }
            }
        }
    }
}
