//! Working hours and holidays: the UTC offset, each weekday's open
//! intervals and the holiday dates, saved through `PUT /api/v1/calendar`'s
//! own handler (validated there, stored, audited, in force for the next
//! call). The page says where the hours in force come from — saved here
//! (and then winning over `[calendar]` in hotline.toml) or the file — so an
//! admin who edits the file is not left wondering why nothing changed.

use super::{FieldErrors, FormPairs, Retry, back_to_admin, field_error, require_admin, show_again};
use crate::api::calendar::{CalendarBody, CalendarView};
use crate::api::{ApiJson, AppState};
use crate::ivr::calendar::Weekday;
use crate::web::error::WebError;
use crate::web::i18n::Lang;
use crate::web::layout::csrf_field;
use crate::web::present::{self, Zone};
use crate::web::session::Ctx;
use axum::Form;
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use std::collections::BTreeMap;

/// The hours form: the text of each value as shown or typed.
#[derive(Debug, Clone, Default)]
pub(super) struct HoursForm {
    utc_offset: String,
    /// Per weekday, Monday first.
    days: [String; 7],
    /// One date per line.
    holidays: String,
    errors: FieldErrors,
}

impl HoursForm {
    pub(super) fn of(view: &CalendarView) -> HoursForm {
        let h = &view.hours;
        HoursForm {
            utc_offset: view.utc_offset.clone(),
            days: [
                h.mon.clone(),
                h.tue.clone(),
                h.wed.clone(),
                h.thu.clone(),
                h.fri.clone(),
                h.sat.clone(),
                h.sun.clone(),
            ],
            holidays: view.holidays.join("\n"),
            errors: FieldErrors::new(),
        }
    }
}

/// Where the hours in force come from, in words.
fn provenance(lang: Lang, zone: Zone, view: &CalendarView) -> Markup {
    html! {
        @match (&view.saved_by, &view.saved_at) {
            (Some(by), Some(at)) => p.notice.provenance id="hours-source" {
                (lang.t("Сохранено в консоли", "Saved in the console")) " " (zone.time_with_zone_of(at)) ", "
                (lang.t("пользователь", "by")) " " b { (by) } ". "
                (lang.t(
                    "Эти часы действуют вместо раздела [calendar] в hotline.toml, в том числе после перезапуска: правка файла на них не влияет.",
                    "These hours are in force instead of [calendar] in hotline.toml, restarts included: editing the file does not change them."
                ))
            },
            _ => p.muted.provenance id="hours-source" {
                (lang.t(
                    "Сейчас действуют часы из файла конфигурации (hotline.toml, [calendar]). Сохранённые здесь, они хранятся в базе данных и действуют вместо файла, в том числе после перезапуска.",
                    "The hours in force come from the config file (hotline.toml, [calendar]). Once saved here they are kept in the database and are in force instead of the file, restarts included."
                ))
            },
        }
    }
}

/// The section on `/admin`. `now` is the time now and whether the
/// institute is open then.
pub(super) fn section(
    ctx: &Ctx,
    view: &CalendarView,
    form: &HoursForm,
    now: &(i64, bool),
) -> Markup {
    let lang = ctx.lang;
    let e = &form.errors;
    let holiday_errors: Vec<&String> = e
        .iter()
        .filter(|(field, _)| field.starts_with("holidays"))
        .map(|(_, message)| message)
        .collect();
    html! {
        section.card.admin-section id="hours" {
            h2 { (lang.t("Рабочее время и праздники", "Working hours and holidays")) }
            (provenance(lang, ctx.zone, view))
            p id="hours-now" {
                (lang.t("Сейчас в институте", "Now at the institute")) " " (ctx.zone.time_with_zone(now.0)) ": "
                @if now.1 {
                    span.badge.state-available { (lang.t("открыто", "open")) }
                } @else {
                    span.badge.state-offline { (lang.t("закрыто", "closed")) }
                }
            }
            form id="hours-form" method="post" action="/admin/hours" {
                (csrf_field(ctx))
                (field_error(e, "calendar"))
                div.row {
                    div {
                        label for="utc-offset" { (lang.t("Смещение от UTC (например +03:00)", "UTC offset (e.g. +03:00)")) }
                        input type="text" name="utc_offset" id="utc-offset" value=(form.utc_offset) required;
                        (field_error(e, "utc_offset"))
                    }
                }
                p.muted { (lang.t(
                    "Часы дня: интервалы через запятую, например 09:00-13:00, 14:00-18:00 (конец не включается, можно 24:00), или closed — выходной.",
                    "Hours of a day: intervals separated by commas, e.g. 09:00-13:00, 14:00-18:00 (the end is exclusive, 24:00 allowed), or closed for a day off."
                )) }
                div.weekdays {
                    @for (day, text) in Weekday::ALL.iter().zip(&form.days) {
                        div.weekday {
                            label for=(format!("hours-{}", day.key())) { (present::weekday(lang, *day)) }
                            input type="text" name=(format!("hours.{}", day.key())) id=(format!("hours-{}", day.key()))
                                value=(text) placeholder="09:00-18:00";
                            (field_error(e, &format!("hours.{}", day.key())))
                        }
                    }
                }
                label for="holidays" { (lang.t("Праздники и нерабочие дни (ГГГГ-ММ-ДД, по одному в строке)", "Holidays and days off (YYYY-MM-DD, one per line)")) }
                textarea name="holidays" id="holidays" rows="6" { (form.holidays) }
                @for message in holiday_errors { p.error.field-error.holiday-error { (message) } }
                button type="submit" id="save-hours" { (lang.t("Сохранить рабочее время", "Save working hours")) }
            }
        }
    }
}

/// `POST /admin/hours`
pub(super) async fn save(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    require_admin(&ctx)?;
    let form = FormPairs::from(pairs);
    let mut retry = HoursForm {
        utc_offset: form.text("utc_offset"),
        days: Weekday::ALL.map(|d| form.text(&format!("hours.{}", d.key()))),
        holidays: form.get("holidays").unwrap_or("").to_string(),
        errors: FieldErrors::new(),
    };
    let hours: BTreeMap<String, String> = Weekday::ALL
        .iter()
        .zip(&retry.days)
        .map(|(day, text)| (day.key().to_string(), text.clone()))
        .collect();
    let body = CalendarBody {
        utc_offset: Some(retry.utc_offset.clone()),
        hours: Some(hours),
        holidays: retry
            .holidays
            .split(['\n', ','])
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect(),
    };
    match crate::api::calendar::put(State(state.clone()), ctx.user.clone(), ApiJson(body)).await {
        Ok(_) => Ok(back_to_admin("hours=saved", "hours")),
        Err(e) => {
            let (status, errors) = super::form_errors(e, "calendar")?;
            retry.errors = errors;
            let again = Retry {
                hours: Some(retry),
                ..Retry::default()
            };
            show_again(&state, &ctx, status, again).await
        }
    }
}
