//! An operator's softphone for end-to-end tests: registers a login with
//! digest over UDP, then receives the calls the server routes to it and
//! acts on them as an operator would — ring, answer (with an SDP for its own
//! RTP socket), decline, let it ring, hang up, transfer by REFER, put on
//! hold — while sending and capturing PCMU audio.
//!
//! Registration is `SipPhone::register` (digest computed independently of
//! the server); SIP text helpers and the RTP side (`RtpMedia`) come from
//! `call_phone.rs`. One call at a time: `wait_invite` starts the next one.
//! Requests the phone is not waiting for yet are kept, not lost, and
//! retransmissions of a request already seen are skipped.
//!
//! ```ignore
//! let mut anna = AgentPhone::register(server.sip(), "anna", "secret").await;
//! // ... a caller presses 0 ...
//! let invite = anna.wait_invite(DEADLINE).await.expect("anna's phone rings");
//! assert_eq!(invite.display_name.as_deref(), Some("Абитуриент · приём"));
//! anna.ring().await;
//! assert!(anna.answer().await, "the server ACKs our 200");
//! anna.send_tone(440.0, 400).await;
//! assert_eq!(anna.hang_up().await, Some(200));
//! ```
#![allow(dead_code)]

use super::call_phone::{
    Received, RtpMedia, SipInbox, body_of, decode, header, sort_sip, status_of, tone,
};
use super::sip_phone::SipPhone;
use hotline::media::g711::CodecKind;
use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// How long the phone waits for the server's side of an exchange (an ACK,
/// a final response).
pub const EXCHANGE: Duration = Duration::from_secs(5);

/// An INVITE as the operator's phone shows it before answering.
#[derive(Debug, Clone)]
pub struct Invite {
    /// The whole request text.
    pub raw: String,
    pub request_uri: String,
    /// The From display name, unquoted and unescaped (`Абитуриент · приём`).
    pub display_name: Option<String>,
    /// The user of the From URI: the caller's number.
    pub caller: String,
    /// From and To header values as sent.
    pub from: String,
    pub to: String,
    pub call_id: String,
    /// The `Call-Info` header (the inquiry's URL for the screen pop).
    pub call_info: Option<String>,
    /// The SDP offer (the server's RTP address for this leg).
    pub offer: String,
}

impl Invite {
    /// Any header of the INVITE (first value, long name).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.raw, name)
    }
}

/// The call the phone is in.
struct Call {
    invite: String,
    /// Our To tag (the phone is the UAS of this dialog).
    tag: String,
    /// The INVITE's Contact URI: where our in-dialog requests go.
    remote_target: String,
}

pub struct AgentPhone {
    sip: Arc<UdpSocket>,
    server: SocketAddr,
    pub login: String,
    pub local_sip: SocketAddr,
    /// Our RTP socket, what it captured and the sender toward the server.
    pub media: RtpMedia,
    requests: SipInbox,
    responses: SipInbox,
    /// Requests that arrived while the phone waited for something else.
    held: VecDeque<String>,
    /// (Call-ID, CSeq) of requests already taken: retransmissions are skipped.
    seen: HashSet<(String, String)>,
    call: Option<Call>,
    cseq: u32,
    calls_taken: u32,
    /// Answer every new INVITE with `100 Trying` at once, as desk phones and
    /// softphones do (default). With it, a call the operator ignores can be
    /// cancelled at once (RFC 3261 §9.1 allows no CANCEL before a
    /// provisional); set false to play a phone that stays mute.
    pub send_trying: bool,
}

impl AgentPhone {
    /// Binds 127.0.0.1:0, registers `login` with digest (Expires 3600,
    /// Contact = this socket) and returns the phone ready for calls.
    /// Panics unless the server answers 200.
    pub async fn register(server: SocketAddr, login: &str, password: &str) -> AgentPhone {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut registrar = SipPhone::on_udp(socket, server);
        let contact = registrar.contact(login);
        let response = registrar
            .register(login, password, Some(&contact), Some(3600))
            .await;
        assert_eq!(response.status, 200, "{login} registers: {}", response.raw);
        let sip = Arc::new(registrar.into_udp().unwrap());
        let local_sip = sip.local_addr().unwrap();
        let (requests, responses) = sort_sip(sip.clone());
        AgentPhone {
            sip,
            server,
            login: login.to_string(),
            local_sip,
            media: RtpMedia::bind(CodecKind::Pcmu).await,
            requests,
            responses,
            held: VecDeque::new(),
            seen: HashSet::new(),
            call: None,
            cseq: 0,
            calls_taken: 0,
            send_trying: true,
        }
    }

    /// Waits for a new INVITE (not a re-INVITE) and makes it the current
    /// call. Only `100 Trying` is sent (see `send_trying`); then call
    /// `ring`, `answer`, `decline` — or nothing, for an operator who does
    /// not pick up (then `wait_cancel` sees the server give up).
    pub async fn wait_invite(&mut self, within: Duration) -> Option<Invite> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let request = self.next_request(&["INVITE"], left).await?;
            let to = header(&request, "To").unwrap_or("");
            if to.contains(";tag=") {
                self.held.push_back(request); // a re-INVITE: not for us here
                continue;
            }
            self.calls_taken += 1;
            let contact = header(&request, "Contact").unwrap_or("");
            self.call = Some(Call {
                invite: request.clone(),
                tag: format!("ag{}-{}", self.local_sip.port(), self.calls_taken),
                remote_target: uri_of(contact).to_string(),
            });
            if self.send_trying {
                // `respond` leaves a 100 without a To tag (RFC 3261 §8.2.6.1).
                self.respond(&request, 100, "Trying", "", "").await;
            }
            let from = header(&request, "From").unwrap_or("").to_string();
            return Some(Invite {
                request_uri: request.split(' ').nth(1).unwrap_or_default().to_string(),
                display_name: display_name(&from),
                caller: user_of(uri_of(&from)).to_string(),
                to: header(&request, "To").unwrap_or("").to_string(),
                call_id: header(&request, "Call-ID").unwrap_or("").to_string(),
                call_info: header(&request, "Call-Info").map(str::to_string),
                offer: body_of(&request).to_string(),
                from,
                raw: request,
            });
        }
    }

    /// 180 Ringing for the current call.
    pub async fn ring(&mut self) {
        let invite = self.current().invite.clone();
        self.respond(&invite, 180, "Ringing", "", "").await;
    }

    /// 200 OK with our SDP (PCMU and telephone-event on our RTP socket);
    /// audio we send goes to the offer's address from now on. True when the
    /// server's ACK arrives.
    pub async fn answer(&mut self) -> bool {
        let invite = self.current().invite.clone();
        self.media.use_peer_sdp(body_of(&invite));
        let sdp = self.media.sdp(true);
        self.respond(
            &invite,
            200,
            "OK",
            "Content-Type: application/sdp\r\n",
            &sdp,
        )
        .await;
        self.next_request(&["ACK"], EXCHANGE).await.is_some()
    }

    /// A final refusal (486 Busy Here, 603 Decline...). True when the
    /// server ACKs it.
    pub async fn decline(&mut self, status: u16) -> bool {
        let invite = self.current().invite.clone();
        let reason = if status == 486 {
            "Busy Here"
        } else {
            "Decline"
        };
        self.respond(&invite, status, reason, "", "").await;
        let acked = self.next_request(&["ACK"], EXCHANGE).await.is_some();
        self.call = None;
        acked
    }

    /// Waits for the server's CANCEL of the current call and answers it
    /// like a phone: 200 to the CANCEL, 487 to the INVITE, then the ACK.
    pub async fn wait_cancel(&mut self, within: Duration) -> bool {
        let Some(cancel) = self.next_request(&["CANCEL"], within).await else {
            return false;
        };
        self.respond(&cancel, 200, "OK", "", "").await;
        let invite = self.current().invite.clone();
        self.respond(&invite, 487, "Request Terminated", "", "")
            .await;
        self.call = None;
        self.next_request(&["ACK"], EXCHANGE).await.is_some()
    }

    /// Waits for the server's BYE and answers 200.
    pub async fn wait_bye(&mut self, within: Duration) -> bool {
        let Some(bye) = self.next_request(&["BYE"], within).await else {
            return false;
        };
        self.respond(&bye, 200, "OK", "", "").await;
        self.call = None;
        true
    }

    /// Dials `number` from this phone (a feature code such as `*50`):
    /// the final status; after a 2xx the ACK is sent and the server's own
    /// BYE (it hangs up after the confirmation) is awaited and answered.
    pub async fn dial(&mut self, number: &str) -> (u16, bool) {
        let sdp = self.media.sdp(true);
        let port = self.local_sip.port();
        self.cseq += 1;
        let invite = format!(
            "INVITE sip:{number}@{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-fc-{port}-{c};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{login}@{me}>;tag=fc{port}\r\nTo: <sip:{number}@{srv}>\r\nCall-ID: fc-{port}-{c}\r\nCSeq: 1 INVITE\r\nContact: <sip:{login}@{me}>\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            srv = self.server,
            me = self.local_sip,
            login = self.login,
            c = self.cseq,
            len = sdp.len(),
        );
        self.send(&invite).await;
        let response = loop {
            let r = tokio::time::timeout(EXCHANGE, self.responses.recv())
                .await
                .expect("INVITE answered")
                .unwrap();
            if status_of(&r).is_some_and(|s| s >= 200) {
                break r;
            }
        };
        let status = status_of(&response).unwrap();
        let to = header(&response, "To").unwrap_or_default().to_string();
        let ack = format!(
            "ACK sip:{number}@{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-fcack-{port}-{c};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{login}@{me}>;tag=fc{port}\r\nTo: {to}\r\nCall-ID: fc-{port}-{c}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            srv = self.server,
            me = self.local_sip,
            login = self.login,
            c = self.cseq,
        );
        self.send(&ack).await;
        if status >= 300 {
            return (status, false);
        }
        self.media.use_peer_sdp(body_of(&response));
        let Some(bye) = self.next_request(&["BYE"], Duration::from_secs(15)).await else {
            return (status, false);
        };
        let mut ok = String::from("SIP/2.0 200 OK\r\n");
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            if let Some(v) = header(&bye, name) {
                ok.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        ok.push_str("Content-Length: 0\r\n\r\n");
        self.send(&ok).await;
        (status, true)
    }

    /// Hangs up the answered call; the status of the server's answer.
    pub async fn hang_up(&mut self) -> Option<u16> {
        let status = self.request("BYE", "", "").await;
        self.call = None;
        status
    }

    /// Blind transfer: REFER with `Refer-To: <target>` (and Referred-By
    /// this login). The status of the server's answer (202 expected).
    pub async fn refer(&mut self, target: &str) -> Option<u16> {
        let extra = format!(
            "Refer-To: <{target}>\r\nReferred-By: <sip:{}@{}>\r\n",
            self.login, self.local_sip
        );
        self.request("REFER", &extra, "").await
    }

    /// Waits for the NOTIFY reporting a transfer's outcome, answers 200
    /// and returns its message/sipfrag body (`SIP/2.0 200 OK`).
    pub async fn wait_notify(&mut self, within: Duration) -> Option<String> {
        let notify = self.next_request(&["NOTIFY"], within).await?;
        self.respond(&notify, 200, "OK", "", "").await;
        Some(body_of(&notify).trim_end().to_string())
    }

    /// Puts the caller on hold: re-INVITE with our SDP `a=sendonly`, ACKs
    /// the answer. Returns the status and the answer's SDP.
    pub async fn hold(&mut self) -> (Option<u16>, String) {
        self.reinvite("sendonly").await
    }

    /// Takes the caller off hold (`a=sendrecv`).
    pub async fn resume(&mut self) -> (Option<u16>, String) {
        self.reinvite("sendrecv").await
    }

    async fn reinvite(&mut self, direction: &str) -> (Option<u16>, String) {
        let sdp = self
            .media
            .sdp(true)
            .replace("a=sendrecv", &format!("a={direction}"))
            .replace("o=test 1 1", &format!("o=test 1 {}", self.cseq + 2));
        let (status, response) = self
            .request_with_response("INVITE", "Content-Type: application/sdp\r\n", &sdp)
            .await;
        if status.is_some_and(|s| s >= 200) {
            let cseq = self.cseq;
            let ack = self.dialog_request("ACK", cseq, "", "");
            self.send(&ack).await;
        }
        (status, body_of(&response).to_string())
    }

    /// Sends `ms` of a sine tone at `frequency` Hz as PCMU, paced in real
    /// time (checkable by content on the caller's side).
    pub async fn send_tone(&mut self, frequency: f64, ms: usize) {
        self.media.send_samples(&tone(frequency, ms)).await;
    }

    /// Sends `frames` 20 ms frames of silence (lets the server latch onto
    /// our RTP address).
    pub async fn send_silence(&mut self, frames: usize) {
        self.media.send_silence(frames).await;
    }

    /// Audio packets received so far.
    pub fn audio_packets(&self) -> Vec<Received> {
        self.media.audio_packets()
    }

    /// Waits until at least `n` audio packets arrived; returns them.
    pub async fn wait_packets(&self, n: usize, within: Duration) -> Vec<Received> {
        self.media.wait_packets(n, within).await
    }

    /// Everything heard so far, decoded to samples in sequence order.
    pub fn heard(&self) -> Vec<i16> {
        decode(&self.audio_packets())
    }

    fn current(&self) -> &Call {
        self.call
            .as_ref()
            .expect("no current call: wait_invite first")
    }

    async fn send(&self, text: &str) {
        self.sip
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
    }

    /// The next new request whose method is one of `methods`; others are
    /// held for later, retransmissions of requests already taken dropped.
    async fn next_request(&mut self, methods: &[&str], within: Duration) -> Option<String> {
        let wanted = |r: &str| methods.iter().any(|m| r.starts_with(&format!("{m} ")));
        if let Some(i) = self.held.iter().position(|r| wanted(r)) {
            return self.held.remove(i);
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let request = tokio::time::timeout(left, self.requests.recv())
                .await
                .ok()??;
            let id = (
                header(&request, "Call-ID").unwrap_or("").to_string(),
                header(&request, "CSeq").unwrap_or("").to_string(),
            );
            if !self.seen.insert(id) {
                continue; // a retransmission
            }
            if wanted(&request) {
                return Some(request);
            }
            self.held.push_back(request);
        }
    }

    /// A response to `request` from this phone: its Vias, From, To (with
    /// our tag), Call-ID, CSeq, our Contact, then `extra` and `body`.
    async fn respond(&mut self, request: &str, status: u16, reason: &str, extra: &str, body: &str) {
        let tag = self
            .call
            .as_ref()
            .map(|c| c.tag.clone())
            .unwrap_or_default();
        let mut text = format!("SIP/2.0 {status} {reason}\r\n");
        for via in all_headers(request, "Via") {
            text.push_str(&format!("Via: {via}\r\n"));
        }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            let value = header(request, name).unwrap_or("");
            if name == "To" && !value.contains(";tag=") && status > 100 {
                text.push_str(&format!("To: {value};tag={tag}\r\n"));
            } else {
                text.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        text.push_str(&format!(
            "Contact: <sip:{}@{}>\r\nUser-Agent: hotline-test-agent\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            self.login,
            self.local_sip,
            body.len()
        ));
        self.send(&text).await;
    }

    /// An in-dialog request of the current call (the phone is the UAS, so
    /// From is the INVITE's To with our tag and To is the INVITE's From).
    fn dialog_request(&self, method: &str, cseq: u32, extra: &str, body: &str) -> String {
        let call = self.current();
        let port = self.local_sip.port();
        let branch = if method == "ACK" {
            format!("z9hG4bK-ag{port}-{cseq}-ack")
        } else {
            format!("z9hG4bK-ag{port}-{cseq}-{}", method.to_ascii_lowercase())
        };
        format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: {to};tag={tag}\r\nTo: {from}\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\nContact: <sip:{login}@{me}>\r\n{extra}Content-Length: {len}\r\n\r\n{body}",
            target = call.remote_target,
            me = self.local_sip,
            to = header(&call.invite, "To").unwrap_or(""),
            tag = call.tag,
            from = header(&call.invite, "From").unwrap_or(""),
            cid = header(&call.invite, "Call-ID").unwrap_or(""),
            login = self.login,
            len = body.len(),
        )
    }

    /// Sends an in-dialog request; the final status of its answer.
    async fn request(&mut self, method: &str, extra: &str, body: &str) -> Option<u16> {
        self.request_with_response(method, extra, body).await.0
    }

    async fn request_with_response(
        &mut self,
        method: &str,
        extra: &str,
        body: &str,
    ) -> (Option<u16>, String) {
        self.cseq += 1;
        let text = self.dialog_request(method, self.cseq, extra, body);
        self.send(&text).await;
        let want = format!("{} {method}", self.cseq);
        let deadline = Instant::now() + EXCHANGE;
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return (None, String::new());
            };
            let Ok(Some(response)) = tokio::time::timeout(left, self.responses.recv()).await else {
                return (None, String::new());
            };
            let status = status_of(&response);
            if header(&response, "CSeq") == Some(want.as_str()) && status.is_some_and(|s| s >= 200)
            {
                return (status, response);
            }
        }
    }
}

/// Every value of a header (one per line, long name or compact `v` for Via).
fn all_headers<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            let n = n.trim();
            (n.eq_ignore_ascii_case(name) || (name == "Via" && n == "v")).then(|| v.trim())
        })
        .collect()
}

/// The URI of a name-addr (`"x" <sip:a@b>;tag=1` → `sip:a@b`).
fn uri_of(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(start), Some(end)) if start < end => &value[start + 1..end],
        _ => value.split(';').next().unwrap_or("").trim(),
    }
}

/// The user part of a SIP URI (`sip:79161234567@host` → `79161234567`).
fn user_of(uri: &str) -> &str {
    let rest = uri.split_once(':').map(|(_, r)| r).unwrap_or(uri);
    rest.split_once('@').map(|(u, _)| u).unwrap_or("")
}

/// The display name of a name-addr, a quoted-string unescaped.
fn display_name(value: &str) -> Option<String> {
    let value = value.trim();
    if let Some(rest) = value.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                '"' => return Some(out),
                c => out.push(c),
            }
        }
        return None;
    }
    let name = value.split('<').next()?.trim();
    (!name.is_empty() && value.contains('<')).then(|| name.to_string())
}
