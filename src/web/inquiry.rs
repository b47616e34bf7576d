//! One inquiry (`/inquiries/{id}`): its details and timeline, the form an
//! operator fills during and after the call (category, topic, notes,
//! resolution, "client informed"), the transfer of a live call, and the
//! recording for those allowed to hear it.
//!
//! Every action is the API's handler called as the signed-in user — the
//! page's `get`, the form's `PATCH`/`resolve`/`inform`, the call's
//! `transfer`, the recording — so access rules (a manager only their own
//! inquiries), validation and audit are exactly the API's. A refusal shows
//! the error page with the API's status (403 for another manager's
//! inquiry); invalid fields re-render the form with 422 and the message
//! next to each field.

use super::error::WebError;
use super::i18n::Lang;
use super::layout::{csrf_field, page as frame};
use super::present::{self, Zone, phone, status_badge};
use super::session::Ctx;
use crate::api::inquiries::{
    INFORM_WAYS, InformRequest, InquiryWithEvents, ResolveRequest, UpdateInquiryRequest,
};
use crate::api::routing::TransferBody;
use crate::api::{ApiError, ApiJson, AppState};
use crate::role::AccessLevel;
use crate::routing::LiveCallView;
use crate::store::{Channel, Client, Inquiry};
use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Field → message, as the API reports invalid fields.
type FieldErrors = BTreeMap<String, String>;

/// What the page shows besides the form.
struct PageData {
    inquiry: InquiryWithEvents,
    client: Option<Client>,
    /// The call of this inquiry while it lasts, if this user may act on it.
    call: Option<LiveCallView>,
    /// Queue names, for a transfer.
    queues: Vec<String>,
    /// Departments from `[[departments]]`: name and number.
    departments: Vec<(String, String)>,
}

/// The form's values: the inquiry's own, or what was just submitted.
#[derive(Debug, Default, Deserialize)]
pub struct InquiryForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    resolution: String,
    /// The checkbox: present when ticked.
    informed: Option<String>,
    #[serde(default)]
    how: String,
}

impl InquiryForm {
    fn of(inquiry: &Inquiry) -> InquiryForm {
        InquiryForm {
            action: String::new(),
            category: inquiry.category.clone().unwrap_or_default(),
            topic: inquiry.topic.clone().unwrap_or_default(),
            notes: inquiry.notes.clone().unwrap_or_default(),
            resolution: inquiry.resolution.clone().unwrap_or_default(),
            informed: inquiry.client_informed_at_ms.map(|_| "on".to_string()),
            how: inquiry
                .informed_how
                .clone()
                .unwrap_or_else(|| default_way(inquiry.channel).to_string()),
        }
    }
}

/// How a client is usually told: the way they came.
fn default_way(channel: Channel) -> &'static str {
    match channel {
        Channel::Phone => "phone",
        Channel::Email => "email",
        Channel::Chat => "chat",
        Channel::Messenger => "messenger",
        Channel::InPerson => "in_person",
    }
}

/// The inquiry through the API's `GET` (access check and audit), plus
/// the client, the live call and the transfer targets.
async fn load(app: &AppState, ctx: &Ctx, id: &str) -> Result<PageData, WebError> {
    let Json(inquiry) =
        crate::api::inquiries::get(State(app.clone()), ctx.user.clone(), Path(id.to_string()))
            .await?;
    let client = match inquiry.inquiry.client_id.clone() {
        // Through the API too: audited, and hidden when not this user's client.
        Some(client_id) => {
            crate::api::clients::get(State(app.clone()), ctx.user.clone(), Path(client_id))
                .await
                .ok()
                .map(|Json(c)| c)
        }
        None => None,
    };
    let (mut call, mut queues, mut departments) = (None, Vec::new(), Vec::new());
    if let Some(routing) = &app.routing {
        call = routing.live_calls.list().into_iter().find(|c| {
            c.inquiry_id.as_deref() == Some(id)
                && (ctx.user.access() >= AccessLevel::Head
                    || c.agent.as_deref() == Some(ctx.login()))
        });
        if call.is_some() {
            queues = routing
                .routing
                .snapshot()
                .await
                .queues
                .into_iter()
                .map(|q| q.name)
                .collect();
            departments = routing
                .departments
                .iter()
                .map(|d| (d.name.clone(), d.number.clone()))
                .collect();
        }
    }
    Ok(PageData {
        inquiry,
        client,
        call,
        queues,
        departments,
    })
}

#[derive(Deserialize)]
pub struct ShowParams {
    saved: Option<String>,
}

/// `GET /inquiries/{id}`
pub async fn show(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(params): Query<ShowParams>,
) -> Result<Markup, WebError> {
    let data = load(&app, &ctx, &id).await?;
    let form = InquiryForm::of(&data.inquiry.inquiry);
    let lang = ctx.lang;
    let notice = params
        .saved
        .is_some()
        .then(|| lang.t("Сохранено.", "Saved."));
    Ok(render(&ctx, &data, &form, &FieldErrors::new(), notice))
}

/// `POST /inquiries/{id}`: Save (the API's `PATCH` with the fields that
/// changed), or Resolve (that, then `resolve`); a newly ticked "client
/// informed" also records how they were told (`inform`).
pub async fn save(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<InquiryForm>,
) -> Result<Response, WebError> {
    let data = load(&app, &ctx, &id).await?;
    let current = &data.inquiry.inquiry;
    let changed = |new: &str, old: &Option<String>| {
        (new != old.as_deref().unwrap_or_default()).then(|| new.to_string())
    };
    let update = UpdateInquiryRequest {
        category: changed(&form.category, &current.category).filter(|c| !c.is_empty()),
        topic: changed(form.topic.trim(), &current.topic).filter(|t| !t.is_empty()),
        notes: changed(&form.notes, &current.notes),
        agent: None,
    };
    let mut errors = FieldErrors::new();
    // Each answer is the inquiry after the step; the page is loaded afresh
    // after a redirect (or a refusal), so the answers are not kept.
    let steps = async {
        let _ = crate::api::inquiries::update(
            State(app.clone()),
            ctx.user.clone(),
            Path(id.clone()),
            ApiJson(update),
        )
        .await?;
        if form.action == "resolve" {
            let _ = crate::api::inquiries::resolve(
                State(app.clone()),
                ctx.user.clone(),
                Path(id.clone()),
                ApiJson(ResolveRequest {
                    resolution: form.resolution.clone(),
                }),
            )
            .await?;
        }
        if form.informed.is_some() && current.client_informed_at_ms.is_none() {
            let _ = crate::api::inquiries::inform(
                State(app.clone()),
                ctx.user.clone(),
                Path(id.clone()),
                ApiJson(InformRequest {
                    how: form.how.clone(),
                    note: None,
                }),
            )
            .await?;
        }
        Ok::<(), ApiError>(())
    };
    match steps.await {
        Ok(()) => {
            return Ok(Redirect::to(&format!("/inquiries/{id}?saved=1")).into_response());
        }
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => errors.extend(e.fields),
        Err(e) => return Err(e.into()),
    }
    // What was saved before the refusal shows in the details and timeline;
    // the form keeps what was typed.
    let data = load(&app, &ctx, &id).await?;
    let page = render(&ctx, &data, &form, &errors, None);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

#[derive(Deserialize)]
pub struct TransferForm {
    #[serde(default)]
    target: String,
}

/// `POST /inquiries/{id}/transfer`: the API's blind transfer of this
/// inquiry's live call, to `agent:LOGIN`, `queue:NAME` or
/// `department:NAME`.
pub async fn transfer(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<TransferForm>,
) -> Result<Response, WebError> {
    let data = load(&app, &ctx, &id).await?;
    let lang = ctx.lang;
    let body = match form.target.split_once(':') {
        Some(("agent", login)) => Some(TransferBody {
            agent: Some(login.to_string()),
            ..TransferBody::default()
        }),
        Some(("queue", queue)) => Some(TransferBody {
            queue: Some(queue.to_string()),
            ..TransferBody::default()
        }),
        Some(("department", name)) => Some(TransferBody {
            department: Some(name.to_string()),
            ..TransferBody::default()
        }),
        _ => None,
    };
    let refusal = match (&data.call, body) {
        (None, _) => lang
            .t("Звонок уже завершён.", "The call has already ended.")
            .to_string(),
        (Some(_), None) => lang
            .t("Выберите, куда перевести.", "Choose where to transfer.")
            .to_string(),
        (Some(call), Some(body)) => {
            match crate::api::routing::transfer(
                State(app.clone()),
                ctx.user.clone(),
                Path(call.id.to_string()),
                ApiJson(body),
            )
            .await
            {
                // Back to the desk: the call has left, and once the next
                // agent answers the inquiry is theirs (this page would be
                // a 403 for a manager).
                Ok(_) => return Ok(Redirect::to("/operator?transferred=1").into_response()),
                Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
                    e.fields.into_values().collect::<Vec<_>>().join("; ")
                }
                Err(e) if e.status == StatusCode::NOT_FOUND => lang
                    .t("Звонок уже завершён.", "The call has already ended.")
                    .to_string(),
                Err(e) => return Err(e.into()),
            }
        }
    };
    let errors = FieldErrors::from([("transfer".to_string(), refusal)]);
    let form_values = InquiryForm::of(&data.inquiry.inquiry);
    let page = render(&ctx, &data, &form_values, &errors, None);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// `GET /inquiries/{id}/recording`: the API's recording download (same
/// access rule: the head, admins and the agent who took the call; every
/// attempt audited), for the page's `<audio>` player.
pub async fn recording(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    Ok(crate::api::recordings::get(State(app), ctx.user, Path(id)).await?)
}

/// The message shown next to a field: the usual cause in the page's
/// language, the API's own words otherwise.
pub(crate) fn field_message(lang: Lang, field: &str, api_message: &str) -> String {
    let known = match field {
        "category" => Some(lang.t(
            "Выберите категорию из списка.",
            "Choose a category from the list.",
        )),
        "topic" => Some(lang.t(
            "Тема — от 1 до 200 символов.",
            "The topic is 1 to 200 characters.",
        )),
        "notes" => Some(lang.t(
            "Заметки — не длиннее 10 000 символов.",
            "Notes are at most 10,000 characters.",
        )),
        "resolution" => Some(lang.t(
            "Опишите решение (от 1 до 10 000 символов).",
            "Describe the resolution (1 to 10,000 characters).",
        )),
        "how" => Some(lang.t("Выберите способ из списка.", "Choose a way from the list.")),
        _ => None,
    };
    known.map_or_else(|| api_message.to_string(), str::to_string)
}

fn error_for(lang: Lang, errors: &FieldErrors, field: &str) -> Markup {
    html! {
        @if let Some(message) = errors.get(field) {
            span.error.field-error id={ "error-" (field) } role="alert" title=(message) {
                (field_message(lang, field, message))
            }
        }
    }
}

fn render(
    ctx: &Ctx,
    data: &PageData,
    form: &InquiryForm,
    errors: &FieldErrors,
    notice: Option<&str>,
) -> Markup {
    let lang = ctx.lang;
    let inquiry = &data.inquiry.inquiry;
    let title = format!("{} {}", lang.t("Обращение", "Inquiry"), inquiry.id);
    let can_hear =
        ctx.user.access() >= AccessLevel::Head || inquiry.agent.as_deref() == Some(ctx.login());
    let body = html! {
        h1 { (title) " " (status_badge(lang, inquiry.status, Some("inquiry-status"))) }
        @if let Some(notice) = notice { p.notice #notice role="status" { (notice) } }
        @if !errors.is_empty() {
            p.error #form-errors role="alert" { (lang.t("Исправьте отмеченные поля.", "Fix the marked fields.")) }
        }
        div.grid.inquiry-grid {
            (details(lang, ctx.zone, data))
            (form_card(ctx, inquiry, form, errors))
        }
        @if data.call.is_some() {
            (transfer_card(ctx, data, errors))
        } @else if let Some(refusal) = errors.get("transfer") {
            // The call ended before the transfer: no form to show it in.
            p.error #error-transfer role="alert" { (refusal) }
        }
        @if inquiry.recording.is_some() && can_hear {
            section.card #recording {
                h2 { (lang.t("Запись разговора", "Call recording")) }
                audio controls preload="none" src={ "/inquiries/" (inquiry.id) "/recording" } {}
            }
        }
        section.card #timeline {
            h2 { (lang.t("История изменений", "Timeline")) }
            (timeline(lang, ctx.zone, &data.inquiry))
        }
    };
    frame(ctx, "/inquiries", &title, body)
}

fn details(lang: Lang, zone: Zone, data: &PageData) -> Markup {
    let i = &data.inquiry.inquiry;
    let time = |ms: Option<i64>| zone.opt_time(ms);
    html! {
        section.card #inquiry-details {
            h2 { (lang.t("Сведения", "Details")) }
            dl.facts {
                dt { (lang.t("Канал", "Channel")) } dd #detail-channel { (present::channel(lang, i.channel)) }
                dt { (lang.t("Откуда", "From")) } dd #detail-from { (present::or_dash(Some(phone(&i.from)))) }
                dt { (lang.t("Клиент", "Client")) }
                dd #detail-client {
                    @match (&data.client, &i.client_id) {
                        (Some(c), _) => a href={ "/clients/" (c.id) } {
                            (c.name.as_deref().filter(|n| !n.is_empty()).unwrap_or(lang.t("без имени", "no name")))
                        },
                        (None, Some(id)) => a href={ "/clients/" (id) } { (id) },
                        (None, None) => span.muted { "—" },
                    }
                }
                dt { (lang.t("Создано", "Created")) } dd { (zone.time(i.created_at_ms)) }
                dt { (lang.t("Ответ", "Answered")) } dd { (time(i.answered_at_ms)) }
                dt { (lang.t("Завершено", "Ended")) } dd { (time(i.ended_at_ms)) }
                dt { (lang.t("Путь в меню", "IVR path")) } dd { (present::or_dash(i.ivr_path.clone())) }
                dt { (lang.t("Очередь", "Queue")) } dd { (present::or_dash(i.queue.clone())) }
                dt { (lang.t("Менеджер", "Manager")) } dd #detail-agent { (present::or_dash(i.agent.clone())) }
                dt { (lang.t("Причина маршрутизации", "Routing reason")) }
                dd { (present::or_dash(i.routing_reason.as_deref().map(|r| present::routing_reason(lang, r)))) }
                dt { (lang.t("Ожидание / разговор", "Wait / talk")) }
                dd { (present::opt_clock(i.wait_ms)) " / " (present::opt_clock(i.talk_ms)) }
                dt { (lang.t("Решено", "Resolved")) }
                dd #detail-resolved { (time(i.resolved_at_ms)) @if let Some(by) = &i.resolved_by { " (" (by) ")" } }
                dt { (lang.t("Клиент проинформирован", "Client informed")) }
                dd #detail-informed {
                    (time(i.client_informed_at_ms))
                    @if let Some(how) = &i.informed_how { " · " (present::inform_way(lang, how)) }
                    @if let Some(by) = &i.informed_by { " (" (by) ")" }
                }
            }
            (zone.note(lang))
        }
    }
}

fn form_card(ctx: &Ctx, inquiry: &Inquiry, form: &InquiryForm, errors: &FieldErrors) -> Markup {
    let lang = ctx.lang;
    let already_informed = inquiry.client_informed_at_ms.is_some();
    let resolved = inquiry.status == crate::store::InquiryStatus::Resolved;
    html! {
        section.card #inquiry-form-card {
            h2 { (lang.t("Форма обращения", "Inquiry form")) }
            form #inquiry-form method="post" action={ "/inquiries/" (inquiry.id) } {
                (csrf_field(ctx))
                label {
                    (lang.t("Категория", "Category"))
                    select #category name="category" {
                        option value="" selected[form.category.is_empty()] { "—" }
                        (present::category_options(lang, &form.category))
                    }
                    (error_for(lang, errors, "category"))
                }
                label {
                    (lang.t("Тема", "Topic"))
                    input #topic type="text" name="topic" maxlength="200" value=(form.topic);
                    (error_for(lang, errors, "topic"))
                }
                label {
                    (lang.t("Заметки", "Notes"))
                    textarea #notes name="notes" { (form.notes) }
                    (error_for(lang, errors, "notes"))
                }
                label {
                    (lang.t("Решение", "Resolution"))
                    textarea #resolution name="resolution" { (form.resolution) }
                    (error_for(lang, errors, "resolution"))
                }
                div.row.informed {
                    label.checkbox {
                        input #informed type="checkbox" name="informed" value="on"
                            checked[form.informed.is_some()] disabled[already_informed];
                        " " (lang.t("Клиент проинформирован", "Client informed"))
                    }
                    label {
                        (lang.t("Как", "How"))
                        select #how name="how" disabled[already_informed] {
                            @for way in INFORM_WAYS {
                                option value=(way) selected[form.how == *way] { (present::inform_way(lang, way)) }
                            }
                        }
                        (error_for(lang, errors, "how"))
                    }
                }
                div.form-actions {
                    button #save type="submit" name="action" value="save" class="secondary" {
                        (lang.t("Сохранить", "Save"))
                    }
                    " "
                    button #resolve type="submit" name="action" value="resolve" {
                        @if resolved { (lang.t("Обновить решение", "Update the resolution")) }
                        @else { (lang.t("Решено", "Resolve")) }
                    }
                }
            }
        }
    }
}

fn transfer_card(ctx: &Ctx, data: &PageData, errors: &FieldErrors) -> Markup {
    let lang = ctx.lang;
    let inquiry = &data.inquiry.inquiry;
    let managers: Vec<(String, String)> = data
        .client
        .iter()
        .flat_map(|c| &c.managers)
        .filter(|m| m.login != ctx.login())
        .map(|m| (m.login.clone(), m.area.clone()))
        .collect();
    html! {
        section.card #transfer {
            h2 { (lang.t("Перевести звонок", "Transfer the call")) }
            form.row method="post" action={ "/inquiries/" (inquiry.id) "/transfer" } {
                (csrf_field(ctx))
                label {
                    (lang.t("Куда", "To"))
                    select #transfer-target name="target" {
                        @if !managers.is_empty() {
                            optgroup label=(lang.t("Персональный менеджер", "Personal manager")) {
                                @for (login, area) in &managers {
                                    option value={ "agent:" (login) } { (login) " (" (present::area(lang, area)) ")" }
                                }
                            }
                        }
                        optgroup label=(lang.t("Очередь", "Queue")) {
                            @for queue in &data.queues {
                                option value={ "queue:" (queue) } { (queue) }
                            }
                        }
                        @if !data.departments.is_empty() {
                            optgroup label=(lang.t("Подразделение", "Department")) {
                                @for (name, number) in &data.departments {
                                    option value={ "department:" (name) } { (name) " (" (number) ")" }
                                }
                            }
                        }
                    }
                    (error_for(lang, errors, "transfer"))
                }
                div { button #transfer-submit type="submit" { (lang.t("Перевести", "Transfer")) } }
            }
        }
    }
}

fn timeline(lang: Lang, zone: Zone, inquiry: &InquiryWithEvents) -> Markup {
    html! {
        @if inquiry.events.is_empty() {
            p.muted { (lang.t("Событий нет.", "No events.")) }
        } @else {
            div.table-wrap {
                table.compact {
                    thead { tr {
                        th { (zone.heading(lang.t("Когда", "When"))) }
                        th { (lang.t("Событие", "Event")) }
                        th { (lang.t("Кто", "Who")) }
                        th { (lang.t("Что", "What")) }
                    } }
                    tbody {
                        @for e in &inquiry.events {
                            tr {
                                td { (zone.time_of(&e.at)) }
                                td data-kind=(e.kind) { (present::event_kind(lang, &e.kind)) }
                                td { (present::or_dash(e.data.get("by").and_then(|b| b.as_str()).map(str::to_string).or_else(|| e.agent.clone()))) }
                                td.event-data { (summary(&e.data)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `key: value` pairs of an event's data, long texts cut short.
fn summary(data: &serde_json::Value) -> String {
    const MAX_CHARS: usize = 120;
    let Some(object) = data.as_object() else {
        return String::new();
    };
    object
        .iter()
        .filter(|(key, _)| key.as_str() != "by")
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let short: String = text.chars().take(MAX_CHARS).collect();
            let cut = if short.len() < text.len() { "…" } else { "" };
            format!("{key}: {short}{cut}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_data_reads_as_short_pairs() {
        let data =
            serde_json::json!({"by": "anna", "status": "resolved", "notes": "x".repeat(200)});
        let text = summary(&data);
        assert!(text.contains("status: resolved"), "{text}");
        assert!(
            !text.contains("anna"),
            "the author has its own column: {text}"
        );
        assert!(text.contains('…'));
    }
}
