//! How stored inquiry and client values read on a console page: the
//! words for statuses, channels, categories and areas in both languages,
//! times, waits and phone numbers. The search, the client card and any
//! other view that lists inquiries share them, so one status never reads
//! two ways.

use crate::api::rfc3339_from_ms;
use crate::store::{Channel, InquiryStatus};
use crate::web::i18n::Lang;
use maud::{Markup, html};

pub fn status_label(lang: Lang, status: InquiryStatus) -> &'static str {
    match status {
        InquiryStatus::New => lang.t("Новое", "New"),
        InquiryStatus::InIvr => lang.t("В голосовом меню", "In the voice menu"),
        InquiryStatus::Waiting => lang.t("В очереди", "Waiting"),
        InquiryStatus::InProgress => lang.t("В работе", "In progress"),
        InquiryStatus::ResolvedInIvr => lang.t("Решено в меню", "Resolved in the menu"),
        InquiryStatus::Transferred => lang.t("Переведено", "Transferred"),
        InquiryStatus::Resolved => lang.t("Решено", "Resolved"),
        InquiryStatus::Abandoned => lang.t("Не дождался", "Abandoned"),
        InquiryStatus::CallbackRequested => lang.t("Ждёт обратного звонка", "Callback requested"),
    }
}

/// The status as a coloured badge (`badge status-<status>` in console.css).
pub fn status_badge(lang: Lang, status: InquiryStatus) -> Markup {
    html! {
        span class={ "badge status-" (status.as_str()) } data-status=(status.as_str()) {
            (status_label(lang, status))
        }
    }
}

pub fn channel_label(lang: Lang, channel: Channel) -> &'static str {
    match channel {
        Channel::Phone => lang.t("Телефон", "Phone"),
        Channel::Email => lang.t("Эл. почта", "E-mail"),
        Channel::Chat => lang.t("Чат", "Chat"),
        Channel::Messenger => lang.t("Мессенджер", "Messenger"),
        Channel::InPerson => lang.t("Личный визит", "In person"),
    }
}

/// The words for a category of [`crate::ivr::CATEGORIES`]; an unknown
/// stored value is shown as it is rather than hidden.
pub fn category_label(lang: Lang, category: &str) -> String {
    let label = match category {
        "applicant" => lang.t("Абитуриент", "Applicant"),
        "student" => lang.t("Студент", "Student"),
        "listener" => lang.t("Слушатель", "Listener"),
        "graduate" => lang.t("Выпускник", "Graduate"),
        "parent" => lang.t("Родитель", "Parent"),
        "other" => lang.t("Другое", "Other"),
        other => return other.to_owned(),
    };
    label.to_owned()
}

/// The words for a personal-manager area of [`crate::store::MANAGER_AREAS`].
pub fn area_label(lang: Lang, area: &str) -> String {
    let label = match area {
        "admission" => lang.t("Приёмная комиссия", "Admission"),
        "education" => lang.t("Учебный отдел", "Education"),
        other => return other.to_owned(),
    };
    label.to_owned()
}

/// `2025-03-01 09:30` in UTC — the zone the API's `from`/`to` dates are
/// in, so what a row shows and what the date filter matches agree.
pub fn date_time(ms: i64) -> String {
    let rfc = rfc3339_from_ms(ms);
    // "YYYY-MM-DDTHH:MM:SSZ" → "YYYY-MM-DD HH:MM"
    match (rfc.get(..10), rfc.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time}"),
        _ => rfc,
    }
}

/// A time as a `<time>` element: the short form shown, the exact instant
/// in `datetime` and the tooltip.
pub fn time_cell(ms: i64) -> Markup {
    let exact = rfc3339_from_ms(ms);
    html! { time datetime=(exact) title=(exact) { (date_time(ms)) } }
}

/// How long a caller waited, `m:ss`; empty when not known.
pub fn wait(ms: Option<i64>) -> String {
    match ms {
        Some(ms) if ms >= 0 => {
            let s = ms / 1000;
            format!("{}:{:02}", s / 60, s % 60)
        }
        _ => String::new(),
    }
}

/// A stored (normalised) phone number as people write it: Russian
/// `7XXXXXXXXXX` as `+7 XXX XXX-XX-XX`; anything else (an internal number,
/// a foreign one, an e-mail address, a handle) as it is.
pub fn phone(stored: &str) -> String {
    let is_russian =
        stored.len() == 11 && stored.starts_with('7') && stored.bytes().all(|b| b.is_ascii_digit());
    match (
        is_russian,
        stored.get(1..4),
        stored.get(4..7),
        stored.get(7..9),
        stored.get(9..11),
    ) {
        (true, Some(a), Some(b), Some(c), Some(d)) => format!("+7 {a} {b}-{c}-{d}"),
        _ => stored.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_numbers_read_as_written_and_others_stay() {
        assert_eq!(phone("79161234567"), "+7 916 123-45-67");
        assert_eq!(phone("100"), "100");
        assert_eq!(phone("ivan@example.org"), "ivan@example.org");
        assert_eq!(phone("7916123456Ж"), "7916123456Ж");
    }

    #[test]
    fn times_and_waits() {
        assert_eq!(date_time(1_735_689_599_000), "2024-12-31 23:59");
        assert_eq!(wait(Some(75_400)), "1:15");
        assert_eq!(wait(None), "");
        assert_eq!(wait(Some(-1)), "");
    }

    #[test]
    fn every_status_has_words_in_both_languages() {
        for status in InquiryStatus::ALL {
            assert!(!status_label(Lang::Ru, status).is_empty());
            assert_ne!(
                status_label(Lang::Ru, status),
                status_label(Lang::En, status)
            );
        }
        assert_eq!(category_label(Lang::En, "parent"), "Parent");
        assert_eq!(category_label(Lang::Ru, "martian"), "martian");
    }
}
