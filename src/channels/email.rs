//! An e-mail as an inquiry: a raw RFC 5322 message (what an MTA pipes in)
//! parsed with `mail-parser` into the fields an inquiry needs: the sender,
//! the subject, a readable text, the attachments' metadata and the
//! Message-IDs of the thread it belongs to.
//!
//! `mail-parser` does the MIME work (multipart, quoted-printable, base64,
//! RFC 2047 encoded words, koi8-r / windows-1251 / UTF-8 charsets, HTML to
//! text); this module decides what is usable and says what is not, field by
//! field, so the API can answer 422 with messages a person can act on.

use super::truncate_chars;
use crate::api::rfc3339_from_ms;
use crate::store::{FieldError, normalize_email};
use mail_parser::{HeaderValue, Message, MessageParser, MessagePart, MimeHeaders};
use serde::Serialize;

/// Longest text kept from a message body, in characters. A whole book pasted
/// into an e-mail is still filed; the history keeps its first part.
pub const MAX_TEXT_CHARS: usize = 100_000;
/// Longest topic taken from a subject, in characters.
pub const MAX_TOPIC_CHARS: usize = 200;
/// RFC 5322 §2.1.1: a line is at most 998 characters; a Message-ID longer
/// than that is not one.
const MAX_MESSAGE_ID_LEN: usize = 998;
/// Thread references looked up per message: a References header can list a
/// whole long thread, and the nearest parents are the ones that matter.
const MAX_PARENTS: usize = 50;

/// One attachment, described but not kept: the file is in the mailbox, the
/// history records that it came and what it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    pub name: Option<String>,
    /// `type/subtype`, lower-cased; `application/octet-stream` when unnamed.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: usize,
}

/// A parsed, validated incoming e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingEmail {
    /// Without angle brackets; `None` when the sender's software set none
    /// (then a second delivery cannot be recognised, and no reply can join).
    pub message_id: Option<String>,
    /// Lower-cased: one mailbox is one client whatever case it was typed in.
    pub from_address: String,
    pub from_name: Option<String>,
    /// Decoded (RFC 2047), as sent.
    pub subject: Option<String>,
    /// The subject without `Re:`/`Fwd:` prefixes, bounded: the topic of a
    /// new inquiry.
    pub topic: Option<String>,
    /// Plain text of the body (text/plain preferred, else HTML as text).
    pub text: String,
    /// `true` when `text` was cut at [`MAX_TEXT_CHARS`].
    pub text_truncated: bool,
    pub attachments: Vec<Attachment>,
    /// Message-IDs this message answers, nearest first: In-Reply-To, then
    /// References from the newest. The first one we filed names the thread.
    pub parents: Vec<String>,
    /// The Date header, Unix milliseconds, when present and valid.
    pub sent_at_ms: Option<i64>,
}

impl IncomingEmail {
    /// Parses `raw` and checks it is usable as an inquiry: it must have
    /// header fields, a From with an address, and a body (text or at least
    /// one attachment). Every problem found is returned, by field.
    pub fn parse(raw: &[u8]) -> Result<IncomingEmail, Vec<FieldError>> {
        let not_a_message = || {
            vec![FieldError {
                field: "message",
                message: "is not an RFC 5322 message (no header fields found)".into(),
            }]
        };
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Err(vec![FieldError {
                field: "message",
                message: "is empty".into(),
            }]);
        }
        let message = MessageParser::default()
            .parse(raw)
            .ok_or_else(not_a_message)?;
        if message.root_part().headers().is_empty() {
            return Err(not_a_message());
        }
        let mut errors = Vec::new();
        let from = sender(&message).map_err(|message| FieldError {
            field: "from",
            message,
        });
        let (text, text_truncated) = body_text(&message);
        let attachments: Vec<Attachment> = message.attachments().map(describe).collect();
        if text.trim().is_empty() && attachments.is_empty() {
            errors.push(FieldError {
                field: "body",
                message: "is empty: no text and no attachments".into(),
            });
        }
        let (from_address, from_name) = match from {
            Ok(from) => from,
            Err(e) => {
                errors.insert(0, e);
                return Err(errors);
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let subject = message.subject().map(clean_line).filter(|s| !s.is_empty());
        let topic = message
            .thread_name()
            .map(clean_line)
            .filter(|s| !s.is_empty())
            .or_else(|| subject.clone())
            .map(|t| truncate_chars(&t, MAX_TOPIC_CHARS).0);
        let mut parents = message_ids(message.in_reply_to());
        parents.extend(message_ids(message.references()).into_iter().rev());
        let mut seen = std::collections::HashSet::new();
        parents.retain(|id| seen.insert(id.clone()));
        parents.truncate(MAX_PARENTS);
        Ok(IncomingEmail {
            message_id: message.message_id().and_then(message_id),
            from_address,
            from_name,
            subject,
            topic,
            text,
            text_truncated,
            attachments,
            parents,
            sent_at_ms: message
                .date()
                .filter(|d| d.is_valid())
                .map(|d| d.to_timestamp().saturating_mul(1000)),
        })
    }

    /// The data of the `inquiry.message` event that records this message
    /// in the inquiry's timeline (and so in the client's history).
    pub fn event_data(&self) -> serde_json::Value {
        serde_json::json!({
            "channel": "email",
            "message_id": self.message_id,
            "from": self.from_address,
            "name": self.from_name,
            "subject": self.subject,
            "text": self.text,
            "text_truncated": self.text_truncated,
            "attachments": self.attachments,
            "sent_at": self.sent_at_ms.map(rfc3339_from_ms),
        })
    }
}

/// The first From mailbox: (lower-cased address, display name).
fn sender(message: &Message<'_>) -> Result<(String, Option<String>), String> {
    let from = message.from().ok_or("is missing")?;
    let addr = from.first().ok_or("names no mailbox")?;
    let raw = addr
        .address()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or("has no e-mail address")?;
    // The clients API's rule, so a mailbox typed in by a manager and the
    // same mailbox writing in are one client.
    let address =
        normalize_email(raw).ok_or_else(|| format!("{raw:?} is not an e-mail address"))?;
    let name = addr
        .name()
        .map(clean_line)
        .filter(|n| !n.is_empty() && n.to_lowercase() != address)
        .map(|n| truncate_chars(&n, MAX_TOPIC_CHARS).0);
    Ok((address, name))
}

/// Every text body part as plain text (HTML converted), joined, trimmed and
/// bounded. `mail-parser` lists the text/plain alternative when there is
/// one and the HTML part otherwise.
fn body_text(message: &Message<'_>) -> (String, bool) {
    let parts: Vec<String> = (0..message.text_body_count())
        .filter_map(|i| message.body_text(i))
        .map(|t| t.replace("\r\n", "\n").trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    truncate_chars(&parts.join("\n\n"), MAX_TEXT_CHARS)
}

fn describe(part: &MessagePart<'_>) -> Attachment {
    let content_type = part
        .content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_string(),
        })
        .map(|ct| ct.to_lowercase())
        .unwrap_or_else(|| "application/octet-stream".to_string());
    Attachment {
        name: part
            .attachment_name()
            .map(clean_line)
            .filter(|n| !n.is_empty()),
        content_type,
        size: part.len(),
    }
}

/// One line of header text: control characters (folded whitespace, stray
/// CR/LF from a broken encoder) become spaces, runs of spaces collapse.
fn clean_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A Message-ID as stored: without brackets or spaces; `None` when empty or
/// absurdly long.
fn message_id(raw: &str) -> Option<String> {
    let id = raw
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty() && id.len() <= MAX_MESSAGE_ID_LEN && !id.chars().any(char::is_control))
        .then(|| id.to_string())
}

/// The Message-IDs of an In-Reply-To or References header, in header order.
fn message_ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => message_id(id).into_iter().collect(),
        HeaderValue::TextList(ids) => ids.iter().filter_map(|id| message_id(id)).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<IncomingEmail, Vec<FieldError>> {
        IncomingEmail::parse(raw.as_bytes())
    }

    fn fields(r: Result<IncomingEmail, Vec<FieldError>>) -> Vec<&'static str> {
        r.expect_err("must be refused")
            .iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn plain_message_gives_sender_subject_text_and_id() {
        let m = parse(
            "From: \"Ivan Petrov\" <Ivan.Petrov@Example.ORG>\r\n\
             To: priem@institute.example\r\n\
             Subject: Re: Fwd: Admission documents\r\n\
             Date: Mon, 3 Mar 2025 10:15:00 +0300\r\n\
             Message-ID: <abc-1@example.org>\r\n\
             In-Reply-To: <parent@institute.example>\r\n\
             References: <root@example.org> <parent@institute.example>\r\n\
             \r\n\
             Hello,\r\nwhich documents do I need?\r\n",
        )
        .unwrap();
        assert_eq!(m.from_address, "ivan.petrov@example.org");
        assert_eq!(m.from_name.as_deref(), Some("Ivan Petrov"));
        assert_eq!(m.subject.as_deref(), Some("Re: Fwd: Admission documents"));
        assert_eq!(m.topic.as_deref(), Some("Admission documents"));
        assert_eq!(m.text, "Hello,\nwhich documents do I need?");
        assert_eq!(m.message_id.as_deref(), Some("abc-1@example.org"));
        assert_eq!(
            m.parents,
            ["parent@institute.example", "root@example.org"],
            "nearest parent first, no repeats"
        );
        // 2025-03-03T07:15:00Z
        assert_eq!(m.sent_at_ms, Some(1_740_986_100_000));
        assert!(m.attachments.is_empty());
    }

    #[test]
    fn refusals_name_the_field() {
        assert_eq!(fields(parse("")), ["message"]);
        assert_eq!(fields(parse("\r\n \r\n")), ["message"]);
        assert_eq!(fields(parse("Subject: hi\r\n\r\ntext\r\n")), ["from"]);
        assert_eq!(
            fields(parse("Subject: hi\r\n\r\n")),
            ["from", "body"],
            "every problem at once"
        );
        assert_eq!(fields(parse("From: a@b.example\r\n\r\n  \r\n")), ["body"]);
        assert_eq!(
            fields(parse("From: Nobody\r\n\r\ntext\r\n")),
            ["from"],
            "a name without an address"
        );
    }

    #[test]
    fn html_only_body_becomes_text() {
        let m = parse(
            "From: a@b.example\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
             <html><body><p>Hello <b>there</b></p><script>x()</script></body></html>\r\n",
        )
        .unwrap();
        assert!(m.text.contains("Hello"), "{:?}", m.text);
        assert!(!m.text.contains("<b>"), "{:?}", m.text);
    }

    #[test]
    fn long_bodies_are_cut_and_say_so() {
        let body = "я".repeat(MAX_TEXT_CHARS + 10);
        let m = parse(&format!(
            "From: a@b.example\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
        ))
        .unwrap();
        assert_eq!(m.text.chars().count(), MAX_TEXT_CHARS);
        assert!(m.text_truncated);
        assert_eq!(m.event_data()["text_truncated"], true);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed & 0xff) as u8
                })
                .collect();
            let _ = IncomingEmail::parse(&bytes);
        }
    }
}
