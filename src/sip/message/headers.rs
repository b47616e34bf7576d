//! Typed views of the headers the server acts on (Via, From/To/Contact,
//! CSeq, Call-ID, Expires, Max-Forwards, Content-Length), parsed on demand
//! from the raw values with the LWS tolerance of RFC 3261 §25.1.

use super::Method;
use super::lex::{
    Cursor, byte_class, is_lws, is_token_byte, is_token_char, parse_u32_saturating, split_commas,
    trim_lws,
};
use super::names;
use super::parse::{Message, parse_content_length};
use super::small_string::SmallString;
use super::uri::{Uri, is_host_char, parse_host, parse_port};

/// A header that is missing or does not parse; says which and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{header} header: {reason}")]
pub struct HeaderError {
    pub header: &'static str,
    pub reason: &'static str,
}

impl HeaderError {
    fn new(header: &'static str, reason: &'static str) -> Self {
        HeaderError { header, reason }
    }

    /// Attributes a URI error to the header that contained the URI.
    fn within(self, header: &'static str) -> Self {
        HeaderError {
            header,
            reason: self.reason,
        }
    }
}

/// Parameters as (name, value) pairs; `None` for a flag such as `;lr`.
pub type Params = Vec<(SmallString, Option<SmallString>)>;

/// One Via value (RFC 3261 §20.42).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    /// `SIP/2.0` (whitespace around `/` removed).
    pub protocol: SmallString,
    /// Upper-cased: `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, …
    pub transport: SmallString,
    /// Lower-cased; IPv6 keeps its brackets.
    pub host: SmallString,
    pub port: Option<u16>,
    /// Names as written; quoted values are unquoted.
    pub params: Params,
}

impl Via {
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }

    pub fn received(&self) -> Option<&str> {
        self.param("received").flatten()
    }

    /// `Some(None)` is the bare `rport` flag a client adds to ask for it
    /// (RFC 3581); `Some(Some(port))` is the value a server filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport")
            .map(|v| v.and_then(|p| p.parse::<u16>().ok()))
    }

    /// The port responses go to when none is given: 5061 for TLS, else 5060.
    pub fn sent_by_port(&self) -> u16 {
        self.port
            .unwrap_or(if self.transport == "TLS" { 5061 } else { 5060 })
    }
}

/// A name-addr or addr-spec with header parameters (From, To, Contact, …).
#[derive(Clone, Debug, PartialEq)]
pub struct NameAddr {
    /// Unquoted and unescaped.
    pub display_name: Option<SmallString>,
    pub uri: Uri,
    /// Header parameters (not URI parameters); quoted values are unquoted.
    pub params: Params,
}

impl NameAddr {
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").flatten()
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name)
    }

    /// The Contact `expires` parameter, saturated at `u32::MAX`.
    pub fn expires(&self) -> Option<u32> {
        self.param("expires")
            .flatten()
            .and_then(parse_u32_saturating)
    }

    /// The Contact `q` parameter when it is a valid qvalue (0 to 1).
    pub fn q(&self) -> Option<f32> {
        let q: f32 = self.param("q").flatten()?.parse().ok()?;
        (0.0..=1.0).contains(&q).then_some(q)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Contacts {
    None,
    /// `Contact: *` (remove all bindings, RFC 3261 §10.2.2).
    Star,
    List(Vec<NameAddr>),
}

pub(super) fn find_param<'a>(
    params: &'a [(SmallString, Option<SmallString>)],
    name: &str,
) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref())
}

/// Characters of an unquoted parameter value (token, host, IPv6 address).
fn is_param_value_byte(b: u8) -> bool {
    PARAM_VALUE_BYTES[usize::from(b)]
}

static PARAM_VALUE_BYTES: [bool; 256] = byte_class!(
    |c| is_token_char(c) || matches!(c, b':' | b'[' | b']' | b'/' | b'@' | b'?' | b'&' | b'$')
);

/// `*( SEMI generic-param )` with LWS allowed around `;` and `=`.
fn parse_params(c: &mut Cursor<'_>, header: &'static str) -> Result<Params, HeaderError> {
    let mut params = Vec::new();
    while c.eat(b';') {
        let name = c
            .token()
            .ok_or(HeaderError::new(header, "empty or invalid parameter name"))?;
        let value = if c.eat(b'=') {
            if c.peek() == Some(b'"') {
                Some(SmallString::from(c.quoted_string().ok_or(
                    HeaderError::new(header, "unterminated quoted parameter"),
                )?))
            } else {
                let v = c.take_while(is_param_value_byte);
                if v.is_empty() {
                    return Err(HeaderError::new(header, "empty parameter value"));
                }
                Some(SmallString::from(v))
            }
        } else {
            None
        };
        params.push((SmallString::from(name), value));
    }
    c.skip_lws();
    if !c.at_end() {
        return Err(HeaderError::new(header, "unexpected text after parameters"));
    }
    Ok(params)
}

impl Via {
    pub fn parse(s: &str) -> Result<Via, HeaderError> {
        const H: &str = "Via";
        let mut c = Cursor::new(s);
        c.skip_lws();
        let protocol_start = c.pos;
        let name = c
            .token()
            .ok_or(HeaderError::new(H, "missing protocol name"))?;
        if !c.eat(b'/') {
            return Err(HeaderError::new(H, "missing '/' after protocol name"));
        }
        let version = c
            .token()
            .ok_or(HeaderError::new(H, "missing protocol version"))?;
        // Usually written `SIP/2.0` with nothing around the `/`: then the
        // protocol is one slice and needs no assembling.
        let protocol = match s.get(protocol_start..c.pos) {
            Some(text) if text.len() == name.len() + 1 + version.len() => SmallString::from(text),
            _ => SmallString::from_parts(&[name, "/", version]),
        };
        if !c.eat(b'/') {
            return Err(HeaderError::new(H, "missing '/' before transport"));
        }
        let transport = c.token().ok_or(HeaderError::new(H, "missing transport"))?;
        let before = c.pos;
        c.skip_lws();
        if c.pos == before {
            return Err(HeaderError::new(H, "missing space before sent-by"));
        }
        let host_start = c.pos;
        if c.peek() == Some(b'[') {
            c.take_while(|b| b != b']');
            if c.peek() != Some(b']') {
                return Err(HeaderError::new(H, "unterminated IPv6 reference"));
            }
            c.pos += 1;
        } else {
            c.take_while(is_host_char);
        }
        let host_end = c.pos;
        let port_text = if c.eat(b':') {
            Some(c.take_while(|b| b.is_ascii_digit()))
        } else {
            None
        };
        let host_text = s.get(host_start..host_end).unwrap_or("");
        // A name or IPv4 address was already delimited by its byte class:
        // only an empty or bracketed host needs parse_host's checks.
        let host = if !host_text.is_empty() && !host_text.starts_with('[') {
            SmallString::from_ascii_lowercase(host_text)
        } else {
            parse_host(host_text).map_err(|e| e.within(H))?
        };
        let port = port_text
            .map(parse_port)
            .transpose()
            .map_err(|e| e.within(H))?;
        let params = parse_params(&mut c, H)?;
        Ok(Via {
            protocol,
            transport: SmallString::from_ascii_uppercase(transport),
            host,
            port,
            params,
        })
    }
}

impl NameAddr {
    /// Parses `[display-name] <URI> *(;param)` or `addr-spec *(;param)`.
    /// Without `<>` the parameters belong to the header, not the URI, and
    /// the URI may not contain `;`, `?` or `,` (RFC 3261 §20.10).
    pub fn parse(s: &str, header: &'static str) -> Result<NameAddr, HeaderError> {
        let s = trim_lws(s);
        let mut c = Cursor::new(s);
        let display_name;
        if c.peek() == Some(b'"') {
            display_name = Some(SmallString::from(
                c.quoted_string()
                    .ok_or(HeaderError::new(header, "unterminated quoted display name"))?,
            ));
            c.skip_lws();
            if c.peek() != Some(b'<') {
                return Err(HeaderError::new(header, "display name without <URI>"));
            }
        } else if let Some(lt) = s.bytes().position(|b| b == b'<') {
            let text = trim_lws(s.get(..lt).unwrap_or(""));
            if !text.bytes().all(|b| is_token_byte(b) || is_lws(b)) {
                return Err(HeaderError::new(
                    header,
                    "display name with special characters must be quoted",
                ));
            }
            display_name = (!text.is_empty()).then(|| SmallString::from(text));
            c.pos = lt;
        } else {
            let end = s.bytes().position(|b| b == b';').unwrap_or(s.len());
            let uri_text = trim_lws(s.get(..end).unwrap_or(""));
            if uri_text.contains(['?', ',']) {
                return Err(HeaderError::new(
                    header,
                    "URI with headers or commas must be enclosed in <>",
                ));
            }
            let uri = Uri::parse(uri_text).map_err(|e| e.within(header))?;
            c.pos = end;
            let params = parse_params(&mut c, header)?;
            return Ok(NameAddr {
                display_name: None,
                uri,
                params,
            });
        }
        // At '<'.
        let inner_start = c.pos + 1;
        let close = s
            .get(inner_start..)
            .and_then(|r| r.bytes().position(|b| b == b'>'))
            .ok_or(HeaderError::new(header, "missing '>'"))?;
        let uri_text = s.get(inner_start..inner_start + close).unwrap_or("");
        let uri = Uri::parse(uri_text).map_err(|e| e.within(header))?;
        c.pos = inner_start + close + 1;
        let params = parse_params(&mut c, header)?;
        Ok(NameAddr {
            display_name,
            uri,
            params,
        })
    }
}

impl CSeq {
    pub fn parse(s: &str) -> Result<CSeq, HeaderError> {
        const H: &str = "CSeq";
        let mut c = Cursor::new(s);
        c.skip_lws();
        let digits = c.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err(HeaderError::new(H, "missing sequence number"));
        }
        let seq = super::lex::parse_u64_checked(digits)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(HeaderError::new(H, "sequence number too large"))?;
        let before = c.pos;
        c.skip_lws();
        if c.pos == before {
            return Err(HeaderError::new(H, "missing space before method"));
        }
        let method = c.token().ok_or(HeaderError::new(H, "missing method"))?;
        c.skip_lws();
        if !c.at_end() {
            return Err(HeaderError::new(H, "unexpected text after method"));
        }
        Ok(CSeq {
            seq,
            method: Method::from_token(method),
        })
    }
}

impl Message {
    fn required(&self, id: names::HeaderId, header: &'static str) -> Result<&str, HeaderError> {
        self.first_by_id(id)
            .ok_or(HeaderError::new(header, "missing"))
    }

    /// Every Via value, top first, across all Via lines.
    pub fn vias(&self) -> Result<Vec<Via>, HeaderError> {
        let mut vias = Vec::with_capacity(2);
        for line in self.lines_by_id(names::VIA) {
            for value in split_commas(self.text(&line.value)) {
                if value.is_empty() {
                    return Err(HeaderError::new("Via", "empty value"));
                }
                if vias.len() >= self.max_via {
                    return Err(HeaderError::new("Via", "too many values"));
                }
                vias.push(Via::parse(value)?);
            }
        }
        if vias.is_empty() {
            return Err(HeaderError::new("Via", "missing"));
        }
        Ok(vias)
    }

    /// The topmost Via value (the one a response is sent back by).
    pub fn top_via(&self) -> Result<Via, HeaderError> {
        let line = self.required(names::VIA, "Via")?;
        let first = split_commas(line).next().unwrap_or("");
        if first.is_empty() {
            return Err(HeaderError::new("Via", "empty value"));
        }
        Via::parse(first)
    }

    pub fn from_header(&self) -> Result<NameAddr, HeaderError> {
        NameAddr::parse(self.required(names::FROM, "From")?, "From")
    }

    pub fn to_header(&self) -> Result<NameAddr, HeaderError> {
        NameAddr::parse(self.required(names::TO, "To")?, "To")
    }

    pub fn call_id(&self) -> Result<&str, HeaderError> {
        let v = self.required(names::CALL_ID, "Call-ID")?;
        if v.is_empty() || v.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(HeaderError::new("Call-ID", "empty or contains whitespace"));
        }
        Ok(v)
    }

    pub fn cseq(&self) -> Result<CSeq, HeaderError> {
        CSeq::parse(self.required(names::CSEQ, "CSeq")?)
    }

    /// All Contact values across lines; `Contacts::None` when absent.
    pub fn contacts(&self) -> Result<Contacts, HeaderError> {
        const H: &str = "Contact";
        let mut list = Vec::new();
        let mut stars = 0usize;
        for line in self.lines_by_id(names::CONTACT) {
            for value in split_commas(self.text(&line.value)) {
                if value.is_empty() {
                    return Err(HeaderError::new(H, "empty value"));
                }
                if value == "*" {
                    stars += 1;
                } else {
                    if list.is_empty() {
                        // Usually one binding: growing from empty would
                        // reserve room for four (~1 KiB).
                        list.reserve_exact(1);
                    }
                    list.push(NameAddr::parse(value, H)?);
                }
            }
        }
        match (stars, list.is_empty()) {
            (0, true) => Ok(Contacts::None),
            (0, false) => Ok(Contacts::List(list)),
            (1, true) => Ok(Contacts::Star),
            _ => Err(HeaderError::new(H, "'*' combined with other values")),
        }
    }

    /// The Expires header in seconds, saturated at `u32::MAX`.
    pub fn expires(&self) -> Result<Option<u32>, HeaderError> {
        self.first_by_id(names::EXPIRES)
            .map(|v| {
                parse_u32_saturating(trim_lws(v))
                    .ok_or(HeaderError::new("Expires", "not a number of seconds"))
            })
            .transpose()
    }

    pub fn max_forwards(&self) -> Result<Option<u32>, HeaderError> {
        self.first_by_id(names::MAX_FORWARDS)
            .map(|v| {
                parse_u32_saturating(trim_lws(v))
                    .ok_or(HeaderError::new("Max-Forwards", "not a number"))
            })
            .transpose()
    }

    pub fn content_length(&self) -> Result<Option<usize>, HeaderError> {
        self.first_by_id(names::CONTENT_LENGTH)
            .map(|v| {
                parse_content_length(v)
                    .ok_or(HeaderError::new("Content-Length", "not a valid length"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{Limits, Scheme};
    use bytes::Bytes;

    fn msg(headers: &str) -> Message {
        let text = format!("OPTIONS sip:a@example.com SIP/2.0\r\n{headers}\r\n");
        Message::parse(Bytes::from(text), &Limits::default()).unwrap()
    }

    #[test]
    fn via_with_odd_spacing_and_params() {
        let v = Via::parse("SIP  / 2.0  / tcp     spindle.example.com   ;  branch  =   z9hG4bK9ikj8 ; rport ; received=[2001:db8::1]").unwrap();
        assert_eq!(v.protocol, "SIP/2.0");
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.host, "spindle.example.com");
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.received(), Some("[2001:db8::1]"));
        assert_eq!(v.sent_by_port(), 5060);
        let v = Via::parse("SIP/2.0/TLS h.example.com;rport=5070").unwrap();
        assert_eq!(v.sent_by_port(), 5061);
        assert_eq!(v.rport(), Some(Some(5070)));
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1:5080;branch=z9hG4bKx").unwrap();
        assert_eq!((v.host.as_str(), v.port), ("192.0.2.1", Some(5080)));
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0/UDP h;branch=").is_err());
    }

    #[test]
    fn vias_across_lines_and_commas() {
        let m = msg("Via: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b\r\nv: SIP/2.0/UDP c\r\n");
        let hosts: Vec<_> = m.vias().unwrap().into_iter().map(|v| v.host).collect();
        assert_eq!(hosts, ["a", "b", "c"]);
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK1"));
        assert!(msg("Via: SIP/2.0/UDP a,,\r\n").vias().is_err());
        assert!(msg("").vias().is_err());
    }

    #[test]
    fn name_addr_forms() {
        let n = NameAddr::parse(
            r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ;  tag = 98asjd8"#,
            "From",
        )
        .unwrap();
        assert_eq!(n.display_name.as_deref(), Some(r#"J Rosenberg \""#));
        assert_eq!(n.tag(), Some("98asjd8"));
        let n = NameAddr::parse(
            "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
            "To",
        )
        .unwrap();
        assert_eq!(n.tag(), Some("1918181833n"));
        assert_eq!(n.uri.params, vec![]);
        assert_eq!(n.uri.user.as_deref(), Some("vivekg"));
        let n = NameAddr::parse("caller<sip:caller@example.com>;tag=323", "From").unwrap();
        assert_eq!(n.display_name.as_deref(), Some("caller"));
        let n = NameAddr::parse(
            "<sip:a@b;transport=tcp>;expires=3600;q=0.5;+sip.instance=\"<urn:x>\"",
            "Contact",
        )
        .unwrap();
        assert_eq!(n.uri.transport_param(), Some("tcp"));
        assert_eq!(n.expires(), Some(3600));
        assert_eq!(n.q(), Some(0.5));
        assert_eq!(n.param("+sip.instance"), Some(Some("<urn:x>")));
        let n = NameAddr::parse("isbn:2983792873", "To").unwrap();
        assert_eq!(n.uri.scheme, Scheme::Other("isbn".into()));
        for bad in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "\"Joe\" <sip:joe@example.org>;;;;",
            "<sip:a@b",
        ] {
            assert!(NameAddr::parse(bad, "To").is_err(), "{bad}");
        }
    }

    #[test]
    fn cseq_and_numbers() {
        let m = msg(
            "CSeq: 0009\r\n  INVITE\r\nExpires: 10000000000000\r\nMax-Forwards: 0068\r\nl: 0\r\nCall-ID: abc@def\r\n",
        );
        assert_eq!(
            m.cseq().unwrap(),
            CSeq {
                seq: 9,
                method: Method::Invite
            }
        );
        assert_eq!(m.expires().unwrap(), Some(u32::MAX));
        assert_eq!(m.max_forwards().unwrap(), Some(68));
        assert_eq!(m.content_length().unwrap(), Some(0));
        assert_eq!(m.call_id().unwrap(), "abc@def");
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("1INVITE").is_err());
        assert!(msg("Expires: soon\r\n").expires().is_err());
        assert_eq!(msg("").expires().unwrap(), None);
    }

    #[test]
    fn contacts_star_list_and_none() {
        assert_eq!(msg("").contacts().unwrap(), Contacts::None);
        assert_eq!(msg("Contact: *\r\n").contacts().unwrap(), Contacts::Star);
        assert!(msg("Contact: *, <sip:a@b>\r\n").contacts().is_err());
        let Contacts::List(list) =
            msg("m: <sip:a@b>, \"x, y\" <sip:c@d>;q=0.1\r\nContact: sip:e@f;expires=5\r\n")
                .contacts()
                .unwrap()
        else {
            panic!("expected a list");
        };
        assert_eq!(list.len(), 3);
        assert_eq!(list[1].display_name.as_deref(), Some("x, y"));
        assert_eq!(list[2].expires(), Some(5));
    }
}
