//! `GET /inquiries`: inquiry search with every filter of the API's list
//! (`GET /api/v1/inquiries`), as a GET form so that a search is a URL one
//! can bookmark or send, with the results newest first and cursor paging.
//!
//! **Why the API's handler.** The query string is handed, as it is, to
//! [`crate::api::inquiries::list`]: its parsing (a bad date is a 422
//! naming the field), its access rule (a manager's list is always their
//! own; asking for another agent's is a 403, audited) and its audit row
//! are the console's too. This page only draws the form around it and the
//! table of what came back.

use super::error::WebError;
use super::i18n::Lang;
use super::layout::page;
use super::present::{self, Zone, phone, status_badge};
use super::session::{Ctx, encode_query_value};
use crate::api::inquiries::{ListParams, Page, audit};
use crate::api::{ApiError, AppState, CurrentUser, rfc3339_from_ms};
use crate::role::AccessLevel;
use crate::store::{Channel, Inquiry, InquiryStatus};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The search form's values, read back from the URL to fill the form in
/// again. Only for showing: what is searched is what the API parses.
#[derive(Deserialize, Default)]
pub struct Filters {
    q: Option<String>,
    status: Option<String>,
    channel: Option<String>,
    category: Option<String>,
    topic: Option<String>,
    queue: Option<String>,
    agent: Option<String>,
    client_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl Filters {
    /// The filters (not the cursor) as `(name, value)` pairs, in the
    /// form's order, empty ones left out.
    fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("q", &self.q),
            ("status", &self.status),
            ("channel", &self.channel),
            ("category", &self.category),
            ("topic", &self.topic),
            ("queue", &self.queue),
            ("agent", &self.agent),
            ("client_id", &self.client_id),
            ("from", &self.from),
            ("to", &self.to),
            ("limit", &self.limit),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            value
                .as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| (name, v))
        })
        .collect()
    }

    /// `/inquiries?…` with these filters, from `cursor` when given.
    fn url(&self, cursor: Option<&str>) -> String {
        let mut pairs = self.pairs();
        if let Some(cursor) = cursor {
            pairs.push(("cursor", cursor));
        }
        query_url("/inquiries", &pairs)
    }
}

/// `path?name=value&…`, values percent-encoded; just `path` without pairs.
pub fn query_url(path: &str, pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return path.to_owned();
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", encode_query_value(value)))
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// Who works here, for showing names instead of logins and for the
/// head's agent and queue pickers.
pub struct Staff {
    pub names: HashMap<String, String>,
    pub queues: BTreeSet<String>,
}

impl Staff {
    pub async fn load(state: &AppState) -> Result<Staff, WebError> {
        let agents = state.store.list_agents().await?;
        let queues = agents
            .iter()
            .flat_map(|a| a.queues.iter().map(|q| q.queue.clone()))
            .collect();
        let names = agents.into_iter().map(|a| (a.login, a.name)).collect();
        Ok(Staff { names, queues })
    }

    /// The agent's name, or the login when the agent is gone.
    pub fn name<'a>(&'a self, login: &'a str) -> &'a str {
        self.names.get(login).map_or(login, String::as_str)
    }
}

/// `GET /inquiries`
pub(crate) async fn search(
    State(state): State<AppState>,
    ctx: Ctx,
    RawQuery(raw_query): RawQuery,
    filters: Result<Query<Filters>, QueryRejection>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, WebError> {
    let filters = filters.map(|Query(f)| f).unwrap_or_default();
    let staff = Staff::load(&state).await?;
    let local_query = raw_query.as_deref().map(|q| local_days(q, ctx.zone));
    let params = match local_query.as_deref() {
        Some(local) if raw_query.as_deref() != Some(local) => format!("/?{local}")
            .parse::<Uri>()
            .map_or(params, |uri| Query::try_from_uri(&uri)),
        _ => params,
    };
    let listed = crate::api::inquiries::list(
        State(state.clone()),
        ctx.user.clone(),
        RawQuery(local_query),
        params,
    )
    .await;
    let (status, results, errors) = match listed {
        Ok(Json(found)) => {
            let clients = client_names(&state, &ctx.user, &found.items).await?;
            (StatusCode::OK, Some((found, clients)), BTreeMap::new())
        }
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            (e.status, None, field_messages(ctx.lang, &e))
        }
        Err(e) => return Err(e.into()),
    };
    let body = html! {
        h1 { (ctx.lang.t("Обращения", "Inquiries")) }
        (form(&ctx, &filters, &errors, &staff))
        @if let Some((found, clients)) = &results {
            (results_table(&ctx, &filters, found, clients, &staff))
        }
    };
    let title = ctx.lang.t("Поиск обращений", "Inquiry search");
    Ok((status, page(&ctx, "/inquiries", title, body)).into_response())
}

/// The query with its `from`/`to` dates read as the institute's days, as
/// every time on the page is (the API reads a bare date as a UTC day): a
/// date goes on as the exact instant its local day starts (`to`: the next
/// day's, which the API excludes). Anything else goes on as typed, so the
/// API's 422 still names a bad date.
fn local_days(query: &str, zone: Zone) -> String {
    query
        .split('&')
        .map(|pair| {
            let instant = match pair.split_once('=') {
                Some(("from", date)) => zone.day_start_ms(date).map(|ms| ("from", ms)),
                Some(("to", date)) => zone.day_end_ms(date).map(|ms| ("to", ms)),
                _ => None,
            };
            instant.map_or_else(
                || pair.to_owned(),
                |(name, ms)| format!("{name}={}", encode_query_value(&rfc3339_from_ms(ms))),
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Names of the clients of the listed inquiries, by id. Each is a read of
/// client data, audited like the API's client search audits its results.
async fn client_names(
    state: &AppState,
    user: &CurrentUser,
    items: &[Inquiry],
) -> Result<HashMap<String, Option<String>>, WebError> {
    let ids: BTreeSet<&str> = items
        .iter()
        .filter_map(|i| i.client_id.as_deref())
        .collect();
    let mut names = HashMap::new();
    for id in ids {
        if let Some(client) = state.store.get_client(id).await? {
            audit(
                state,
                user,
                "read",
                "client",
                Some(id),
                Some("inquiry search"),
            )
            .await?;
            names.insert(id.to_owned(), client.name);
        }
    }
    Ok(names)
}

/// The API's 422 field messages as the form shows them: in Russian our
/// own words, in English the API's (already English and more exact).
fn field_messages(lang: Lang, e: &ApiError) -> BTreeMap<String, String> {
    e.fields
        .iter()
        .map(|(field, api_message)| {
            let ru = match field.as_str() {
                "status" => "Неизвестный статус",
                "channel" => "Неизвестный канал",
                "from" | "to" => "Нужна дата ГГГГ-ММ-ДД (или время RFC 3339)",
                "limit" => "Число от 1 до 1000",
                "cursor" => "Ссылка на страницу устарела: начните поиск заново",
                _ => api_message.as_str(),
            };
            let message = match lang {
                Lang::Ru => ru.to_owned(),
                Lang::En => api_message.clone(),
            };
            (field.clone(), message)
        })
        .collect()
}

/// The error under a field, if the API named that field.
pub fn field_error(errors: &BTreeMap<String, String>, field: &str) -> Markup {
    html! {
        @if let Some(message) = errors.get(field) {
            span.error.field-error id={ "error-" (field) } role="alert" { (message) }
        }
    }
}

fn form(ctx: &Ctx, f: &Filters, errors: &BTreeMap<String, String>, staff: &Staff) -> Markup {
    let lang = ctx.lang;
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let is = |v: &Option<String>, option: &str| v.as_deref() == Some(option);
    let head = ctx.user.access() >= AccessLevel::Head;
    // Errors the form has no field for (a stale cursor, a hand-typed limit
    // or parameter) are shown above it.
    let loose: Vec<&String> = errors
        .iter()
        .filter(|(field, _)| matches!(field.as_str(), "cursor"))
        .map(|(_, message)| message)
        .collect();
    html! {
        form.card.search-form #inquiry-search method="get" action="/inquiries" {
            @for message in loose { p.error role="alert" { (message) } }
            div.row {
                label.wide {
                    (lang.t("Текст", "Text"))
                    input type="search" name="q" id="q" value=(value(&f.q))
                        placeholder=(lang.t("номер, адрес, тема, заметки, имя клиента", "number, address, topic, notes, client name"));
                }
                label {
                    (lang.t("Статус", "Status"))
                    select name="status" id="status" aria-invalid=[errors.contains_key("status").then_some("true")] {
                        option value="" { (lang.t("любой", "any")) }
                        @for s in InquiryStatus::ALL {
                            option value=(s.as_str()) selected[is(&f.status, s.as_str())] { (present::status(lang, s)) }
                        }
                    }
                    (field_error(errors, "status"))
                }
                label {
                    (lang.t("Канал", "Channel"))
                    select name="channel" id="channel" aria-invalid=[errors.contains_key("channel").then_some("true")] {
                        option value="" { (lang.t("любой", "any")) }
                        @for c in Channel::ALL {
                            option value=(c.as_str()) selected[is(&f.channel, c.as_str())] { (present::channel(lang, c)) }
                        }
                    }
                    (field_error(errors, "channel"))
                }
                label {
                    (lang.t("Категория", "Category"))
                    select name="category" id="category" {
                        option value="" { (lang.t("любая", "any")) }
                        (present::category_options(lang, f.category.as_deref().unwrap_or_default()))
                    }
                }
                label {
                    (lang.t("Тема", "Topic"))
                    input type="text" name="topic" id="topic" value=(value(&f.topic));
                }
                label {
                    (lang.t("Очередь", "Queue"))
                    input type="text" name="queue" id="queue" list="queue-names" value=(value(&f.queue));
                    datalist #queue-names { @for q in &staff.queues { option value=(q) {} } }
                }
                @if head {
                    label {
                        (lang.t("Оператор", "Agent"))
                        select name="agent" id="agent" {
                            option value="" { (lang.t("любой", "any")) }
                            @for (login, name) in sorted_names(staff) {
                                option value=(login) selected[is(&f.agent, login)] { (name) " (" (login) ")" }
                            }
                        }
                    }
                }
                label {
                    (lang.t("Клиент (код)", "Client (id)"))
                    input type="text" name="client_id" id="client_id" value=(value(&f.client_id));
                }
                label {
                    (ctx.zone.heading(lang.t("Создано с", "Created from")))
                    input type="date" name="from" id="from" value=(value(&f.from)) aria-invalid=[errors.contains_key("from").then_some("true")];
                    (field_error(errors, "from"))
                }
                label {
                    (lang.t("по", "to"))
                    input type="date" name="to" id="to" value=(value(&f.to)) aria-invalid=[errors.contains_key("to").then_some("true")];
                    (field_error(errors, "to"))
                }
                label {
                    (lang.t("На странице", "Per page"))
                    select name="limit" id="limit" {
                        @for n in ["25", "50", "100", "200"] {
                            option value=(n) selected[is(&f.limit, n) || (f.limit.is_none() && n == "100")] { (n) }
                        }
                    }
                    (field_error(errors, "limit"))
                }
            }
            div.form-actions {
                button type="submit" id="search" { (lang.t("Найти", "Search")) }
                " "
                a.button.secondary href="/inquiries" { (lang.t("Сбросить", "Reset")) }
                @if !head {
                    " "
                    span.muted { (lang.t("Показаны только ваши обращения.", "Only your inquiries are shown.")) }
                }
            }
        }
    }
}

/// Agents by name, for a picker.
fn sorted_names(staff: &Staff) -> Vec<(&str, &str)> {
    let mut names: Vec<(&str, &str)> = staff
        .names
        .iter()
        .map(|(login, name)| (login.as_str(), name.as_str()))
        .collect();
    names.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
    names
}

fn results_table(
    ctx: &Ctx,
    f: &Filters,
    found: &Page<Inquiry>,
    clients: &HashMap<String, Option<String>>,
    staff: &Staff,
) -> Markup {
    let lang = ctx.lang;
    let paged = f.cursor.as_deref().is_some_and(|c| !c.is_empty());
    html! {
        @if found.items.is_empty() {
            p.notice.empty #no-results {
                @if paged {
                    (lang.t("На этой странице больше ничего нет.", "Nothing more on this page."))
                } @else {
                    (lang.t("Ничего не найдено. Измените условия поиска.", "Nothing found. Try other filters."))
                }
            }
        } @else {
            div.table-wrap {
                table.records #inquiry-results {
                    thead { tr {
                        th { (ctx.zone.heading(lang.t("Создано", "Created"))) }
                        th { (lang.t("Канал", "Channel")) }
                        th { (lang.t("От кого", "From")) }
                        th { (lang.t("Клиент", "Client")) }
                        th { (lang.t("Категория", "Category")) }
                        th { (lang.t("Тема", "Topic")) }
                        th { (lang.t("Статус", "Status")) }
                        th { (lang.t("Оператор", "Agent")) }
                        th { (lang.t("Ожидание", "Wait")) }
                    } }
                    tbody {
                        @for i in &found.items {
                            @let href = format!("/inquiries/{}", encode_query_value(&i.id));
                            tr data-inquiry=(i.id) {
                                td { a href=(href) { (ctx.zone.time(i.created_at_ms)) } }
                                td { (present::channel(lang, i.channel)) }
                                td.nowrap { (phone(&i.from)) }
                                td {
                                    @if let Some(id) = &i.client_id {
                                        a href={ "/clients/" (encode_query_value(id)) } {
                                            @match clients.get(id).and_then(Option::as_deref) {
                                                Some(name) => { (name) },
                                                None => { (lang.t("без имени", "no name")) },
                                            }
                                        }
                                    }
                                }
                                td { @if let Some(c) = &i.category { (present::category(lang, c)) } }
                                td { a href=(href) { (present::or_dash(i.topic.as_deref().map(|t| present::topic(lang, t)))) } }
                                td { (status_badge(lang, i.status, None)) }
                                td { @if let Some(agent) = &i.agent { span title=(agent) { (staff.name(agent)) } } }
                                td.num { (present::opt_clock(i.wait_ms)) }
                            }
                        }
                    }
                }
            }
        }
        nav.pager {
            @if paged {
                a.button.secondary #first-page href=(f.url(None)) { "← " (lang.t("В начало", "First page")) }
                " "
            }
            @if let Some(next) = &found.next_cursor {
                a.button.secondary #next-page href=(f.url(Some(next))) { (lang.t("Следующая страница", "Next page")) " →" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_searched_are_the_institutes_days() {
        let moscow = Zone {
            utc_offset_minutes: 180,
        };
        assert_eq!(
            local_days("q=a&from=2025-03-01&to=2025-03-02&status=new", moscow),
            "q=a&from=2025-02-28T21%3A00%3A00Z&to=2025-03-02T21%3A00%3A00Z&status=new"
        );
        assert_eq!(
            local_days("from=yesterday&to=2025-03-01T10%3A00%3A00Z", moscow),
            "from=yesterday&to=2025-03-01T10%3A00%3A00Z",
            "what is not a date goes on as typed"
        );
    }

    #[test]
    fn next_page_keeps_the_filters_and_encodes_them() {
        let f = Filters {
            q: Some("Иван & сын".into()),
            status: Some("resolved".into()),
            channel: Some(String::new()),
            cursor: Some("old".into()),
            ..Filters::default()
        };
        assert_eq!(
            f.url(Some("c1")),
            "/inquiries?q=%D0%98%D0%B2%D0%B0%D0%BD%20%26%20%D1%81%D1%8B%D0%BD&status=resolved&cursor=c1"
        );
        assert_eq!(Filters::default().url(None), "/inquiries");
    }
}
