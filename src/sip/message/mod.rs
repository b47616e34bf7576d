//! The SIP message layer (RFC 3261 §7, §18.3, §20, §25), sans-IO.
//!
//! Bytes come in from a datagram or from [`StreamFramer`]; [`Message::parse`]
//! does only structural work (start line, a multimap of header lines kept as
//! byte ranges into the original buffer, body) and the typed views (Via,
//! From/To, CSeq, Contact, URIs …) are parsed on demand, because most code
//! paths only look at a handful of headers. Edited messages are serialized
//! with every untouched header line byte-exact, which is what proxies and
//! B2BUA legs need to avoid breaking signatures and peers' quirks.
//!
//! Nothing here allocates per header lookup: header names are canonicalised
//! (compact forms included) into a small id once, when the message is parsed.

mod builder;
mod edit;
mod framing;
mod headers;
mod lex;
mod names;
mod parse;
mod salvage;
mod small_string;
mod uri;
mod validate;

pub use builder::{RequestBuilder, ResponseBuilder, response, response_from_salvage};
pub use framing::{Frame, FramingError, StreamFramer};
pub use headers::{CSeq, Contacts, HeaderError, NameAddr, Params, Via};
pub use parse::{Message, ParseError, ParseErrorKind, StartLine};
pub use salvage::{Salvaged, salvage_for_response};
pub use small_string::{INLINE_CAPACITY, SmallString};
pub use uri::{Scheme, Uri};
pub use validate::Rejection;

use std::fmt;

/// Size limits applied to every message, so a peer cannot make the server
/// buffer or index unbounded amounts of data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Whole message (start line + headers + body).
    pub max_message_bytes: usize,
    /// Start line plus all header lines, including the blank line.
    pub max_header_block_bytes: usize,
    /// One physical line (a folded header counts per physical line).
    pub max_line_bytes: usize,
    /// Header lines (not values: `Via: a, b` is one line).
    pub max_headers: usize,
    /// Via values across all Via lines.
    pub max_via: usize,
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 65_535,
            max_header_block_bytes: 16_384,
            max_line_bytes: 8_192,
            max_headers: 128,
            // RFC 4475 `longreq` (a valid request) carries 34 Via values, and a
            // request may legitimately cross Max-Forwards (70) proxies, so 32
            // would reject real traffic; 71 is the most a well-behaved path yields.
            max_via: 71,
            max_body_bytes: 65_535,
        }
    }
}

/// A SIP method. Methods are case-sensitive tokens (RFC 3261 §7.1): `invite`
/// is an extension method, not INVITE.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Refer,
    Notify,
    Subscribe,
    Message,
    Update,
    Prack,
    Publish,
    Extension(String),
}

impl Method {
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Refer => "REFER",
            Method::Notify => "NOTIFY",
            Method::Subscribe => "SUBSCRIBE",
            Method::Message => "MESSAGE",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Publish => "PUBLISH",
            Method::Extension(s) => s,
        }
    }

    /// Maps a method token to a `Method`; anything unknown (including other
    /// spellings of known methods) becomes `Extension`. Does not validate
    /// the token: the parser does that.
    pub fn from_token(s: &str) -> Method {
        match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "REFER" => Method::Refer,
            "NOTIFY" => Method::Notify,
            "SUBSCRIBE" => Method::Subscribe,
            "MESSAGE" => Method::Message,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "PUBLISH" => Method::Publish,
            other => Method::Extension(other.to_owned()),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
