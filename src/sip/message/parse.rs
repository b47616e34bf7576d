//! Structural parsing of one whole SIP message: start line, header lines
//! (indexed by byte range, folded lines unfolded), body (RFC 3261 §7, §18.3).

use super::lex::{is_token, is_wsp, parse_u64_checked, split_at_byte, split_commas};
use super::names::{self, HeaderId, header_id, same_header};
use super::{Limits, Method};
use bytes::Bytes;

/// A byte range into the message buffer. `u32` offsets (messages are far
/// below 4 GiB; [`Message::parse`] rejects anything larger) keep a header
/// record at 64 bytes, so a typical message's index fits the allocator's
/// fast path for small blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// Offsets beyond `u32::MAX` cannot occur (see above); saturating keeps
    /// this total anyway, and a saturated span just reads as empty text.
    pub(super) fn new(start: usize, end: usize) -> Self {
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    pub(super) fn start(self) -> usize {
        self.start as usize
    }

    pub(super) fn end(self) -> usize {
        self.end as usize
    }

    pub(super) fn range(self) -> std::ops::Range<usize> {
        self.start()..self.end()
    }

    pub(super) fn is_empty(self) -> bool {
        self.start >= self.end
    }
}

/// Text that is either a range of the original bytes (the common case, no
/// allocation) or owned (an unfolded or edited value).
#[derive(Clone, Debug)]
pub(super) enum Text {
    Raw(Span),
    Owned(Box<str>),
}

/// One header line as indexed by the parser or added by an edit.
#[derive(Clone, Debug)]
pub(super) struct HeaderLine {
    pub(super) id: HeaderId,
    pub(super) name: Text,
    /// Unfolded, trimmed value.
    pub(super) value: Text,
    /// The original bytes of the line (continuations and terminator
    /// included); None once the line was added or edited.
    pub(super) raw: Option<Span>,
}

#[derive(Clone, Debug)]
pub(super) enum Start {
    Request {
        method: Method,
        uri: Span,
        version: Span,
    },
    Response {
        version: Span,
        code: u16,
        reason: Span,
    },
}

#[derive(Clone, Debug)]
pub(super) enum Body {
    Raw(Span),
    Owned(Bytes),
}

/// A parsed SIP message. Owns its bytes; header values are ranges into them.
#[derive(Clone, Debug)]
pub struct Message {
    pub(super) raw: Bytes,
    /// A UTF-8-checked copy of the start line and header block (`raw[..len]`),
    /// so header values are sliced from it as `str` in O(1) instead of being
    /// re-validated on every access (one copy per message is cheaper than
    /// re-checking each value the typed getters read).
    pub(super) head: Box<str>,
    pub(super) start: Start,
    /// The start line including its terminator, for byte-exact output.
    pub(super) start_raw: Span,
    pub(super) headers: Vec<HeaderLine>,
    /// The empty line that ends the header block (`\r\n` or `\n`).
    pub(super) blank_raw: Span,
    pub(super) body: Body,
    pub(super) body_changed: bool,
    /// `Limits::max_via` of the parse, applied when Via values are typed.
    pub(super) max_via: usize,
}

/// The first line of a message, borrowed from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request {
        method: Method,
        uri: &'a str,
        version: &'a str,
    },
    Response {
        version: &'a str,
        code: u16,
        reason: &'a str,
    },
}

/// Why bytes could not be parsed as a SIP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// Nothing but line breaks.
    Empty,
    /// The first line is neither a Request-Line nor a Status-Line.
    BadStartLine,
    /// A header line without `:` or with an invalid name, or a continuation
    /// line before any header.
    BadHeaderLine,
    /// No empty line ends the header block.
    MissingEndOfHeaders,
    /// The start line or a header is not UTF-8.
    NotUtf8,
    MessageTooLarge,
    HeaderBlockTooLarge,
    LineTooLong,
    TooManyHeaders,
    /// Content-Length is not a non-negative decimal number that fits.
    BadContentLength,
    /// Several Content-Length headers with different values.
    ConflictingContentLength,
    /// Content-Length announces more bytes than the datagram carries.
    BodyTruncated,
    BodyTooLarge,
}

/// A structural parse failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// 1-based physical line number where the problem was found, if any.
    pub line: Option<usize>,
}

impl ParseError {
    fn new(kind: ParseErrorKind, line: Option<usize>) -> Self {
        ParseError { kind, line }
    }

    fn describe(&self) -> String {
        let what = match self.kind {
            ParseErrorKind::Empty => "empty message",
            ParseErrorKind::BadStartLine => "malformed start line",
            ParseErrorKind::BadHeaderLine => "malformed header line",
            ParseErrorKind::MissingEndOfHeaders => "no empty line after the headers",
            ParseErrorKind::NotUtf8 => "header block is not UTF-8",
            ParseErrorKind::MessageTooLarge => "message too large",
            ParseErrorKind::HeaderBlockTooLarge => "header block too large",
            ParseErrorKind::LineTooLong => "line too long",
            ParseErrorKind::TooManyHeaders => "too many header lines",
            ParseErrorKind::BadContentLength => "invalid Content-Length",
            ParseErrorKind::ConflictingContentLength => "conflicting Content-Length headers",
            ParseErrorKind::BodyTruncated => "body shorter than Content-Length",
            ParseErrorKind::BodyTooLarge => "body too large",
        };
        match self.line {
            Some(line) => format!("{what} (line {line})"),
            None => what.to_owned(),
        }
    }

    /// Whether the message is complete enough that answering it (with the
    /// help of [`super::salvage_for_response`]) makes sense, as opposed to
    /// garbage or resource exhaustion that should be dropped silently.
    pub fn is_answerable(&self) -> bool {
        !matches!(
            self.kind,
            ParseErrorKind::Empty | ParseErrorKind::NotUtf8 | ParseErrorKind::MissingEndOfHeaders
        )
    }

    /// The status to answer with when [`Self::is_answerable`]: 513 for size
    /// limits (RFC 3261 §21.5.11), 400 otherwise.
    pub fn status(&self) -> u16 {
        match self.kind {
            ParseErrorKind::MessageTooLarge
            | ParseErrorKind::HeaderBlockTooLarge
            | ParseErrorKind::BodyTooLarge
            | ParseErrorKind::TooManyHeaders
            | ParseErrorKind::LineTooLong => 513,
            _ => 400,
        }
    }
}

/// Value pieces of the header line being read, kept apart from its record
/// (which is pushed as soon as the line is seen) because only folded headers
/// need them: most lines never touch this.
struct Folding {
    /// The first non-empty trimmed piece of the value.
    first: Option<Span>,
    /// Further non-empty pieces from continuation lines (no allocation
    /// unless a value really is folded over several non-empty lines).
    more: Vec<Span>,
    /// Whether the open header had continuation lines at all.
    continued: bool,
}

impl Folding {
    fn start(&mut self, value: Span) {
        self.first = (!value.is_empty()).then_some(value);
        self.more.clear();
        self.continued = false;
    }

    fn push(&mut self, piece: Span) {
        self.continued = true;
        if !piece.is_empty() {
            if self.first.is_none() {
                self.first = Some(piece);
            } else {
                self.more.push(piece);
            }
        }
    }

    /// Gives the open header (the last record) its unfolded value when it
    /// had continuation lines: pieces joined by one space.
    fn close(&mut self, buf: &[u8], headers: &mut [HeaderLine]) {
        if !self.continued {
            return;
        }
        self.continued = false;
        let Some(line) = headers.last_mut() else {
            return;
        };
        line.value = match (self.first, self.more.is_empty()) {
            (Some(span), true) => Text::Raw(span),
            (None, _) => {
                let at = line.raw.map_or(0, |r| r.start());
                Text::Raw(Span::new(at, at))
            }
            (Some(first), false) => {
                let mut joined = String::new();
                for piece in std::iter::once(&first).chain(self.more.iter()) {
                    if !joined.is_empty() {
                        joined.push(' ');
                    }
                    joined.push_str(&String::from_utf8_lossy(
                        buf.get(piece.range()).unwrap_or(&[]),
                    ));
                }
                Text::Owned(joined.into_boxed_str())
            }
        };
    }
}

fn trim_span(buf: &[u8], mut start: usize, mut end: usize) -> Span {
    while start < end && buf.get(start).copied().is_some_and(is_wsp) {
        start += 1;
    }
    while end > start && buf.get(end - 1).copied().is_some_and(is_wsp) {
        end -= 1;
    }
    Span::new(start, end)
}

/// A span of the start line or header block. Spans end at ASCII delimiters,
/// so they are char boundaries; `get` checks that in O(1).
fn head_str(head: &str, s: Span) -> &str {
    head.get(s.range()).unwrap_or("")
}

/// `SIP/` 1*DIGIT `.` 1*DIGIT, "SIP" case-insensitive.
pub(super) fn is_sip_version(v: &str) -> bool {
    // Byte searches: the char-pattern `split_once` showed up in profiles.
    let Some((proto, num)) = split_at_byte(v, b'/') else {
        return false;
    };
    let Some((major, minor)) = split_at_byte(num, b'.') else {
        return false;
    };
    proto.eq_ignore_ascii_case("SIP")
        && !major.is_empty()
        && !minor.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
        && minor.bytes().all(|b| b.is_ascii_digit())
}

fn parse_start(buf: &[u8], line: Span) -> Result<Start, ParseError> {
    let bad = || ParseError::new(ParseErrorKind::BadStartLine, Some(1));
    let text = buf.get(line.range()).ok_or_else(bad).and_then(|b| {
        std::str::from_utf8(b).map_err(|_| ParseError::new(ParseErrorKind::NotUtf8, Some(1)))
    })?;
    let at = |rel: usize| line.start() + rel;
    if text.len() >= 4
        && text
            .as_bytes()
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
    {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let sp = text.bytes().position(|b| b == b' ').ok_or_else(bad)?;
        let version = text.get(..sp).ok_or_else(bad)?;
        if !is_sip_version(version) {
            return Err(bad());
        }
        let after = text.get(sp + 1..).ok_or_else(bad)?;
        let digits = after.get(..3).ok_or_else(bad)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let code: u16 = digits.parse().map_err(|_| bad())?;
        if !(100..=699).contains(&code) {
            return Err(bad());
        }
        let reason_start = match after.as_bytes().get(3) {
            None => sp + 1 + 3,
            Some(b' ') => sp + 1 + 4,
            Some(_) => return Err(bad()),
        };
        return Ok(Start::Response {
            version: Span::new(at(0), at(sp)),
            code,
            reason: Span::new(at(reason_start), line.end()),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly two single
    // spaces, no other whitespace (RFC 4475 lwsstart, trws, lwsruri).
    let first = text.bytes().position(|b| b == b' ').ok_or_else(bad)?;
    let last = text.bytes().rposition(|b| b == b' ').ok_or_else(bad)?;
    if first == last {
        return Err(bad());
    }
    let method = text.get(..first).ok_or_else(bad)?;
    let uri = text.get(first + 1..last).ok_or_else(bad)?;
    let version = text.get(last + 1..).ok_or_else(bad)?;
    if !is_token(method)
        || uri.is_empty()
        || uri.bytes().any(|b| b <= b' ' || b == 0x7f)
        || !is_sip_version(version)
    {
        return Err(bad());
    }
    Ok(Start::Request {
        method: Method::from_token(method),
        uri: Span::new(at(first + 1), at(last)),
        version: Span::new(at(last + 1), line.end()),
    })
}

impl Message {
    /// Parse one whole message (a UDP datagram or a frame from
    /// [`super::StreamFramer`]). Structural parsing only: start line, header
    /// lines (folded lines unfolded, any amount of whitespace around `:`),
    /// body. Leading line breaks are skipped (RFC 3261 §7.5). Without
    /// Content-Length the body is the rest of the datagram; a Content-Length
    /// larger than what is present is an error, a smaller one makes the
    /// parser ignore the excess (RFC 3261 §18.3). Any `SIP/x.y` version and
    /// extension methods are accepted here; [`Self::validate_request`]
    /// decides about them.
    pub fn parse(bytes: Bytes, limits: &Limits) -> Result<Message, ParseError> {
        use ParseErrorKind as K;
        // Spans are u32 offsets: larger input is refused whatever the limits.
        if bytes.len() > limits.max_message_bytes || u32::try_from(bytes.len()).is_err() {
            return Err(ParseError::new(K::MessageTooLarge, None));
        }
        // Line breaks before the start line are not part of the message
        // (RFC 3261 §7.5): drop them so `as_bytes` is the message itself.
        let leading = bytes
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count();
        if leading >= bytes.len() {
            return Err(ParseError::new(K::Empty, None));
        }
        let bytes = if leading > 0 {
            bytes.slice(leading..)
        } else {
            bytes
        };
        let buf: &[u8] = &bytes;
        let mut pos = 0;
        let head_start = pos;
        let mut line_no = 0usize;
        let mut start: Option<(Start, Span)> = None;
        let mut headers: Vec<HeaderLine> = Vec::with_capacity(16);
        let mut folding = Folding {
            first: None,
            more: Vec::new(),
            continued: false,
        };
        let blank_raw;
        loop {
            line_no += 1;
            let rest = buf.get(pos..).unwrap_or(&[]);
            let Some(nl) = super::lex::find_newline(rest) else {
                if rest.len() > limits.max_line_bytes {
                    return Err(ParseError::new(K::LineTooLong, Some(line_no)));
                }
                return Err(ParseError::new(K::MissingEndOfHeaders, Some(line_no)));
            };
            let terminated = pos + nl + 1;
            let content_end = if nl > 0 && rest.get(nl - 1) == Some(&b'\r') {
                pos + nl - 1
            } else {
                pos + nl
            };
            if content_end - pos > limits.max_line_bytes {
                return Err(ParseError::new(K::LineTooLong, Some(line_no)));
            }
            if terminated - head_start > limits.max_header_block_bytes {
                return Err(ParseError::new(K::HeaderBlockTooLarge, Some(line_no)));
            }
            let line = Span::new(pos, content_end);
            let first_byte = buf.get(pos).copied();
            if start.is_none() {
                let s = parse_start(buf, line)?;
                start = Some((s, Span::new(pos, terminated)));
            } else if content_end == pos {
                blank_raw = Span::new(pos, terminated);
                if folding.continued {
                    folding.close(buf, &mut headers);
                }
                pos = terminated;
                break;
            } else if first_byte.is_some_and(is_wsp) {
                // A continuation line (folding): part of the previous header.
                let Some(line) = headers.last_mut() else {
                    return Err(ParseError::new(K::BadHeaderLine, Some(line_no)));
                };
                folding.push(trim_span(buf, pos, content_end));
                if let Some(raw) = line.raw.as_mut() {
                    *raw = Span::new(raw.start(), terminated);
                }
            } else {
                if folding.continued {
                    folding.close(buf, &mut headers);
                }
                if headers.len() >= limits.max_headers {
                    return Err(ParseError::new(K::TooManyHeaders, Some(line_no)));
                }
                // `token *WSP ":"` in one pass (no separate search for the
                // colon and re-scan of the name).
                let text = buf.get(pos..content_end).unwrap_or(&[]);
                let name_len = text
                    .iter()
                    .position(|b| !super::lex::is_token_byte(*b))
                    .unwrap_or(text.len());
                let colon = text
                    .iter()
                    .skip(name_len)
                    .position(|b| !is_wsp(*b))
                    .map(|i| name_len + i);
                let (true, Some(colon)) = (name_len > 0, colon) else {
                    return Err(ParseError::new(K::BadHeaderLine, Some(line_no)));
                };
                if text.get(colon) != Some(&b':') {
                    return Err(ParseError::new(K::BadHeaderLine, Some(line_no)));
                }
                let name = Span::new(pos, pos + name_len);
                let name_bytes = text.get(..name_len).unwrap_or(&[]);
                let value = trim_span(buf, pos + colon + 1, content_end);
                folding.start(value);
                let value = if !value.is_empty() {
                    value
                } else {
                    Span::new(pos, pos)
                };
                headers.push(HeaderLine {
                    id: header_id(name_bytes),
                    name: Text::Raw(name),
                    value: Text::Raw(value),
                    raw: Some(Span::new(pos, terminated)),
                });
            }
            pos = terminated;
        }
        let Some((start, start_raw)) = start else {
            return Err(ParseError::new(K::BadStartLine, Some(1)));
        };
        let Ok(head) = std::str::from_utf8(buf.get(head_start..pos).unwrap_or(&[])) else {
            return Err(ParseError::new(K::NotUtf8, None));
        };
        let head = Box::<str>::from(head);
        let body_start = pos;
        let content_length = content_length_of(&head, &headers)?;
        let available = buf.len() - body_start;
        let body_len = match content_length {
            Some(n) if n > limits.max_body_bytes => {
                return Err(ParseError::new(K::BodyTooLarge, None));
            }
            Some(n) if n > available => return Err(ParseError::new(K::BodyTruncated, None)),
            Some(n) => n,
            None if available > limits.max_body_bytes => {
                return Err(ParseError::new(K::BodyTooLarge, None));
            }
            None => available,
        };
        let end = body_start + body_len;
        let raw = if end < bytes.len() {
            bytes.slice(..end)
        } else {
            bytes
        };
        Ok(Message {
            raw,
            head,
            start,
            start_raw,
            headers,
            blank_raw,
            body: Body::Raw(Span::new(body_start, end)),
            body_changed: false,
            max_via: limits.max_via,
        })
    }

    pub(super) fn text<'a>(&'a self, t: &'a Text) -> &'a str {
        match t {
            Text::Raw(s) => head_str(&self.head, *s),
            Text::Owned(s) => s,
        }
    }

    pub fn start_line(&self) -> StartLine<'_> {
        match &self.start {
            Start::Request {
                method,
                uri,
                version,
            } => StartLine::Request {
                method: method.clone(),
                uri: head_str(&self.head, *uri),
                version: head_str(&self.head, *version),
            },
            Start::Response {
                version,
                code,
                reason,
            } => StartLine::Response {
                version: head_str(&self.head, *version),
                code: *code,
                reason: head_str(&self.head, *reason),
            },
        }
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, Start::Request { .. })
    }

    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            Start::Request { method, .. } => Some(method),
            Start::Response { .. } => None,
        }
    }

    /// The Request-URI as written.
    pub fn request_uri(&self) -> Option<&str> {
        match &self.start {
            Start::Request { uri, .. } => Some(head_str(&self.head, *uri)),
            Start::Response { .. } => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match &self.start {
            Start::Response { code, .. } => Some(*code),
            Start::Request { .. } => None,
        }
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&str> {
        match &self.start {
            Start::Response { reason, .. } => Some(head_str(&self.head, *reason)),
            Start::Request { .. } => None,
        }
    }

    pub fn version(&self) -> &str {
        match &self.start {
            Start::Request { version, .. } | Start::Response { version, .. } => {
                head_str(&self.head, *version)
            }
        }
    }

    /// Header lines matching `name` (any case, compact or long form).
    pub(super) fn lines<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a HeaderLine> + 'a {
        let want = header_id(name.as_bytes());
        self.headers
            .iter()
            .filter(move |h| same_header(h.id, self.text(&h.name), want, name))
    }

    pub(super) fn lines_by_id(&self, id: HeaderId) -> impl Iterator<Item = &HeaderLine> {
        self.headers.iter().filter(move |h| h.id == id)
    }

    pub(super) fn first_by_id(&self, id: HeaderId) -> Option<&str> {
        self.lines_by_id(id).next().map(|h| self.text(&h.value))
    }

    /// The first value of a header; `name` is case-insensitive and compact
    /// forms match their long forms both ways.
    pub fn header(&self, name: &str) -> Option<&str> {
        let want = header_id(name.as_bytes());
        self.headers
            .iter()
            .find(|h| same_header(h.id, self.text(&h.name), want, name))
            .map(|h| self.text(&h.value))
    }

    /// Every header line's (unfolded, trimmed) value, in order.
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.lines(name).map(|h| self.text(&h.value))
    }

    /// Values split on commas outside quotes and `<>`, across all lines;
    /// empty elements are dropped.
    pub fn header_list<'a>(&'a self, name: &'a str) -> Vec<&'a str> {
        self.headers(name)
            .flat_map(split_commas)
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Number of header lines.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// All header lines as (name as written, value), in order.
    pub fn header_lines(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(|h| (self.text(&h.name), self.text(&h.value)))
    }

    pub fn body(&self) -> &[u8] {
        match &self.body {
            Body::Raw(s) => self.raw.get(s.range()).unwrap_or(&[]),
            Body::Owned(b) => b,
        }
    }

    /// The original bytes of the message (without any bytes beyond
    /// Content-Length), regardless of later edits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }
}

/// The Content-Length of the message, if present: every Content-Length line
/// must be a valid number and all must agree.
fn content_length_of(head: &str, headers: &[HeaderLine]) -> Result<Option<usize>, ParseError> {
    let mut found: Option<usize> = None;
    for h in headers.iter().filter(|h| h.id == names::CONTENT_LENGTH) {
        let text = match &h.value {
            Text::Raw(s) => head_str(head, *s),
            Text::Owned(s) => s,
        };
        let n = parse_content_length(text)
            .ok_or(ParseError::new(ParseErrorKind::BadContentLength, None))?;
        match found {
            Some(prev) if prev != n => {
                return Err(ParseError::new(
                    ParseErrorKind::ConflictingContentLength,
                    None,
                ));
            }
            _ => found = Some(n),
        }
    }
    Ok(found)
}

pub(super) fn parse_content_length(text: &str) -> Option<usize> {
    parse_u64_checked(super::lex::trim_lws(text)).and_then(|n| usize::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
        Max-Forwards: 70\r\n\
        To: Bob <sip:bob@biloxi.example.com>\r\n\
        From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
        Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
        CSeq: 314159 INVITE\r\n\
        Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 4\r\n\
        \r\n\
        v=0\n";

    fn parse(s: &str) -> Result<Message, ParseError> {
        Message::parse(Bytes::copy_from_slice(s.as_bytes()), &Limits::default())
    }

    #[test]
    fn parses_a_normal_invite() {
        let m = parse(INVITE).unwrap();
        assert!(m.is_request());
        assert_eq!(m.method(), Some(&Method::Invite));
        assert_eq!(m.request_uri(), Some("sip:bob@biloxi.example.com"));
        assert_eq!(m.version(), "SIP/2.0");
        assert_eq!(
            m.header("call-id"),
            Some("a84b4c76e66710@pc33.atlanta.example.com")
        );
        assert_eq!(
            m.header("i"),
            Some("a84b4c76e66710@pc33.atlanta.example.com")
        );
        assert_eq!(m.header("l"), Some("4"));
        assert_eq!(m.header_count(), 9);
        assert_eq!(m.body(), b"v=0\n");
        assert_eq!(m.status(), None);
    }

    #[test]
    fn parses_a_response_with_empty_reason() {
        let m = parse("SIP/2.0 100 \r\nCall-ID: x\r\n\r\n").unwrap();
        assert_eq!(m.status(), Some(100));
        assert_eq!(m.reason(), Some(""));
        assert!(parse("SIP/2.0 4294967301 big\r\n\r\n").is_err());
        assert!(parse("SIP/2.0 99 low\r\n\r\n").is_err());
    }

    #[test]
    fn unfolds_continuation_lines_and_accepts_space_before_colon() {
        let m = parse("OPTIONS sip:a@b SIP/2.0\r\ncseq: 0009\r\n  OPTIONS\r\nTO :\r\n sip:x@y ;tag = 1\r\n\r\n").unwrap();
        assert_eq!(m.header("CSeq"), Some("0009 OPTIONS"));
        assert_eq!(m.header("t"), Some("sip:x@y ;tag = 1"));
    }

    #[test]
    fn header_list_splits_across_lines() {
        let m =
            parse("OPTIONS sip:a@b SIP/2.0\r\nAccept: a/b, c/d,\r\n e/f\r\nAccept: g/h\r\n\r\n")
                .unwrap();
        assert_eq!(m.header_list("accept"), vec!["a/b", "c/d", "e/f", "g/h"]);
        assert_eq!(m.headers("Accept").count(), 2);
    }

    #[test]
    fn content_length_rules_for_datagrams() {
        let base = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n";
        // Absent: the rest of the datagram.
        assert_eq!(parse(&format!("{base}\r\nhello")).unwrap().body(), b"hello");
        // Shorter: the excess is ignored.
        let m = parse(&format!("{base}l: 2\r\n\r\nhello")).unwrap();
        assert_eq!(m.body(), b"he");
        assert_eq!(m.as_bytes().len(), base.len() + "l: 2\r\n\r\nhe".len());
        // Longer: error.
        let e = parse(&format!("{base}l: 9\r\n\r\nhello")).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::BodyTruncated);
        assert!(e.is_answerable());
        for bad in ["-1", "abc", "99999999999999999999999", ""] {
            let e = parse(&format!("{base}Content-Length: {bad}\r\n\r\n")).unwrap_err();
            assert_eq!(e.kind, ParseErrorKind::BadContentLength, "{bad}");
        }
        let e = parse(&format!("{base}l: 1\r\nContent-Length: 2\r\n\r\nab")).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::ConflictingContentLength);
    }

    #[test]
    fn rejects_malformed_structure() {
        assert_eq!(parse("").unwrap_err().kind, ParseErrorKind::Empty);
        assert_eq!(parse("\r\n\r\n").unwrap_err().kind, ParseErrorKind::Empty);
        for bad in [
            "INVITE  sip:a@b SIP/2.0\r\n\r\n",
            "INVITE sip:a@b SIP/2.0 \r\n\r\n",
            "INVITE sip:a@b; lr SIP/2.0\r\n\r\n",
            "INVITE sip:a@b HTTP/1.1\r\n\r\n",
            "INVITE\r\n\r\n",
        ] {
            assert_eq!(
                parse(bad).unwrap_err().kind,
                ParseErrorKind::BadStartLine,
                "{bad:?}"
            );
        }
        assert_eq!(
            parse("INVITE sip:a@b SIP/2.0\r\nMax-Forwards=70\r\n\r\n")
                .unwrap_err()
                .kind,
            ParseErrorKind::BadHeaderLine
        );
        assert_eq!(
            parse("INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\n")
                .unwrap_err()
                .kind,
            ParseErrorKind::MissingEndOfHeaders
        );
    }

    #[test]
    fn enforces_limits() {
        let limits = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        let e = Message::parse(
            Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n"),
            &limits,
        )
        .unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::TooManyHeaders);
        let long = format!("OPTIONS sip:a@b SIP/2.0\r\nX: {}\r\n\r\n", "a".repeat(9000));
        assert_eq!(parse(&long).unwrap_err().kind, ParseErrorKind::LineTooLong);
        let big = format!("OPTIONS sip:a@b SIP/2.0\r\n\r\n{}", "a".repeat(70_000));
        assert_eq!(
            parse(&big).unwrap_err().kind,
            ParseErrorKind::MessageTooLarge
        );
    }

    #[test]
    fn leading_line_breaks_are_not_part_of_the_message() {
        let m = parse("\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\n\r\n").unwrap();
        assert_eq!(m.as_bytes(), b"OPTIONS sip:a@b SIP/2.0\r\n\r\n");
        assert_eq!(m.to_bytes(), m.as_bytes());
    }

    #[test]
    fn header_records_stay_compact() {
        // 16 records (the initial capacity) then fit the allocator's small
        // block fast path; see `Span`.
        assert!(std::mem::size_of::<HeaderLine>() <= 64);
    }

    #[test]
    fn extension_methods_are_case_sensitive() {
        let m = parse("invite sip:a@b SIP/2.0\r\n\r\n").unwrap();
        assert_eq!(m.method(), Some(&Method::Extension("invite".into())));
    }
}
