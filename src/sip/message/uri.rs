//! `sip:`, `sips:` and `tel:` URIs (RFC 3261 §19.1, RFC 3966); other schemes
//! are kept opaque so a request naming them can be answered 416.

use super::headers::{HeaderError, Params, find_param};
use super::lex::{byte_class, percent_decode, split_at_byte};
use super::small_string::SmallString;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    /// Any other scheme, lower-cased.
    Other(String),
}

impl Scheme {
    pub fn as_str(&self) -> &str {
        match self {
            Scheme::Sip => "sip",
            Scheme::Sips => "sips",
            Scheme::Tel => "tel",
            Scheme::Other(s) => s,
        }
    }
}

/// A parsed URI. Components are decoded; the original text is kept so the
/// URI can be forwarded unchanged ([`Uri::as_str`]).
///
/// - `user` and `password` are percent-decoded (`sip:%75ser@h` → `user`).
/// - `host` is lower-cased; an IPv6 reference keeps its brackets
///   (`[2001:db8::1]`) so it can be written back into a URI or Via as is.
/// - Parameter and header names and values are percent-decoded.
/// - `tel:` URIs: `user` is the number (with its visual separators), `host`
///   is empty. Other schemes: everything after `scheme:` is opaque, `user`
///   is None and `host` empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uri {
    pub scheme: Scheme,
    pub user: Option<SmallString>,
    pub password: Option<SmallString>,
    pub host: SmallString,
    pub port: Option<u16>,
    pub params: Params,
    pub headers: Vec<(String, String)>,
    /// Inline up to 62 bytes: most URIs fit, so parsing one allocates nothing.
    raw: SmallString<62>,
}

/// `str::split` on an ASCII byte, without the char searcher's overhead.
fn split_bytes(s: &str, b: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let current = rest?;
        match split_at_byte(current, b) {
            Some((head, tail)) => {
                rest = Some(tail);
                Some(head)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

fn err(reason: &'static str) -> HeaderError {
    HeaderError {
        header: "URI",
        reason,
    }
}

/// Characters never allowed unescaped anywhere in a URI we accept.
fn is_forbidden(b: u8) -> bool {
    FORBIDDEN_BYTES[usize::from(b)]
}

static FORBIDDEN_BYTES: [bool; 256] =
    byte_class!(|c| c <= b' ' || c == 0x7f || c == b'<' || c == b'>' || c == b'"');

/// Bytes of a user part that need no decoding or further splitting: not
/// forbidden, not `@ : % ; ? [` (see [`Uri::parse_common`]).
fn is_plain_user_byte(b: u8) -> bool {
    PLAIN_USER_BYTES[usize::from(b)]
}

static PLAIN_USER_BYTES: [bool; 256] = byte_class!(|c| !(c <= b' '
    || c == 0x7f
    || matches!(
        c,
        b'<' | b'>' | b'"' | b'@' | b':' | b'%' | b';' | b'?' | b'['
    )));

/// `s` without `prefix` (ASCII, any case), or None.
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.as_bytes().get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix.as_bytes()) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

pub(super) fn is_host_char(b: u8) -> bool {
    HOST_BYTES[usize::from(b)]
}

static HOST_BYTES: [bool; 256] =
    byte_class!(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_');

/// Validates and lower-cases a host (hostname, IPv4 or `[IPv6]`).
pub(super) fn parse_host(host: &str) -> Result<SmallString, HeaderError> {
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or(err("unterminated IPv6 reference"))?;
        if inner.is_empty()
            || !inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(err("bad IPv6 reference"));
        }
        return Ok(SmallString::from_ascii_lowercase(host));
    }
    if host.is_empty() || !host.bytes().all(is_host_char) {
        return Err(err("bad host"));
    }
    Ok(SmallString::from_ascii_lowercase(host))
}

pub(super) fn parse_port(port: &str) -> Result<u16, HeaderError> {
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("bad port"));
    }
    port.parse().map_err(|_| err("bad port"))
}

/// Splits `host[:port]` where host may be `[IPv6]`.
pub(super) fn split_hostport(s: &str) -> Result<(SmallString, Option<u16>), HeaderError> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']').ok_or(err("unterminated IPv6 reference"))?;
        let (h, rest) = s.split_at(close + 1);
        match rest.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if rest.is_empty() => (h, None),
            None => return Err(err("junk after IPv6 reference")),
        }
    } else {
        match split_at_byte(s, b':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let host = parse_host(host)?;
    let port = port.map(parse_port).transpose()?;
    Ok((host, port))
}

fn parse_params(s: &str) -> Result<Params, HeaderError> {
    let mut params = Vec::new();
    if s.is_empty() {
        return Ok(params);
    }
    // Escapes in parameters are rare: without any, nothing needs decoding.
    let escaped = s.bytes().any(|b| b == b'%');
    for p in split_bytes(s, b';') {
        let (name, value) = match split_at_byte(p, b'=') {
            Some((n, v)) => (n, Some(v)),
            None => (p, None),
        };
        if name.is_empty() {
            return Err(err("empty parameter"));
        }
        if !escaped {
            params.push((SmallString::from(name), value.map(SmallString::from)));
            continue;
        }
        let name = percent_decode(name).ok_or(err("bad escape in parameter"))?;
        let value = value
            .map(|v| {
                percent_decode(v)
                    .map(SmallString::from)
                    .ok_or(err("bad escape in parameter"))
            })
            .transpose()?;
        params.push((SmallString::from(name), value));
    }
    Ok(params)
}

impl Uri {
    pub fn parse(s: &str) -> Result<Uri, HeaderError> {
        match Uri::parse_common(s) {
            Some(uri) => Ok(uri),
            None => Uri::parse_general(s),
        }
    }

    /// Any URI: checks the whole text, then splits on one delimiter after
    /// another. Decides every input [`Uri::parse_common`] leaves, and words
    /// every error.
    fn parse_general(s: &str) -> Result<Uri, HeaderError> {
        if s.is_empty() {
            return Err(err("empty"));
        }
        if s.bytes().any(is_forbidden) {
            return Err(err("whitespace, quote or angle bracket"));
        }
        let (scheme_text, rest) = split_at_byte(s, b':').ok_or(err("no scheme"))?;
        let mut scheme_bytes = scheme_text.bytes();
        let scheme_ok = scheme_bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && scheme_bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(err("bad scheme"));
        }
        let scheme = if scheme_text.eq_ignore_ascii_case("sip") {
            Scheme::Sip
        } else if scheme_text.eq_ignore_ascii_case("sips") {
            Scheme::Sips
        } else if scheme_text.eq_ignore_ascii_case("tel") {
            Scheme::Tel
        } else {
            Scheme::Other(scheme_text.to_ascii_lowercase())
        };
        let mut uri = Uri {
            scheme,
            user: None,
            password: None,
            host: SmallString::new(),
            port: None,
            params: Vec::new(),
            headers: Vec::new(),
            raw: SmallString::from(s),
        };
        match uri.scheme {
            Scheme::Sip | Scheme::Sips => uri.parse_sip(rest)?,
            Scheme::Tel => {
                let (number, params) = split_at_byte(rest, b';').unwrap_or((rest, ""));
                if number.is_empty() {
                    return Err(err("empty telephone number"));
                }
                uri.user = Some(percent_decode(number).ok_or(err("bad escape"))?.into());
                uri.params = parse_params(params)?;
            }
            Scheme::Other(_) => {
                if rest.is_empty() {
                    return Err(err("empty"));
                }
            }
        }
        Ok(uri)
    }

    /// The common shape in one left-to-right pass: `sip:` or `sips:`, an
    /// optional plain `user@` (no password, no escapes), a host name or IPv4
    /// address, an optional port, then `;params` and `?headers` or the end.
    /// The general path scans the whole text for forbidden bytes, then splits
    /// on each delimiter in turn, rescanning the host part four times; three
    /// URIs per request made that a measurable share of typing the headers.
    ///
    /// Returns `None` for anything else, and for any error, so that
    /// [`Uri::parse_general`] decides — and words the error — exactly as
    /// before. What it accepts, it parses as the general path would (a unit
    /// test compares both).
    fn parse_common(s: &str) -> Option<Uri> {
        let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(s, "sip:") {
            (Scheme::Sip, rest)
        } else {
            (Scheme::Sips, strip_prefix_ignore_case(s, "sips:")?)
        };
        let bytes = rest.as_bytes();
        let mut user = None;
        let mut host_start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'@' {
                user = Some(rest.get(..i).filter(|u| !u.is_empty())?);
                host_start = i.checked_add(1)?;
                break;
            }
            if !is_plain_user_byte(b) {
                // A password, an escape, the user's own parameters (which
                // may hide the '@'), IPv6, or the host's port or parameters.
                if bytes.get(i..)?.contains(&b'@') {
                    return None;
                }
                break;
            }
        }
        let hostpart = bytes.get(host_start..)?;
        let host_len = hostpart
            .iter()
            .position(|&b| !is_host_char(b))
            .unwrap_or(hostpart.len());
        if host_len == 0 {
            return None;
        }
        let host_end = host_start.checked_add(host_len)?;
        let mut pos = host_end;
        let port = if bytes.get(pos) == Some(&b':') {
            let digits_start = pos.checked_add(1)?;
            let digits = bytes.get(digits_start..)?;
            let n = digits
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(digits.len());
            pos = digits_start.checked_add(n)?;
            Some(parse_port(rest.get(digits_start..pos)?).ok()?)
        } else {
            None
        };
        let tail = rest.get(pos..)?;
        if !matches!(tail.as_bytes().first(), None | Some(b';' | b'?'))
            || tail.bytes().any(is_forbidden)
        {
            return None;
        }
        let (before_headers, headers) = match split_at_byte(tail, b'?') {
            Some((b, h)) => (b, Some(h)),
            None => (tail, None),
        };
        let mut uri = Uri {
            scheme,
            user: user.map(SmallString::from),
            password: None,
            host: SmallString::from_ascii_lowercase(rest.get(host_start..host_end)?),
            port,
            params: parse_params(before_headers.strip_prefix(';').unwrap_or(before_headers))
                .ok()?,
            headers: Vec::new(),
            raw: SmallString::from(s),
        };
        if let Some(headers) = headers {
            uri.set_headers(headers).ok()?;
        }
        Some(uri)
    }

    fn set_userinfo(&mut self, userinfo: &str) -> Result<(), HeaderError> {
        let (user, password) = match split_at_byte(userinfo, b':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        if user.is_empty() {
            return Err(err("empty user"));
        }
        self.user = Some(
            percent_decode(user)
                .ok_or(err("bad escape in user"))?
                .into(),
        );
        self.password = password
            .map(|p| {
                percent_decode(p)
                    .map(SmallString::from)
                    .ok_or(err("bad escape in password"))
            })
            .transpose()?;
        Ok(())
    }

    fn set_headers(&mut self, headers: &str) -> Result<(), HeaderError> {
        for h in split_bytes(headers, b'&') {
            let (n, v) = split_at_byte(h, b'=').ok_or(err("header without '='"))?;
            if n.is_empty() {
                return Err(err("empty header name"));
            }
            let n = percent_decode(n).ok_or(err("bad escape in header"))?;
            let v = percent_decode(v).ok_or(err("bad escape in header"))?;
            self.headers.push((n.into_owned(), v.into_owned()));
        }
        Ok(())
    }

    fn parse_sip(&mut self, rest: &str) -> Result<(), HeaderError> {
        // '@' cannot appear unescaped anywhere but as the userinfo delimiter,
        // while the user part may contain ';' '?' '/' (RFC 4475 intmeth).
        let hostpart = match split_at_byte(rest, b'@') {
            Some((userinfo, hostpart)) => {
                self.set_userinfo(userinfo)?;
                hostpart
            }
            None => rest,
        };
        let (before_headers, headers) = match split_at_byte(hostpart, b'?') {
            Some((b, h)) => (b, Some(h)),
            None => (hostpart, None),
        };
        let (hostport, params) =
            split_at_byte(before_headers, b';').unwrap_or((before_headers, ""));
        let (host, port) = split_hostport(hostport)?;
        self.host = host;
        self.port = port;
        self.params = parse_params(params)?;
        if let Some(headers) = headers {
            self.set_headers(headers)?;
        }
        Ok(())
    }

    /// The URI exactly as it was written.
    pub fn as_str(&self) -> &str {
        self.raw.as_str()
    }

    /// A URI parameter by name (case-insensitive): `Some(None)` for a flag
    /// such as `;lr`.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    pub fn transport_param(&self) -> Option<&str> {
        self.param("transport").flatten()
    }
}

impl std::fmt::Display for Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sip_uri_parts() {
        let u = Uri::parse(
            "sip:alice:secret@Atlanta.Example.com:5070;transport=TCP;lr?subject=hi&x=%20",
        )
        .unwrap();
        assert_eq!(u.scheme, Scheme::Sip);
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.host, "atlanta.example.com");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport_param(), Some("TCP"));
        assert_eq!(u.param("LR"), Some(None));
        assert_eq!(
            u.headers,
            vec![("subject".into(), "hi".into()), ("x".into(), " ".into())]
        );
        assert_eq!(
            u.as_str(),
            "sip:alice:secret@Atlanta.Example.com:5070;transport=TCP;lr?subject=hi&x=%20"
        );
    }

    #[test]
    fn decodes_escapes_and_odd_users() {
        let u = Uri::parse("sip:sips%3Auser%40example.com@example.net").unwrap();
        assert_eq!(u.user.as_deref(), Some("sips:user@example.com"));
        assert_eq!(u.host, "example.net");
        let u = Uri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user.as_deref(), Some("user;par=u@example.net"));
        let u = Uri::parse("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com").unwrap();
        assert_eq!(
            u.user.as_deref(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password.as_deref(),
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
    }

    /// The one-pass scanner must give what the general splitter gives, for
    /// every input it accepts; it must leave every error to the general path.
    #[test]
    fn common_path_agrees_with_general_path() {
        let mut taken = 0;
        for rest in [
            "alice@Atlanta.Example.com",
            "alice:secret@h.example:5070;transport=TCP;lr?subject=hi&x=%20",
            "+79161234567@192.0.2.10:5060;transport=udp",
            "op12@10.0.0.5:52311;transport=tcp",
            "h.example?a=b",
            "h.example;lr",
            "h.example;maddr=%31.2.3.4?x=y&z=%41",
            "h.example:",
            "h.example:99999",
            "h.example:50a",
            "h.example;;x",
            "h.example?noequals",
            "h.example;a=b c",
            "h.example;a=<b>",
            "a b@h",
            "%zz@h",
            "a%40b@h",
            ":pw@h",
            "@h",
            "a@",
            "a@b@c",
            "user;par=u%40example.net@example.com",
            "[2001:db8::1]:5060",
            "a@[::1]",
            "h_x.example/path",
            "",
        ] {
            for scheme in ["sip:", "SIPS:", "tel:"] {
                let text = format!("{scheme}{rest}");
                let general = Uri::parse_general(&text);
                let Some(common) = Uri::parse_common(&text) else {
                    continue;
                };
                taken += 1;
                assert_eq!(Ok(common), general, "{text}");
            }
        }
        assert!(taken >= 12, "the common path took only {taken} inputs");
    }

    #[test]
    fn ipv6_keeps_brackets() {
        let u = Uri::parse("sip:[2001:DB8::1]:5060").unwrap();
        assert_eq!(u.host, "[2001:db8::1]");
        assert_eq!(u.port, Some(5060));
    }

    #[test]
    fn tel_and_other_schemes() {
        let u = Uri::parse("tel:+1-201-555-0123;phone-context=example.com").unwrap();
        assert_eq!(u.scheme, Scheme::Tel);
        assert_eq!(u.user.as_deref(), Some("+1-201-555-0123"));
        assert_eq!(u.host, "");
        let u = Uri::parse("nobodyKnowsThisScheme:totallyopaquecontent").unwrap();
        assert_eq!(u.scheme, Scheme::Other("nobodyknowsthisscheme".into()));
    }

    #[test]
    fn rejects_bad_uris() {
        for bad in [
            "",
            "<sip:a@b>",
            "sip:a@b c",
            "sip:",
            "sip:a@",
            "sip:a@b:99999",
            "sip:a@b:",
            "1sip:x",
            "sip:%zz@b",
            "sip:a@b;;x",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
    }
}
