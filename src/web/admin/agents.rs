//! Users and agents: the table (login, name, role, queues with skill,
//! state, registered phones), the create form, an edit page and a delete
//! confirmation — each change through `crate::api::agents`, so a new
//! password reaches the SIP registrar, queue changes reach routing, and
//! the last admin cannot be removed, exactly as through the API.

use super::{
    FieldErrors, FormPairs, Retry, back_to_admin, field_error, form_errors, html_id, require_admin,
    show_again,
};
use crate::api::agents::{AgentView, CreateAgentBody, PatchAgentBody};
use crate::api::{ApiJson, AppState};
use crate::config::QueueSettings;
use crate::role::Role;
use crate::store::QueueSkill;
use crate::web::error::WebError;
use crate::web::i18n::Lang;
use crate::web::layout::{csrf_field, page};
use crate::web::present;
use crate::web::session::{Ctx, encode_query_value};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

/// What the create form shows: what was typed (never the password) and
/// what is wrong with it.
#[derive(Debug, Default)]
pub(super) struct CreateForm {
    login: String,
    name: String,
    role: String,
    /// Checked queues with the skill as typed.
    queues: Vec<(String, String)>,
    errors: FieldErrors,
}

/// The edit form's counterpart of [`CreateForm`].
#[derive(Debug, Default)]
struct EditForm {
    name: String,
    role: String,
    queues: Vec<(String, String)>,
    errors: FieldErrors,
}

impl EditForm {
    fn of(agent: &AgentView) -> EditForm {
        EditForm {
            name: agent.name.clone(),
            role: agent.role.as_str().to_string(),
            queues: skills_as_typed(&agent.queues),
            errors: FieldErrors::new(),
        }
    }
}

fn skills_as_typed(queues: &[QueueSkill]) -> Vec<(String, String)> {
    queues
        .iter()
        .map(|q| (q.queue.clone(), q.skill.to_string()))
        .collect()
}

/// The checked queues of a form with their skills as typed.
fn chosen_queues(form: &FormPairs) -> Vec<(String, String)> {
    form.all("queue")
        .map(|q| (q.to_string(), form.text(&format!("skill.{q}"))))
        .collect()
}

/// The checked queues with their skills (empty = the default skill), or
/// what is wrong with a skill.
fn parse_queues(chosen: &[(String, String)], lang: Lang) -> Result<Vec<QueueSkill>, String> {
    chosen
        .iter()
        .map(|(queue, skill)| {
            let skill = if skill.is_empty() {
                QueueSkill::DEFAULT_SKILL
            } else {
                skill.parse::<u8>().map_err(|_| {
                    format!(
                        "{} {queue}: {}",
                        lang.t("Навык в очереди", "Skill in queue"),
                        lang.t("целое число от 0 до 255", "a whole number from 0 to 255")
                    )
                })?
            };
            Ok(QueueSkill {
                queue: queue.clone(),
                skill,
            })
        })
        .collect()
}

/// Queues offered in a form: the configured ones, then any other the agent
/// already lists (saved through the API), so saving keeps them.
fn queue_options(configured: &[QueueSettings], chosen: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> = configured.iter().map(|q| q.name.clone()).collect();
    for (queue, _) in chosen {
        if !names.contains(queue) {
            names.push(queue.clone());
        }
    }
    names
}

/// Checkbox and skill per queue; `prefix` keeps the ids of two forms apart.
fn queue_picker(
    lang: Lang,
    prefix: &str,
    configured: &[QueueSettings],
    chosen: &[(String, String)],
    errors: &FieldErrors,
) -> Markup {
    html! {
        fieldset.queue-picker {
            legend { (lang.t("Очереди и навык (0–255, больше — раньше получает звонки)", "Queues and skill (0–255, higher gets calls first)")) }
            @for queue in queue_options(configured, chosen) {
                @let skill = chosen.iter().find(|(q, _)| *q == queue).map(|(_, s)| s.as_str());
                @let id = html_id(&queue);
                div.queue-choice {
                    label.check {
                        input type="checkbox" name="queue" value=(queue) id=(format!("{prefix}-queue-{id}")) checked[skill.is_some()];
                        " " (queue)
                        @if !configured.iter().any(|q| q.name == queue) {
                            " " span.muted { (lang.t("(нет в конфигурации)", "(not configured)")) }
                        }
                    }
                    input type="number" min="0" max="255" name=(format!("skill.{queue}"))
                        id=(format!("{prefix}-skill-{id}")) value=(skill.filter(|s| !s.is_empty()).unwrap_or("1"))
                        aria-label=(format!("{} {queue}", lang.t("Навык в очереди", "Skill in queue")));
                }
            }
            (field_error(errors, "queues"))
        }
    }
}

fn role_select(lang: Lang, id: &str, current: &str, errors: &FieldErrors) -> Markup {
    html! {
        label for=(id) { (lang.t("Роль", "Role")) }
        select name="role" id=(id) {
            @for role in Role::ALL {
                option value=(role.as_str()) selected[role.as_str() == current] { (present::role(lang, role)) }
            }
        }
        (field_error(errors, "role"))
    }
}

/// The section on `/admin`: the table and the create form.
pub(super) fn section(
    ctx: &Ctx,
    agents: &[AgentView],
    configured: &[QueueSettings],
    form: &CreateForm,
) -> Markup {
    let lang = ctx.lang;
    let e = &form.errors;
    html! {
        section.card.admin-section id="agents" {
            h2 { (lang.t("Пользователи и операторы", "Users and agents")) }
            p.muted { (lang.t(
                "Каждый оператор — пользователь консоли и API: логин и пароль открывают и консоль, и SIP-телефон.",
                "Every agent is a user of the console and the API: the login and password open both the console and the SIP phone."
            )) }
            div.table-wrap {
                table id="agents-table" {
                    thead { tr {
                        th { (lang.t("Логин", "Login")) }
                        th { (lang.t("Имя", "Name")) }
                        th { (lang.t("Роль", "Role")) }
                        th { (lang.t("Очереди (навык)", "Queues (skill)")) }
                        th { (lang.t("Состояние", "State")) }
                        th { (lang.t("Телефоны", "Phones")) }
                        th {}
                    } }
                    tbody {
                        @for agent in agents {
                            tr id=(format!("agent-{}", html_id(&agent.login))) {
                                td.login { (agent.login) }
                                td { (agent.name) }
                                td { (present::role(lang, agent.role)) }
                                td.queues {
                                    @for (i, q) in agent.queues.iter().enumerate() {
                                        @if i > 0 { ", " }
                                        (q.queue) " (" (q.skill) ")"
                                    }
                                }
                                td { (present::agent_state_badge(lang, agent.state, None)) }
                                td.phones {
                                    @if agent.registrations.is_empty() {
                                        span.muted { "—" }
                                    } @else {
                                        ul.plain {
                                            @for r in &agent.registrations {
                                                li title=(r.contact) {
                                                    (r.user_agent.as_deref().unwrap_or(lang.t("телефон", "phone")))
                                                    " · " (r.transport) " " (r.source)
                                                }
                                            }
                                        }
                                    }
                                }
                                td.actions {
                                    a.button.secondary href=(format!("/admin/agents/{}", agent.login)) { (lang.t("Изменить", "Edit")) }
                                    " "
                                    a.button.secondary href=(format!("/admin/agents/{}/delete", agent.login)) { (lang.t("Удалить", "Delete")) }
                                }
                            }
                        }
                    }
                }
            }
            h3 { (lang.t("Новый пользователь", "New user")) }
            form id="create-agent" method="post" action="/admin/agents" {
                (csrf_field(ctx))
                div.row {
                    div {
                        label for="new-login" { (lang.t("Логин (a-z, 0-9, . _ -)", "Login (a-z, 0-9, . _ -)")) }
                        input type="text" name="login" id="new-login" value=(form.login) required autocomplete="off";
                        (field_error(e, "login"))
                    }
                    div {
                        label for="new-name" { (lang.t("Имя", "Name")) }
                        input type="text" name="name" id="new-name" value=(form.name) required;
                        (field_error(e, "name"))
                    }
                    div { (role_select(lang, "new-role", if form.role.is_empty() { "contact_manager" } else { &form.role }, e)) }
                    div {
                        label for="new-password" { (lang.t("Пароль (от 8 символов)", "Password (8 characters or more)")) }
                        input type="password" name="password" id="new-password" required autocomplete="new-password";
                        (field_error(e, "password"))
                    }
                }
                (queue_picker(lang, "new", configured, &form.queues, e))
                button type="submit" id="create-agent-submit" { (lang.t("Создать", "Create")) }
            }
        }
    }
}

/// `POST /admin/agents`
pub(super) async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    require_admin(&ctx)?;
    let form = FormPairs::from(pairs);
    let mut retry = CreateForm {
        login: form.text("login"),
        name: form.text("name"),
        role: form.text("role"),
        queues: chosen_queues(&form),
        errors: FieldErrors::new(),
    };
    let queues = match parse_queues(&retry.queues, ctx.lang) {
        Ok(queues) => queues,
        Err(message) => {
            retry.errors.insert("queues".to_string(), message);
            return again(&state, &ctx, StatusCode::UNPROCESSABLE_ENTITY, retry).await;
        }
    };
    let body = CreateAgentBody {
        login: Some(retry.login.clone()),
        name: Some(retry.name.clone()),
        role: Some(retry.role.clone()).filter(|r| !r.is_empty()),
        password: Some(form.get("password").unwrap_or("").to_string()),
        queues,
        digest_algorithms: None,
        nat: false,
    };
    match crate::api::agents::create(State(state.clone()), ctx.user.clone(), ApiJson(body)).await {
        Ok(_) => Ok(back_to_admin(
            &format!("created={}", encode_query_value(&retry.login)),
            "agents",
        )),
        Err(e) => {
            let (status, errors) = form_errors(e, "login")?;
            retry.errors = errors;
            again(&state, &ctx, status, retry).await
        }
    }
}

async fn again(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    create: CreateForm,
) -> Result<Response, WebError> {
    show_again(
        state,
        ctx,
        status,
        Retry {
            create,
            ..Retry::default()
        },
    )
    .await
}

async fn agent(state: &AppState, ctx: &Ctx, login: String) -> Result<AgentView, WebError> {
    Ok(
        crate::api::agents::get(State(state.clone()), ctx.user.clone(), Path(login))
            .await?
            .0,
    )
}

fn edit_markup(ctx: &Ctx, state: &AppState, agent: &AgentView, form: &EditForm) -> Markup {
    let lang = ctx.lang;
    let e = &form.errors;
    let configured = super::queue_settings(state);
    let title = format!("{} {}", lang.t("Пользователь", "User"), agent.login);
    page(
        ctx,
        "/admin",
        &title,
        html! {
            p { a href="/admin#agents" { "← " (lang.t("Администрирование", "Administration")) } }
            h1 { (title) }
            section.card.admin-section {
                form id="edit-agent" method="post" action=(format!("/admin/agents/{}", agent.login)) {
                    (csrf_field(ctx))
                    (field_error(e, "form"))
                    div.row {
                        div {
                            label for="edit-name" { (lang.t("Имя", "Name")) }
                            input type="text" name="name" id="edit-name" value=(form.name) required;
                            (field_error(e, "name"))
                        }
                        div { (role_select(lang, "edit-role", &form.role, e)) }
                        div {
                            label for="edit-password" { (lang.t("Новый пароль (пусто — не менять)", "New password (empty: keep)")) }
                            input type="password" name="password" id="edit-password" autocomplete="new-password";
                            (field_error(e, "password"))
                        }
                    }
                    (queue_picker(lang, "edit", configured, &form.queues, e))
                    button type="submit" id="save-agent" { (lang.t("Сохранить", "Save")) }
                    " "
                    a.button.secondary href=(format!("/admin/agents/{}/delete", agent.login)) { (lang.t("Удалить…", "Delete…")) }
                }
            }
        },
    )
}

/// `GET /admin/agents/{login}`
pub(super) async fn edit_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(login): Path<String>,
) -> Result<Markup, WebError> {
    require_admin(&ctx)?;
    let agent = agent(&state, &ctx, login).await?;
    Ok(edit_markup(&ctx, &state, &agent, &EditForm::of(&agent)))
}

/// `POST /admin/agents/{login}`
pub(super) async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(login): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    require_admin(&ctx)?;
    let current = agent(&state, &ctx, login.clone()).await?;
    let form = FormPairs::from(pairs);
    let mut retry = EditForm {
        name: form.text("name"),
        role: form.text("role"),
        queues: chosen_queues(&form),
        errors: FieldErrors::new(),
    };
    let queues = match parse_queues(&retry.queues, ctx.lang) {
        Ok(queues) => queues,
        Err(message) => {
            retry.errors.insert("queues".to_string(), message);
            let markup = edit_markup(&ctx, &state, &current, &retry);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response());
        }
    };
    let body = PatchAgentBody {
        name: Some(retry.name.clone()),
        role: Some(retry.role.clone()).filter(|r| !r.is_empty()),
        password: form
            .get("password")
            .filter(|p| !p.is_empty())
            .map(str::to_string),
        queues: Some(queues),
        digest_algorithms: None,
        nat: None,
    };
    match crate::api::agents::update(
        State(state.clone()),
        ctx.user.clone(),
        Path(login.clone()),
        ApiJson(body),
    )
    .await
    {
        Ok(_) => Ok(back_to_admin(
            &format!("updated={}", encode_query_value(&login)),
            &format!("agent-{}", html_id(&login)),
        )),
        Err(e) => {
            let (status, errors) = form_errors(e, "form")?;
            retry.errors = errors;
            Ok((status, edit_markup(&ctx, &state, &current, &retry)).into_response())
        }
    }
}

fn delete_markup(ctx: &Ctx, agent: &AgentView, error: Option<&str>) -> Markup {
    let lang = ctx.lang;
    page(
        ctx,
        "/admin",
        lang.t("Удаление пользователя", "Delete user"),
        html! {
            section.card.admin-section.confirm-delete {
                h1 { (lang.t("Удалить пользователя", "Delete user")) " " (agent.login) " (" (agent.name) ")?" }
                p { (lang.t(
                    "Вход в консоль и API будет закрыт, телефоны сняты с регистрации, звонки на этого оператора больше не пойдут. Обращения и история останутся.",
                    "Console and API sign-in is closed, the phones are unregistered and no more calls go to this agent. Inquiries and history stay."
                )) }
                @if let Some(error) = error { p.error id="delete-error" role="alert" { (error) } }
                form method="post" action=(format!("/admin/agents/{}/delete", agent.login)) {
                    (csrf_field(ctx))
                    button.danger type="submit" id="confirm-delete" { (lang.t("Удалить", "Delete")) }
                    " "
                    a.button.secondary href="/admin#agents" { (lang.t("Отмена", "Cancel")) }
                }
            }
        },
    )
}

/// `GET /admin/agents/{login}/delete`: asks first.
pub(super) async fn delete_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(login): Path<String>,
) -> Result<Markup, WebError> {
    require_admin(&ctx)?;
    let agent = agent(&state, &ctx, login).await?;
    Ok(delete_markup(&ctx, &agent, None))
}

/// `POST /admin/agents/{login}/delete`
pub(super) async fn delete(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(login): Path<String>,
) -> Result<Response, WebError> {
    require_admin(&ctx)?;
    let current = agent(&state, &ctx, login.clone()).await?;
    match crate::api::agents::delete(State(state.clone()), ctx.user.clone(), Path(login.clone()))
        .await
    {
        Ok(_) => Ok(back_to_admin(
            &format!("deleted={}", encode_query_value(&login)),
            "agents",
        )),
        Err(e) if e.status == StatusCode::CONFLICT => {
            Ok((e.status, delete_markup(&ctx, &current, Some(&e.message))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
