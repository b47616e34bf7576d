//! What a waiting caller hears about their place in the queue: the prompt
//! ids to play, in order, for a position and an estimated wait. Pure, so
//! the wording rules (Russian plural forms, the "more than twenty" cap)
//! are tested without audio.

use std::time::Duration;

/// Positions above this are announced as "more than twenty": numbers are
/// prompts, and nobody needs "your position is 137".
const MAX_SPOKEN: usize = 20;

/// Prompts for "your position is N; the estimated wait is M minutes; press
/// 1 to be called back" in `language` (`ru` or anything else → English
/// wording rules; the prompt files decide the words). `callback_hint` is
/// false when the queue offers no callback.
pub fn position_prompts(
    language: &str,
    position: usize,
    estimated_wait: Duration,
    callback_hint: bool,
) -> Vec<String> {
    let mut ids = vec!["queue_position".to_string()];
    if (1..=MAX_SPOKEN).contains(&position) {
        ids.push(format!("num_{position}"));
    } else {
        ids.push("queue_many".to_string());
    }
    ids.push("queue_wait".to_string());
    // Round up: "less than a minute" only when it really is.
    let minutes = estimated_wait.as_secs().div_ceil(60) as usize;
    if estimated_wait < Duration::from_secs(60) {
        ids.push("queue_wait_short".to_string());
    } else if minutes > MAX_SPOKEN {
        ids.push("queue_many".to_string());
        ids.push(minutes_word(language, minutes).to_string());
    } else {
        ids.push(number_for_minutes(language, minutes));
        ids.push(minutes_word(language, minutes).to_string());
    }
    if callback_hint {
        ids.push("queue_callback_hint".to_string());
    }
    ids
}

/// "Минута" is feminine: one and two take their feminine forms (одна,
/// две) in Russian; other numbers and languages use the plain prompts.
fn number_for_minutes(language: &str, n: usize) -> String {
    match (language, n) {
        ("ru", 1 | 2) => format!("num_f_{n}"),
        _ => format!("num_{n}"),
    }
}

/// Russian has three forms: 1, 21 → минута; 2–4, 22–24 → минуты;
/// 5–20, 25–30 → минут. English: minute / minutes (the `minutes_2` and
/// `minutes_5` prompts say the same word).
fn minutes_word(language: &str, n: usize) -> &'static str {
    if language != "ru" {
        return if n == 1 { "minutes_1" } else { "minutes_5" };
    }
    let (last, last_two) = (n % 10, n % 100);
    if (11..=14).contains(&last_two) {
        "minutes_5"
    } else if last == 1 {
        "minutes_1"
    } else if (2..=4).contains(&last) {
        "minutes_2"
    } else {
        "minutes_5"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: Vec<String>) -> Vec<&'static str> {
        v.into_iter().map(|s| &*s.leak()).collect()
    }

    #[test]
    fn russian_position_and_wait_use_the_right_word_forms() {
        let d = |m: u64| Duration::from_secs(m * 60);
        assert_eq!(
            ids(position_prompts("ru", 3, d(1), true)),
            [
                "queue_position",
                "num_3",
                "queue_wait",
                "num_f_1",
                "minutes_1",
                "queue_callback_hint"
            ]
        );
        assert_eq!(
            ids(position_prompts("ru", 1, d(2), false))[3..],
            ["num_f_2", "minutes_2"]
        );
        assert_eq!(
            ids(position_prompts("ru", 1, d(4), false))[3..],
            ["num_4", "minutes_2"]
        );
        assert_eq!(
            ids(position_prompts("ru", 1, d(11), false))[3..],
            ["num_11", "minutes_5"]
        );
        assert_eq!(
            ids(position_prompts("ru", 1, d(5), false))[3..],
            ["num_5", "minutes_5"]
        );
    }

    #[test]
    fn short_waits_and_long_queues_are_said_plainly() {
        assert_eq!(
            ids(position_prompts("en", 25, Duration::from_secs(20), false)),
            ["queue_position", "queue_many", "queue_wait", "queue_wait_short"]
        );
        // 61 s rounds up to two minutes, never down to "less than a minute".
        assert_eq!(
            ids(position_prompts("en", 2, Duration::from_secs(61), false))[3..],
            ["num_2", "minutes_5"]
        );
        assert_eq!(
            ids(position_prompts("en", 2, Duration::from_secs(60), false))[3..],
            ["num_1", "minutes_1"]
        );
        assert_eq!(
            ids(position_prompts("ru", 2, Duration::from_secs(3600), false))[3..],
            ["queue_many", "minutes_5"]
        );
    }
}
