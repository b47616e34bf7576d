//! How stored codes and values read on a console page, in Russian or
//! English: inquiry statuses, channels, categories, topics, areas and
//! ways of informing; agent and call states, routing reasons, queue
//! strategies, roles and weekdays; phone numbers, durations, shares — and
//! times, in the institute's time zone ([`Zone`]).
//!
//! **Why one module.** Every view shows the same stored values (the search,
//! the client card, the operator's desk, the board, the admin page), and
//! each used to carry its own words for them, so one status read "Решено"
//! on one page and "решено" on the next, and a number was `+7 916 123-45-67`
//! here and `79161234567` there. Each table and formatter exists here once;
//! the words are sentence case, as labels and badges are.
//!
//! An unknown code (a topic a new IVR script records, say) is shown as it
//! is rather than hidden: the reader still sees what was stored.

use crate::acd::Strategy;
use crate::api::{AppState, ms_from_rfc3339, rfc3339_from_ms};
use crate::config::QueueSettings;
use crate::ivr::calendar::{Date, Weekday};
use crate::report::DateRange;
use crate::role::Role;
use crate::routing::LiveCallState;
use crate::store::{Channel, InquiryStatus};
use crate::web::i18n::Lang;
use maud::{Markup, html};

// ---------------------------------------------------------------- inquiries

pub fn status(lang: Lang, status: InquiryStatus) -> &'static str {
    match status {
        InquiryStatus::New => lang.t("Новое", "New"),
        InquiryStatus::InIvr => lang.t("В голосовом меню", "In the voice menu"),
        InquiryStatus::Waiting => lang.t("В очереди", "Waiting"),
        InquiryStatus::InProgress => lang.t("В работе", "In progress"),
        InquiryStatus::ResolvedInIvr => {
            lang.t("Решено в голосовом меню", "Resolved in the voice menu")
        }
        InquiryStatus::Transferred => lang.t("Переведено", "Transferred"),
        InquiryStatus::Resolved => lang.t("Решено", "Resolved"),
        // The reports' word ("Доля потерянных"): the caller hung up unserved.
        InquiryStatus::Abandoned => lang.t("Потеряно", "Abandoned"),
        InquiryStatus::CallbackRequested => lang.t("Ждёт обратного звонка", "Callback requested"),
    }
}

/// The status as a coloured badge (`status-<status>` in console.css), with
/// the stored value in `data-status`.
pub fn status_badge(lang: Lang, status: InquiryStatus, id: Option<&str>) -> Markup {
    html! {
        span id=[id] class={ "badge status-" (status.as_str()) } data-status=(status.as_str()) {
            (self::status(lang, status))
        }
    }
}

pub fn channel(lang: Lang, channel: Channel) -> &'static str {
    match channel {
        Channel::Phone => lang.t("Телефон", "Phone"),
        Channel::Email => lang.t("Эл. почта", "E-mail"),
        Channel::Chat => lang.t("Чат", "Chat"),
        Channel::Messenger => lang.t("Мессенджер", "Messenger"),
        Channel::InPerson => lang.t("Личный визит", "In person"),
    }
}

/// A category of [`crate::ivr::CATEGORIES`].
pub fn category(lang: Lang, code: &str) -> String {
    let label = match code {
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

/// The `<option>`s of a category picker, in [`crate::ivr::CATEGORIES`]
/// order, `selected` marked. A selected value that is not a category (a
/// refused form shown again) is kept as an option, so the 422 shows what
/// was sent. The caller adds its own empty option.
pub fn category_options(lang: Lang, selected: &str) -> Markup {
    let known = crate::ivr::CATEGORIES.contains(&selected);
    html! {
        @for code in crate::ivr::CATEGORIES {
            option value=(code) selected[selected == *code] { (category(lang, code)) }
        }
        @if !selected.is_empty() && !known {
            option value=(selected) selected { (selected) }
        }
    }
}

/// A topic the default IVR flow records; a typed-in topic reads as typed.
pub fn topic(lang: Lang, code: &str) -> String {
    let label = match code {
        "admission" => lang.t("Приём", "Admission"),
        "admission_rules" => lang.t("Правила приёма", "Admission rules"),
        "education" => lang.t("Обучение", "Education"),
        "study_info" => lang.t("Учёба", "Studies"),
        "general" => lang.t("Общий вопрос", "General question"),
        "graduates" => lang.t("Выпускники", "Graduates"),
        "callback" => lang.t("Обратный звонок", "Callback"),
        "after_hours" => lang.t("Нерабочее время", "After hours"),
        other => return other.to_owned(),
    };
    label.to_owned()
}

/// A personal-manager area of [`crate::store::MANAGER_AREAS`].
pub fn area(lang: Lang, code: &str) -> String {
    let label = match code {
        "admission" => lang.t("Приёмная комиссия", "Admission"),
        "education" => lang.t("Учебный отдел", "Education"),
        other => return other.to_owned(),
    };
    label.to_owned()
}

/// How a client was told the outcome
/// ([`crate::api::inquiries::INFORM_WAYS`]).
pub fn inform_way(lang: Lang, code: &str) -> String {
    let label = match code {
        "phone" => lang.t("По телефону", "By phone"),
        "email" => lang.t("По эл. почте", "By e-mail"),
        "messenger" => lang.t("В мессенджере", "By messenger"),
        "in_person" => lang.t("Лично", "In person"),
        "chat" => lang.t("В чате", "In chat"),
        "sms" => lang.t("По SMS", "By SMS"),
        "post" => lang.t("Почтой", "By post"),
        other => return other.to_owned(),
    };
    label.to_owned()
}

// ------------------------------------------------------------------ routing

/// An agent state as routing names it (`AgentState::as_str`).
pub fn agent_state(lang: Lang, state: &str) -> String {
    let label = match state {
        "offline" => lang.t("Не в сети", "Offline"),
        "available" => lang.t("Свободен", "Available"),
        "ringing" => lang.t("Звонок", "Ringing"),
        "busy" => lang.t("Разговор", "On a call"),
        "wrap_up" => lang.t("Постобработка", "Wrap-up"),
        "paused" => lang.t("Пауза", "Paused"),
        other => return other.to_owned(),
    };
    label.to_owned()
}

/// The state as a coloured badge (`state-<state>` in console.css), with
/// the stored value in `data-state`.
pub fn agent_state_badge(lang: Lang, state: &str, id: Option<&str>) -> Markup {
    html! {
        span id=[id] class={ "badge state-" (state) } data-state=(state) { (agent_state(lang, state)) }
    }
}

/// Where a live call stands, as a badge (`call-<state>` in console.css);
/// the words are those of the inquiry status and agent state it matches.
pub fn call_state_badge(lang: Lang, state: LiveCallState) -> Markup {
    let (code, label) = match state {
        LiveCallState::InIvr => ("in_ivr", status(lang, InquiryStatus::InIvr)),
        LiveCallState::Waiting => ("waiting", status(lang, InquiryStatus::Waiting)),
        LiveCallState::Ringing => ("ringing", lang.t("Звонит оператору", "Ringing an agent")),
        LiveCallState::Talking => ("talking", lang.t("Разговор", "On a call")),
    };
    html! { span class={ "badge call-" (code) } data-state=(code) { (label) } }
}

/// Why routing chose the agent (`RoutingReason::as_str`).
pub fn routing_reason(lang: Lang, code: &str) -> String {
    let label = match code {
        "personal_manager" => lang.t("Персональный менеджер", "Personal manager"),
        "personal_busy_fallback" => lang.t(
            "Персональный менеджер занят — очередь",
            "Personal manager busy: queue",
        ),
        "personal_no_answer_fallback" => lang.t(
            "Персональный менеджер не ответил — очередь",
            "Personal manager did not answer: queue",
        ),
        "longest_idle" => lang.t("Дольше всех свободен", "Longest idle"),
        "round_robin" => lang.t("По кругу", "Round robin"),
        "fewest_calls" => lang.t("Меньше всего звонков", "Fewest calls"),
        "transfer" => lang.t("Перевод", "Transfer"),
        other => return other.to_owned(),
    };
    label.to_owned()
}

/// What an event in an inquiry's timeline is (`Event::kind`); an unknown
/// kind is shown as stored.
pub fn event_kind(lang: Lang, kind: &str) -> String {
    let label = match kind {
        "inquiry.created" => lang.t("Создано", "Created"),
        "inquiry.updated" => lang.t("Изменено", "Changed"),
        "inquiry.message" => lang.t("Сообщение", "Message"),
        "agent.state" => lang.t("Состояние оператора", "Agent state"),
        other => return other.to_owned(),
    };
    label.to_owned()
}

/// A queue's strategy: the words of the routing reason it produces.
pub fn strategy(lang: Lang, strategy: Strategy) -> String {
    routing_reason(
        lang,
        match strategy {
            Strategy::LongestIdle => "longest_idle",
            Strategy::RoundRobin => "round_robin",
            Strategy::FewestCalls => "fewest_calls",
        },
    )
}

/// Where a queue's caller goes after its longest wait.
pub fn overflow(lang: Lang, queue: &QueueSettings) -> String {
    match (queue.max_wait_s, queue.overflow.as_deref()) {
        (None, _) | (_, None) => lang
            .t("Нет (ждёт без ограничения)", "None (waits without limit)")
            .to_owned(),
        (Some(s), Some("callback")) => format!("{s} s → {}", topic(lang, "callback")),
        (Some(s), Some(target)) => format!(
            "{s} s → {} {}",
            lang.t("очередь", "queue"),
            target.strip_prefix("queue:").unwrap_or(target)
        ),
    }
}

pub fn role(lang: Lang, role: Role) -> &'static str {
    match role {
        Role::ContactManager => lang.t("Контакт-менеджер", "Contact manager"),
        Role::AdmissionManager => lang.t("Менеджер приёмной комиссии", "Admission manager"),
        Role::EducationManager => lang.t("Менеджер по обучению", "Education manager"),
        Role::DepartmentHead => lang.t("Руководитель подразделения", "Department head"),
        Role::Head => lang.t("Руководитель", "Head"),
        Role::Admin => lang.t("Администратор", "Administrator"),
    }
}

pub fn weekday(lang: Lang, day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => lang.t("Понедельник", "Monday"),
        Weekday::Tue => lang.t("Вторник", "Tuesday"),
        Weekday::Wed => lang.t("Среда", "Wednesday"),
        Weekday::Thu => lang.t("Четверг", "Thursday"),
        Weekday::Fri => lang.t("Пятница", "Friday"),
        Weekday::Sat => lang.t("Суббота", "Saturday"),
        Weekday::Sun => lang.t("Воскресенье", "Sunday"),
    }
}

// ------------------------------------------------------------------- values

/// A stored (normalised) phone number as people write it: Russian
/// `7XXXXXXXXXX` as `+7 XXX XXX-XX-XX`. Anything else — an internal or
/// foreign number, an e-mail address, a handle, a number a live call
/// shows masked (`*******4567`) — as it is.
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

/// A value, or a dash when there is none.
pub fn or_dash(value: Option<String>) -> String {
    value
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "—".to_owned())
}

/// A duration as the console's clocks write it: `mm:ss`, `h:mm:ss` from
/// an hour — the format `console.js` counts `data-elapsed-ms` in, so a
/// clock does not change its look at the first tick.
pub fn clock(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{sec:02}")
    } else {
        format!("{m:02}:{sec:02}")
    }
}

/// A duration that may not be known (a wait never measured, an average of
/// nothing): a dash.
pub fn opt_clock(ms: Option<i64>) -> String {
    ms.map_or_else(|| "—".to_owned(), clock)
}

/// `0.8333` as `83.3 %`.
pub fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// A share that may have nothing to divide by: a dash.
pub fn share(share: Option<f64>) -> String {
    share.map_or_else(|| "—".to_owned(), percent)
}

/// `2025-03-09` as `09.03` (Russian) or `03-09` (English): a chart axis.
pub fn short_day(lang: Lang, day: &str) -> String {
    match (day.get(5..7), day.get(8..10)) {
        (Some(month), Some(d)) => match lang {
            Lang::Ru => format!("{d}.{month}"),
            Lang::En => format!("{month}-{d}"),
        },
        _ => day.to_owned(),
    }
}

// -------------------------------------------------------------------- times

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// The institute's time zone: the UTC offset of the working calendar in
/// force (`state.calendar`, which the admin can change while the server
/// runs). Stored times are UTC; people at the institute read their own
/// clock, so every time a page shows is local, and says which zone it is
/// in — a column header names it ([`Zone::heading`]) and each `<time>`
/// carries the exact UTC instant in its tooltip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Zone {
    /// Local time = UTC + this many minutes.
    pub utc_offset_minutes: i32,
}

impl Zone {
    /// The zone of the calendar in force now.
    pub fn of(state: &AppState) -> Zone {
        Zone {
            utc_offset_minutes: state.calendar.get().utc_offset_minutes,
        }
    }

    fn offset_ms(self) -> i64 {
        i64::from(self.utc_offset_minutes) * MINUTE_MS
    }

    /// `UTC`, `UTC+3`, `UTC+5:30`, `UTC-4`.
    pub fn label(self) -> String {
        let m = self.utc_offset_minutes;
        if m == 0 {
            return "UTC".to_owned();
        }
        let sign = if m < 0 { '-' } else { '+' };
        let (hours, minutes) = (m.unsigned_abs() / 60, m.unsigned_abs() % 60);
        if minutes == 0 {
            format!("UTC{sign}{hours}")
        } else {
            format!("UTC{sign}{hours}:{minutes:02}")
        }
    }

    /// A column or field name with the zone its times are in:
    /// `Создано (UTC+3)`.
    pub fn heading(self, label: &str) -> String {
        format!("{label} ({})", self.label())
    }

    /// "Время института: UTC+3", under a card whose times have no column
    /// header to name the zone.
    pub fn note(self, lang: Lang) -> Markup {
        html! {
            p.muted.zone-note { (lang.t("Время института: ", "Institute time: ")) (self.label()) }
        }
    }

    /// `YYYY-MM-DD HH:MM` on the institute's clock.
    pub fn date_time(self, ms: i64) -> String {
        let local = rfc3339_from_ms(ms.saturating_add(self.offset_ms()));
        // "YYYY-MM-DDTHH:MM:SSZ" → "YYYY-MM-DD HH:MM"
        match (local.get(..10), local.get(11..16)) {
            (Some(date), Some(time)) => format!("{date} {time}"),
            _ => local,
        }
    }

    /// A time as a `<time>` element: the local minute shown, the exact UTC
    /// instant in `datetime` and, with the zone, in the tooltip.
    pub fn time(self, ms: i64) -> Markup {
        let utc = rfc3339_from_ms(ms);
        let exact = format!("{} UTC", utc.replacen('T', " ", 1).trim_end_matches('Z'));
        let title = if self.utc_offset_minutes == 0 {
            exact
        } else {
            format!("{} {} = {exact}", self.date_time(ms), self.label())
        };
        html! { time datetime=(utc) title=(title) { (self.date_time(ms)) } }
    }

    /// [`Zone::time`] of a timestamp the API wrote (RFC 3339); text it
    /// cannot read is shown as it is.
    pub fn time_of(self, rfc3339: &str) -> Markup {
        match ms_from_rfc3339(rfc3339) {
            Some(ms) => self.time(ms),
            None => html! { (rfc3339) },
        }
    }

    /// [`Zone::time`] followed by the zone, for a time that stands alone in
    /// a sentence (no column header names the zone).
    pub fn time_with_zone(self, ms: i64) -> Markup {
        html! { (self.time(ms)) " " (self.label()) }
    }

    /// [`Zone::time_with_zone`] of a timestamp the API wrote (RFC 3339).
    pub fn time_with_zone_of(self, rfc3339: &str) -> Markup {
        match ms_from_rfc3339(rfc3339) {
            Some(ms) => self.time_with_zone(ms),
            None => html! { (rfc3339) },
        }
    }

    /// [`Zone::time`], or a dash when there is no time.
    pub fn opt_time(self, ms: Option<i64>) -> Markup {
        match ms {
            Some(ms) => self.time(ms),
            None => html! { "—" },
        }
    }

    /// The local day that holds `now_ms`, with the reports' day boundaries.
    pub fn today(self, now_ms: i64) -> DateRange {
        DateRange::day_of(now_ms, self.utc_offset_minutes)
    }

    /// The first instant (Unix ms) of a local day written `YYYY-MM-DD`;
    /// `None` for anything else.
    pub fn day_start_ms(self, date: &str) -> Option<i64> {
        let written_iso = date.len() == 10
            && date.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !written_iso {
            return None;
        }
        let days = Date::parse(date)?.days_since_epoch();
        days.checked_mul(DAY_MS)?.checked_sub(self.offset_ms())
    }

    /// The first instant after a local day written `YYYY-MM-DD`.
    pub fn day_end_ms(self, date: &str) -> Option<i64> {
        self.day_start_ms(date)?.checked_add(DAY_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOSCOW: Zone = Zone {
        utc_offset_minutes: 180,
    };

    #[test]
    fn russian_numbers_read_as_written_and_others_stay() {
        assert_eq!(phone("79161234567"), "+7 916 123-45-67");
        assert_eq!(phone("100"), "100");
        assert_eq!(phone("ivan@example.org"), "ivan@example.org");
        assert_eq!(phone("7916123456Ж"), "7916123456Ж");
        assert_eq!(phone("*******4567"), "*******4567", "masked stays masked");
    }

    #[test]
    fn every_status_channel_and_category_has_words_in_both_languages() {
        for s in InquiryStatus::ALL {
            assert!(!status(Lang::Ru, s).is_empty());
            assert_ne!(status(Lang::Ru, s), status(Lang::En, s), "{s:?}");
        }
        for c in Channel::ALL {
            assert_ne!(channel(Lang::Ru, c), channel(Lang::En, c), "{c:?}");
        }
        for code in crate::ivr::CATEGORIES {
            assert_ne!(category(Lang::Ru, code), *code, "{code}");
        }
        for code in crate::api::inquiries::INFORM_WAYS {
            assert_ne!(inform_way(Lang::Ru, code), *code, "{code}");
        }
        for code in crate::store::MANAGER_AREAS {
            assert_ne!(area(Lang::Ru, code), code, "{code}");
        }
    }

    #[test]
    fn timeline_events_read_as_words_and_unknown_kinds_stay() {
        assert_eq!(event_kind(Lang::Ru, "inquiry.updated"), "Изменено");
        assert_eq!(event_kind(Lang::En, "inquiry.created"), "Created");
        assert_eq!(event_kind(Lang::Ru, "client.merged"), "client.merged");
    }

    #[test]
    fn labels_are_sentence_case() {
        let first_upper = |s: &str| s.chars().next().is_some_and(char::is_uppercase);
        for s in InquiryStatus::ALL {
            assert!(first_upper(status(Lang::Ru, s)), "{s:?}");
        }
        for state in [
            "offline",
            "available",
            "ringing",
            "busy",
            "wrap_up",
            "paused",
        ] {
            assert!(first_upper(&agent_state(Lang::Ru, state)), "{state}");
            assert!(first_upper(&agent_state(Lang::En, state)), "{state}");
        }
        assert_eq!(
            strategy(Lang::Ru, Strategy::LongestIdle),
            routing_reason(Lang::Ru, "longest_idle")
        );
    }

    #[test]
    fn unknown_codes_show_as_they_are() {
        assert_eq!(category(Lang::Ru, "martian"), "martian");
        assert_eq!(topic(Lang::En, "new_topic"), "new_topic");
        assert_eq!(agent_state(Lang::En, "dancing"), "dancing");
        assert_eq!(routing_reason(Lang::Ru, "luck"), "luck");
        let options = category_options(Lang::En, "martian").into_string();
        assert!(options.contains(r#"<option value="martian" selected>martian</option>"#));
        assert!(options.contains(r#"<option value="parent">Parent</option>"#));
    }

    #[test]
    fn durations_and_shares() {
        assert_eq!(clock(0), "00:00");
        assert_eq!(clock(61_999), "01:01");
        assert_eq!(clock(3_600_000 + 5_000), "1:00:05");
        assert_eq!(clock(-5), "00:00");
        assert_eq!(opt_clock(None), "—");
        assert_eq!(share(Some(0.6667)), "66.7 %");
        assert_eq!(share(None), "—");
        assert_eq!(or_dash(Some(String::new())), "—");
        assert_eq!(short_day(Lang::Ru, "2025-03-09"), "09.03");
        assert_eq!(short_day(Lang::En, "2025-03-09"), "03-09");
        assert_eq!(short_day(Lang::Ru, "odd"), "odd");
    }

    #[test]
    fn times_read_on_the_institute_clock_and_say_so() {
        // 2024-12-31 23:59 UTC is already New Year in Moscow.
        let ms = 1_735_689_599_000;
        assert_eq!(Zone::default().date_time(ms), "2024-12-31 23:59");
        assert_eq!(MOSCOW.date_time(ms), "2025-01-01 02:59");
        assert_eq!(MOSCOW.label(), "UTC+3");
        assert_eq!(Zone::default().label(), "UTC");
        assert_eq!(
            Zone {
                utc_offset_minutes: -270
            }
            .label(),
            "UTC-4:30"
        );
        assert_eq!(MOSCOW.heading("Создано"), "Создано (UTC+3)");
        let cell = MOSCOW.time(ms).into_string();
        assert!(
            cell.contains(r#"datetime="2024-12-31T23:59:59Z""#),
            "{cell}"
        );
        assert!(
            cell.contains(r#"title="2025-01-01 02:59 UTC+3 = 2024-12-31 23:59:59 UTC""#),
            "{cell}"
        );
        assert!(cell.contains(">2025-01-01 02:59</time>"), "{cell}");
        let same = MOSCOW.time_of("2024-12-31T23:59:59Z").into_string();
        assert_eq!(same, cell);
        assert_eq!(MOSCOW.time_of("garbage").into_string(), "garbage");
        // Never panics, however far off.
        let _ = MOSCOW.date_time(i64::MAX);
        let _ = MOSCOW.date_time(i64::MIN);
    }

    #[test]
    fn a_local_day_starts_at_local_midnight() {
        // 2025-03-01 00:00 in Moscow is 2025-02-28 21:00 UTC.
        let start = MOSCOW.day_start_ms("2025-03-01");
        assert_eq!(
            start.map(rfc3339_from_ms).as_deref(),
            Some("2025-02-28T21:00:00Z")
        );
        assert_eq!(MOSCOW.day_start_ms("2025-3-1"), None);
        assert_eq!(MOSCOW.day_start_ms("2025-03-1 "), None);
        assert_eq!(MOSCOW.day_start_ms("2025-02-30"), None);
        assert_eq!(
            MOSCOW.today(start.unwrap_or(0)).start_ms(),
            start.unwrap_or(0)
        );
    }
}
