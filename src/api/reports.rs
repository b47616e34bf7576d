//! `/api/v1/reports/summary` and `/api/v1/reports/agents`: the head's
//! statistical reports (seed 3.7) as JSON or, with `?format=csv`, as a
//! CSV download. Head and admin only: the figures judge the managers'
//! work. The numbers come from [`crate::report`], the same code as
//! `hotline report`.

use super::AppState;
use super::auth::CurrentUser;
use super::error::ApiError;
use super::now_ms;
use crate::report::csv::{agents_csv, summary_csv};
use crate::report::{
    AgentsReport, DateRange, Format, Group, SummaryReport, agents_report, summary_report,
};
use crate::role::AccessLevel;
use crate::store::{AuditEntry, FieldError};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, RawQuery, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Query of the summary. Strings, so that a bad value is a 422 naming
/// its field.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryParams {
    /// First day, `YYYY-MM-DD` (required).
    #[param(required = true, value_type = String, format = Date)]
    pub(crate) from: Option<String>,
    /// Last day, included, `YYYY-MM-DD` (required).
    #[param(required = true, value_type = String, format = Date)]
    pub(crate) to: Option<String>,
    /// `day` (default), `week` (Monday to Sunday) or `month`.
    #[param(value_type = Option<crate::report::Group>)]
    pub(crate) group: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub(crate) format: Option<String>,
    /// UTC offset the days are read in, `+03:00`; default UTC.
    pub(crate) tz: Option<String>,
}

/// Query of the agents report.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AgentsParams {
    /// First day, `YYYY-MM-DD` (required).
    #[param(required = true, value_type = String, format = Date)]
    pub(crate) from: Option<String>,
    /// Last day, included, `YYYY-MM-DD` (required).
    #[param(required = true, value_type = String, format = Date)]
    pub(crate) to: Option<String>,
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub(crate) format: Option<String>,
    /// UTC offset the days are read in, `+03:00`; default UTC.
    pub(crate) tz: Option<String>,
}

/// Reads an optional enum-like parameter; an empty value means the default.
fn parse_choice<T: std::str::FromStr<Err = String>>(
    field: &'static str,
    value: Option<&str>,
    default: T,
    errors: &mut Vec<FieldError>,
) -> T {
    match value.filter(|s| !s.is_empty()).map(str::parse) {
        None => default,
        Some(Ok(v)) => v,
        Some(Err(message)) => {
            errors.push(FieldError { field, message });
            default
        }
    }
}

/// The range, or every field problem at once (422).
fn parse_range(
    from: Option<&str>,
    to: Option<&str>,
    tz: Option<&str>,
    mut errors: Vec<FieldError>,
) -> Result<DateRange, ApiError> {
    match DateRange::parse(from, to, tz) {
        Ok(range) if errors.is_empty() => Ok(range),
        Ok(_) => Err(errors.into()),
        Err(more) => {
            errors.extend(more);
            Err(errors.into())
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/reports/summary",
    tag = "reports",
    params(SummaryParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Figures per period and for the whole range",
            content(
                (SummaryReport = "application/json"),
                (String = "text/csv")
            )),
        (status = 400, description = "Unknown query parameter", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "Not head or admin", body = super::error::ErrorBody),
        (status = 422, description = "Bad from, to, group, format or tz, per field", body = super::error::ErrorBody),
    )
)]
pub async fn summary(
    State(state): State<AppState>,
    user: CurrentUser,
    RawQuery(raw_query): RawQuery,
    params: Result<Query<SummaryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params?;
    let (format, report) = read_summary(&state, &user, raw_query.as_deref(), p).await?;
    Ok(summary_response(format, &report))
}

/// Everything behind `reports/summary` but the rendering: the access
/// check, validation (422 per field), the audit entry and the figures.
/// The console's report page and CSV download go through it too.
pub(crate) async fn read_summary(
    state: &AppState,
    user: &CurrentUser,
    raw_query: Option<&str>,
    p: SummaryParams,
) -> Result<(Format, SummaryReport), ApiError> {
    user.require(AccessLevel::Head)?;
    let mut errors = Vec::new();
    let group = parse_choice("group", p.group.as_deref(), Group::Day, &mut errors);
    let format = parse_choice("format", p.format.as_deref(), Format::Json, &mut errors);
    let range = parse_range(p.from.as_deref(), p.to.as_deref(), p.tz.as_deref(), errors)?;
    audit_report(state, user, "summary", raw_query).await?;
    let report = summary_report(
        &state.store,
        &range,
        group,
        state.reports.service_level_s,
        now_ms(),
    )
    .await?;
    Ok((format, report))
}

/// The summary as JSON or as a CSV download.
pub(crate) fn summary_response(format: Format, report: &SummaryReport) -> Response {
    let file_name = format!("hotline-summary-{}_{}.csv", report.from, report.to);
    render(format, file_name, report, summary_csv)
}

#[utoipa::path(
    get,
    path = "/api/v1/reports/agents",
    tag = "reports",
    params(AgentsParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Figures per agent and their total",
            content(
                (AgentsReport = "application/json"),
                (String = "text/csv")
            )),
        (status = 400, description = "Unknown query parameter", body = super::error::ErrorBody),
        (status = 401, description = "No or bad token", body = super::error::ErrorBody),
        (status = 403, description = "Not head or admin", body = super::error::ErrorBody),
        (status = 422, description = "Bad from, to, format or tz, per field", body = super::error::ErrorBody),
    )
)]
pub async fn agents(
    State(state): State<AppState>,
    user: CurrentUser,
    RawQuery(raw_query): RawQuery,
    params: Result<Query<AgentsParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params?;
    let (format, report) = read_agents(&state, &user, raw_query.as_deref(), p).await?;
    Ok(agents_response(format, &report))
}

/// Everything behind `reports/agents` but the rendering (as
/// [`read_summary`]).
pub(crate) async fn read_agents(
    state: &AppState,
    user: &CurrentUser,
    raw_query: Option<&str>,
    p: AgentsParams,
) -> Result<(Format, AgentsReport), ApiError> {
    user.require(AccessLevel::Head)?;
    let mut errors = Vec::new();
    let format = parse_choice("format", p.format.as_deref(), Format::Json, &mut errors);
    let range = parse_range(p.from.as_deref(), p.to.as_deref(), p.tz.as_deref(), errors)?;
    audit_report(state, user, "agents", raw_query).await?;
    let report = agents_report(&state.store, &range, now_ms()).await?;
    Ok((format, report))
}

/// The agents report as JSON or as a CSV download.
pub(crate) fn agents_response(format: Format, report: &AgentsReport) -> Response {
    let file_name = format!("hotline-agents-{}_{}.csv", report.from, report.to);
    render(format, file_name, report, agents_csv)
}

/// The report as JSON, or as a CSV download named `file_name`.
fn render<R: Serialize>(
    format: Format,
    file_name: String,
    report: &R,
    csv: fn(&R) -> String,
) -> Response {
    match format {
        Format::Json => Json(report).into_response(),
        Format::Csv => (
            [
                (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file_name}\""),
                ),
            ],
            csv(report),
        )
            .into_response(),
    }
}

/// Who pulled which report: the figures are the department's internal
/// data, so their reads are on the audit log like client records.
pub(crate) async fn audit_report(
    state: &AppState,
    user: &CurrentUser,
    kind: &str,
    query: Option<&str>,
) -> Result<(), ApiError> {
    state
        .store
        .audit(
            &AuditEntry {
                actor: &user.0.login,
                action: "read",
                object_kind: "report",
                object_id: Some(kind),
                detail: query,
            },
            now_ms(),
        )
        .await?;
    Ok(())
}
