//! A minimal SIP phone for tests: sends requests over UDP or TCP and reads
//! responses with a deadline. It computes digest answers with the RustCrypto
//! hashes directly, not with the server's code, so a bug in the server's
//! digest cannot hide behind the same bug here.
#![allow(dead_code)]

use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

pub const DEADLINE: Duration = Duration::from_secs(5);

/// A response as a test reads it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub raw: String,
}

impl Response {
    pub fn parse(raw: &str) -> Option<Response> {
        let (head, _) = raw.split_once("\r\n\r\n")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next()?;
        let mut parts = status_line.splitn(3, ' ');
        if parts.next()? != "SIP/2.0" {
            return None;
        }
        let status = parts.next()?.parse().ok()?;
        let reason = parts.next().unwrap_or("").to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Some(Response {
            status,
            reason,
            headers,
            raw: raw.to_string(),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

enum Link {
    Udp(UdpSocket),
    Tcp(TcpStream, Vec<u8>),
}

pub struct SipPhone {
    link: Link,
    server: SocketAddr,
    pub local: SocketAddr,
    pub call_id: String,
    cseq: u32,
    branch_seq: u32,
}

/// The fields of a `WWW-Authenticate: Digest ...` challenge.
#[derive(Debug, Clone)]
pub struct ChallengeParams {
    pub realm: String,
    pub nonce: String,
    pub algorithm: String,
    pub qop: Option<String>,
    pub stale: bool,
    pub opaque: Option<String>,
}

pub fn parse_challenge(value: &str) -> ChallengeParams {
    let rest = value
        .trim()
        .strip_prefix("Digest")
        .expect("digest challenge")
        .trim();
    let mut params = std::collections::HashMap::new();
    for part in split_params(rest) {
        if let Some((k, v)) = part.split_once('=') {
            params.insert(
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            );
        }
    }
    ChallengeParams {
        realm: params.get("realm").cloned().unwrap_or_default(),
        nonce: params.get("nonce").cloned().unwrap_or_default(),
        algorithm: params
            .get("algorithm")
            .cloned()
            .unwrap_or_else(|| "MD5".into()),
        qop: params.get("qop").cloned(),
        stale: params
            .get("stale")
            .is_some_and(|s| s.eq_ignore_ascii_case("true")),
        opaque: params.get("opaque").cloned(),
    }
}

fn split_params(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

fn hash(algorithm: &str, data: &str) -> String {
    if algorithm.eq_ignore_ascii_case("SHA-256") {
        hex::encode(Sha256::digest(data.as_bytes()))
    } else {
        hex::encode(Md5::digest(data.as_bytes()))
    }
}

/// The Authorization header value answering `challenge` (RFC 2617/7616).
pub fn authorization(
    challenge: &ChallengeParams,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
) -> String {
    let alg = &challenge.algorithm;
    let ha1 = hash(alg, &format!("{user}:{}:{password}", challenge.realm));
    let ha2 = hash(alg, &format!("{method}:{uri}"));
    let cnonce = "0a4f113b";
    let nc = "00000001";
    let response = hash(
        alg,
        &format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", challenge.nonce),
    );
    let mut value = format!(
        "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{response}\", algorithm={alg}, qop=auth, nc={nc}, cnonce=\"{cnonce}\"",
        challenge.realm, challenge.nonce
    );
    if let Some(opaque) = &challenge.opaque {
        value.push_str(&format!(", opaque=\"{opaque}\""));
    }
    value
}

impl SipPhone {
    pub async fn udp(server: SocketAddr) -> SipPhone {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        SipPhone::with(Link::Udp(socket), server, local)
    }

    /// A phone on a socket the caller bound: after registering, the caller
    /// takes it back with [`SipPhone::into_udp`] to receive calls on the
    /// address it registered (see `agent_phone.rs`).
    pub fn on_udp(socket: UdpSocket, server: SocketAddr) -> SipPhone {
        let local = socket.local_addr().unwrap();
        SipPhone::with(Link::Udp(socket), server, local)
    }

    /// The UDP socket back (None for a TCP phone).
    pub fn into_udp(self) -> Option<UdpSocket> {
        match self.link {
            Link::Udp(socket) => Some(socket),
            Link::Tcp(..) => None,
        }
    }

    pub async fn tcp(server: SocketAddr) -> SipPhone {
        let stream = TcpStream::connect(server).await.unwrap();
        let local = stream.local_addr().unwrap();
        SipPhone::with(Link::Tcp(stream, Vec::new()), server, local)
    }

    fn with(link: Link, server: SocketAddr, local: SocketAddr) -> SipPhone {
        SipPhone {
            link,
            server,
            local,
            call_id: format!("test-{}-{}", local.port(), rand_u32()),
            cseq: 0,
            branch_seq: 0,
        }
    }

    pub fn transport(&self) -> &'static str {
        match self.link {
            Link::Udp(_) => "UDP",
            Link::Tcp(..) => "TCP",
        }
    }

    pub fn next_branch(&mut self) -> String {
        self.branch_seq += 1;
        format!(
            "z9hG4bK-{}-{}-{}",
            self.local.port(),
            self.branch_seq,
            rand_u32()
        )
    }

    pub fn next_cseq(&mut self) -> u32 {
        self.cseq += 1;
        self.cseq
    }

    /// Sends raw bytes as they are (for malformed-input tests).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        match &mut self.link {
            Link::Udp(s) => {
                s.send_to(bytes, self.server).await.unwrap();
            }
            Link::Tcp(s, _) => {
                // The server may already have cut us off: that is a result.
                let _ = s.write_all(bytes).await;
            }
        }
    }

    /// The next response, or None if none arrives before the deadline (or
    /// the TCP connection closed).
    pub async fn recv(&mut self, within: Duration) -> Option<Response> {
        let deadline = Instant::now() + within;
        match &mut self.link {
            Link::Udp(s) => {
                let mut buf = vec![0u8; 65_536];
                loop {
                    let left = deadline.checked_duration_since(Instant::now())?;
                    let (len, _) = tokio::time::timeout(left, s.recv_from(&mut buf))
                        .await
                        .ok()?
                        .ok()?;
                    let text = String::from_utf8_lossy(&buf[..len]).to_string();
                    if let Some(r) = Response::parse(&text) {
                        return Some(r);
                    }
                }
            }
            Link::Tcp(s, pending) => loop {
                if let Some(r) = take_tcp_response(pending) {
                    return Some(r);
                }
                let left = deadline.checked_duration_since(Instant::now())?;
                let mut buf = vec![0u8; 16_384];
                let n = tokio::time::timeout(left, s.read(&mut buf))
                    .await
                    .ok()?
                    .ok()?;
                if n == 0 {
                    return None;
                }
                pending.extend_from_slice(&buf[..n]);
            },
        }
    }

    /// True when the server closed the TCP connection before the deadline.
    pub async fn closed_by_server(&mut self, within: Duration) -> bool {
        let Link::Tcp(s, _) = &mut self.link else {
            return false;
        };
        let deadline = Instant::now() + within;
        let mut buf = [0u8; 4096];
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            match tokio::time::timeout(left, s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    fn via(&mut self) -> String {
        let branch = self.next_branch();
        format!(
            "SIP/2.0/{} {};branch={branch};rport",
            self.transport(),
            self.local
        )
    }

    /// An OPTIONS request text.
    pub fn options(&mut self) -> String {
        let via = self.via();
        let cseq = self.next_cseq();
        format!(
            "OPTIONS sip:{server} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: <sip:probe@{local}>;tag=p{cseq}\r\nTo: <sip:{server}>\r\nCall-ID: opt-{cid}\r\nCSeq: {cseq} OPTIONS\r\nContent-Length: 0\r\n\r\n",
            server = self.server,
            local = self.local,
            cid = self.call_id,
        )
    }

    pub async fn send_options(&mut self) -> Option<Response> {
        let req = self.options();
        self.send_raw(req.as_bytes()).await;
        self.recv(DEADLINE).await
    }

    /// A REGISTER request text for `login`; `contact` None = a query.
    pub fn register_request(
        &mut self,
        login: &str,
        contact: Option<&str>,
        expires: Option<u32>,
        authorization: Option<&str>,
    ) -> String {
        let via = self.via();
        let cseq = self.next_cseq();
        let mut req = format!(
            "REGISTER sip:{server} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: <sip:{login}@{server}>;tag=r{port}\r\nTo: <sip:{login}@{server}>\r\nCall-ID: {cid}\r\nCSeq: {cseq} REGISTER\r\nUser-Agent: hotline-test-phone\r\n",
            server = self.server,
            port = self.local.port(),
            cid = self.call_id,
        );
        if let Some(contact) = contact {
            req.push_str(&format!("Contact: {contact}\r\n"));
        }
        if let Some(expires) = expires {
            req.push_str(&format!("Expires: {expires}\r\n"));
        }
        if let Some(auth) = authorization {
            req.push_str(&format!("Authorization: {auth}\r\n"));
        }
        req.push_str("Content-Length: 0\r\n\r\n");
        req
    }

    /// The default Contact of this phone.
    pub fn contact(&self, login: &str) -> String {
        let t = if self.transport() == "TCP" {
            ";transport=tcp"
        } else {
            ""
        };
        format!("<sip:{login}@{}{t}>", self.local)
    }

    /// REGISTER, answer the challenge with `password` using the first
    /// offered algorithm, return the final response.
    pub async fn register(
        &mut self,
        login: &str,
        password: &str,
        contact: Option<&str>,
        expires: Option<u32>,
    ) -> Response {
        self.register_with(login, password, contact, expires, |c| {
            c.first().cloned().unwrap()
        })
        .await
    }

    /// Like `register`, choosing which challenge to answer.
    pub async fn register_with(
        &mut self,
        login: &str,
        password: &str,
        contact: Option<&str>,
        expires: Option<u32>,
        choose: impl Fn(&[ChallengeParams]) -> ChallengeParams,
    ) -> Response {
        let req = self.register_request(login, contact, expires, None);
        self.send_raw(req.as_bytes()).await;
        let challenge = self.recv(DEADLINE).await.expect("a response to REGISTER");
        if challenge.status != 401 {
            return challenge;
        }
        let offered: Vec<ChallengeParams> = challenge
            .all("WWW-Authenticate")
            .into_iter()
            .map(parse_challenge)
            .collect();
        let chosen = choose(&offered);
        let uri = format!("sip:{}", self.server);
        let auth = authorization(&chosen, login, password, "REGISTER", &uri);
        let req = self.register_request(login, contact, expires, Some(&auth));
        self.send_raw(req.as_bytes()).await;
        self.recv(DEADLINE)
            .await
            .expect("a final response to the authenticated REGISTER")
    }
}

fn take_tcp_response(pending: &mut Vec<u8>) -> Option<Response> {
    // Skip CRLF pongs.
    while pending.starts_with(b"\r\n") && !pending.starts_with(b"\r\n\r\n") {
        pending.drain(..2);
    }
    let text = String::from_utf8_lossy(pending).to_string();
    let head_end = text.find("\r\n\r\n")? + 4;
    let length: usize = text[..head_end]
        .split("\r\n")
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            (n.trim().eq_ignore_ascii_case("content-length") || n.trim() == "l")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    if pending.len() < head_end + length {
        return None;
    }
    let message: Vec<u8> = pending.drain(..head_end + length).collect();
    Response::parse(&String::from_utf8_lossy(&message))
}

fn rand_u32() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(1);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    t ^ SEQ.fetch_add(0x9E37_79B9, Ordering::Relaxed)
}
