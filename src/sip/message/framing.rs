//! Message framing over stream transports (RFC 3261 §18.3, RFC 5626 §3.5.1):
//! CRLF keep-alives, then a header block ended by an empty line, then exactly
//! Content-Length bytes of body. Content-Length is mandatory over streams.
//! All length arithmetic is checked, and every limit is enforced before the
//! bytes are buffered further, so a peer cannot make us hold unbounded data.

use super::Limits;
use super::lex::{byte_class, is_token_byte};
use bytes::{Buf, Bytes, BytesMut};

/// One unit read from a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole message, to be given to [`super::Message::parse`].
    Message(Bytes),
    /// A CRLFCRLF ping: answer with a single CRLF (pong).
    KeepAlive,
}

/// Why a stream cannot be framed; the caller closes the connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("header block larger than {0} bytes")]
    HeaderBlockTooLarge(usize),
    #[error("line longer than {0} bytes")]
    LineTooLong(usize),
    #[error("no Content-Length (mandatory over stream transports)")]
    MissingContentLength,
    #[error("invalid Content-Length")]
    InvalidContentLength,
    #[error("conflicting Content-Length headers")]
    ConflictingContentLength,
    #[error("body larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("message larger than {0} bytes")]
    MessageTooLarge(usize),
    #[error("binary garbage before a start line")]
    Garbage,
}

/// Splits a byte stream into SIP messages.
#[derive(Debug)]
pub struct StreamFramer {
    limits: Limits,
    buf: BytesMut,
    /// Start of the first header-block line not yet scanned, so bytes
    /// arriving in small pieces are not rescanned (no quadratic work).
    scan: usize,
    /// Total length of the message at the front of `buf`, once its header
    /// block is complete.
    need: Option<usize>,
    /// Content-Length seen so far in the header block being scanned.
    length: Option<u64>,
    /// A Content-Length value being read (it may continue on folded lines).
    length_digits: Option<LengthDigits>,
    failed: Option<FramingError>,
}

const PING: &[u8] = b"\r\n\r\n";

impl StreamFramer {
    pub fn new(limits: Limits) -> Self {
        StreamFramer {
            limits,
            buf: BytesMut::new(),
            scan: 0,
            need: None,
            length: None,
            length_digits: None,
            failed: None,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes of an incomplete message (or keep-alive) held.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn fail(&mut self, e: FramingError) -> Result<Option<Frame>, FramingError> {
        self.failed = Some(e.clone());
        self.buf = BytesMut::new();
        Err(e)
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed. After an
    /// error every further call returns the same error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.need.is_none() {
            if self.scan == 0 {
                loop {
                    let head = self.buf.get(..self.buf.len().min(4)).unwrap_or(&[]);
                    if head.is_empty() {
                        return Ok(None);
                    }
                    if head == PING {
                        self.buf.advance(4);
                        return Ok(Some(Frame::KeepAlive));
                    }
                    if PING.starts_with(head) {
                        // Maybe the start of a ping; wait for the rest.
                        return Ok(None);
                    }
                    if head.starts_with(b"\r\n") {
                        // A lone CRLF (a pong, or padding before a start line).
                        self.buf.advance(2);
                        continue;
                    }
                    if head.first() == Some(&b'\n') {
                        self.buf.advance(1);
                        continue;
                    }
                    if !head.first().copied().is_some_and(is_token_byte) {
                        return self.fail(FramingError::Garbage);
                    }
                    break;
                }
            }
            match self.scan_header_block() {
                Ok(Some(head_end)) => {
                    let total = match self.body_length(head_end) {
                        Ok(n) => n,
                        Err(e) => return self.fail(e),
                    };
                    self.need = Some(total);
                }
                Ok(None) => return Ok(None),
                Err(e) => return self.fail(e),
            }
        }
        match self.need {
            Some(total) if self.buf.len() >= total => {
                let frame = self.buf.split_to(total).freeze();
                self.need = None;
                self.scan = 0;
                self.length = None;
                Ok(Some(Frame::Message(frame)))
            }
            _ => Ok(None),
        }
    }

    /// Advances `scan` over complete lines; returns the end of the header
    /// block (after its empty line) once seen.
    fn scan_header_block(&mut self) -> Result<Option<usize>, FramingError> {
        let max_line = self.limits.max_line_bytes;
        let max_block = self.limits.max_header_block_bytes;
        loop {
            let rest = self.buf.get(self.scan..).unwrap_or(&[]);
            let Some(nl) = super::lex::find_newline(rest) else {
                if self.scan == 0 && rest.iter().any(|b| is_binary(*b) && *b != b'\r') {
                    return Err(FramingError::Garbage);
                }
                if rest.len() > max_line.saturating_add(1) {
                    return Err(FramingError::LineTooLong(max_line));
                }
                if self.buf.len() > max_block {
                    return Err(FramingError::HeaderBlockTooLarge(max_block));
                }
                return Ok(None);
            };
            let content = rest.get(..nl).unwrap_or(&[]);
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            if content.len() > max_line {
                return Err(FramingError::LineTooLong(max_line));
            }
            let end = self.scan + nl + 1;
            if end > max_block {
                return Err(FramingError::HeaderBlockTooLarge(max_block));
            }
            if self.scan == 0 && content.iter().any(|b| is_binary(*b)) {
                return Err(FramingError::Garbage);
            }
            let first_line = self.scan == 0;
            self.scan = end;
            if first_line {
                continue;
            }
            if content.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                if let Some(digits) = self.length_digits.as_mut() {
                    digits.feed(b" ");
                    digits.feed(content);
                }
                continue;
            }
            settle_length(&mut self.length, self.length_digits.take())?;
            if content.is_empty() {
                return Ok(Some(end));
            }
            // Only names starting with l/L/c/C can be Content-Length.
            if matches!(content.first(), Some(b'l' | b'L' | b'c' | b'C')) {
                if let Some(colon) = content.iter().position(|b| *b == b':') {
                    let name = trim_wsp(content.get(..colon).unwrap_or(&[]));
                    if is_content_length(name) {
                        let mut digits = LengthDigits::default();
                        digits.feed(content.get(colon + 1..).unwrap_or(&[]));
                        self.length_digits = Some(digits);
                    }
                }
            }
        }
    }

    /// Total message length: the header block plus Content-Length.
    fn body_length(&self, head_end: usize) -> Result<usize, FramingError> {
        let body = self.length.ok_or(FramingError::MissingContentLength)?;
        let body = usize::try_from(body)
            .map_err(|_| FramingError::BodyTooLarge(self.limits.max_body_bytes))?;
        if body > self.limits.max_body_bytes {
            return Err(FramingError::BodyTooLarge(self.limits.max_body_bytes));
        }
        let total = head_end
            .checked_add(body)
            .ok_or(FramingError::MessageTooLarge(self.limits.max_message_bytes))?;
        if total > self.limits.max_message_bytes {
            return Err(FramingError::MessageTooLarge(self.limits.max_message_bytes));
        }
        Ok(total)
    }
}

/// Records one complete Content-Length value; all must agree.
fn settle_length(
    length: &mut Option<u64>,
    digits: Option<LengthDigits>,
) -> Result<(), FramingError> {
    if let Some(digits) = digits {
        let n = digits.finish().ok_or(FramingError::InvalidContentLength)?;
        match *length {
            Some(prev) if prev != n => return Err(FramingError::ConflictingContentLength),
            _ => *length = Some(n),
        }
    }
    Ok(())
}

/// Whether a header name is Content-Length (long or compact form, any
/// case). The full name lookup is not needed here: rejecting on length first
/// skips the other c/l headers (Call-ID, CSeq, Contact, Content-Type) cheaply.
fn is_content_length(name: &[u8]) -> bool {
    match name.len() {
        1 => name.eq_ignore_ascii_case(b"l"),
        14 => name.eq_ignore_ascii_case(b"content-length"),
        _ => false,
    }
}

/// Control bytes that cannot appear in a start line.
fn is_binary(b: u8) -> bool {
    BINARY_BYTES[usize::from(b)]
}

static BINARY_BYTES: [bool; 256] = byte_class!(|c| (c < 0x20 && c != b'\t') || c == 0x7f);

fn trim_wsp(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Parses `LWS 1*DIGIT LWS` incrementally (the value may be folded) with
/// checked arithmetic and without allocating.
#[derive(Debug, Default)]
struct LengthDigits {
    value: u64,
    digits: usize,
    after: bool,
    invalid: bool,
}

impl LengthDigits {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'0'..=b'9' if !self.after => {
                    self.digits += 1;
                    match self
                        .value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(b - b'0')))
                    {
                        Some(v) => self.value = v,
                        None => self.invalid = true,
                    }
                }
                b' ' | b'\t' => {
                    if self.digits > 0 {
                        self.after = true;
                    }
                }
                _ => self.invalid = true,
            }
        }
    }

    fn finish(&self) -> Option<u64> {
        (!self.invalid && self.digits > 0).then_some(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 5\r\n\r\nhello";

    fn frames(framer: &mut StreamFramer) -> Result<Vec<Frame>, FramingError> {
        let mut out = Vec::new();
        while let Some(f) = framer.next_frame()? {
            out.push(f);
        }
        Ok(out)
    }

    #[test]
    fn content_length_test_agrees_with_the_name_table() {
        use super::super::names::{CONTENT_LENGTH, header_id};
        for name in [
            "Content-Length",
            "content-LENGTH",
            "l",
            "L",
            "Content-Type",
            "c",
            "Call-ID",
            "CSeq",
            "Contact",
            "Content-Lengthx",
            "Content_Length",
            "",
        ] {
            let bytes = name.as_bytes();
            assert_eq!(
                is_content_length(bytes),
                header_id(bytes) == CONTENT_LENGTH,
                "{name}"
            );
        }
    }

    #[test]
    fn frames_split_at_every_byte_boundary() {
        let mut stream = Vec::new();
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(MSG);
        stream.extend_from_slice(b"\r\n");
        stream.extend_from_slice(MSG);
        for split in 0..=stream.len() {
            let mut f = StreamFramer::new(Limits::default());
            let (a, b) = stream.split_at(split);
            f.push(a);
            let mut got = frames(&mut f).unwrap();
            f.push(b);
            got.extend(frames(&mut f).unwrap());
            assert_eq!(
                got,
                vec![
                    Frame::KeepAlive,
                    Frame::Message(Bytes::from_static(MSG)),
                    Frame::Message(Bytes::from_static(MSG))
                ],
                "split at {split}"
            );
            assert_eq!(f.buffered(), 0);
        }
    }

    #[test]
    fn byte_by_byte_delivery() {
        let mut f = StreamFramer::new(Limits::default());
        let mut got = Vec::new();
        for b in MSG.iter().chain(MSG.iter()) {
            f.push(&[*b]);
            got.extend(frames(&mut f).unwrap());
        }
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn incomplete_message_is_held() {
        let mut f = StreamFramer::new(Limits::default());
        f.push(&MSG[..MSG.len() - 1]);
        assert_eq!(f.next_frame(), Ok(None));
        assert_eq!(f.buffered(), MSG.len() - 1);
    }

    fn framing_error(text: &str) -> FramingError {
        let mut f = StreamFramer::new(Limits::default());
        f.push(text.as_bytes());
        let e = frames(&mut f).unwrap_err();
        assert_eq!(f.next_frame().unwrap_err(), e, "errors are sticky");
        e
    }

    #[test]
    fn content_length_problems() {
        let head = "OPTIONS sip:a@b SIP/2.0\r\n";
        assert_eq!(
            framing_error(&format!("{head}Call-ID: x\r\n\r\n")),
            FramingError::MissingContentLength
        );
        assert_eq!(
            framing_error(&format!("{head}l: -5\r\n\r\n")),
            FramingError::InvalidContentLength
        );
        assert_eq!(
            framing_error(&format!("{head}l: 5 5\r\n\r\n")),
            FramingError::InvalidContentLength
        );
        assert_eq!(
            framing_error(&format!("{head}l: 99999999999999999999999999999\r\n\r\n")),
            FramingError::InvalidContentLength
        );
        assert_eq!(
            framing_error(&format!("{head}l: 18446744073709551615\r\n\r\n")),
            FramingError::BodyTooLarge(65_535)
        );
        assert_eq!(
            framing_error(&format!("{head}l: 1\r\nContent-Length: 2\r\n\r\n")),
            FramingError::ConflictingContentLength
        );
        assert_eq!(
            framing_error(&format!("{head}l: 70000\r\n\r\n")),
            FramingError::BodyTooLarge(65_535)
        );
        let limits = Limits {
            max_message_bytes: 100,
            ..Limits::default()
        };
        let mut f = StreamFramer::new(limits);
        f.push(format!("{head}l: 90\r\n\r\n").as_bytes());
        assert_eq!(f.next_frame(), Err(FramingError::MessageTooLarge(100)));
    }

    #[test]
    fn duplicate_equal_and_folded_content_length_frame() {
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nl: 2\r\nContent-Length :\r\n  2\r\n\r\nokNEXT");
        assert_eq!(
            f.next_frame().unwrap().unwrap(),
            Frame::Message(Bytes::from_static(
                b"OPTIONS sip:a@b SIP/2.0\r\nl: 2\r\nContent-Length :\r\n  2\r\n\r\nok"
            ))
        );
        assert_eq!(f.buffered(), 4);
    }

    #[test]
    fn limits_and_garbage() {
        assert_eq!(framing_error("\x16\x03\x01\x02\x00"), FramingError::Garbage);
        assert_eq!(
            framing_error("OPT\x00IONS sip:a@b SIP/2.0\r\n"),
            FramingError::Garbage
        );
        let mut f = StreamFramer::new(Limits::default());
        f.push(&vec![b'A'; 9000]);
        assert_eq!(f.next_frame(), Err(FramingError::LineTooLong(8192)));
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\n");
        for _ in 0..2000 {
            f.push(b"X-Pad: 0123456789\r\n");
        }
        assert_eq!(
            f.next_frame(),
            Err(FramingError::HeaderBlockTooLarge(16_384))
        );
    }
}
