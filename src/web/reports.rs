//! `GET /reports`: the head's reports in the browser — a period form,
//! charts (inquiries per day and per hour of day, service level per day),
//! the per-agent table and CSV downloads.
//!
//! Every figure comes from the API's own report functions
//! ([`crate::api::reports::read_summary`] / `read_agents`): the same access
//! check (head and admin), validation, audit entry and numbers as
//! `GET /api/v1/reports/*`. The CSV links are console routes
//! (`/reports/summary.csv`, `/reports/agents.csv`) because a browser
//! download carries the session cookie, not a bearer token; they answer
//! with the API's CSV and its `Content-Disposition: attachment`.

use super::chart::{Bar, Scale, bar_chart};
use super::error::WebError;
use super::i18n::Lang;
use super::layout::page;
use super::present::{Zone, clock, opt_clock, share, short_day};
use super::session::{Ctx, encode_query_value};
use crate::api::reports::{
    AgentsParams, SummaryParams, agents_response, read_agents, read_summary, summary_response,
};
use crate::api::{ApiError, AppState};
use crate::report::period::date_label;
use crate::report::{AgentRow, AgentsReport, DateRange, SummaryReport, SummaryRow};
use crate::role::AccessLevel;
use crate::store::FieldError;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::HashMap;

/// Days the page shows when no period is given: two weeks up to today.
const DEFAULT_DAYS: i64 = 14;

/// The period form as it arrives; empty or missing fields take defaults.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
    tz: Option<String>,
}

/// The period actually shown: the form's values or the defaults (the
/// last [`DEFAULT_DAYS`] days in the institute's time zone).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Period {
    from: String,
    to: String,
    tz: String,
}

impl Period {
    fn of(query: PeriodQuery, zone: Zone) -> Period {
        let today = zone.today(crate::api::now_ms());
        let given = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        Period {
            from: given(query.from)
                .unwrap_or_else(|| date_label(today.first_day - (DEFAULT_DAYS - 1))),
            to: given(query.to).unwrap_or_else(|| date_label(today.last_day)),
            tz: given(query.tz).unwrap_or_else(|| today.tz_label()),
        }
    }

    /// `from=…&to=…&tz=…`, for the CSV links and the audit entry.
    fn query_string(&self) -> String {
        format!(
            "from={}&to={}&tz={}",
            encode_query_value(&self.from),
            encode_query_value(&self.to),
            encode_query_value(&self.tz)
        )
    }

    fn summary_params(&self, format: Option<&str>) -> SummaryParams {
        SummaryParams {
            from: Some(self.from.clone()),
            to: Some(self.to.clone()),
            group: Some("day".into()),
            format: format.map(String::from),
            tz: Some(self.tz.clone()),
        }
    }

    fn agents_params(&self, format: Option<&str>) -> AgentsParams {
        AgentsParams {
            from: Some(self.from.clone()),
            to: Some(self.to.clone()),
            format: format.map(String::from),
            tz: Some(self.tz.clone()),
        }
    }
}

fn period_of(
    ctx: &Ctx,
    query: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Period, WebError> {
    let Query(query) = query.map_err(ApiError::from)?;
    Ok(Period::of(query, ctx.zone))
}

/// The reports page; a period the reports refuse is shown again on the
/// form with each field's problem (422).
pub(crate) async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    query: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    ctx.user.require(AccessLevel::Head)?;
    let period = period_of(&ctx, query)?;
    if let Err(errors) = DateRange::parse(Some(&period.from), Some(&period.to), Some(&period.tz)) {
        let body = html! {
            h1 { (ctx.lang.t("Отчёты", "Reports")) }
            (period_form(ctx.lang, &period, &errors))
        };
        let markup = page(&ctx, "/reports", ctx.lang.t("Отчёты", "Reports"), body);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response());
    }
    let audit_query = period.query_string();
    let (_, summary) = read_summary(
        &state,
        &ctx.user,
        Some(&audit_query),
        period.summary_params(None),
    )
    .await?;
    let (_, agents) = read_agents(
        &state,
        &ctx.user,
        Some(&audit_query),
        period.agents_params(None),
    )
    .await?;
    let names: HashMap<String, String> = state
        .store
        .list_agents()
        .await?
        .into_iter()
        .map(|a| (a.login, a.name))
        .collect();
    let body = html! {
        h1 { (ctx.lang.t("Отчёты", "Reports")) }
        (period_form(ctx.lang, &period, &[]))
        (downloads(ctx.lang, &period))
        (totals(ctx.lang, &summary))
        (charts(ctx.lang, &summary))
        (agents_table(ctx.lang, &agents, &names))
    };
    Ok(page(&ctx, "/reports", ctx.lang.t("Отчёты", "Reports"), body).into_response())
}

/// `GET /reports/summary.csv`: the summary per day as the API's CSV.
pub(crate) async fn summary_csv(
    State(state): State<AppState>,
    ctx: Ctx,
    query: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    ctx.user.require(AccessLevel::Head)?;
    let period = period_of(&ctx, query)?;
    let (format, report) = read_summary(
        &state,
        &ctx.user,
        Some(&period.query_string()),
        period.summary_params(Some("csv")),
    )
    .await?;
    Ok(summary_response(format, &report))
}

/// `GET /reports/agents.csv`: the agents report as the API's CSV.
pub(crate) async fn agents_csv(
    State(state): State<AppState>,
    ctx: Ctx,
    query: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    ctx.user.require(AccessLevel::Head)?;
    let period = period_of(&ctx, query)?;
    let (format, report) = read_agents(
        &state,
        &ctx.user,
        Some(&period.query_string()),
        period.agents_params(Some("csv")),
    )
    .await?;
    Ok(agents_response(format, &report))
}

fn period_form(lang: Lang, period: &Period, errors: &[FieldError]) -> Markup {
    let error_of = |field: &str| errors.iter().find(|e| e.field == field);
    let field = |name: &'static str, label: &'static str, kind: &'static str, value: &str| {
        let error = error_of(name);
        html! {
            label {
                (label)
                input type=(kind) name=(name) id={ "period-" (name) } value=(value)
                    aria-invalid=[error.map(|_| "true")]
                    placeholder=[(name == "tz").then_some("+03:00")];
                @if let Some(error) = error {
                    span.error.field-error id={ "error-" (name) } {
                        (field_hint(lang, name)) " (" (error.message) ")"
                    }
                }
            }
        }
    };
    html! {
        form.row.card #period method="get" action="/reports" {
            (field("from", lang.t("С", "From"), "date", &period.from))
            (field("to", lang.t("По", "To"), "date", &period.to))
            (field("tz", lang.t("Часовой пояс (смещение от UTC)", "Time zone (UTC offset)"), "text", &period.tz))
            div { button type="submit" id="period-show" { (lang.t("Показать", "Show")) } }
        }
    }
}

/// What a period field must hold, in the reader's language; the API's
/// own message (English) follows it in brackets.
fn field_hint(lang: Lang, field: &str) -> &'static str {
    match field {
        "from" => lang.t(
            "Укажите дату начала: ГГГГ-ММ-ДД",
            "Give the first day: YYYY-MM-DD",
        ),
        "to" => lang.t(
            "Укажите дату конца, не раньше начала (не более 10 лет)",
            "Give the last day, not before the first (at most 10 years)",
        ),
        _ => lang.t(
            "Смещение от UTC пишется +03:00",
            "A UTC offset is written +03:00",
        ),
    }
}

fn downloads(lang: Lang, period: &Period) -> Markup {
    let query = period.query_string();
    html! {
        p.downloads {
            span.muted { (lang.t("Скачать CSV:", "Download CSV:")) " " }
            a.button.secondary #csv-summary href={ "/reports/summary.csv?" (query) } download {
                (lang.t("сводка по дням", "summary per day"))
            }
            " "
            a.button.secondary #csv-agents href={ "/reports/agents.csv?" (query) } download {
                (lang.t("по операторам", "per agent"))
            }
        }
    }
}

/// The whole period's headline figures.
fn totals(lang: Lang, summary: &SummaryReport) -> Markup {
    let total = &summary.total;
    html! {
        div.figures #report-totals {
            (figure(lang.t("Обращений", "Inquiries"), total.inquiries.to_string(), "inquiries"))
            (figure(lang.t("Звонков", "Calls"), total.calls_offered.to_string(), "calls"))
            (figure(lang.t("Отвечено", "Answered"), total.calls_answered.to_string(), "answered"))
            (figure(
                lang.t("Уровень обслуживания", "Service level"),
                share(total.service_level),
                "service-level",
            ))
            (figure(lang.t("Доля потерянных", "Abandon rate"), share(total.abandoned_share), "abandoned"))
            (figure(lang.t("Среднее ожидание", "Average wait"), opt_clock(total.avg_wait_ms), "avg-wait"))
        }
    }
}

/// One headline figure card; `id` lets a test find it.
pub(super) fn figure(label: &str, value: String, id: &str) -> Markup {
    html! {
        div.card.figure-card id={ "figure-" (id) } {
            div.muted { (label) }
            div.figure { (value) }
        }
    }
}

fn charts(lang: Lang, summary: &SummaryReport) -> Markup {
    let day_label = |p: &SummaryRow| short_day(lang, &p.period);
    let per_day: Vec<Bar> = summary
        .periods
        .iter()
        .map(|p| Bar {
            key: p.period.clone(),
            label: day_label(p),
            value: Some(p.inquiries as f64),
        })
        .collect();
    let per_hour: Vec<Bar> = summary
        .total
        .by_hour
        .iter()
        .enumerate()
        .map(|(hour, n)| Bar {
            key: format!("{hour:02}:00"),
            label: hour.to_string(),
            value: Some(*n as f64),
        })
        .collect();
    let service_level: Vec<Bar> = summary
        .periods
        .iter()
        .map(|p| Bar {
            key: p.period.clone(),
            label: day_label(p),
            value: p.service_level,
        })
        .collect();
    let per_day_title = lang.t("Обращения по дням", "Inquiries per day");
    let per_hour_title = lang.t("Обращения по часам суток", "Inquiries by hour of day");
    let sl_title = lang.t("Уровень обслуживания по дням", "Service level per day");
    html! {
        div.charts {
            section.card {
                h2 { (per_day_title) }
                (bar_chart("chart-per-day", per_day_title, &per_day, Scale::Count))
            }
            section.card {
                h2 { (per_hour_title) }
                (bar_chart("chart-per-hour", per_hour_title, &per_hour, Scale::Count))
                p.muted { (lang.t("Время — по часовому поясу отчёта ", "Hours in the report's time zone ")) (summary.tz) }
            }
            section.card {
                h2 { (sl_title) }
                (bar_chart("chart-service-level", sl_title, &service_level, Scale::Share))
                p.muted {
                    (lang.t("Доля отвеченных звонков, принятых не позже чем за ", "Share of answered calls picked up within "))
                    (summary.service_level_s)
                    (lang.t(" с; дни без отвеченных звонков пусты.", " s; days without answered calls are empty."))
                }
            }
        }
    }
}

fn agents_table(lang: Lang, report: &AgentsReport, names: &HashMap<String, String>) -> Markup {
    let row = |r: &AgentRow, total: bool| {
        let state = |s: &str| clock(r.state_ms.get(s).copied().unwrap_or(0));
        html! {
            tr.total[total] id={ "agent-row-" (r.agent) } {
                td {
                    @if total { b { (lang.t("Итого", "Total")) } }
                    @else {
                        (names.get(&r.agent).map_or(r.agent.as_str(), String::as_str))
                        " " span.muted { (r.agent) }
                    }
                }
                td.num { (r.calls_handled) }
                td.num { (r.inquiries_resolved) }
                td.num { (clock(r.talk_ms)) }
                td.num { (clock(r.wrap_up_ms)) }
                td.num { (opt_clock(r.avg_handle_ms)) }
                td.num { (state("available")) }
                td.num { (state("busy")) }
                td.num { (state("paused")) }
            }
        }
    };
    html! {
        section.card {
            h2 { (lang.t("Операторы", "Agents")) }
            div.table-wrap {
                table #agents-report {
                    thead { tr {
                        th { (lang.t("Оператор", "Agent")) }
                        th.num { (lang.t("Звонков принято", "Calls handled")) }
                        th.num { (lang.t("Обращений решено", "Inquiries resolved")) }
                        th.num { (lang.t("Разговор", "Talk time")) }
                        th.num { (lang.t("Постобработка", "Wrap-up")) }
                        th.num { (lang.t("Среднее время обработки", "Average handle time")) }
                        th.num { (lang.t("Свободен", "Available")) }
                        th.num { (lang.t("Занят", "Busy")) }
                        th.num { (lang.t("Пауза", "Paused")) }
                    } }
                    tbody {
                        @for r in &report.agents { (row(r, false)) }
                        @if report.agents.is_empty() {
                            tr { td.muted colspan="9" { (lang.t("За период нет данных об операторах.", "No agent activity in this period.")) } }
                        }
                    }
                    tfoot { (row(&report.total, true)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_travels_encoded() {
        let period = Period {
            from: "2025-03-01".into(),
            to: "2025-03-14".into(),
            tz: "+03:00".into(),
        };
        assert_eq!(
            period.query_string(),
            "from=2025-03-01&to=2025-03-14&tz=%2B03%3A00"
        );
    }
}
