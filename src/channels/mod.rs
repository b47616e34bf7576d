//! Inquiries that arrive in writing: e-mail piped in by an MTA and messenger
//! bot webhooks (ARCHITECTURE §6 "Channels other than phone").
//!
//! Sans-IO: these modules turn the bytes of a message into a validated
//! request ([`email::IncomingEmail`], [`messenger::MessengerMessage`]) and
//! decide how it threads; the store files it (`Store::file_email`,
//! `Store::file_messenger_message`) and the API (`api::channels`) owns HTTP,
//! auth and the clock.

pub mod email;
pub mod messenger;

/// Compares a configured secret with one a request presented, in time that
/// depends only on the configured secret's length: a caller guessing the
/// secret learns nothing from how fast a wrong guess is refused.
pub fn secrets_match(expected: &str, given: &str) -> bool {
    let (expected, given) = (expected.as_bytes(), given.as_bytes());
    let mut diff = u8::from(expected.len() != given.len());
    for (i, x) in expected.iter().enumerate() {
        diff |= x ^ given.get(i).copied().unwrap_or(0);
    }
    diff == 0 && !expected.is_empty()
}

/// Cuts `text` to at most `max_chars` characters; `true` when it was cut.
/// Stored message texts are bounded so one huge mail cannot bloat every
/// history read.
pub(crate) fn truncate_chars(text: &str, max_chars: usize) -> (String, bool) {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => (text.get(..cut).unwrap_or(text).to_string(), true),
        None => (text.to_string(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_when_equal_and_configured() {
        assert!(secrets_match("s3cret-token-1234", "s3cret-token-1234"));
        assert!(!secrets_match("s3cret-token-1234", "s3cret-token-1235"));
        assert!(!secrets_match("s3cret-token-1234", "s3cret-token-123"));
        assert!(!secrets_match("s3cret-token-1234", "s3cret-token-12345"));
        assert!(!secrets_match("s3cret-token-1234", ""));
        assert!(!secrets_match("", ""), "an empty secret never matches");
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate_chars("привет", 3), ("при".to_string(), true));
        assert_eq!(truncate_chars("привет", 6), ("привет".to_string(), false));
        assert_eq!(truncate_chars("", 0), (String::new(), false));
    }
}
