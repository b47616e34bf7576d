//! The IVR editor (head and admin; a manager gets 403): the scripts of
//! `ivr-scripts/`, each in a text editor with line numbers, validated as
//! it is saved — every problem shown as `line:col message`, marked in the
//! gutter and one click from the cursor — a simulator (keys → prompts and
//! where the call ends up, on the saved or the edited text), and the
//! version history with a diff against the current text and rollback.
//!
//! Every action is the JSON API's own function
//! ([`crate::api::ivr_scripts`]): the same validation, versions, file
//! write, reload and audit. A failed save re-renders the page (422) with
//! the text as typed, so nothing the head wrote is lost.

use super::error::WebError;
use super::i18n::Lang;
use super::layout::{csrf_field, page};
use super::session::Ctx;
use crate::api::AppState;
use crate::api::ivr_scripts::{
    SaveKind, ScriptView, VersionView, get_script, get_version, list_scripts, list_versions,
    restore_version, save_script, simulate_script,
};
use crate::api::{ApiError, TextDiagnostic};
use crate::store::IvrScriptVersion;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::BTreeSet;

/// Versions listed on the editor page.
const VERSIONS_SHOWN: i64 = 50;

/// Unchanged lines shown around each change in a diff.
const DIFF_CONTEXT: usize = 3;

/// Past this many line pairs the middle of a diff is shown as replaced
/// whole instead of aligned (the alignment table is lines × lines).
const MAX_DIFF_CELLS: usize = 4_000_000;

/// `GET /ivr`: the scripts, their versions and problems.
pub async fn index(State(state): State<AppState>, ctx: Ctx) -> Result<Markup, WebError> {
    let scripts = list_scripts(&state, &ctx.user).await?;
    let lang = ctx.lang;
    let body = html! {
        h1 { (lang.t("Голосовое меню", "Voice menus")) }
        p.muted { (lang.t(
            "Сценарии из каталога ivr-scripts. Сохранённая версия сразу действует для новых звонков; идущие звонки доигрывают свою.",
            "Scripts of the ivr-scripts directory. A saved version takes effect for new calls at once; calls in progress keep theirs.")) }
        div.table-wrap {
            table id="ivr-scripts" {
                thead { tr {
                    th { (lang.t("Сценарий", "Script")) }
                    th { (lang.t("Поток", "Flow")) }
                    th { (lang.t("Номера", "Numbers")) }
                    th { (lang.t("Версия", "Version")) }
                    th { (lang.t("Состояние", "State")) }
                } }
                tbody {
                    @for s in &scripts {
                        tr data-script=(s.name) {
                            td { a href=(format!("/ivr/{}", s.name)) { (s.name) } br; span.muted { (s.file) } }
                            td { (s.flow.as_deref().unwrap_or("—")) }
                            td { (s.numbers.join(", ")) }
                            td { a href=(format!("/ivr/{}#versions", s.name)) { (s.version) } }
                            td {
                                (live_badge(lang, s.live))
                                @if !s.problems.is_empty() {
                                    ul.diagnostics { @for d in &s.problems { li { (d.to_string()) } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        &ctx,
        "/ivr",
        lang.t("Голосовое меню", "Voice menus"),
        body,
    ))
}

fn live_badge(lang: Lang, live: bool) -> Markup {
    html! {
        @if live {
            span.badge.state-available { (lang.t("действует", "live")) }
        } @else {
            span.badge.state-busy { (lang.t("не действует: есть ошибки", "not live: has problems")) }
        }
    }
}

/// What happened just before the editor page is shown (after a redirect).
#[derive(Deserialize, Default)]
pub struct EditorParams {
    saved: Option<i64>,
    restored: Option<i64>,
    unchanged: Option<String>,
}

/// A message above the editor.
enum Notice {
    Ok(String),
    Error(String),
}

/// A simulation to show under the simulator form.
struct SimulationShown {
    keys: String,
    /// The local time asked for; empty for now.
    at: String,
    edited: bool,
    lines: Vec<String>,
}

/// Everything the editor page shows besides the current script.
struct Editing<'a> {
    /// The text in the textarea: the current version, or what was typed.
    text: &'a str,
    /// The version the edit started from (sent back as `base_version`).
    base_version: i64,
    diagnostics: &'a [TextDiagnostic],
    notice: Option<Notice>,
    simulation: Option<SimulationShown>,
    keys: &'a str,
}

/// `GET /ivr/{name}`: the editor.
pub async fn editor(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    Query(params): Query<EditorParams>,
) -> Result<Response, WebError> {
    let current = get_script(&state, &ctx.user, &name).await?;
    let lang = ctx.lang;
    let notice = match (params.saved, params.restored, params.unchanged) {
        (Some(v), Some(from), _) => Some(Notice::Ok(format!(
            "{} {from} {} {v}",
            lang.t("Версия", "Version"),
            lang.t(
                "восстановлена и сохранена как версия",
                "restored and saved as version"
            ),
        ))),
        (Some(v), None, _) => Some(Notice::Ok(format!(
            "{} {v}. {}",
            lang.t("Сохранено: версия", "Saved: version"),
            lang.t("Новые звонки идут по ней.", "New calls get this version."),
        ))),
        (None, _, Some(_)) => Some(Notice::Ok(
            lang.t(
                "Текст не изменился: новая версия не нужна.",
                "The text is unchanged: no new version.",
            )
            .to_owned(),
        )),
        _ => None,
    };
    let editing = Editing {
        text: &current.text,
        base_version: current.version,
        diagnostics: &[],
        notice,
        simulation: None,
        keys: "",
    };
    render_editor(&state, &ctx, &current, editing, StatusCode::OK).await
}

/// The editor's form: the text and the version it started from; the
/// simulator's keys and which text to simulate ride along (the simulator
/// buttons submit the same form, so the edited text reaches them).
#[derive(Deserialize)]
pub struct EditorForm {
    #[serde(default)]
    text: String,
    base_version: Option<String>,
    #[serde(default)]
    keys: String,
    /// The simulated call's local time (`datetime-local`); empty for now.
    #[serde(default)]
    at: String,
    /// `edited` or `saved` (the simulator's buttons).
    source: Option<String>,
}

impl EditorForm {
    /// A textarea submits CRLF line breaks; the file keeps LF.
    fn text(&self) -> String {
        self.text.replace("\r\n", "\n")
    }

    fn base_version(&self) -> Option<i64> {
        self.base_version
            .as_deref()
            .and_then(|v| v.trim().parse().ok())
    }
}

/// `POST /ivr/{name}`: save. Success redirects to the editor with a
/// notice; a script with problems re-renders it (422) with the text as
/// typed and every diagnostic at its line; a stale base (409) keeps the
/// text too and says who saved meanwhile.
pub async fn save(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    Form(form): Form<EditorForm>,
) -> Result<Response, WebError> {
    let text = form.text();
    let base = form.base_version();
    match save_script(&state, &ctx.user, &name, &text, base, SaveKind::Edit).await {
        Ok(saved) => {
            let target = if Some(saved.version) == base {
                format!("/ivr/{name}?unchanged=1")
            } else {
                format!("/ivr/{name}?saved={}", saved.version)
            };
            Ok(Redirect::to(&target).into_response())
        }
        Err(e) => refused_edit(&state, &ctx, &name, &text, base, &form.keys, e).await,
    }
}

/// Re-renders the editor after a refused save or simulation, keeping the
/// text as typed; errors without a place on this page become error pages.
async fn refused_edit(
    state: &AppState,
    ctx: &Ctx,
    name: &str,
    text: &str,
    base: Option<i64>,
    keys: &str,
    e: ApiError,
) -> Result<Response, WebError> {
    let lang = ctx.lang;
    let current = get_script(state, &ctx.user, name).await?;
    let (notice, base_version) = match e.status {
        StatusCode::UNPROCESSABLE_ENTITY if !e.diagnostics.is_empty() => (
            Notice::Error(
                lang.t(
                    "Не сохранено: в сценарии есть ошибки. Исправьте их и сохраните снова.",
                    "Not saved: the script has problems. Fix them and save again.",
                )
                .to_owned(),
            ),
            base.unwrap_or(current.version),
        ),
        StatusCode::UNPROCESSABLE_ENTITY => (Notice::Error(field_messages(&e)), base.unwrap_or(current.version)),
        // Someone saved meanwhile: keep the text; a second Save replaces
        // their version deliberately (the base is now the current one).
        StatusCode::CONFLICT => (
            Notice::Error(format!(
                "{} {} ({}). {}",
                lang.t(
                    "Не сохранено: пока вы редактировали, сохранена версия",
                    "Not saved: while you were editing, someone saved version",
                ),
                current.version,
                current.author,
                lang.t(
                    "Ваш текст ниже; сверьте его с историей и сохраните снова, чтобы заменить ту версию.",
                    "Your text is below; compare it with the history and save again to replace that version.",
                ),
            )),
            current.version,
        ),
        _ => return Err(e.into()),
    };
    let status = e.status;
    let editing = Editing {
        text,
        base_version,
        diagnostics: &e.diagnostics,
        notice: Some(notice),
        simulation: None,
        keys,
    };
    render_editor(state, ctx, &current, editing, status).await
}

fn field_messages(e: &ApiError) -> String {
    if e.fields.is_empty() {
        e.message.clone()
    } else {
        e.fields
            .iter()
            .map(|(field, message)| format!("{field}: {message}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// `POST /ivr/{name}/simulate`: runs the simulator on the edited text
/// (`source=edited`) or the saved version, and shows the editor again
/// with the text as it was and the simulation under the form.
pub async fn simulate(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    Form(form): Form<EditorForm>,
) -> Result<Response, WebError> {
    let text = form.text();
    let edited = form.source.as_deref() != Some("saved");
    let base = form.base_version();
    let simulated = simulate_script(
        &state,
        &ctx.user,
        &name,
        &form.keys,
        edited.then_some(text.as_str()),
        Some(form.at.as_str()),
    )
    .await;
    match simulated {
        Ok(simulation) => {
            let current = get_script(&state, &ctx.user, &name).await?;
            let editing = Editing {
                text: if form.text.is_empty() {
                    &current.text
                } else {
                    &text
                },
                base_version: base.unwrap_or(current.version),
                diagnostics: &[],
                notice: None,
                simulation: Some(SimulationShown {
                    keys: form.keys.clone(),
                    at: form.at.clone(),
                    edited,
                    lines: simulation.lines,
                }),
                keys: &form.keys,
            };
            render_editor(&state, &ctx, &current, editing, StatusCode::OK).await
        }
        Err(e) => refused_edit(&state, &ctx, &name, &text, base, &form.keys, e).await,
    }
}

async fn render_editor(
    state: &AppState,
    ctx: &Ctx,
    current: &ScriptView,
    editing: Editing<'_>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let versions = list_versions(state, &ctx.user, &current.name, None, VERSIONS_SHOWN).await?;
    let lang = ctx.lang;
    let name = &current.name;
    let bad_lines: BTreeSet<u32> = editing.diagnostics.iter().map(|d| d.line).collect();
    let line_count = editing.text.split('\n').count();
    let bad_attr = bad_lines
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let title = format!("{} · {name}", lang.t("Голосовое меню", "Voice menu"));
    let body = html! {
        p { a href="/ivr" { "← " (lang.t("Все сценарии", "All scripts")) } }
        h1 { (lang.t("Сценарий", "Script")) " " (name) }
        p.muted id="script-meta" {
            (current.file) " · "
            (lang.t("версия", "version")) " " span id="current-version" { (current.version) }
            " · " (current.author) " · " (ctx.zone.time_with_zone_of(&current.at)) " "
            (live_badge(lang, current.live))
        }
        @match &editing.notice {
            Some(Notice::Ok(text)) => p.notice id="notice" role="status" { (text) },
            Some(Notice::Error(text)) => p.error id="notice" role="alert" { (text) },
            None => {},
        }
        @if !editing.diagnostics.is_empty() {
            ul.diagnostics id="diagnostics" {
                @for d in editing.diagnostics {
                    li { a.goto-line href=(format!("#L{}", d.line)) data-line=(d.line) { (d.line) ":" (d.col) } " " (d.message) }
                }
            }
        }
        @if editing.diagnostics.is_empty() && !current.problems.is_empty() {
            div.error {
                p { (lang.t("Файл на диске не прошёл проверку; звонки идут по предыдущей версии:",
                            "The file on disk did not validate; calls get the previous version:")) }
                ul.diagnostics { @for d in &current.problems { li { (d.to_string()) } } }
            }
        }
        form id="editor" method="post" action=(format!("/ivr/{name}")) {
            (csrf_field(ctx))
            input type="hidden" name="base_version" value=(editing.base_version);
            div.code-editor {
                pre.gutter id="gutter" aria-hidden="true" data-bad=(bad_attr) {
                    @for n in 1..=line_count {
                        @let bad = u32::try_from(n).is_ok_and(|n| bad_lines.contains(&n));
                        @if bad { span.bad id=(format!("L{n}")) { (n) } } @else { (n) }
                        "\n"
                    }
                }
                // The newline after the tag is eaten by the HTML parser, so
                // a script starting with an empty line keeps it.
                textarea.code id="script" name="text" spellcheck="false" wrap="off" autocomplete="off"
                    aria-label=(lang.t("Текст сценария", "Script text")) {
                    "\n" (editing.text)
                }
            }
            div.row.editor-actions {
                button id="save" type="submit" { (lang.t("Сохранить", "Save")) }
                span.muted { (lang.t("Сохранение проверяет сценарий; с ошибками он не сохраняется.",
                                     "Saving validates the script; with problems it is not saved.")) }
            }
        }
        div.grid {
            section.card id="simulator" {
                h2 { (lang.t("Симулятор", "Simulator")) }
                p.muted { (lang.t("Клавиши по порядку, например 1,2 (пусто — абонент молчит). Время звонка — по рабочему календарю; пусто — сейчас.",
                                  "Keys in order, e.g. 1,2 (empty: the caller presses nothing). The call's time is local, by the working calendar; empty: now.")) }
                label { (lang.t("Клавиши", "Keys"))
                    input id="sim-keys" type="text" name="keys" form="editor" value=(editing.keys) inputmode="tel" autocomplete="off";
                }
                label { (lang.t("Время звонка", "Time of the call"))
                    input id="sim-at" type="datetime-local" name="at" form="editor"
                        value=(editing.simulation.as_ref().map_or("", |s| s.at.as_str()));
                }
                div.row {
                    button id="simulate-edited" type="submit" form="editor" formaction=(format!("/ivr/{name}/simulate#simulator")) name="source" value="edited" {
                        (lang.t("Проверить текст в редакторе", "Run on the edited text")) }
                    button.secondary id="simulate-saved" type="submit" form="editor" formaction=(format!("/ivr/{name}/simulate#simulator")) name="source" value="saved" {
                        (lang.t("Проверить сохранённую версию", "Run on the saved version")) }
                }
                @if let Some(sim) = &editing.simulation {
                    p.muted {
                        (lang.t("Клавиши", "Keys")) ": " code { @if sim.keys.is_empty() { "—" } @else { (sim.keys) } } " · "
                        @if !sim.at.is_empty() { (sim.at.replace('T', " ")) " · " }
                        @if sim.edited { (lang.t("текст из редактора", "edited text")) } @else { (lang.t("сохранённая версия", "saved version")) }
                    }
                    ol.simulation id="simulation" {
                        @for line in &sim.lines {
                            li class=(simulation_class(line)) { (line) }
                        }
                    }
                }
            }
            section.card id="versions" {
                h2 { (lang.t("История версий", "Version history")) }
                (versions_table(ctx, name, current.version, &versions))
            }
        }
        script src="/static/ivr-editor.js" {}
    };
    Ok((status, page(ctx, "/ivr", &title, body)).into_response())
}

/// Marks the lines that say where the call went.
fn simulation_class(line: &str) -> &'static str {
    if line.starts_with("route ") || line.starts_with("callback ") || line.starts_with("hangup") {
        "sim-route"
    } else if line.starts_with("outcome ") {
        "sim-outcome"
    } else if line.starts_with("key ") || line == "timeout" {
        "sim-key"
    } else {
        "sim-play"
    }
}

fn versions_table(ctx: &Ctx, name: &str, current: i64, versions: &[IvrScriptVersion]) -> Markup {
    let lang = ctx.lang;
    html! {
        div.table-wrap {
            table.versions {
                thead { tr {
                    th { (lang.t("Версия", "Version")) }
                    th { (lang.t("Автор", "Author")) }
                    th { (ctx.zone.heading(lang.t("Когда", "When"))) }
                    th { (lang.t("Размер", "Size")) }
                    th {}
                } }
                tbody {
                    @for v in versions {
                        tr data-version=(v.version) {
                            td { a href=(format!("/ivr/{name}/versions/{}", v.version)) { (v.version) }
                                 @if v.version == current { " " span.badge { (lang.t("текущая", "current")) } } }
                            td { (v.author) }
                            td { (ctx.zone.time(v.at_ms)) }
                            td { (v.size) " B" }
                            td {
                                @if v.version != current {
                                    a href=(format!("/ivr/{name}/versions/{}", v.version)) { (lang.t("отличия", "diff")) }
                                    " "
                                    (restore_form(ctx, name, v.version))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn restore_form(ctx: &Ctx, name: &str, version: i64) -> Markup {
    html! {
        form.inline.restore method="post" action=(format!("/ivr/{name}/versions/{version}/restore")) {
            (csrf_field(ctx))
            button.secondary type="submit" data-restore=(version) { (ctx.lang.t("Восстановить", "Restore")) }
        }
    }
}

/// `GET /ivr/{name}/versions/{version}`: an old version, its difference
/// from the current text, and the Restore button.
pub async fn version(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let old = get_version(&state, &ctx.user, &name, &version).await?;
    render_version(&state, &ctx, &name, &old, &[], StatusCode::OK).await
}

async fn render_version(
    state: &AppState,
    ctx: &Ctx,
    name: &str,
    old: &VersionView,
    diagnostics: &[TextDiagnostic],
    status: StatusCode,
) -> Result<Response, WebError> {
    let current = get_script(state, &ctx.user, name).await?;
    let lang = ctx.lang;
    let diff = line_diff(&old.text, &current.text);
    let is_current = old.version == current.version;
    let body = html! {
        p { a href=(format!("/ivr/{name}")) { "← " (lang.t("К редактору", "Back to the editor")) } }
        h1 { (name) ": " (lang.t("версия", "version")) " " (old.version) }
        p.muted { (old.author) " · " (ctx.zone.time_with_zone_of(&old.at)) " · " (old.size) " B" }
        @if !diagnostics.is_empty() {
            p.error id="notice" role="alert" { (lang.t(
                "Не восстановлено: этот текст больше не проходит проверку.",
                "Not restored: this text no longer validates.")) }
            ul.diagnostics id="diagnostics" { @for d in diagnostics { li { (d.to_string()) } } }
        }
        @if is_current {
            p.notice { (lang.t("Это текущая версия.", "This is the current version.")) }
        } @else {
            div.row.editor-actions {
                (restore_form(ctx, name, old.version))
                span.muted { (lang.t("Восстановление сохранит этот текст как новую версию.",
                                     "Restoring saves this text as a new version.")) }
            }
            h2 { (lang.t("Отличия: версия", "Changes: version")) " " (old.version) " → " (lang.t("текущая", "current")) " (" (current.version) ")" }
            (diff_table(lang, &diff))
        }
        details {
            summary { (lang.t("Полный текст версии", "Full text of this version")) }
            pre.code.numbered { @for (i, line) in old.text.split('\n').enumerate() { span.ln { (i + 1) } (line) "\n" } }
        }
    };
    let title = format!("{name} v{}", old.version);
    Ok((status, page(ctx, "/ivr", &title, body)).into_response())
}

/// `POST /ivr/{name}/versions/{version}/restore`: rollback, then the
/// editor with a notice; a text that no longer validates is shown (422).
pub async fn restore(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, WebError> {
    match restore_version(&state, &ctx.user, &name, &version).await {
        Ok(saved) => {
            let target = format!("/ivr/{name}?saved={}&restored={version}", saved.version);
            Ok(Redirect::to(&target).into_response())
        }
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY && !e.diagnostics.is_empty() => {
            let old = get_version(&state, &ctx.user, &name, &version).await?;
            render_version(&state, &ctx, &name, &old, &e.diagnostics, e.status).await
        }
        Err(e) => Err(e.into()),
    }
}

/// One line of a diff from `old` to `new`, with its 1-based numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DiffLine<'a> {
    Same {
        old: usize,
        new: usize,
        text: &'a str,
    },
    Removed {
        old: usize,
        text: &'a str,
    },
    Added {
        new: usize,
        text: &'a str,
    },
}

impl DiffLine<'_> {
    fn is_change(&self) -> bool {
        !matches!(self, DiffLine::Same { .. })
    }
}

/// Line diff by longest common subsequence, after trimming the common
/// head and tail (an edit usually touches a few lines of a script, so the
/// table is small). A middle too large to align is shown as removed then
/// added. Hand-written: a few dozen lines do the job a diff crate would.
fn line_diff<'a>(old: &'a str, new: &'a str) -> Vec<DiffLine<'a>> {
    let a: Vec<&str> = old.split('\n').collect();
    let b: Vec<&str> = new.split('\n').collect();
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (mid_a, mid_b) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    for (i, text) in a.iter().enumerate().take(head) {
        out.push(DiffLine::Same {
            old: i + 1,
            new: i + 1,
            text,
        });
    }
    let (n, m) = (mid_a.len(), mid_b.len());
    let aligned = n.saturating_mul(m) <= MAX_DIFF_CELLS;
    if aligned && n > 0 && m > 0 {
        // lcs[i][j]: length of the LCS of mid_a[i..] and mid_b[j..].
        let width = m + 1;
        let mut lcs = vec![0u32; (n + 1) * width];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * width + j] = if mid_a[i] == mid_b[j] {
                    lcs[(i + 1) * width + j + 1] + 1
                } else {
                    lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && mid_a[i] == mid_b[j] {
                out.push(DiffLine::Same {
                    old: head + i + 1,
                    new: head + j + 1,
                    text: mid_a[i],
                });
                i += 1;
                j += 1;
            } else if i < n && (j == m || lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
                // Removals before additions, as diff(1) shows a change.
                out.push(DiffLine::Removed {
                    old: head + i + 1,
                    text: mid_a[i],
                });
                i += 1;
            } else {
                out.push(DiffLine::Added {
                    new: head + j + 1,
                    text: mid_b[j],
                });
                j += 1;
            }
        }
    } else {
        for (i, text) in mid_a.iter().enumerate() {
            out.push(DiffLine::Removed {
                old: head + i + 1,
                text,
            });
        }
        for (j, text) in mid_b.iter().enumerate() {
            out.push(DiffLine::Added {
                new: head + j + 1,
                text,
            });
        }
    }
    for k in 0..tail {
        let (i, j) = (a.len() - tail + k, b.len() - tail + k);
        out.push(DiffLine::Same {
            old: i + 1,
            new: j + 1,
            text: a[i],
        });
    }
    out
}

/// The changes with [`DIFF_CONTEXT`] unchanged lines around each; longer
/// unchanged runs fold into one `⋯` row.
fn diff_table(lang: Lang, diff: &[DiffLine<'_>]) -> Markup {
    let changed: Vec<usize> = (0..diff.len()).filter(|&i| diff[i].is_change()).collect();
    let near_change = |i: usize| changed.iter().any(|&c| c.abs_diff(i) <= DIFF_CONTEXT);
    html! {
        @if changed.is_empty() {
            p.muted id="diff" { (lang.t("Текст совпадает с текущим.", "The text is the same as the current one.")) }
        } @else {
            div.table-wrap {
                table.diff id="diff" {
                    @for (i, line) in diff.iter().enumerate() {
                        @if near_change(i) {
                            @match line {
                                DiffLine::Same { old, new, text } => tr.same { td.ln { (old) } td.ln { (new) } td.mark { " " } td { code { (text) } } },
                                DiffLine::Removed { old, text } => tr.removed { td.ln { (old) } td.ln {} td.mark { "−" } td { code { (text) } } },
                                DiffLine::Added { new, text } => tr.added { td.ln {} td.ln { (new) } td.mark { "+" } td { code { (text) } } },
                            }
                        } @else if i > 0 && near_change(i - 1) {
                            tr.fold { td colspan="4" { "⋯" } }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{DiffLine, line_diff};

    fn marks(diff: &[DiffLine<'_>]) -> String {
        diff.iter()
            .map(|l| match l {
                DiffLine::Same { text, .. } => format!(" {text}"),
                DiffLine::Removed { text, .. } => format!("-{text}"),
                DiffLine::Added { text, .. } => format!("+{text}"),
            })
            .collect::<Vec<_>>()
            .join("|")
    }

    #[test]
    fn a_changed_line_is_one_removal_and_one_addition_in_place() {
        let diff = line_diff("a\nb\nc\nd", "a\nB\nc\nd");
        assert_eq!(marks(&diff), " a|-b|+B| c| d");
        assert!(diff.contains(&DiffLine::Added { new: 2, text: "B" }));
        assert!(diff.contains(&DiffLine::Same {
            old: 4,
            new: 4,
            text: "d"
        }));
    }

    #[test]
    fn insertions_and_deletions_keep_both_line_numbers() {
        let diff = line_diff("a\nb\nc", "a\nx\nb\nc\ny");
        assert_eq!(marks(&diff), " a|+x| b| c|+y");
        assert!(diff.contains(&DiffLine::Same {
            old: 3,
            new: 4,
            text: "c"
        }));
        assert_eq!(marks(&line_diff("a\nb\nc", "c")), "-a|-b| c");
        assert_eq!(marks(&line_diff("", "")), " ");
    }

    #[test]
    fn the_middle_is_aligned_on_common_lines() {
        let diff = line_diff("h\n1\n2\n3\nt", "h\n2\n1\n3\nt");
        let changes = diff.iter().filter(|l| l.is_change()).count();
        assert_eq!(changes, 2, "{}", marks(&diff));
    }
}
