//! `/clients/{id}`: the client card — who the client is (name, phones,
//! e-mails, messenger handles, category, personal managers) and every
//! inquiry they ever made, on every channel, newest first — and the form
//! that edits the client's details.
//!
//! **Why the API's handlers.** The card is `GET /api/v1/clients/{id}` plus
//! `…/history`, and the edit is `PATCH /api/v1/clients/{id}`, called
//! directly: the manager-sees-own-clients rule (403, audited as `denied`),
//! the audit of every read, and the validation and normalisation of phones
//! and e-mails are theirs, so the console cannot be looser than the API.

use crate::api::clients::{ClientRequest, HistoryParams};
use crate::api::{ApiError, ApiJson, AppState, CurrentUser};
use crate::store::{Client, Inquiry, MAX_INQUIRY_PAGE, normalize_email};
use crate::web::error::WebError;
use crate::web::i18n::Lang;
use crate::web::inquiries::{Staff, field_error};
use crate::web::layout::{csrf_field, page};
use crate::web::present::{self, phone, status_badge};
use crate::web::session::{Ctx, encode_query_value};
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The card reads the history in pages of the API's largest size; this
/// many pages (10 000 inquiries) is more than any one person makes, and
/// keeps a pathological client from making the page unbounded.
const MAX_HISTORY_PAGES: usize = 10;

/// `?saved=1` after a successful edit (Post/Redirect/Get).
#[derive(Deserialize, Default)]
pub struct CardQuery {
    saved: Option<String>,
}

/// The edit form. Phones and e-mails are one per line (commas and
/// semicolons separate too); the API normalises each.
#[derive(Deserialize, Default, Clone)]
pub struct EditForm {
    name: Option<String>,
    category: Option<String>,
    phones: Option<String>,
    emails: Option<String>,
}

impl EditForm {
    fn of(client: &Client) -> EditForm {
        EditForm {
            name: client.name.clone(),
            category: client.category.clone(),
            // As people write them; the API normalises them back on save.
            phones: Some(
                client
                    .phones
                    .iter()
                    .map(|p| phone(p))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            emails: Some(client.emails.join("\n")),
        }
    }

    /// The PATCH body. An empty name or category leaves it as it is (the
    /// API has no "clear" for them); a list sent replaces the client's
    /// list, so emptying one removes them all (a field not sent at all
    /// leaves it alone). Handles are not edited here.
    fn request(&self) -> ClientRequest {
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        ClientRequest {
            name: text(&self.name),
            category: text(&self.category),
            phones: self.phones.as_deref().map(entries),
            emails: self.emails.as_deref().map(entries),
            handles: None,
        }
    }
}

/// The non-empty entries of a one-per-line list.
fn entries(text: &str) -> Vec<String> {
    text.split(['\n', ',', ';'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `GET /clients/{id}`
pub async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    query: Result<Query<CardQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let saved = query
        .ok()
        .and_then(|Query(q)| q.saved)
        .is_some_and(|s| !s.is_empty());
    let (client, history) = load(&state, &ctx.user, &id).await?;
    let form = EditForm::of(&client);
    let card = Card {
        client,
        history,
        staff: Staff::load(&state).await?,
        form,
        errors: BTreeMap::new(),
        form_error: None,
        saved,
    };
    Ok(card.render(&ctx).into_response())
}

/// `POST /clients/{id}`: saves the details through the API's PATCH, then
/// back to the card (303); invalid values or a phone that is another
/// client's re-render the card with the message next to the field.
pub async fn save(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    form: Result<Form<EditForm>, FormRejection>,
) -> Result<Response, WebError> {
    let Form(form) = form.map_err(|r| {
        WebError(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_form",
            r.body_text(),
        ))
    })?;
    let updated = crate::api::clients::update(
        State(state.clone()),
        ctx.user.clone(),
        Path(id.clone()),
        ApiJson(form.request()),
    )
    .await;
    let refused = match updated {
        Ok(_) => {
            let to = format!("/clients/{}?saved=1", encode_query_value(&id));
            return Ok(Redirect::to(&to).into_response());
        }
        Err(e)
            if e.status == StatusCode::UNPROCESSABLE_ENTITY || e.status == StatusCode::CONFLICT =>
        {
            e
        }
        Err(e) => return Err(e.into()),
    };
    let (client, history) = load(&state, &ctx.user, &id).await?;
    let (errors, form_error) = edit_messages(ctx.lang, &refused, &form);
    let card = Card {
        client,
        history,
        staff: Staff::load(&state).await?,
        form,
        errors,
        form_error,
        saved: false,
    };
    Ok((refused.status, card.render(&ctx)).into_response())
}

/// The client and its whole history, through the API (access check and
/// audit included).
async fn load(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
) -> Result<(Client, History), WebError> {
    let Json(client) =
        crate::api::clients::get(State(state.clone()), user.clone(), Path(id.to_owned())).await?;
    let mut history = History::default();
    let mut cursor = None;
    for _ in 0..MAX_HISTORY_PAGES {
        let params = HistoryParams {
            limit: Some(MAX_INQUIRY_PAGE.to_string()),
            cursor: cursor.take(),
        };
        let Json(page) = crate::api::clients::history(
            State(state.clone()),
            user.clone(),
            Path(id.to_owned()),
            Ok(Query(params)),
        )
        .await?;
        history.items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok((client, history)),
        }
    }
    history.truncated = true;
    Ok((client, history))
}

#[derive(Default)]
struct History {
    items: Vec<Inquiry>,
    /// More than [`MAX_HISTORY_PAGES`] pages: the oldest are not shown.
    truncated: bool,
}

/// A refused edit as the form shows it: per-field messages and one above
/// the form (a conflict, or a field the form does not have). In Russian
/// our words, naming the entries the API's own normalisers refuse; in
/// English the API's message.
fn edit_messages(
    lang: Lang,
    e: &ApiError,
    form: &EditForm,
) -> (BTreeMap<String, String>, Option<String>) {
    if e.status == StatusCode::CONFLICT {
        let message = match lang {
            Lang::Ru => {
                "Такой телефон, адрес или мессенджер уже записан у другого клиента.".to_owned()
            }
            Lang::En => e.message.clone(),
        };
        return (BTreeMap::new(), Some(message));
    }
    let mut fields = BTreeMap::new();
    let mut other = None;
    for (field, api_message) in &e.fields {
        let ru = match field.as_str() {
            "name" => "Имя — от 1 до 200 символов.".to_owned(),
            "category" => "Неизвестная категория.".to_owned(),
            "phones" => refused_entries(
                "Не номер телефона",
                entries(form.phones.as_deref().unwrap_or_default())
                    .into_iter()
                    .filter(|p| crate::phone::normalize(p).is_none()),
            ),
            "emails" => refused_entries(
                "Не адрес эл. почты",
                entries(form.emails.as_deref().unwrap_or_default())
                    .into_iter()
                    .filter(|m| normalize_email(m).is_none()),
            ),
            _ => api_message.clone(),
        };
        let message = match lang {
            Lang::Ru => ru,
            Lang::En => api_message.clone(),
        };
        if matches!(field.as_str(), "name" | "category" | "phones" | "emails") {
            fields.insert(field.clone(), message);
        } else {
            other = Some(message);
        }
    }
    if fields.is_empty() && other.is_none() {
        other = Some(e.message.clone());
    }
    (fields, other)
}

/// `what: «a», «b».`
fn refused_entries(what: &str, bad: impl Iterator<Item = String>) -> String {
    let bad: Vec<String> = bad.map(|b| format!("«{b}»")).collect();
    if bad.is_empty() {
        format!("{what}.")
    } else {
        format!("{what}: {}.", bad.join(", "))
    }
}

/// Everything the card page shows.
struct Card {
    client: Client,
    history: History,
    staff: Staff,
    form: EditForm,
    errors: BTreeMap<String, String>,
    form_error: Option<String>,
    saved: bool,
}

impl Card {
    fn render(&self, ctx: &Ctx) -> Markup {
        let lang = ctx.lang;
        let c = &self.client;
        let title = c.name.clone().unwrap_or_else(|| {
            lang.t("Клиент без имени", "Client without a name")
                .to_owned()
        });
        let body = html! {
            h1 #client-name { (title) }
            @if self.saved { p.notice #saved role="status" { (lang.t("Изменения сохранены.", "Changes saved.")) } }
            div.grid.client-card {
                section.card #client-details {
                    h2 { (lang.t("Контакты", "Contacts")) }
                    dl.facts {
                        dt { (lang.t("Телефоны", "Phones")) }
                        dd #client-phones { @for p in &c.phones { span.nowrap { (phone(p)) } br; } @if c.phones.is_empty() { "—" } }
                        dt { (lang.t("Эл. почта", "E-mail")) }
                        dd #client-emails { @for e in &c.emails { (e) br; } @if c.emails.is_empty() { "—" } }
                        dt { (lang.t("Мессенджеры", "Messengers")) }
                        dd #client-handles { @for h in &c.handles { (h.messenger) ": " (h.handle) br; } @if c.handles.is_empty() { "—" } }
                        dt { (lang.t("Категория", "Category")) }
                        dd #client-category { (present::or_dash(c.category.as_deref().map(|cat| present::category(lang, cat)))) }
                        dt { (lang.t("Персональные менеджеры", "Personal managers")) }
                        dd #client-managers {
                            @for m in &c.managers {
                                (present::area(lang, &m.area)) ": " span title=(m.login) { (self.staff.name(&m.login)) } br;
                            }
                            @if c.managers.is_empty() { "—" }
                        }
                        dt { (ctx.zone.heading(lang.t("В базе с", "Known since"))) }
                        dd { (ctx.zone.time(c.created_at_ms)) }
                    }
                }
                (self.edit_form(ctx))
            }
            (self.history_table(ctx))
        };
        page(ctx, "/clients", &title, body)
    }

    fn edit_form(&self, ctx: &Ctx) -> Markup {
        let lang = ctx.lang;
        let f = &self.form;
        let action = format!("/clients/{}", encode_query_value(&self.client.id));
        let invalid = |field: &str| self.errors.contains_key(field).then_some("true");
        html! {
            section.card #client-edit {
                h2 { (lang.t("Изменить данные", "Edit details")) }
                form method="post" action=(action) #client-form {
                    (csrf_field(ctx))
                    @if let Some(message) = &self.form_error { p.error #form-error role="alert" { (message) } }
                    label {
                        (lang.t("Имя", "Name"))
                        input type="text" name="name" id="name" maxlength="200" aria-invalid=[invalid("name")]
                            value=(f.name.as_deref().unwrap_or_default())
                            required[self.client.name.is_some()];
                        (field_error(&self.errors, "name"))
                    }
                    label {
                        (lang.t("Категория", "Category"))
                        select name="category" id="category-edit" aria-invalid=[invalid("category")] {
                            @if self.client.category.is_none() { option value="" { "—" } }
                            (present::category_options(lang, f.category.as_deref().unwrap_or_default()))
                        }
                        (field_error(&self.errors, "category"))
                    }
                    label {
                        (lang.t("Телефоны (по одному в строке)", "Phones (one per line)"))
                        textarea name="phones" id="phones" rows="3" aria-invalid=[invalid("phones")] {
                            (f.phones.as_deref().unwrap_or_default())
                        }
                        (field_error(&self.errors, "phones"))
                    }
                    label {
                        (lang.t("Эл. почта (по одному адресу в строке)", "E-mail (one address per line)"))
                        textarea name="emails" id="emails" rows="3" aria-invalid=[invalid("emails")] {
                            (f.emails.as_deref().unwrap_or_default())
                        }
                        (field_error(&self.errors, "emails"))
                    }
                    button type="submit" id="save-client" { (lang.t("Сохранить", "Save")) }
                }
            }
        }
    }

    fn history_table(&self, ctx: &Ctx) -> Markup {
        let lang = ctx.lang;
        let items = &self.history.items;
        let search = format!(
            "/inquiries?client_id={}",
            encode_query_value(&self.client.id)
        );
        html! {
            section #client-history {
                h2 { (lang.t("История обращений", "Inquiry history")) " " span.muted { "(" (items.len()) ")" } }
                @if items.is_empty() {
                    p.notice.empty #no-history { (lang.t("Обращений пока не было.", "No inquiries yet.")) }
                } @else {
                    div.table-wrap {
                        table.records #history {
                            thead { tr {
                                th { (ctx.zone.heading(lang.t("Дата", "Date"))) }
                                th { (lang.t("Канал", "Channel")) }
                                th { (lang.t("Категория / тема", "Category / topic")) }
                                th { (lang.t("Статус", "Status")) }
                                th { (lang.t("Оператор", "Agent")) }
                                th { (lang.t("Решение", "Resolution")) }
                            } }
                            tbody {
                                @for i in items {
                                    @let href = format!("/inquiries/{}", encode_query_value(&i.id));
                                    tr data-inquiry=(i.id) {
                                        td { a href=(href) { (ctx.zone.time(i.created_at_ms)) } }
                                        td { (present::channel(lang, i.channel)) }
                                        td {
                                            @if let Some(cat) = &i.category { span.muted { (present::category(lang, cat)) } br; }
                                            a href=(href) { (present::or_dash(i.topic.as_deref().map(|t| present::topic(lang, t)))) }
                                        }
                                        td { (status_badge(lang, i.status, None)) }
                                        td { @if let Some(agent) = &i.agent { span title=(agent) { (self.staff.name(agent)) } } }
                                        td.resolution { (i.resolution.as_deref().unwrap_or_default()) }
                                    }
                                }
                            }
                        }
                    }
                }
                @if self.history.truncated {
                    p.muted #history-truncated {
                        (lang.t("Показаны последние обращения; более ранние — в ", "The latest inquiries are shown; older ones are in the "))
                        a href=(search) { (lang.t("поиске обращений", "inquiry search")) }
                        "."
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_on_lines_commas_and_semicolons() {
        assert_eq!(
            entries(" 8 916 123-45-67\r\n\n+7 495 000-00-00, 100; "),
            vec!["8 916 123-45-67", "+7 495 000-00-00", "100"]
        );
        assert!(entries("").is_empty());
    }

    #[test]
    fn empty_name_and_category_are_left_as_they_are_but_lists_replace() {
        let form = EditForm {
            name: Some("  ".into()),
            category: Some(String::new()),
            phones: Some(String::new()),
            emails: Some("a@b.ru".into()),
        };
        let r = form.request();
        assert_eq!(r.name, None);
        assert_eq!(r.category, None);
        assert_eq!(r.phones, Some(vec![]));
        assert_eq!(r.emails, Some(vec!["a@b.ru".to_owned()]));
        assert!(r.handles.is_none());
        assert_eq!(EditForm::default().request().phones, None);
    }

    #[test]
    fn russian_messages_name_the_refused_entries() {
        let mut e = ApiError::validation(BTreeMap::from([(
            "phones".to_owned(),
            "\"abc\" is not a phone number".to_owned(),
        )]));
        let form = EditForm {
            phones: Some("8 916 123-45-67\nabc".into()),
            ..EditForm::default()
        };
        let (fields, other) = edit_messages(Lang::Ru, &e, &form);
        assert_eq!(fields["phones"], "Не номер телефона: «abc».");
        assert!(other.is_none());
        e.status = StatusCode::CONFLICT;
        let (fields, other) = edit_messages(Lang::En, &e, &form);
        assert!(fields.is_empty());
        assert_eq!(other.as_deref(), Some("some fields are invalid"));
    }
}
