//! "New visit" (`/visits/new`): a client who walked in is registered as an
//! inquiry on the `in_person` channel, through the API's own
//! `POST /api/v1/inquiries` — the client is found by phone or e-mail, or
//! created — and the operator lands on the inquiry's page to go on.
//!
//! The form also knows the visitor's name, which the inquiry API does not
//! take: a client found or created without a name (or without this
//! e-mail) gets it through the clients API afterwards; a visitor who gives
//! only a name becomes a new client first.

use super::error::WebError;
use super::i18n::Lang;
use super::layout::{csrf_field, page as frame};
use super::present;
use crate::api::clients::ClientRequest;
use crate::api::inquiries::CreateInquiryRequest;
use crate::api::{ApiError, ApiJson, AppState};
use crate::store::normalize_email;
use axum::Form;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeMap;

type FieldErrors = BTreeMap<String, String>;

#[derive(Debug, Default, Deserialize)]
pub struct VisitForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    notes: String,
}

/// `GET /visits/new`
pub async fn show(ctx: crate::web::session::Ctx) -> Markup {
    render(&ctx, &VisitForm::default(), &FieldErrors::new())
}

/// Checked contact details: normalised phone and e-mail.
struct Contact {
    phone: Option<String>,
    email: Option<String>,
    name: Option<String>,
}

fn check_contact(lang: Lang, form: &VisitForm, errors: &mut FieldErrors) -> Contact {
    let given = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let phone = given(&form.phone).and_then(|raw| {
        let number = crate::phone::normalize(&raw);
        if number.is_none() {
            errors.insert(
                "phone".into(),
                lang.t("Это не номер телефона.", "This is not a phone number.")
                    .into(),
            );
        }
        number
    });
    let email = given(&form.email).and_then(|raw| {
        let address = normalize_email(&raw);
        if address.is_none() {
            errors.insert(
                "email".into(),
                lang.t("Это не адрес e-mail.", "This is not an e-mail address.")
                    .into(),
            );
        }
        address
    });
    let name = given(&form.name);
    if name.is_none() && form.phone.trim().is_empty() && form.email.trim().is_empty() {
        errors.insert(
            "name".into(),
            lang.t(
                "Укажите имя, телефон или e-mail.",
                "Give a name, a phone or an e-mail.",
            )
            .into(),
        );
    }
    Contact { phone, email, name }
}

/// `POST /visits/new`
pub async fn submit(
    State(app): State<AppState>,
    ctx: crate::web::session::Ctx,
    Form(form): Form<VisitForm>,
) -> Result<Response, WebError> {
    let lang = ctx.lang;
    let mut errors = FieldErrors::new();
    let contact = check_contact(lang, &form, &mut errors);
    if !errors.is_empty() {
        return Ok(unprocessable(&ctx, &form, &errors));
    }
    let from = contact.phone.clone().or_else(|| contact.email.clone());
    // Only a name: the visitor becomes a client of their own first.
    let client_id = match (&from, &contact.name) {
        (None, Some(name)) => {
            let created = crate::api::clients::create(
                State(app.clone()),
                ctx.user.clone(),
                ApiJson(ClientRequest {
                    name: Some(name.clone()),
                    category: None,
                    phones: None,
                    emails: None,
                    handles: None,
                }),
            )
            .await;
            match created {
                Ok((_, Json(client))) => Some(client.id),
                Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
                    return Ok(unprocessable(&ctx, &form, &e.fields));
                }
                Err(e) => return Err(e.into()),
            }
        }
        _ => None,
    };
    let non_empty = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let request = CreateInquiryRequest {
        channel: "in_person".to_string(),
        from,
        client_id,
        category: non_empty(&form.category),
        topic: non_empty(&form.topic),
        notes: non_empty(&form.notes),
        agent: None,
    };
    let created =
        crate::api::inquiries::create(State(app.clone()), ctx.user.clone(), ApiJson(request)).await;
    let inquiry = match created {
        Ok((_, Json(created))) => created.inquiry,
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            // `from` is the phone, or the e-mail when no phone was given.
            let mut fields = e.fields;
            if let Some(message) = fields.remove("from") {
                let field = if contact.phone.is_some() {
                    "phone"
                } else {
                    "email"
                };
                fields.insert(field.to_string(), message);
            }
            return Ok(unprocessable(&ctx, &form, &fields));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(client_id) = &inquiry.client_id {
        complete_client(&app, &ctx, client_id, &contact, &form.category).await;
    }
    Ok(Redirect::to(&format!("/inquiries/{}", inquiry.id)).into_response())
}

/// Adds what the visitor told and the client record lacks: a name, this
/// e-mail, a category. Never overwrites. A refusal (the e-mail belongs to
/// another client, say) leaves the client as it was: the inquiry exists,
/// and the client card is where duplicates are merged.
async fn complete_client(
    app: &AppState,
    ctx: &crate::web::session::Ctx,
    client_id: &str,
    contact: &Contact,
    category: &str,
) {
    let Ok(Json(client)) = crate::api::clients::get(
        State(app.clone()),
        ctx.user.clone(),
        Path(client_id.to_string()),
    )
    .await
    else {
        return;
    };
    let name = contact
        .name
        .clone()
        .filter(|_| client.name.as_deref().is_none_or(str::is_empty));
    let emails = contact
        .email
        .as_ref()
        .filter(|e| !client.emails.contains(e))
        .map(|e| {
            let mut all = client.emails.clone();
            all.push(e.clone());
            all
        });
    let category = Some(category.to_string())
        .filter(|c| client.category.is_none() && crate::ivr::CATEGORIES.contains(&c.as_str()));
    if name.is_none() && emails.is_none() && category.is_none() {
        return;
    }
    let update = ClientRequest {
        name,
        category,
        phones: None,
        emails,
        handles: None,
    };
    if let Err(e) = crate::api::clients::update(
        State(app.clone()),
        ctx.user.clone(),
        Path(client_id.to_string()),
        ApiJson(update),
    )
    .await
    {
        log_refusal(client_id, &e);
    }
}

fn log_refusal(client_id: &str, e: &ApiError) {
    tracing::info!(client = %client_id, code = e.code, "visit: client details not added");
}

fn unprocessable(
    ctx: &crate::web::session::Ctx,
    form: &VisitForm,
    errors: &FieldErrors,
) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, render(ctx, form, errors)).into_response()
}

/// The message next to a field: the page's own (already in its language)
/// for the contact fields, the inquiry form's wording for the API's.
fn error_for(lang: Lang, errors: &FieldErrors, field: &str) -> Markup {
    html! {
        @if let Some(message) = errors.get(field) {
            span.error.field-error id={ "error-" (field) } role="alert" title=(message) {
                @if matches!(field, "category" | "topic" | "notes") {
                    (super::inquiry::field_message(lang, field, message))
                } @else {
                    (message)
                }
            }
        }
    }
}

fn render(ctx: &crate::web::session::Ctx, form: &VisitForm, errors: &FieldErrors) -> Markup {
    let lang = ctx.lang;
    let title = lang.t("Новый визит", "New visit");
    frame(
        ctx,
        "/operator",
        title,
        html! {
            h1 { (title) }
            p.muted { (lang.t(
                "Клиент пришёл лично: обращение будет зарегистрировано на вас. Клиент найдётся по телефону или e-mail, иначе будет создан.",
                "A client came in person: the inquiry is registered to you. The client is found by phone or e-mail, or created.",
            )) }
            @if !errors.is_empty() {
                p.error #form-errors role="alert" { (lang.t("Исправьте отмеченные поля.", "Fix the marked fields.")) }
            }
            form.card.visit-form #visit-form method="post" action="/visits/new" {
                (csrf_field(ctx))
                label { (lang.t("Имя", "Name")) input #visit-name type="text" name="name" value=(form.name) autocomplete="off"; (error_for(lang, errors, "name")) }
                div.row {
                    label { (lang.t("Телефон", "Phone")) input #visit-phone type="tel" name="phone" value=(form.phone) autocomplete="off"; (error_for(lang, errors, "phone")) }
                    label { "E-mail" input #visit-email type="email" name="email" value=(form.email) autocomplete="off"; (error_for(lang, errors, "email")) }
                }
                label {
                    (lang.t("Категория", "Category"))
                    select #visit-category name="category" {
                        option value="" selected[form.category.is_empty()] { "—" }
                        (present::category_options(lang, &form.category))
                    }
                    (error_for(lang, errors, "category"))
                }
                label { (lang.t("Тема", "Topic")) input #visit-topic type="text" name="topic" maxlength="200" value=(form.topic); (error_for(lang, errors, "topic")) }
                label { (lang.t("Заметки", "Notes")) textarea #visit-notes name="notes" { (form.notes) } (error_for(lang, errors, "notes")) }
                div.form-actions {
                    button #visit-submit type="submit" { (lang.t("Зарегистрировать визит", "Register the visit")) }
                    " "
                    a.button.secondary href="/operator" { (lang.t("Отмена", "Cancel")) }
                }
            }
        },
    )
}
