//! HTTP digest authentication for SIP (RFC 2617, RFC 7616, RFC 8760):
//! HA1 computation, challenges, credential parsing and verification.

use md5::Md5;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Digest hash algorithm. SIP uses `MD5` (RFC 3261) and `SHA-256` (RFC 8760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Algorithm {
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "SHA-256")]
    Sha256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Lower-case hex digest of `data` with this algorithm.
    pub fn hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data)),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data)),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown digest algorithm {0:?} (expected MD5 or SHA-256)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("MD5") {
            Ok(Algorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Ok(Algorithm::Sha256)
        } else {
            Err(UnknownAlgorithm(s.to_string()))
        }
    }
}

/// HA1 = H(username ":" realm ":" password), stored instead of the password.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hex(format!("{username}:{realm}:{password}").as_bytes())
}

/// Errors from parsing an `Authorization` / `Proxy-Authorization` value.
/// Every one of them is answered with a fresh challenge (or 400), never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("authorization scheme is not Digest")]
    NotDigest,
    #[error("malformed digest parameters at byte {0}")]
    Malformed(usize),
    #[error("digest parameter {0:?} appears twice")]
    Duplicate(String),
    #[error("digest parameter {0:?} is missing")]
    Missing(&'static str),
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("unsupported qop {0:?} (only \"auth\" is offered)")]
    UnsupportedQop(String),
    #[error("nonce count {0:?} is not 8 hex digits")]
    BadNonceCount(String),
}

/// A `WWW-Authenticate` / `Proxy-Authenticate` challenge. We always offer
/// `qop="auth"`: it makes the client mix its own cnonce and a counter into
/// the response, so a captured response cannot be replayed for another request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// True when the client's nonce was ours but expired: the client then
    /// retries with the new nonce silently instead of asking the user again.
    pub stale: bool,
}

impl Challenge {
    /// The header value, e.g.
    /// `Digest realm="r", nonce="n", algorithm=MD5, qop="auth", stale=true`.
    pub fn header_value(&self) -> String {
        let mut out = String::with_capacity(96 + self.realm.len() + self.nonce.len());
        out.push_str("Digest realm=");
        push_quoted(&mut out, &self.realm);
        out.push_str(", nonce=");
        push_quoted(&mut out, &self.nonce);
        out.push_str(", algorithm=");
        out.push_str(self.algorithm.as_str());
        out.push_str(", qop=\"auth\"");
        if let Some(opaque) = &self.opaque {
            out.push_str(", opaque=");
            push_quoted(&mut out, opaque);
        }
        if self.stale {
            out.push_str(", stale=true");
        }
        out
    }
}

/// Appends `value` as an RFC 3261 quoted-string (escaping `"` and `\`).
fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// The parameters of a client's `Authorization` header, unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    /// `MD5` when the client omitted the parameter (RFC 2617 §3.2.2).
    pub algorithm: Algorithm,
    /// `Some("auth")` or `None` (RFC 2069 compatibility); other values are rejected by `parse`.
    pub qop: Option<String>,
    /// Nonce count, 8 hex digits; present whenever `qop` is.
    pub nc: Option<String>,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
}

/// Upper bound on the number of parameters, so a hostile header full of
/// commas costs bounded work.
const MAX_PARAMS: usize = 32;

impl Credentials {
    /// Parses the whole header value `Digest a=b, c="d"`. The scheme and
    /// parameter names are case-insensitive, values are tokens or quoted
    /// strings with `\` escapes, linear white space (including CRLF folds) is
    /// allowed around `=` and `,`, unknown parameters are ignored and a
    /// repeated parameter is an error (two different values would be ambiguous).
    pub fn parse(header_value: &str) -> Result<Credentials, DigestError> {
        let bytes = header_value.as_bytes();
        let mut pos = skip_lws(bytes, 0);
        let scheme_end = scan_token(bytes, pos);
        let scheme = header_value.get(pos..scheme_end).unwrap_or("");
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::NotDigest);
        }
        pos = scheme_end;
        let after_scheme = skip_lws(bytes, pos);
        if after_scheme == pos && pos < bytes.len() {
            // "Digestusername=..." is not a Digest header.
            return Err(DigestError::NotDigest);
        }
        pos = after_scheme;

        let mut fields = RawFields::default();
        let mut count = 0usize;
        loop {
            pos = skip_lws(bytes, pos);
            // Tolerate empty list elements (`a=b,,c=d`, trailing comma), as RFC 7230 #rule does.
            if bytes.get(pos) == Some(&b',') {
                pos += 1;
                continue;
            }
            if pos >= bytes.len() {
                break;
            }
            count += 1;
            if count > MAX_PARAMS {
                return Err(DigestError::Malformed(pos));
            }
            let name_end = scan_token(bytes, pos);
            if name_end == pos {
                return Err(DigestError::Malformed(pos));
            }
            let name = header_value
                .get(pos..name_end)
                .ok_or(DigestError::Malformed(pos))?;
            pos = skip_lws(bytes, name_end);
            if bytes.get(pos) != Some(&b'=') {
                return Err(DigestError::Malformed(pos));
            }
            pos = skip_lws(bytes, pos + 1);
            let (value, next) = parse_value(header_value, pos)?;
            pos = skip_lws(bytes, next);
            match bytes.get(pos) {
                None => {}
                Some(b',') => pos += 1,
                Some(_) => return Err(DigestError::Malformed(pos)),
            }
            fields.set(name, value)?;
        }
        fields.into_credentials()
    }
}

#[derive(Default)]
struct RawFields {
    username: Option<String>,
    realm: Option<String>,
    nonce: Option<String>,
    uri: Option<String>,
    response: Option<String>,
    algorithm: Option<String>,
    qop: Option<String>,
    nc: Option<String>,
    cnonce: Option<String>,
    opaque: Option<String>,
}

impl RawFields {
    fn set(&mut self, name: &str, value: String) -> Result<(), DigestError> {
        let slot = match name.to_ascii_lowercase().as_str() {
            "username" => &mut self.username,
            "realm" => &mut self.realm,
            "nonce" => &mut self.nonce,
            "uri" => &mut self.uri,
            "response" => &mut self.response,
            "algorithm" => &mut self.algorithm,
            "qop" => &mut self.qop,
            "nc" => &mut self.nc,
            "cnonce" => &mut self.cnonce,
            "opaque" => &mut self.opaque,
            _ => return Ok(()),
        };
        if slot.is_some() {
            return Err(DigestError::Duplicate(name.to_ascii_lowercase()));
        }
        *slot = Some(value);
        Ok(())
    }

    fn into_credentials(self) -> Result<Credentials, DigestError> {
        let algorithm = match self.algorithm {
            None => Algorithm::Md5,
            Some(name) => name
                .parse::<Algorithm>()
                .map_err(|_| DigestError::UnsupportedAlgorithm(name))?,
        };
        if let Some(qop) = &self.qop {
            if !qop.eq_ignore_ascii_case("auth") {
                return Err(DigestError::UnsupportedQop(qop.clone()));
            }
        }
        let (nc, cnonce) = if self.qop.is_some() {
            let nc = self.nc.ok_or(DigestError::Missing("nc"))?;
            if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(DigestError::BadNonceCount(nc));
            }
            (
                Some(nc),
                Some(self.cnonce.ok_or(DigestError::Missing("cnonce"))?),
            )
        } else {
            (self.nc, self.cnonce)
        };
        Ok(Credentials {
            username: self.username.ok_or(DigestError::Missing("username"))?,
            realm: self.realm.ok_or(DigestError::Missing("realm"))?,
            nonce: self.nonce.ok_or(DigestError::Missing("nonce"))?,
            uri: self.uri.ok_or(DigestError::Missing("uri"))?,
            response: self.response.ok_or(DigestError::Missing("response"))?,
            algorithm,
            qop: self.qop,
            nc,
            cnonce,
            opaque: self.opaque,
        })
    }
}

/// RFC 3261 token characters (plus `/` and `:` seen unquoted in `uri=` by
/// lenient clients; harmless because the value still ends at LWS or `,`).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~/:@".contains(&b)
}

fn scan_token(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(|&b| is_token_byte(b)) {
        pos += 1;
    }
    pos
}

fn skip_lws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(&b) = bytes.get(pos) {
        if b == b' ' || b == b'\t' || b == b'\r' || b == b'\n' {
            pos += 1;
        } else {
            break;
        }
    }
    pos
}

/// A token or a quoted string starting at `pos`; returns the unescaped value
/// and the position after it.
fn parse_value(text: &str, pos: usize) -> Result<(String, usize), DigestError> {
    let bytes = text.as_bytes();
    if bytes.get(pos) != Some(&b'"') {
        let end = scan_token(bytes, pos);
        if end == pos {
            return Err(DigestError::Malformed(pos));
        }
        let value = text.get(pos..end).ok_or(DigestError::Malformed(pos))?;
        return Ok((value.to_string(), end));
    }
    let mut out = Vec::new();
    let mut i = pos + 1;
    loop {
        match bytes.get(i) {
            None => return Err(DigestError::Malformed(pos)),
            Some(b'"') => break,
            Some(b'\\') => {
                let escaped = bytes.get(i + 1).ok_or(DigestError::Malformed(i))?;
                out.push(*escaped);
                i += 2;
            }
            Some(&b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    // An escape may split a multi-byte character only if the input was not
    // UTF-8 to begin with, so this only fails on crafted input: reject it.
    let value = String::from_utf8(out).map_err(|_| DigestError::Malformed(pos))?;
    Ok((value, i + 1))
}

/// The response the client should have sent, in lower-case hex.
/// qop=auth: `H(HA1:nonce:nc:cnonce:qop:H(method:uri))`;
/// no qop (RFC 2069): `H(HA1:nonce:H(method:uri))`.
/// `ha1_hex` must have been computed with `creds.algorithm`.
pub fn expected_response(creds: &Credentials, method: &str, ha1_hex: &str) -> String {
    let algorithm = creds.algorithm;
    let ha2 = algorithm.hex(format!("{method}:{}", creds.uri).as_bytes());
    let input = match &creds.qop {
        Some(qop) => format!(
            "{ha1_hex}:{}:{}:{}:{qop}:{ha2}",
            creds.nonce,
            creds.nc.as_deref().unwrap_or(""),
            creds.cnonce.as_deref().unwrap_or(""),
        ),
        None => format!("{ha1_hex}:{}:{ha2}", creds.nonce),
    };
    algorithm.hex(input.as_bytes())
}

/// Checks the client's response in constant time (so the comparison does not
/// leak how many leading characters were right). Upper-case hex from the
/// client is accepted.
pub fn verify(creds: &Credentials, method: &str, ha1_hex: &str) -> bool {
    let expected = expected_response(creds, method, ha1_hex);
    constant_time_eq_ignore_ascii_case(expected.as_bytes(), creds.response.as_bytes())
}

fn constant_time_eq_ignore_ascii_case(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        // The length of a hex digest is public (it follows from the algorithm).
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x.to_ascii_lowercase() ^ y.to_ascii_lowercase();
    }
    diff == 0
}

type HmacSha256 = hmac::Hmac<Sha256>;

/// Bytes of a nonce: 8 issue time + 8 random + 16 truncated MAC.
const NONCE_BYTES: usize = 32;
/// How far in the future an issue time may lie and still count as fresh:
/// nodes sharing the secret behind a load balancer have slightly different clocks.
const CLOCK_SKEW_S: u64 = 30;

/// Issues and checks stateless nonces:
/// `hex(issue_time_unix_s (8 bytes BE) ‖ random (8 bytes) ‖ HMAC-SHA256(secret, first 16 bytes)[..16])`.
///
/// The MAC proves the nonce is ours without a server-side table, so any
/// number of outstanding challenges costs no memory, and a restart (or
/// another node with the same secret) still accepts nonces issued before it.
/// The embedded issue time lets us answer an old nonce with `stale=true`.
pub struct NonceManager {
    secret: [u8; 32],
    lifetime_s: u64,
}

/// What `NonceManager::check` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    /// Ours and within its lifetime.
    Fresh,
    /// Ours but expired: challenge again with `stale=true`.
    Stale,
    /// Not ours, tampered or malformed: challenge again without `stale`.
    Invalid,
}

impl NonceManager {
    pub fn new(secret: [u8; 32], lifetime_s: u64) -> Self {
        NonceManager { secret, lifetime_s }
    }

    fn mac(&self, data: &[u8]) -> HmacSha256 {
        use hmac::Mac;
        use hmac::digest::KeyInit;
        // HMAC zero-pads a short key to the hash's 64-byte block, so padding
        // it here gives the same MAC through the infallible constructor.
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&self.secret);
        let mut mac = <HmacSha256 as KeyInit>::new(&key.into());
        mac.update(data);
        mac
    }

    /// A new nonce issued at `now_unix_s`; `random` comes from the caller's RNG.
    pub fn issue(&self, now_unix_s: u64, random: [u8; 8]) -> String {
        use hmac::Mac;
        let mut raw = [0u8; NONCE_BYTES];
        raw[..8].copy_from_slice(&now_unix_s.to_be_bytes());
        raw[8..16].copy_from_slice(&random);
        let tag = self.mac(&raw[..16]).finalize().into_bytes();
        raw[16..].copy_from_slice(&tag[..16]);
        hex::encode(raw)
    }

    /// Classifies a nonce a client sent back.
    pub fn check(&self, nonce: &str, now_unix_s: u64) -> NonceStatus {
        use hmac::Mac;
        let mut raw = [0u8; NONCE_BYTES];
        if nonce.len() != NONCE_BYTES * 2 || hex::decode_to_slice(nonce, &mut raw).is_err() {
            return NonceStatus::Invalid;
        }
        let (signed, tag) = raw.split_at(16);
        if self.mac(signed).verify_truncated_left(tag).is_err() {
            return NonceStatus::Invalid;
        }
        let mut time_bytes = [0u8; 8];
        time_bytes.copy_from_slice(&signed[..8]);
        let issued = u64::from_be_bytes(time_bytes);
        if issued > now_unix_s.saturating_add(CLOCK_SKEW_S) {
            // Ours, but from the future: our clock went back. A stale answer
            // makes the client fetch a nonce valid under the current clock.
            return NonceStatus::Stale;
        }
        if now_unix_s.saturating_sub(issued) >= self.lifetime_s {
            NonceStatus::Stale
        } else {
            NonceStatus::Fresh
        }
    }
}

/// Optional replay protection on top of stateless nonces: remembers the
/// highest nonce count seen per nonce and rejects a count that is not higher.
///
/// Memory is bounded by `max_nonces` entries (each a 64-byte nonce plus a
/// `u32`, about 100 bytes with map overhead, so 100 000 entries ≈ 10 MB).
/// When full, the nonce seen longest ago is forgotten; a replay of a forgotten
/// nonce is then accepted until the nonce itself goes stale, which is the
/// price of the bound. Requests without `qop` carry no count and cannot be
/// checked here.
pub struct NonceCountTracker {
    max_nonces: usize,
    highest: std::collections::HashMap<String, (u32, u64)>,
    /// Insertion order for eviction: (nonce, generation). Entries whose
    /// generation no longer matches the map were refreshed and are skipped.
    order: std::collections::VecDeque<(String, u64)>,
    generation: u64,
}

impl NonceCountTracker {
    pub fn new(max_nonces: usize) -> Self {
        NonceCountTracker {
            max_nonces: max_nonces.max(1),
            highest: std::collections::HashMap::new(),
            order: std::collections::VecDeque::new(),
            generation: 0,
        }
    }

    /// Records `nc` (8 hex digits) for `nonce`; false if it is malformed or
    /// not higher than a count already seen (a replay).
    pub fn check_and_record(&mut self, nonce: &str, nc: &str) -> bool {
        let Ok(count) = u32::from_str_radix(nc, 16) else {
            return false;
        };
        if nc.len() != 8 {
            return false;
        }
        if let Some(&(seen, _)) = self.highest.get(nonce) {
            if count <= seen {
                return false;
            }
        }
        self.generation += 1;
        let generation = self.generation;
        self.highest.insert(nonce.to_string(), (count, generation));
        self.order.push_back((nonce.to_string(), generation));
        self.evict();
        true
    }

    fn evict(&mut self) {
        if self.order.len() > 2 * self.max_nonces {
            // Drop the superseded order entries of refreshed nonces; amortised
            // O(1) per call because it runs once per `max_nonces` insertions.
            let highest = &self.highest;
            self.order.retain(|(nonce, generation)| {
                highest.get(nonce).is_some_and(|&(_, g)| g == *generation)
            });
        }
        while self.highest.len() > self.max_nonces {
            let Some((nonce, generation)) = self.order.pop_front() else {
                break;
            };
            if self
                .highest
                .get(&nonce)
                .is_some_and(|&(_, g)| g == generation)
            {
                self.highest.remove(&nonce);
            }
        }
    }

    /// Number of nonces currently remembered.
    pub fn len(&self) -> usize {
        self.highest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.highest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    const RFC7616_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";

    fn rfc7616_header(algorithm: &str, response: &str) -> String {
        format!(
            "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
             algorithm={algorithm}, nonce=\"{RFC7616_NONCE}\", nc=00000001, cnonce=\"{RFC7616_CNONCE}\", \
             qop=auth, response=\"{response}\", opaque=\"{RFC7616_OPAQUE}\""
        )
    }

    #[test]
    fn rfc2617_example_verifies() {
        let header = "Digest username=\"Mufasa\",\r\n realm=\"testrealm@host.com\",\r\n \
            nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n uri=\"/dir/index.html\",\r\n \
            qop=auth,\r\n nc=00000001,\r\n cnonce=\"0a4f113b\",\r\n \
            response=\"6629fae49393a05397450978507c4ef1\",\r\n \
            opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let creds = Credentials::parse(header).unwrap();
        assert_eq!(creds.username, "Mufasa");
        assert_eq!(creds.algorithm, Algorithm::Md5);
        assert_eq!(
            creds.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        let ha1 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert_eq!(
            expected_response(&creds, "GET", &ha1),
            "6629fae49393a05397450978507c4ef1"
        );
        assert!(verify(&creds, "GET", &ha1));
        assert!(!verify(&creds, "POST", &ha1));
        let wrong = super::ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "circle of life",
        );
        assert!(!verify(&creds, "GET", &wrong));
    }

    #[test]
    fn rfc7616_md5_and_sha256_vectors() {
        for (name, algorithm, response) in [
            ("MD5", Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                Algorithm::Sha256,
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let creds = Credentials::parse(&rfc7616_header(name, response)).unwrap();
            assert_eq!(creds.algorithm, algorithm);
            assert_eq!(creds.nc.as_deref(), Some("00000001"));
            assert_eq!(creds.cnonce.as_deref(), Some(RFC7616_CNONCE));
            let ha1 = ha1(
                algorithm,
                "Mufasa",
                "http-auth@example.org",
                "Circle of Life",
            );
            assert_eq!(expected_response(&creds, "GET", &ha1), response);
            assert!(verify(&creds, "GET", &ha1), "{name}");
        }
    }

    #[test]
    fn uppercase_hex_response_is_accepted() {
        let header = rfc7616_header("MD5", &"8ca523f5e9506fed4657c9700eebdbec".to_uppercase());
        let creds = Credentials::parse(&header).unwrap();
        let ha1 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        assert!(verify(&creds, "GET", &ha1));
    }

    #[test]
    fn response_without_qop_uses_rfc2069_formula() {
        let ha1 = ha1(Algorithm::Md5, "alice", "hotline", "secret");
        let ha2 = Algorithm::Md5.hex(b"REGISTER:sip:hotline");
        let response = Algorithm::Md5.hex(format!("{ha1}:abc:{ha2}").as_bytes());
        let header = format!(
            "Digest username=\"alice\",realm=\"hotline\",nonce=\"abc\",uri=\"sip:hotline\",response=\"{response}\""
        );
        let creds = Credentials::parse(&header).unwrap();
        assert_eq!(creds.qop, None);
        assert!(verify(&creds, "REGISTER", &ha1));
    }

    #[test]
    fn parse_tolerates_spacing_case_and_escapes() {
        let header = "  dIgEsT   USERNAME = \"a\\\"l\\\\ice\" ,REALM=\"r\",\tNonce=n1 ,uri=\"sip:x\",\
                      response=\"00\",,  qop = \"auth\", nc = 0000000a , cnonce=\"c\", Foo=\"bar\", algorithm=\"md5\" ,";
        let creds = Credentials::parse(header).unwrap();
        assert_eq!(creds.username, "a\"l\\ice");
        assert_eq!(creds.realm, "r");
        assert_eq!(creds.nonce, "n1");
        assert_eq!(creds.qop.as_deref(), Some("auth"));
        assert_eq!(creds.nc.as_deref(), Some("0000000a"));
        assert_eq!(creds.algorithm, Algorithm::Md5);
    }

    #[test]
    fn parse_rejects_bad_input() {
        let base = "username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\"";
        type Expectation = fn(&DigestError) -> bool;
        let cases: Vec<(String, Expectation)> = vec![
            (format!("Basic {base}"), |e| *e == DigestError::NotDigest),
            ("Digestusername=\"a\"".to_string(), |e| {
                *e == DigestError::NotDigest
            }),
            (format!("Digest {base}, realm=\"again\""), |e| {
                *e == DigestError::Duplicate("realm".into())
            }),
            (format!("Digest {base}, algorithm=MD5-sess"), |e| {
                matches!(e, DigestError::UnsupportedAlgorithm(_))
            }),
            (
                format!("Digest {base}, qop=auth-int, nc=00000001, cnonce=c"),
                |e| matches!(e, DigestError::UnsupportedQop(_)),
            ),
            (format!("Digest {base}, qop=auth, cnonce=c"), |e| {
                *e == DigestError::Missing("nc")
            }),
            (format!("Digest {base}, qop=auth, nc=1, cnonce=c"), |e| {
                matches!(e, DigestError::BadNonceCount(_))
            }),
            ("Digest username=\"a\", realm=\"r\"".into(), |e| {
                *e == DigestError::Missing("nonce")
            }),
            (format!("Digest {base}, opaque=\"unterminated"), |e| {
                matches!(e, DigestError::Malformed(_))
            }),
            (format!("Digest {base}, opaque=\"ends in escape\\"), |e| {
                matches!(e, DigestError::Malformed(_))
            }),
            (format!("Digest {base} nonsense"), |e| {
                matches!(e, DigestError::Malformed(_))
            }),
            (format!("Digest {base}, =x"), |e| {
                matches!(e, DigestError::Malformed(_))
            }),
            (format!("Digest {base}, a="), |e| {
                matches!(e, DigestError::Malformed(_))
            }),
            ("".into(), |e| *e == DigestError::NotDigest),
        ];
        for (input, expected) in cases {
            let err = Credentials::parse(&input).unwrap_err();
            assert!(expected(&err), "{input:?} gave {err:?}");
        }
    }

    #[test]
    fn parse_never_panics_on_garbage() {
        let samples = [
            "Digest \"",
            "Digest ,,,,",
            "Digest a",
            "Digest a=\"\\",
            "Digest \u{0}=\u{1}",
            "Digest username=\"ä\\ö\"",
            "Digest =",
            "Digest a==b",
            "Digest a=b c=d",
            "\r\n\r\n",
        ];
        for sample in samples {
            let _ = Credentials::parse(sample);
        }
        let many = format!("Digest {}", "a=b,".repeat(100));
        assert!(matches!(
            Credentials::parse(&many),
            Err(DigestError::Malformed(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn parse_arbitrary_input_returns(input in ".{0,200}") {
            let _ = Credentials::parse(&input);
            let _ = Credentials::parse(&format!("Digest {input}"));
        }
    }

    #[test]
    fn challenge_header_round_trips_through_quoting() {
        let challenge = Challenge {
            realm: "hot\"line".into(),
            nonce: "n".into(),
            opaque: Some("o".into()),
            algorithm: Algorithm::Sha256,
            stale: true,
        };
        assert_eq!(
            challenge.header_value(),
            "Digest realm=\"hot\\\"line\", nonce=\"n\", algorithm=SHA-256, qop=\"auth\", opaque=\"o\", stale=true"
        );
        let plain = Challenge {
            opaque: None,
            stale: false,
            algorithm: Algorithm::Md5,
            ..challenge
        };
        assert_eq!(
            plain.header_value(),
            "Digest realm=\"hot\\\"line\", nonce=\"n\", algorithm=MD5, qop=\"auth\""
        );
    }

    #[test]
    fn nonce_fresh_stale_invalid_tampered() {
        let manager = NonceManager::new([7; 32], 300);
        let nonce = manager.issue(1_000_000, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(nonce.len(), 64);
        assert_eq!(manager.check(&nonce, 1_000_000), NonceStatus::Fresh);
        assert_eq!(manager.check(&nonce, 1_000_299), NonceStatus::Fresh);
        assert_eq!(manager.check(&nonce, 1_000_300), NonceStatus::Stale);
        // Slight clock skew between nodes is tolerated; a big jump back is stale.
        assert_eq!(manager.check(&nonce, 999_990), NonceStatus::Fresh);
        assert_eq!(manager.check(&nonce, 900_000), NonceStatus::Stale);

        // Another secret (another deployment) does not accept it.
        let other = NonceManager::new([8; 32], 300);
        assert_eq!(other.check(&nonce, 1_000_000), NonceStatus::Invalid);

        // Pushing the issue time forward to extend the lifetime breaks the MAC.
        let mut raw = hex::decode(&nonce).unwrap();
        raw[7] = raw[7].wrapping_add(100);
        assert_eq!(
            manager.check(&hex::encode(&raw), 1_000_350),
            NonceStatus::Invalid
        );
        let mut tampered_tag = hex::decode(&nonce).unwrap();
        tampered_tag[31] ^= 1;
        assert_eq!(
            manager.check(&hex::encode(&tampered_tag), 1_000_000),
            NonceStatus::Invalid
        );

        for malformed in [
            "",
            "zz",
            &nonce[..62],
            &format!("{nonce}00"),
            &"g".repeat(64),
        ] {
            assert_eq!(
                manager.check(malformed, 1_000_000),
                NonceStatus::Invalid,
                "{malformed}"
            );
        }
        // Upper-case hex of the same bytes is still ours.
        assert_eq!(
            manager.check(&nonce.to_uppercase(), 1_000_000),
            NonceStatus::Fresh
        );

        // Survives a restart with the same secret, and distinct randoms give distinct nonces.
        let restarted = NonceManager::new([7; 32], 300);
        assert_eq!(restarted.check(&nonce, 1_000_001), NonceStatus::Fresh);
        assert_ne!(manager.issue(1_000_000, [0; 8]), nonce);
    }

    #[test]
    fn nonce_count_tracker_rejects_replays_and_stays_bounded() {
        let mut tracker = NonceCountTracker::new(3);
        assert!(tracker.check_and_record("n1", "00000001"));
        assert!(!tracker.check_and_record("n1", "00000001"), "replayed nc");
        assert!(tracker.check_and_record("n1", "00000002"));
        assert!(!tracker.check_and_record("n1", "00000001"), "older nc");
        assert!(!tracker.check_and_record("n1", "xyz"));
        assert!(!tracker.check_and_record("n1", "3"), "not 8 digits");
        for i in 0..1000 {
            assert!(tracker.check_and_record(&format!("other{i}"), "00000001"));
            assert!(tracker.len() <= 3);
        }
        // n1 was forgotten, so its count starts over (documented trade-off).
        assert!(tracker.check_and_record("n1", "00000001"));
        // Refreshing one nonce many times keeps the order queue bounded too.
        for nc in 2..10_000u32 {
            assert!(tracker.check_and_record("n1", &format!("{nc:08x}")));
        }
        assert!(tracker.order.len() <= 7);
        assert!(!tracker.check_and_record("n1", "00000002"));
    }
}
