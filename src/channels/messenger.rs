//! A messenger bot's webhook update (Telegram's shape: `{"update_id",
//! "message": {"message_id", "from", "chat", "date", "text"}}`) as an
//! inquiry message, and the rule that threads a chat's messages into one
//! inquiry.
//!
//! A bot platform redelivers an update until it gets a 2xx, so anything
//! that is not a person's message (an edit, a button press, a channel post)
//! is recognised here as [`MessengerUpdate::Ignored`] and answered 200
//! rather than refused.

use super::truncate_chars;
use crate::api::rfc3339_from_ms;
use crate::store::{FieldError, InquiryStatus};
use serde::Deserialize;

/// Longest message text kept, in characters (Telegram's own limit is 4096).
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Longest name or user name kept, in characters.
const MAX_NAME_CHARS: usize = 200;

/// Content kinds of a message without text, named in the history instead
/// (the file itself stays with the platform).
const NON_TEXT_KINDS: [&str; 10] = [
    "photo",
    "document",
    "voice",
    "audio",
    "video",
    "video_note",
    "sticker",
    "contact",
    "location",
    "poll",
];

/// What an update is, for filing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessengerUpdate {
    /// A person wrote to the bot.
    Message(MessengerMessage),
    /// Anything else: acknowledged and dropped. `kind` is the update's
    /// field (`edited_message`, `callback_query`, ...) for the log.
    Ignored { update_id: i64, kind: String },
}

/// A person's message to the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessengerMessage {
    pub update_id: i64,
    pub message_id: i64,
    /// The platform's user id: stable, unlike the user name.
    pub user_id: i64,
    pub username: Option<String>,
    /// First and last name joined, when given.
    pub name: Option<String>,
    pub chat_id: i64,
    /// When the platform received it, Unix seconds.
    pub date_s: i64,
    /// The text or caption; `[photo]`-style for content without text.
    pub text: String,
    pub text_truncated: bool,
}

#[derive(Deserialize)]
struct RawUpdate {
    update_id: i64,
    message: Option<RawMessage>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct RawMessage {
    message_id: i64,
    from: Option<RawUser>,
    chat: RawChat,
    date: i64,
    text: Option<String>,
    caption: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct RawUser {
    id: i64,
    #[serde(default)]
    is_bot: bool,
    username: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

#[derive(Deserialize)]
struct RawChat {
    id: i64,
}

impl MessengerUpdate {
    /// Parses a webhook body. Malformed JSON or a message missing its ids is
    /// refused by field; a well-formed update that is not a person's message
    /// is [`MessengerUpdate::Ignored`].
    pub fn parse(body: &[u8]) -> Result<MessengerUpdate, Vec<FieldError>> {
        let raw: RawUpdate = serde_json::from_slice(body).map_err(|e| {
            vec![FieldError {
                field: "update",
                message: format!("is not a bot update: {e}"),
            }]
        })?;
        let Some(message) = raw.message else {
            let kind = raw
                .other
                .keys()
                .next()
                .cloned()
                .unwrap_or_else(|| "empty".to_string());
            return Ok(MessengerUpdate::Ignored {
                update_id: raw.update_id,
                kind,
            });
        };
        // Channel posts and messages from other bots have no person behind them.
        let Some(user) = message.from.filter(|u| !u.is_bot) else {
            return Ok(MessengerUpdate::Ignored {
                update_id: raw.update_id,
                kind: "message_without_person".to_string(),
            });
        };
        let text = message
            .text
            .or(message.caption)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .or_else(|| {
                NON_TEXT_KINDS
                    .iter()
                    .find(|k| message.other.contains_key(**k))
                    .map(|k| format!("[{k}]"))
            })
            .unwrap_or_else(|| "[message]".to_string());
        let (text, text_truncated) = truncate_chars(&text, MAX_TEXT_CHARS);
        let name = [user.first_name, user.last_name]
            .into_iter()
            .flatten()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(MessengerUpdate::Message(MessengerMessage {
            update_id: raw.update_id,
            message_id: message.message_id,
            user_id: user.id,
            username: user
                .username
                .map(|u| u.trim().trim_start_matches('@').to_string())
                .filter(|u| !u.is_empty())
                .map(|u| truncate_chars(&u, MAX_NAME_CHARS).0),
            name: (!name.is_empty()).then(|| truncate_chars(&name, MAX_NAME_CHARS).0),
            chat_id: message.chat.id,
            date_s: message.date,
            text,
            text_truncated,
        }))
    }
}

impl MessengerMessage {
    /// The client handle: the user id as text.
    pub fn handle(&self) -> String {
        self.user_id.to_string()
    }

    /// The data of the `inquiry.message` event recording this message.
    pub fn event_data(&self, messenger: &str) -> serde_json::Value {
        serde_json::json!({
            "channel": "messenger",
            "messenger": messenger,
            "update_id": self.update_id,
            "message_id": self.message_id,
            "chat_id": self.chat_id,
            "from": self.handle(),
            "username": self.username,
            "name": self.name,
            "text": self.text,
            "text_truncated": self.text_truncated,
            "sent_at": rfc3339_from_ms(self.date_s.saturating_mul(1000)),
        })
    }
}

/// The inquiry a chat last wrote into, as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatThread {
    pub inquiry_id: String,
    pub status: InquiryStatus,
    pub last_message_at_ms: i64,
}

/// `true` while an inquiry still takes new messages: nobody has closed it.
pub fn is_open(status: InquiryStatus) -> bool {
    !matches!(
        status,
        InquiryStatus::Resolved | InquiryStatus::ResolvedInIvr | InquiryStatus::Abandoned
    )
}

/// Whether a new message of a chat joins the chat's current inquiry: only
/// when that inquiry is still open and the chat last wrote within
/// `window_ms`. A chat that falls silent for a day, or whose question was
/// answered and closed, starts a new inquiry with its next message.
pub fn joins_thread(thread: &ChatThread, now_ms: i64, window_ms: i64) -> bool {
    is_open(thread.status) && now_ms.saturating_sub(thread.last_message_at_ms) <= window_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<MessengerUpdate, Vec<FieldError>> {
        MessengerUpdate::parse(json.as_bytes())
    }

    #[test]
    fn a_text_message_gives_user_chat_and_text() {
        let u = parse(
            r#"{"update_id": 1001, "message": {"message_id": 7,
                "from": {"id": 4242, "is_bot": false, "username": "ivan_p", "first_name": "Иван", "last_name": "Петров"},
                "chat": {"id": 4242, "type": "private"}, "date": 1740986100, "text": " Здравствуйте! "}}"#,
        )
        .unwrap();
        let MessengerUpdate::Message(m) = u else {
            panic!("not a message: {u:?}")
        };
        assert_eq!(m.update_id, 1001);
        assert_eq!(m.handle(), "4242");
        assert_eq!(m.username.as_deref(), Some("ivan_p"));
        assert_eq!(m.name.as_deref(), Some("Иван Петров"));
        assert_eq!(m.chat_id, 4242);
        assert_eq!(m.text, "Здравствуйте!");
        let data = m.event_data("telegram");
        assert_eq!(data["sent_at"], "2025-03-03T07:15:00Z");
        assert_eq!(data["messenger"], "telegram");
    }

    #[test]
    fn other_updates_are_ignored_not_refused() {
        for (json, kind) in [
            (
                r#"{"update_id": 5, "edited_message": {"message_id": 1}}"#,
                "edited_message",
            ),
            (
                r#"{"update_id": 6, "callback_query": {"id": "x"}}"#,
                "callback_query",
            ),
            (
                r#"{"update_id": 7, "message": {"message_id": 1, "chat": {"id": -100}, "date": 0, "text": "post"}}"#,
                "message_without_person",
            ),
        ] {
            match parse(json).unwrap() {
                MessengerUpdate::Ignored { kind: k, .. } => assert_eq!(k, kind),
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_photo_without_caption_is_named() {
        let MessengerUpdate::Message(m) = parse(
            r#"{"update_id": 8, "message": {"message_id": 2, "from": {"id": 1, "first_name": "A"},
                "chat": {"id": 1}, "date": 0, "photo": [{"file_id": "f"}]}}"#,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(m.text, "[photo]");
    }

    #[test]
    fn malformed_updates_are_refused() {
        for bad in [
            "",
            "not json",
            "{}",
            r#"{"update_id": "x"}"#,
            r#"{"update_id": 1, "message": {"message_id": 1}}"#,
        ] {
            let errors = parse(bad).expect_err(bad);
            assert_eq!(errors[0].field, "update", "{bad}");
        }
    }

    #[test]
    fn a_chat_joins_its_open_recent_inquiry_only() {
        let day = 86_400_000;
        let thread = |status, last| ChatThread {
            inquiry_id: "X".into(),
            status,
            last_message_at_ms: last,
        };
        assert!(joins_thread(&thread(InquiryStatus::New, 0), day, day));
        assert!(!joins_thread(&thread(InquiryStatus::New, 0), day + 1, day));
        assert!(joins_thread(
            &thread(InquiryStatus::InProgress, 0),
            1_000,
            day
        ));
        assert!(!joins_thread(
            &thread(InquiryStatus::Resolved, 0),
            1_000,
            day
        ));
        assert!(!joins_thread(
            &thread(InquiryStatus::Abandoned, 0),
            1_000,
            day
        ));
    }
}
