//! How the operator's pages show stored codes: categories, topics,
//! statuses, channels, agent states and routing reasons in Russian or
//! English, and times as a short date. One place, so the screen pop, the
//! inquiry page and the visit form label a category the same way.
//!
//! An unknown code (a new topic added to an IVR script, say) is shown as
//! it is rather than hidden: the operator still sees what the caller chose.

use crate::store::{Channel, InquiryStatus};
use crate::web::i18n::Lang;

/// The §6 categories with their labels, in the order a form lists them.
pub const CATEGORY_LABELS: &[(&str, &str, &str)] = &[
    ("applicant", "Абитуриент", "Applicant"),
    ("student", "Студент", "Student"),
    ("listener", "Слушатель", "Listener"),
    ("graduate", "Выпускник", "Graduate"),
    ("parent", "Родитель", "Parent"),
    ("other", "Другое", "Other"),
];

/// Topics the default IVR flow records.
const TOPIC_LABELS: &[(&str, &str, &str)] = &[
    ("admission", "Приём", "Admission"),
    ("admission_rules", "Правила приёма", "Admission rules"),
    ("education", "Обучение", "Education"),
    ("study_info", "Учёба", "Studies"),
    ("general", "Общий вопрос", "General question"),
    ("graduates", "Выпускники", "Graduates"),
    ("callback", "Обратный звонок", "Callback"),
    ("after_hours", "Нерабочее время", "After hours"),
];

fn lookup(table: &[(&str, &'static str, &'static str)], lang: Lang, code: &str) -> String {
    table.iter().find(|(c, _, _)| *c == code).map_or_else(
        || code.to_string(),
        |(_, ru, en)| lang.t(ru, en).to_string(),
    )
}

pub fn category(lang: Lang, code: &str) -> String {
    lookup(CATEGORY_LABELS, lang, code)
}

pub fn topic(lang: Lang, code: &str) -> String {
    lookup(TOPIC_LABELS, lang, code)
}

pub fn status(lang: Lang, status: InquiryStatus) -> &'static str {
    match status {
        InquiryStatus::New => lang.t("новое", "new"),
        InquiryStatus::InIvr => lang.t("в меню", "in IVR"),
        InquiryStatus::Waiting => lang.t("в очереди", "waiting"),
        InquiryStatus::InProgress => lang.t("в работе", "in progress"),
        InquiryStatus::ResolvedInIvr => lang.t("решено в меню", "resolved in IVR"),
        InquiryStatus::Transferred => lang.t("переведено", "transferred"),
        InquiryStatus::Resolved => lang.t("решено", "resolved"),
        InquiryStatus::Abandoned => lang.t("сброшено", "abandoned"),
        InquiryStatus::CallbackRequested => lang.t("обратный звонок", "callback requested"),
    }
}

/// Whether an inquiry still needs someone: the rule routing uses for "the
/// client has an open inquiry" (`Store::has_open_inquiry`).
pub fn is_open(status: InquiryStatus) -> bool {
    !matches!(
        status,
        InquiryStatus::Resolved | InquiryStatus::ResolvedInIvr | InquiryStatus::Abandoned
    )
}

pub fn channel(lang: Lang, channel: Channel) -> &'static str {
    match channel {
        Channel::Phone => lang.t("телефон", "phone"),
        Channel::Email => lang.t("e-mail", "e-mail"),
        Channel::Chat => lang.t("чат", "chat"),
        Channel::Messenger => lang.t("мессенджер", "messenger"),
        Channel::InPerson => lang.t("лично", "in person"),
    }
}

/// An agent state as routing names it (`available`, `wrap_up`, ...).
pub fn agent_state(lang: Lang, state: &str) -> String {
    match state {
        "offline" => lang.t("не в сети", "offline"),
        "available" => lang.t("свободен", "available"),
        "ringing" => lang.t("звонок", "ringing"),
        "busy" => lang.t("разговор", "on a call"),
        "wrap_up" => lang.t("постобработка", "wrap-up"),
        "paused" => lang.t("перерыв", "paused"),
        other => other,
    }
    .to_string()
}

/// Why routing chose the agent (`RoutingReason::as_str`).
pub fn reason(lang: Lang, code: &str) -> String {
    match code {
        "personal_manager" => lang.t("персональный менеджер", "personal manager"),
        "personal_busy_fallback" => lang.t(
            "персональный менеджер занят — очередь",
            "personal manager busy: queue",
        ),
        "personal_no_answer_fallback" => lang.t(
            "персональный менеджер не ответил — очередь",
            "personal manager did not answer: queue",
        ),
        "longest_idle" => lang.t("дольше всех свободен", "longest idle"),
        "round_robin" => lang.t("по кругу", "round robin"),
        "fewest_calls" => lang.t("меньше всего звонков", "fewest calls"),
        "transfer" => lang.t("перевод", "transfer"),
        other => other,
    }
    .to_string()
}

/// `YYYY-MM-DD HH:MM` (UTC) of a Unix-ms time: short enough for a table.
pub fn time(ms: i64) -> String {
    let full = crate::api::rfc3339_from_ms(ms);
    full.get(..16)
        .map_or(full.clone(), |short| short.replace('T', " "))
}

/// `M:SS` of a duration in ms (wait, talk).
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

/// A value, or a dash when there is none.
pub fn or_dash(value: Option<String>) -> String {
    value
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "—".to_string())
}

/// Wall-clock Unix ms, to turn a stored instant into "how long ago".
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_get_labels_and_unknown_codes_show_as_they_are() {
        assert_eq!(category(Lang::Ru, "applicant"), "Абитуриент");
        assert_eq!(category(Lang::En, "applicant"), "Applicant");
        assert_eq!(topic(Lang::Ru, "graduates"), "Выпускники");
        assert_eq!(topic(Lang::En, "new_topic"), "new_topic");
        assert_eq!(agent_state(Lang::En, "wrap_up"), "wrap-up");
        assert_eq!(reason(Lang::En, "longest_idle"), "longest idle");
    }

    #[test]
    fn every_category_of_the_ivr_has_a_label() {
        for code in crate::ivr::CATEGORIES {
            assert!(CATEGORY_LABELS.iter().any(|(c, _, _)| c == code), "{code}");
        }
    }

    #[test]
    fn times_are_short() {
        assert_eq!(time(0), "1970-01-01 00:00");
        assert_eq!(duration(83_500), "1:23");
        assert_eq!(duration(-5), "0:00");
    }
}
