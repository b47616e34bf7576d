//! `/api/v1/ivr-scripts`: the IVR flows' scripts, edited while the server
//! runs (ARCHITECTURE §4), for the head and admins (a manager gets 403).
//!
//! A script is named by its file, `ivr-scripts/<name>.toml`. The file is
//! what the server loads; the database keeps every saved text as a
//! numbered version (`ivr_script_versions`). How a save goes:
//!
//! 1. The text is checked exactly as a reload would check the file
//!    ([`ScriptRegistry::check_text`]: parse, node references, prompts that
//!    exist, no number or flow name of another flow). Problems answer 422
//!    with `diagnostics: [{line, col, message}]`, and nothing changes.
//! 2. With `base_version` (the version the editor started from) older
//!    than the current one, someone else saved meanwhile: 409.
//! 3. The text becomes version N+1 (author, time), the file is replaced
//!    atomically and the registry reloads at once: new calls get the new
//!    flow, calls in progress keep the `Arc<Script>` they started with.
//!
//! History always starts from what was deployed: before a script's first
//! edit its file text is recorded as version 1 (author `file`), and a file
//! changed on disk since the last version is recorded the same way the
//! next time the script is read or saved. Rollback is a save of an old
//! text (validated again: a prompt may have gone since), so the history
//! only grows.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiJson, ErrorBody, TextDiagnostic};
use super::query::{Page, non_empty, parse_limit};
use super::time::rfc3339_from_ms;
use super::{AppState, now_ms};
use crate::ivr::registry::ScriptRegistry;
use crate::ivr::{Calendar, CalendarTime, Diagnostic, Script};
use crate::role::AccessLevel;
use crate::store::{AuditEntry, IvrScriptText, IvrScriptVersion, MAX_IVR_VERSION_PAGE};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// Largest script accepted: the shipped flow is 5 KB; this is a typo
/// (a pasted log) guard, not a design limit.
const MAX_SCRIPT_BYTES: usize = 256 * 1024;

/// Most keys one simulation presses.
const MAX_SIMULATED_KEYS: usize = 100;

const DEFAULT_VERSION_PAGE: i64 = 100;

/// The author recorded for text found on disk rather than saved here.
pub const FILE_AUTHOR: &str = "file";

/// A script in the list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScriptSummary {
    /// The file name without `.toml`: the `{name}` of the other endpoints.
    #[schema(example = "hotline")]
    pub name: String,
    /// The file, as the server opened it.
    #[schema(example = "ivr-scripts/hotline.toml")]
    pub file: String,
    /// `[flow] name` of the script; `null` when it does not parse.
    pub flow: Option<String>,
    /// Numbers (Request-URI users) that enter the flow.
    pub numbers: Vec<String>,
    /// The current version: the file's text.
    pub version: i64,
    /// Whether new calls get exactly the current text (false while the
    /// file has problems: then the previous valid text, if any, serves).
    pub live: bool,
    /// What the last reload refused in this file.
    pub problems: Vec<TextDiagnostic>,
}

/// A script's current text.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScriptView {
    pub name: String,
    pub file: String,
    pub version: i64,
    /// Who saved the current version (`file`: found on disk).
    pub author: String,
    /// When the current version was saved (or found on disk).
    #[schema(format = DateTime)]
    pub at: String,
    pub text: String,
    /// Whether new calls get exactly this text.
    pub live: bool,
    /// What the last reload refused in this file.
    pub problems: Vec<TextDiagnostic>,
}

/// A new text for a script.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptUpdate {
    /// The whole TOML script.
    pub text: String,
    /// The version the edit started from: when someone saved after it,
    /// the save is refused with 409 instead of overwriting their work.
    #[serde(default)]
    pub base_version: Option<i64>,
}

/// One old version with its text.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionView {
    pub version: i64,
    pub author: String,
    #[schema(format = DateTime)]
    pub at: String,
    pub size: i64,
    pub text: String,
}

/// What to simulate.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// Keys the caller presses, in order: `1,2`, `12` or `1,*,0` (0-9, *
    /// and #); empty for a caller who presses nothing.
    #[serde(default)]
    pub keys: String,
    /// An unsaved text to simulate instead of the current version (it must
    /// validate like a save).
    #[serde(default)]
    pub text: Option<String>,
    /// When the call happens, local time of the working calendar,
    /// `YYYY-MM-DDTHH:MM`; default now. For checking what a caller hears at
    /// night, on a weekend or on a holiday.
    #[serde(default)]
    pub at: Option<String>,
}

/// What a caller would hear and where they would end up.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Simulation {
    /// The version simulated; `null` for an unsaved text.
    pub version: Option<i64>,
    /// `play main_menu (ru)`, `key 1`, `timeout`, `route queue admission
    /// category=applicant topic=admission`, ..., and a last `outcome` line.
    pub lines: Vec<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct VersionParams {
    /// Page size, 1 to 1000 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ivr_unavailable",
        "the IVR is not running in this process",
    )
}

fn no_script(name: &str) -> ApiError {
    ApiError::not_found(format!("no IVR script `{name}`"))
}

/// Head or admin, and the registry.
fn editor(state: &AppState, user: &CurrentUser) -> Result<Arc<ScriptRegistry>, ApiError> {
    user.require(AccessLevel::Head)?;
    state.ivr.clone().ok_or_else(unavailable)
}

/// File IO off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "IVR script file task failed");
        ApiError::internal()
    })
}

fn io_error(what: &str, path: &std::path::Path, e: &std::io::Error) -> ApiError {
    tracing::error!(error = %e, file = %path.display(), "{what}");
    ApiError::internal()
}

/// The file of script `name`: one of the directory's `*.toml` files, so a
/// name can never point outside it. 404 otherwise.
async fn script_path(registry: &Arc<ScriptRegistry>, name: &str) -> Result<PathBuf, ApiError> {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
        && !name.starts_with('.');
    if !plain {
        return Err(no_script(name));
    }
    let path = registry.ivr_dir().join(format!("{name}.toml"));
    let r = Arc::clone(registry);
    let paths = blocking(move || r.script_paths()).await?;
    let paths = paths.map_err(|e| io_error("cannot list IVR scripts", registry.ivr_dir(), &e))?;
    if paths.contains(&path) {
        Ok(path)
    } else {
        Err(no_script(name))
    }
}

fn script_name(path: &std::path::Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The file's text and the newest version, read now.
async fn file_and_latest(
    state: &AppState,
    name: &str,
    path: &std::path::Path,
) -> Result<(String, Option<IvrScriptText>), ApiError> {
    let file = path.to_path_buf();
    let text = blocking(move || std::fs::read_to_string(&file))
        .await?
        .map_err(|e| io_error("cannot read IVR script", path, &e))?;
    let latest = state.store.latest_ivr_script(name).await?;
    Ok((text, latest))
}

/// The current version of a script: the file's text, recorded as a new
/// version (author `file`) first when no version has it yet.
///
/// Recording takes the edit lock, and reads again under it: a save in
/// progress has its version row before its file, and that moment must
/// not look like an edit on disk.
async fn current(
    state: &AppState,
    registry: &ScriptRegistry,
    name: &str,
    path: &std::path::Path,
) -> Result<IvrScriptText, ApiError> {
    if let (text, Some(latest)) = file_and_latest(state, name, path).await?
        && latest.text == text
    {
        return Ok(latest);
    }
    let _no_save_in_progress = registry.edit_lock().lock().await;
    current_locked(state, name, path).await
}

/// [`current`] for a caller that holds the edit lock.
async fn current_locked(
    state: &AppState,
    name: &str,
    path: &std::path::Path,
) -> Result<IvrScriptText, ApiError> {
    let (text, latest) = file_and_latest(state, name, path).await?;
    if let Some(latest) = latest.as_ref().filter(|v| v.text == text) {
        return Ok(latest.clone());
    }
    let version = latest.map_or(1, |v| v.info.version.saturating_add(1));
    match state
        .store
        .add_ivr_script_version(name, version, FILE_AUTHOR, now_ms(), &text)
        .await
    {
        Ok(info) => {
            tracing::info!(
                script = name,
                version,
                "IVR script text on disk recorded as a version"
            );
            Ok(IvrScriptText { info, text })
        }
        // Another server on the same database recorded it at the same moment.
        Err(crate::store::StoreError::Conflict(_)) => state
            .store
            .latest_ivr_script(name)
            .await?
            .ok_or_else(ApiError::internal),
        Err(e) => Err(e.into()),
    }
}

fn problems_of(registry: &ScriptRegistry, path: &std::path::Path) -> Vec<TextDiagnostic> {
    registry
        .problems()
        .into_iter()
        .filter(|d| std::path::Path::new(&d.file) == path)
        .map(TextDiagnostic::from)
        .collect()
}

fn is_live(registry: &ScriptRegistry, path: &std::path::Path, text: &str) -> bool {
    registry
        .live_at(path)
        .is_some_and(|live| live.source.text == text)
}

fn view(
    registry: &ScriptRegistry,
    name: &str,
    path: &std::path::Path,
    current: IvrScriptText,
) -> ScriptView {
    ScriptView {
        name: name.to_owned(),
        file: path.display().to_string(),
        live: is_live(registry, path, &current.text),
        problems: problems_of(registry, path),
        version: current.info.version,
        author: current.info.author,
        at: rfc3339_from_ms(current.info.at_ms),
        text: current.text,
    }
}

/// Every script of the directory, valid or not.
pub(crate) async fn list_scripts(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Vec<ScriptSummary>, ApiError> {
    let registry = editor(state, user)?;
    let r = Arc::clone(&registry);
    let paths = blocking(move || r.script_paths())
        .await?
        .map_err(|e| io_error("cannot list IVR scripts", registry.ivr_dir(), &e))?;
    let mut scripts = Vec::with_capacity(paths.len());
    for path in paths {
        let name = script_name(&path);
        let current = current(state, &registry, &name, &path).await?;
        let parsed = crate::ivr::parse(&path, &current.text).ok();
        let (flow, numbers) = match parsed {
            Some(script) => (
                Some(script.flow.name.clone()),
                script
                    .flow
                    .numbers
                    .iter()
                    .map(|n| n.value.clone())
                    .collect(),
            ),
            None => (None, Vec::new()),
        };
        scripts.push(ScriptSummary {
            file: path.display().to_string(),
            live: is_live(&registry, &path, &current.text),
            problems: problems_of(&registry, &path),
            version: current.info.version,
            name,
            flow,
            numbers,
        });
    }
    Ok(scripts)
}

/// One script's current text and version.
pub(crate) async fn get_script(
    state: &AppState,
    user: &CurrentUser,
    name: &str,
) -> Result<ScriptView, ApiError> {
    let registry = editor(state, user)?;
    let path = script_path(&registry, name).await?;
    let current = current(state, &registry, name, &path).await?;
    Ok(view(&registry, name, &path, current))
}

/// Checks `text` as the new content of `path` the way a reload will.
async fn check(
    registry: &Arc<ScriptRegistry>,
    path: &std::path::Path,
    text: &str,
) -> Result<Script, ApiError> {
    if text.len() > MAX_SCRIPT_BYTES {
        return Err(ApiError::invalid_text(
            "text",
            vec![TextDiagnostic {
                line: 1,
                col: 1,
                message: format!("the script is larger than {MAX_SCRIPT_BYTES} bytes"),
            }],
        ));
    }
    let (r, path, text) = (Arc::clone(registry), path.to_path_buf(), text.to_owned());
    blocking(move || r.check_text(&path, &text))
        .await?
        .map_err(|problems: Vec<Diagnostic>| {
            ApiError::invalid_text("text", problems.into_iter().map(Into::into).collect())
        })
}

/// Why a script is being saved, for the audit log.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SaveKind {
    Edit,
    Restore { from: i64 },
}

/// Validates and saves `text` as the next version of script `name`, writes
/// the file and reloads the registry (see the module docs). Saving the
/// current text again changes nothing and answers the current version.
pub(crate) async fn save_script(
    state: &AppState,
    user: &CurrentUser,
    name: &str,
    text: &str,
    base_version: Option<i64>,
    kind: SaveKind,
) -> Result<ScriptView, ApiError> {
    let registry = editor(state, user)?;
    let path = script_path(&registry, name).await?;
    let _one_save_at_a_time = registry.edit_lock().lock().await;
    let current = current_locked(state, name, &path).await?;
    if let Some(base) = base_version
        && base != current.info.version
    {
        return Err(ApiError::conflict(
            "stale_version",
            format!(
                "version {} was saved by {} after your version {base}: reload the script and \
                 apply your change to it",
                current.info.version, current.info.author
            ),
        ));
    }
    check(&registry, &path, text).await?;
    if text == current.text {
        return Ok(view(&registry, name, &path, current));
    }
    let version = current.info.version.saturating_add(1);
    let login = user.0.login.clone();
    let now = now_ms();
    let info = state
        .store
        .add_ivr_script_version(name, version, &login, now, text)
        .await?;
    let (r, file, new_text) = (Arc::clone(&registry), path.clone(), text.to_owned());
    let written = blocking(move || r.write_script(&file, &new_text)).await?;
    match written {
        Err(e) => {
            // The version was never deployed: take it back out of the history.
            state.store.remove_ivr_script_version(name, version).await?;
            return Err(io_error("cannot write IVR script", &path, &e));
        }
        Ok(Err(problems)) if !is_live(&registry, &path, text) => {
            // Checked a moment ago; something on disk changed in between
            // (a prompt deleted). The file holds the text; the previous
            // flow keeps serving, and the list shows the problems.
            for problem in problems {
                tracing::warn!("saved IVR script not live: {problem}");
            }
        }
        Ok(_) => {}
    }
    let (action, detail) = match kind {
        SaveKind::Edit => ("update", format!("version {version}")),
        SaveKind::Restore { from } => (
            "restore",
            format!("version {version} (the text of version {from})"),
        ),
    };
    state
        .store
        .audit(
            &AuditEntry {
                actor: &login,
                action,
                object_kind: "ivr_script",
                object_id: Some(name),
                detail: Some(&detail),
            },
            now,
        )
        .await?;
    tracing::info!(script = name, version, author = %login, "IVR script saved");
    Ok(view(
        &registry,
        name,
        &path,
        IvrScriptText {
            info,
            text: text.to_owned(),
        },
    ))
}

/// Versions of a script, newest first, after the current one is recorded.
pub(crate) async fn list_versions(
    state: &AppState,
    user: &CurrentUser,
    name: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<IvrScriptVersion>, ApiError> {
    let registry = editor(state, user)?;
    let path = script_path(&registry, name).await?;
    current(state, &registry, name, &path).await?;
    Ok(state.store.ivr_script_versions(name, before, limit).await?)
}

fn parse_version(version: &str) -> Result<i64, ApiError> {
    version
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| ApiError::not_found(format!("no version `{version}`")))
}

/// One version with its text.
pub(crate) async fn get_version(
    state: &AppState,
    user: &CurrentUser,
    name: &str,
    version: &str,
) -> Result<VersionView, ApiError> {
    let registry = editor(state, user)?;
    let path = script_path(&registry, name).await?;
    current(state, &registry, name, &path).await?;
    let version = parse_version(version)?;
    let found = state
        .store
        .ivr_script_at(name, version)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no version {version} of `{name}`")))?;
    Ok(VersionView {
        version: found.info.version,
        author: found.info.author,
        at: rfc3339_from_ms(found.info.at_ms),
        size: found.info.size,
        text: found.text,
    })
}

/// Saves the text of an old version as the newest one.
pub(crate) async fn restore_version(
    state: &AppState,
    user: &CurrentUser,
    name: &str,
    version: &str,
) -> Result<ScriptView, ApiError> {
    let old = get_version(state, user, name, version).await?;
    save_script(
        state,
        user,
        name,
        &old.text,
        None,
        SaveKind::Restore { from: old.version },
    )
    .await
}

/// `1,2`, `12`, `1 * 0` → the keys; 422 on anything else.
fn parse_keys(keys: &str) -> Result<Vec<char>, ApiError> {
    let invalid = |message: String| {
        ApiError::validation(std::collections::BTreeMap::from([(
            "keys".to_owned(),
            message,
        )]))
    };
    let keys: Vec<char> = keys
        .chars()
        .filter(|c| *c != ',' && !c.is_whitespace())
        .collect();
    if let Some(bad) = keys
        .iter()
        .find(|c| !(c.is_ascii_digit() || **c == '*' || **c == '#'))
    {
        return Err(invalid(format!(
            "invalid key `{bad}`: keys are 0-9, * and #"
        )));
    }
    if keys.len() > MAX_SIMULATED_KEYS {
        return Err(invalid(format!("at most {MAX_SIMULATED_KEYS} keys")));
    }
    Ok(keys)
}

/// `YYYY-MM-DDTHH:MM` (what a `datetime-local` input sends; seconds are
/// ignored) as a local calendar time; 422 on field `at` otherwise.
fn parse_local_time(text: &str) -> Result<CalendarTime, ApiError> {
    let text = text.trim();
    let parsed = text.split_once('T').and_then(|(date, time)| {
        let date = crate::ivr::calendar::Date::parse(date)?;
        let mut hm = time.split(':');
        let hour: u8 = hm.next()?.parse().ok()?;
        let minute: u8 = hm.next()?.parse().ok()?;
        CalendarTime::new(date.year, date.month, date.day, hour, minute)
    });
    parsed.ok_or_else(|| {
        ApiError::validation(std::collections::BTreeMap::from([(
            "at".to_owned(),
            format!("`{text}` is not a local time like 2026-01-01T20:30"),
        )]))
    })
}

/// Walks the flow with `keys` at the current local time of the live
/// calendar: the saved version, or `text` when given.
pub(crate) async fn simulate_script(
    state: &AppState,
    user: &CurrentUser,
    name: &str,
    keys: &str,
    text: Option<&str>,
    at: Option<&str>,
) -> Result<Simulation, ApiError> {
    let registry = editor(state, user)?;
    let path = script_path(&registry, name).await?;
    let keys = parse_keys(keys)?;
    let at = at
        .filter(|a| !a.trim().is_empty())
        .map(parse_local_time)
        .transpose()?;
    let (version, text) = match text {
        Some(text) => (None, text.to_owned()),
        None => {
            let current = current(state, &registry, name, &path).await?;
            (Some(current.info.version), current.text)
        }
    };
    let script = check(&registry, &path, &text).await?;
    let calendar: Arc<Calendar> = state.calendar.get();
    let now_local = at.unwrap_or_else(|| calendar.local_time(now_ms().div_euclid(1000)));
    Ok(Simulation {
        version,
        lines: crate::ivr::simulate(&script, &keys, &calendar, now_local),
    })
}

/// The IVR scripts, with their current version and any problems.
#[utoipa::path(
    get, path = "/api/v1/ivr-scripts", tag = "ivr-scripts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every script file (`next_cursor` is always null)", body = Page<ScriptSummary>),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not head or admin", body = ErrorBody),
        (status = 503, description = "The IVR does not run in this process", body = ErrorBody),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Page<ScriptSummary>>, ApiError> {
    let items = list_scripts(&state, &user).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// A script's current text and version.
#[utoipa::path(
    get, path = "/api/v1/ivr-scripts/{name}", tag = "ivr-scripts",
    params(("name" = String, Path, description = "File name without `.toml`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The current version", body = ScriptView),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not head or admin", body = ErrorBody),
        (status = 404, description = "No such script", body = ErrorBody),
        (status = 503, description = "The IVR does not run in this process", body = ErrorBody),
    )
)]
pub(super) async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
) -> Result<Json<ScriptView>, ApiError> {
    Ok(Json(get_script(&state, &user, &name).await?))
}

/// Saves a new text: validated like a reload, then a new version, the file
/// replaced and the flow live for new calls at once (calls in progress
/// keep theirs). Audited.
#[utoipa::path(
    put, path = "/api/v1/ivr-scripts/{name}", tag = "ivr-scripts",
    params(("name" = String, Path, description = "File name without `.toml`")),
    request_body = ScriptUpdate,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Saved (or unchanged: the same text keeps its version)", body = ScriptView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not head or admin", body = ErrorBody),
        (status = 404, description = "No such script", body = ErrorBody),
        (status = 409, description = "`base_version` is not the current version: someone saved meanwhile", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "The script does not validate: `diagnostics` lists each problem at its line and column", body = ErrorBody),
        (status = 503, description = "The IVR does not run in this process", body = ErrorBody),
    )
)]
pub(super) async fn put(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    ApiJson(update): ApiJson<ScriptUpdate>,
) -> Result<Json<ScriptView>, ApiError> {
    Ok(Json(
        save_script(
            &state,
            &user,
            &name,
            &update.text,
            update.base_version,
            SaveKind::Edit,
        )
        .await?,
    ))
}

/// A script's versions, newest first.
#[utoipa::path(
    get, path = "/api/v1/ivr-scripts/{name}/versions", tag = "ivr-scripts",
    params(("name" = String, Path, description = "File name without `.toml`"), VersionParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of versions, newest first", body = Page<IvrScriptVersion>),
        (status = 400, description = "An unknown query parameter", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not head or admin", body = ErrorBody),
        (status = 404, description = "No such script", body = ErrorBody),
        (status = 422, description = "A bad limit or cursor", body = ErrorBody),
        (status = 503, description = "The IVR does not run in this process", body = ErrorBody),
    )
)]
pub(super) async fn versions(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    params: Result<Query<VersionParams>, QueryRejection>,
) -> Result<Json<Page<IvrScriptVersion>>, ApiError> {
    let Query(p) = params?;
    let mut errors = Vec::new();
    let limit = parse_limit(
        p.limit,
        DEFAULT_VERSION_PAGE,
        MAX_IVR_VERSION_PAGE,
        &mut errors,
    );
    let before = match non_empty(p.cursor) {
        None => None,
        Some(cursor) => match cursor.parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push(super::query::field_error(
                    "cursor",
                    "not a cursor of this list",
                ));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let items = list_versions(&state, &user, &name, before, limit).await?;
    let next_cursor = match items.last() {
        Some(last)
            if i64::try_from(items.len()).unwrap_or(i64::MAX) >= limit && last.version > 1 =>
        {
            Some(last.version.to_string())
        }
        _ => None,
    };
    Ok(Json(Page { items, next_cursor }))
}

/// One version's text.
#[utoipa::path(
    get, path = "/api/v1/ivr-scripts/{name}/versions/{version}", tag = "ivr-scripts",
    params(
        ("name" = String, Path, description = "File name without `.toml`"),
        ("version" = i64, Path, description = "Version number, from 1"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The version", body = VersionView),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not head or admin", body = ErrorBody),
        (status = 404, description = "No such script or version", body = ErrorBody),
        (status = 503, description = "The IVR does not run in this process", body = ErrorBody),
    )
)]
pub(super) async fn version(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<VersionView>, ApiError> {
    Ok(Json(get_version(&state, &user, &name, &version).await?))
}

/// Rollback: saves an old version's text as the newest version, validated
/// like any save. Audited.
#[utoipa::path(
    post, path = "/api/v1/ivr-scripts/{name}/versions/{version}/restore", tag = "ivr-scripts",
    params(
        ("name" = String, Path, description = "File name without `.toml`"),
        ("version" = i64, Path, description = "The version whose text to restore"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Restored as a new version (or unchanged, when it is the current text)", body = ScriptView),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not head or admin", body = ErrorBody),
        (status = 404, description = "No such script or version", body = ErrorBody),
        (status = 422, description = "The old text no longer validates (e.g. a prompt is gone): `diagnostics`", body = ErrorBody),
        (status = 503, description = "The IVR does not run in this process", body = ErrorBody),
    )
)]
pub(super) async fn restore(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<ScriptView>, ApiError> {
    Ok(Json(restore_version(&state, &user, &name, &version).await?))
}

/// Runs the simulator (`hotline ivr simulate`) on the current version or
/// on an unsaved text, at the current time of the live calendar.
#[utoipa::path(
    post, path = "/api/v1/ivr-scripts/{name}/simulate", tag = "ivr-scripts",
    params(("name" = String, Path, description = "File name without `.toml`")),
    request_body = SimulateRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The prompts, keys and where the call ends up", body = Simulation),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not head or admin", body = ErrorBody),
        (status = 404, description = "No such script", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "Bad keys, or a `text` that does not validate (`diagnostics`)", body = ErrorBody),
        (status = 503, description = "The IVR does not run in this process", body = ErrorBody),
    )
)]
pub(super) async fn simulate(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<SimulateRequest>,
) -> Result<Json<Simulation>, ApiError> {
    Ok(Json(
        simulate_script(
            &state,
            &user,
            &name,
            &request.keys,
            request.text.as_deref(),
            request.at.as_deref(),
        )
        .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_keys;

    #[test]
    fn keys_accept_the_cli_forms_and_refuse_letters() {
        assert_eq!(parse_keys("1,2").unwrap(), vec!['1', '2']);
        assert_eq!(parse_keys("1 * #0").unwrap(), vec!['1', '*', '#', '0']);
        assert!(parse_keys("").unwrap().is_empty());
        let e = parse_keys("1,a").unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert!(e.fields["keys"].contains("`a`"));
    }
}
