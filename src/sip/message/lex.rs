//! Lexical helpers shared by the parser and the typed headers (RFC 3261 §25.1).

use std::borrow::Cow;

/// Builds a 256-entry byte-class table at compile time from a predicate on
/// `$c`: the classifiers below run for every byte of names, tokens, hosts
/// and URIs, where a table lookup is measurably faster than a chain of
/// comparisons.
macro_rules! byte_class {
    (|$c:ident| $predicate:expr) => {{
        let mut table = [false; 256];
        let mut i = 0usize;
        while i < 256 {
            let $c = i as u8;
            table[i] = $predicate;
            i += 1;
        }
        table
    }};
}
pub(crate) use byte_class;

/// `token` characters: alphanum and `-.!%*_+`'~`.
pub(crate) fn is_token_byte(b: u8) -> bool {
    TOKEN_BYTES[usize::from(b)]
}

static TOKEN_BYTES: [bool; 256] = byte_class!(|c| is_token_char(c));

/// The `token` predicate itself, usable when building other tables.
pub(crate) const fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// Position of the next line feed (memchr: measured faster here than both
/// a byte loop and memchr's portable word-at-a-time searcher).
pub(crate) fn find_newline(haystack: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', haystack)
}

/// `str::split_once` for an ASCII byte. URI parts are short, so a plain
/// byte scan beats both the char searcher and memchr's per-call setup.
pub(crate) fn split_at_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|c| c == b)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Space or horizontal tab (after unfolding, LWS is only these).
pub(crate) fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Whitespace in a header value that may still contain line breaks (values
/// set through the editing API are not unfolded).
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Trims LWS bytes; they are ASCII, so the cut is always a char boundary.
pub(crate) fn trim_lws(s: &str) -> &str {
    let bytes = s.as_bytes();
    let start = bytes
        .iter()
        .position(|b| !is_lws(*b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_lws(*b))
        .map_or(start, |i| i + 1);
    s.get(start..end.max(start)).unwrap_or("")
}

/// Splits a header value on commas that are outside quoted strings and
/// outside `<>`, as RFC 3261 §7.3.1 allows for list-valued headers.
/// Elements are trimmed; empty elements are kept (callers decide).
pub(crate) fn split_commas(s: &str) -> CommaSplit<'_> {
    CommaSplit { rest: Some(s) }
}

pub(crate) struct CommaSplit<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let bytes = s.as_bytes();
        // Most values hold one element: without any comma there is nothing
        // to track quotes and brackets for.
        if !bytes.contains(&b',') {
            self.rest = None;
            return Some(trim_lws(s));
        }
        let mut in_quotes = false;
        let mut angle = false;
        let mut i = 0;
        while i < bytes.len() {
            match bytes.get(i).copied().unwrap_or(0) {
                b'\\' if in_quotes => i += 1,
                b'"' if !angle => in_quotes = !in_quotes,
                b'<' if !in_quotes => angle = true,
                b'>' if !in_quotes => angle = false,
                b',' if !in_quotes && !angle => {
                    let (head, tail) = (s.get(..i).unwrap_or(""), s.get(i + 1..));
                    self.rest = tail;
                    return Some(trim_lws(head));
                }
                _ => {}
            }
            i += 1;
        }
        self.rest = None;
        Some(trim_lws(s))
    }
}

/// A small cursor over a header value for the typed parsers.
pub(crate) struct Cursor<'a> {
    pub(crate) s: &'a str,
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    #[cfg(test)]
    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    /// The bytes not consumed yet.
    fn remaining(&self) -> &'a [u8] {
        self.s.as_bytes().get(self.pos..).unwrap_or(&[])
    }

    pub(crate) fn skip_lws(&mut self) {
        // Usually there is none: one byte says so, without a scan.
        if !self.peek().is_some_and(is_lws) {
            return;
        }
        let rest = self.remaining();
        self.pos += rest.iter().position(|b| !is_lws(*b)).unwrap_or(rest.len());
    }

    /// Consumes `c` (after optional LWS) and the LWS after it.
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        // The common case, `c` with no LWS before it, needs no rewinding.
        if self.peek() == Some(c) {
            self.pos += 1;
            self.skip_lws();
            return true;
        }
        let save = self.pos;
        self.skip_lws();
        if self.peek() == Some(c) {
            self.pos += 1;
            self.skip_lws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let rest = self.remaining();
        self.pos += rest.iter().position(|b| !f(*b)).unwrap_or(rest.len());
        self.s.get(start..self.pos).unwrap_or("")
    }

    pub(crate) fn token(&mut self) -> Option<&'a str> {
        let t = self.take_while(is_token_byte);
        if t.is_empty() { None } else { Some(t) }
    }

    /// Parses a quoted string starting at the cursor (which must be on `"`),
    /// returning its unescaped content (borrowed unless it had escapes), or
    /// None if it is not terminated.
    pub(crate) fn quoted_string(&mut self) -> Option<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let rest = self.s.get(self.pos + 1..)?;
        // `"` and `\` are ASCII, so scanning bytes finds them exactly.
        let end = rest.bytes().position(|b| b == b'"' || b == b'\\')?;
        if rest.as_bytes().get(end) == Some(&b'"') {
            self.pos += 1 + end + 1;
            return Some(Cow::Borrowed(rest.get(..end)?));
        }
        let mut out = String::with_capacity(rest.len());
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += 1 + i + 1;
                    return Some(Cow::Owned(out));
                }
                '\\' => {
                    let (_, escaped) = chars.next()?;
                    out.push(escaped);
                }
                other => out.push(other),
            }
        }
        None
    }
}

/// Decodes `%HH` escapes. Returns None on a malformed escape; escaped bytes
/// that do not form UTF-8 are replaced (U+FFFD) rather than rejected, since
/// the grammar allows any octet.
pub(crate) fn percent_decode(s: &str) -> Option<Cow<'_, str>> {
    // Values are short: a plain scan beats memchr's per-call setup here.
    if !s.bytes().any(|b| b == b'%') {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses a run of decimal digits, saturating at `u32::MAX` (RFC 3261 says
/// huge Expires/delta values mean "a very long time", not an error).
pub(crate) fn parse_u32_saturating(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: u32 = 0;
    for b in s.bytes() {
        v = v.saturating_mul(10).saturating_add(u32::from(b - b'0'));
    }
    Some(v)
}

/// Parses decimal digits with overflow reported as None.
pub(crate) fn parse_u64_checked(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: u64 = 0;
    for b in s.bytes() {
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_outside_quotes_and_angles_split() {
        let v: Vec<_> = split_commas(r#""a, b" <sip:x@y;p=1,2>;q=1 , <sip:z>"#).collect();
        assert_eq!(v, vec![r#""a, b" <sip:x@y;p=1,2>;q=1"#, "<sip:z>"]);
        let v: Vec<_> = split_commas(";;,,;;,;").collect();
        assert_eq!(v, vec![";;", "", ";;", ";"]);
    }

    #[test]
    fn quoted_strings_unescape_and_detect_unterminated() {
        let mut c = Cursor::new(r#""J Rosenberg \\\"" rest"#);
        assert_eq!(c.quoted_string().as_deref(), Some(r#"J Rosenberg \""#));
        assert_eq!(c.rest(), " rest");
        assert_eq!(Cursor::new("\"open").quoted_string(), None);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%00").as_deref(), Some("a b\0"));
        assert_eq!(percent_decode("%Z1"), None);
        assert_eq!(percent_decode("%4"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32_saturating("0068"), Some(68));
        assert_eq!(parse_u32_saturating("99999999999999999999"), Some(u32::MAX));
        assert_eq!(parse_u32_saturating("-1"), None);
        assert_eq!(parse_u64_checked("36893488147419103232"), None);
    }
}
