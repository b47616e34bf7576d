//! Queues and their members. The settings (strategy, timeouts, overflow)
//! come from `[[queues]]` in the config file and are shown read-only;
//! membership is each agent's list of queues, so adding or removing a
//! member is an agent update through `crate::api::agents::update` —
//! routing picks it up from the same agent event as an API change (for
//! the next call; a call in progress keeps its agents).

use super::{
    FieldErrors, FormPairs, Retry, back_to_admin, field_error, form_errors, html_id, require_admin,
    show_again,
};
use crate::api::agents::{AgentView, PatchAgentBody};
use crate::api::{ApiError, ApiJson, AppState};
use crate::config::QueueSettings;
use crate::store::QueueSkill;
use crate::web::error::WebError;
use crate::web::layout::csrf_field;
use crate::web::present;
use crate::web::session::{Ctx, encode_query_value};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

/// The section on `/admin`: one card per configured queue.
pub(super) fn section(
    ctx: &Ctx,
    queues: &[QueueSettings],
    agents: &[AgentView],
    retry: Option<&(String, FieldErrors)>,
) -> Markup {
    let lang = ctx.lang;
    let no_errors = FieldErrors::new();
    html! {
        section.card.admin-section id="queues" {
            h2 { (lang.t("Очереди и их участники", "Queues and their members")) }
            p.muted.read-only-note { (lang.t(
                "Настройки очередей задаются в файле конфигурации (hotline.toml, [[queues]]) и здесь только показаны; они меняются перезапуском сервера. Состав очереди меняется здесь и действует со следующего звонка.",
                "Queue settings come from the config file (hotline.toml, [[queues]]) and are shown read-only; they change with a server restart. Members are edited here and take effect from the next call."
            )) }
            @if queues.is_empty() {
                p.muted { (lang.t("Маршрутизация не запущена.", "Routing is not running.")) }
            }
            div.grid {
                @for queue in queues {
                    @let id = html_id(&queue.name);
                    @let errors = retry.filter(|(q, _)| *q == queue.name).map_or(&no_errors, |(_, e)| e);
                    @let members: Vec<(&AgentView, u8)> = agents.iter()
                        .filter_map(|a| a.queues.iter().find(|q| q.queue == queue.name).map(|q| (a, q.skill)))
                        .collect();
                    div.queue-card id=(format!("queue-{id}")) {
                        h3 { (queue.name) }
                        dl.settings {
                            dt { (lang.t("Стратегия", "Strategy")) } dd { (present::strategy(lang, queue.strategy)) }
                            dt { (lang.t("Время вызова оператора", "Ring timeout")) } dd { (queue.ring_timeout_s) " s" }
                            dt { (lang.t("Поствызывная обработка", "Wrap-up")) } dd { (queue.wrap_up_s) " s" }
                            dt { (lang.t("Переполнение", "Overflow")) } dd { (present::overflow(lang, queue)) }
                            dt { (lang.t("Звонок персональному менеджеру", "Personal manager rings")) } dd { (queue.personal_ring_s) " s" }
                            dt { (lang.t("Объявление позиции", "Position announced every")) } dd { (queue.announce_every_s) " s" }
                        }
                        table.members {
                            thead { tr {
                                th { (lang.t("Участник", "Member")) }
                                th { (lang.t("Навык", "Skill")) }
                                th {}
                            } }
                            tbody {
                                @if members.is_empty() {
                                    tr { td.muted colspan="3" { (lang.t("Никого нет: звонки будут ждать.", "Nobody: calls will wait.")) } }
                                }
                                @for (agent, skill) in &members {
                                    tr id=(format!("member-{id}-{}", html_id(&agent.login))) {
                                        td { (agent.name) " " span.muted { "(" (agent.login) ")" } " "
                                             (present::agent_state_badge(lang, agent.state, None)) }
                                        td { (skill) }
                                        td {
                                            form.inline method="post" action=(format!("/admin/queues/{}/members/{}/remove", queue.name, agent.login)) {
                                                (csrf_field(ctx))
                                                button.secondary type="submit" id=(format!("remove-{id}-{}", html_id(&agent.login))) { (lang.t("Убрать", "Remove")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        form.add-member method="post" action=(format!("/admin/queues/{}/members", queue.name)) {
                            (csrf_field(ctx))
                            div.row {
                                div {
                                    label for=(format!("add-member-{id}")) { (lang.t("Добавить", "Add")) }
                                    select name="login" id=(format!("add-member-{id}")) {
                                        @for agent in agents.iter().filter(|a| !members.iter().any(|(m, _)| m.login == a.login)) {
                                            option value=(agent.login) { (agent.name) " (" (agent.login) ")" }
                                        }
                                    }
                                    (field_error(errors, "login"))
                                }
                                div {
                                    label for=(format!("add-skill-{id}")) { (lang.t("Навык", "Skill")) }
                                    input type="number" min="0" max="255" name="skill" value="1" id=(format!("add-skill-{id}"));
                                    (field_error(errors, "skill"))
                                    (field_error(errors, "queues"))
                                }
                                div { button type="submit" id=(format!("add-member-submit-{id}")) { (lang.t("Добавить в очередь", "Add to queue")) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// 404 unless `queue` is configured: members of a queue routing does not
/// have would never get a call.
fn configured<'a>(state: &'a AppState, queue: &str) -> Result<&'a QueueSettings, WebError> {
    super::queue_settings(state)
        .iter()
        .find(|q| q.name == queue)
        .ok_or_else(|| WebError(ApiError::not_found(format!("no queue {queue:?}"))))
}

/// Sets the agent's queues through the API; a refusal is shown at the
/// queue's card.
async fn set_queues(
    state: &AppState,
    ctx: &Ctx,
    queue: &str,
    login: String,
    queues: Vec<QueueSkill>,
) -> Result<Response, WebError> {
    let body = PatchAgentBody {
        name: None,
        role: None,
        password: None,
        queues: Some(queues),
        digest_algorithms: None,
        nat: None,
    };
    match crate::api::agents::update(
        State(state.clone()),
        ctx.user.clone(),
        Path(login),
        ApiJson(body),
    )
    .await
    {
        Ok(_) => Ok(back_to_admin(
            &format!("queue={}", encode_query_value(queue)),
            &format!("queue-{}", html_id(queue)),
        )),
        Err(e) => {
            let (status, errors) = form_errors(e, "queues")?;
            refuse(state, ctx, queue, status, errors).await
        }
    }
}

async fn refuse(
    state: &AppState,
    ctx: &Ctx,
    queue: &str,
    status: StatusCode,
    errors: FieldErrors,
) -> Result<Response, WebError> {
    let retry = Retry {
        queue: Some((queue.to_string(), errors)),
        ..Retry::default()
    };
    show_again(state, ctx, status, retry).await
}

/// The agent's current queues, through the API (404 for an unknown login).
async fn queues_of(state: &AppState, ctx: &Ctx, login: &str) -> Result<Vec<QueueSkill>, WebError> {
    Ok(crate::api::agents::get(
        State(state.clone()),
        ctx.user.clone(),
        Path(login.to_string()),
    )
    .await?
    .0
    .queues)
}

/// `POST /admin/queues/{queue}/members`: adds an agent (or changes the
/// skill of one already in it).
pub(super) async fn add_member(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(queue): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    require_admin(&ctx)?;
    configured(&state, &queue)?;
    let form = FormPairs::from(pairs);
    let login = form.text("login");
    let lang = ctx.lang;
    if login.is_empty() {
        let errors = FieldErrors::from([(
            "login".to_string(),
            lang.t("Выберите пользователя", "Choose a user").to_string(),
        )]);
        return refuse(
            &state,
            &ctx,
            &queue,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        )
        .await;
    }
    let skill_text = form.text("skill");
    let skill = if skill_text.is_empty() {
        Ok(QueueSkill::DEFAULT_SKILL)
    } else {
        skill_text.parse::<u8>()
    };
    let Ok(skill) = skill else {
        let errors = FieldErrors::from([(
            "skill".to_string(),
            lang.t("целое число от 0 до 255", "a whole number from 0 to 255")
                .to_string(),
        )]);
        return refuse(
            &state,
            &ctx,
            &queue,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        )
        .await;
    };
    let mut queues = queues_of(&state, &ctx, &login).await?;
    match queues.iter_mut().find(|q| q.queue == queue) {
        Some(membership) => membership.skill = skill,
        None => queues.push(QueueSkill {
            queue: queue.clone(),
            skill,
        }),
    }
    set_queues(&state, &ctx, &queue, login, queues).await
}

/// `POST /admin/queues/{queue}/members/{login}/remove`
pub(super) async fn remove_member(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((queue, login)): Path<(String, String)>,
) -> Result<Response, WebError> {
    require_admin(&ctx)?;
    configured(&state, &queue)?;
    let mut queues = queues_of(&state, &ctx, &login).await?;
    queues.retain(|q| q.queue != queue);
    set_queues(&state, &ctx, &queue, login, queues).await
}
