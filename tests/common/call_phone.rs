//! A caller's phone for end-to-end tests: dials over UDP, answers the
//! server's requests (BYE), captures the RTP it receives and decodes the
//! G.711, and presses keys three ways (RFC 4733, SIP INFO, in-band tones).
//! RTP headers are built and read by hand here, independently of the
//! server's RTP code. The RTP side ([`RtpMedia`]) and the small SIP text
//! helpers are shared with the operator's phone (`agent_phone.rs`).
#![allow(dead_code)]

use hotline::media::g711::CodecKind;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// One RTP packet as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
pub struct DialOptions {
    pub codec: CodecKind,
    /// Offer telephone-event/8000 (without it the server must detect
    /// in-band tones).
    pub telephone_event: bool,
}

impl Default for DialOptions {
    fn default() -> Self {
        DialOptions {
            codec: CodecKind::Pcmu,
            telephone_event: true,
        }
    }
}

pub struct CallPhone {
    sip: Arc<UdpSocket>,
    server: SocketAddr,
    pub local_sip: SocketAddr,
    pub call_id: String,
    from_tag: String,
    pub to_tag: String,
    number: String,
    cseq: u32,
    pub final_status: u16,
    pub answer_sdp: String,
    pub media: RtpMedia,
    requests: tokio::sync::mpsc::UnboundedReceiver<String>,
    responses: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// The first value of header `name` in a message's text (long names only).
pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
}

/// The status of a response's text, None for a request.
pub fn status_of(msg: &str) -> Option<u16> {
    msg.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

pub fn body_of(msg: &str) -> &str {
    msg.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
}

/// Requests and responses a test phone's SIP socket received, in order.
pub type SipInbox = tokio::sync::mpsc::UnboundedReceiver<String>;

/// Binds a UDP socket for SIP and sorts what it receives into
/// (socket, requests, responses), each read in order by the phone.
pub async fn sip_socket(bind: &str) -> (Arc<UdpSocket>, SipInbox, SipInbox) {
    let sip = Arc::new(UdpSocket::bind(bind).await.unwrap());
    let (requests, responses) = sort_sip(sip.clone());
    (sip, requests, responses)
}

/// Reads `sip` in a task, sorting datagrams into (requests, responses).
pub fn sort_sip(sip: Arc<UdpSocket>) -> (SipInbox, SipInbox) {
    let (req_tx, requests) = tokio::sync::mpsc::unbounded_channel();
    let (resp_tx, responses) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, _)) = sip.recv_from(&mut buf).await {
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            let tx = if text.starts_with("SIP/2.0 ") {
                &resp_tx
            } else {
                &req_tx
            };
            if tx.send(text).is_err() {
                break;
            }
        }
    });
    (requests, responses)
}

/// The RTP side of a test phone: one socket on 127.0.0.1, every packet it
/// receives captured, and a sender with its own sequence, timestamp and
/// SSRC toward `remote`.
pub struct RtpMedia {
    socket: Arc<UdpSocket>,
    pub received: Arc<Mutex<Vec<Received>>>,
    /// Where sent packets go (the peer's SDP address).
    pub remote: SocketAddr,
    pub codec: CodecKind,
    /// Payload type of telephone-event as the peer's SDP names it.
    pub dtmf_pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
}

impl RtpMedia {
    /// Binds a socket on 127.0.0.1 (port 0) and starts capturing.
    pub async fn bind(codec: CodecKind) -> RtpMedia {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let rtp_in = socket.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            while let Ok((n, _)) = rtp_in.recv_from(&mut buf).await {
                let p = &buf[..n];
                if n < 12 || p[0] >> 6 != 2 {
                    continue;
                }
                let cc = (p[0] & 0x0f) as usize;
                let start = 12 + 4 * cc;
                if start > n {
                    continue;
                }
                sink.lock().unwrap().push(Received {
                    at: Instant::now(),
                    payload_type: p[1] & 0x7f,
                    marker: p[1] & 0x80 != 0,
                    sequence: u16::from_be_bytes([p[2], p[3]]),
                    timestamp: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
                    ssrc: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
                    payload: p[start..].to_vec(),
                });
            }
        });
        let remote = socket.local_addr().unwrap();
        RtpMedia {
            socket,
            received,
            remote,
            codec,
            dtmf_pt: 101,
            seq: 1000,
            ts: 50_000,
            ssrc: 0x1234_5678,
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    /// An SDP offer/answer for this socket: our codec, telephone-event when
    /// asked, ptime 20, `a=sendrecv`.
    pub fn sdp(&self, telephone_event: bool) -> String {
        let rtp = self.local_addr();
        let pt = self.codec.static_payload_type();
        let name = match self.codec {
            CodecKind::Pcmu => "PCMU",
            CodecKind::Pcma => "PCMA",
        };
        let (fmts, te) = if telephone_event {
            (
                format!("{pt} 101"),
                "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n",
            )
        } else {
            (format!("{pt}"), "")
        };
        format!(
            "v=0\r\no=test 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP {fmts}\r\na=rtpmap:{pt} {name}/8000\r\n{te}a=ptime:20\r\na=sendrecv\r\n",
            rtp.port()
        )
    }

    /// Takes the peer's address and telephone-event type from its SDP.
    pub fn use_peer_sdp(&mut self, sdp: &str) {
        self.remote = parse_sdp_addr(sdp);
        if let Some(pt) = sdp.lines().find_map(|l| {
            l.strip_prefix("a=rtpmap:")?
                .split_once(" telephone-event")
                .map(|(pt, _)| pt.parse().unwrap())
        }) {
            self.dtmf_pt = pt;
        }
    }

    async fn send_rtp(&mut self, pt: u8, marker: bool, ts: u32, payload: &[u8]) {
        let mut p = Vec::with_capacity(12 + payload.len());
        p.push(0x80);
        p.push(pt | if marker { 0x80 } else { 0 });
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.socket.send_to(&p, self.remote).await.unwrap();
    }

    /// Sends `samples` as 20 ms frames of our codec, paced in real time.
    pub async fn send_samples(&mut self, samples: &[i16]) {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for frame in samples.chunks(160) {
            tick.tick().await;
            let payload: Vec<u8> = frame.iter().map(|&s| self.codec.encode(s)).collect();
            let ts = self.ts;
            self.send_rtp(self.codec.static_payload_type(), false, ts, &payload)
                .await;
            self.ts = self.ts.wrapping_add(160);
        }
    }

    /// Sends `frames` 20 ms frames of silence, paced in real time (the
    /// server latches onto our address from them).
    pub async fn send_silence(&mut self, frames: usize) {
        self.send_samples(&vec![0; frames * 160]).await;
    }

    /// RFC 4733: a 100 ms event with three end packets, as phones send it.
    pub async fn press_rfc4733(&mut self, key: char) {
        let event = match key {
            '0'..='9' => key as u8 - b'0',
            '*' => 10,
            '#' => 11,
            _ => panic!("key {key}"),
        };
        let ts = self.ts;
        let pt = self.dtmf_pt;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for i in 1..=5u16 {
            tick.tick().await;
            let dur = i * 160;
            let payload = [event, 10, (dur >> 8) as u8, dur as u8];
            self.send_rtp(pt, i == 1, ts, &payload).await;
        }
        for _ in 0..3 {
            let payload = [event, 0x80 | 10, (800u16 >> 8) as u8, 800u16 as u8];
            self.send_rtp(pt, false, ts, &payload).await;
        }
        self.ts = self.ts.wrapping_add(800);
    }

    /// In-band: the two DTMF frequencies for 100 ms, then 100 ms silence.
    pub async fn press_inband(&mut self, key: char) {
        let (low, high) = match key {
            '1' => (697.0, 1209.0),
            '2' => (697.0, 1336.0),
            '3' => (697.0, 1477.0),
            '4' => (770.0, 1209.0),
            '5' => (770.0, 1336.0),
            '6' => (770.0, 1477.0),
            '7' => (852.0, 1209.0),
            '8' => (852.0, 1336.0),
            '9' => (852.0, 1477.0),
            '*' => (941.0, 1209.0),
            '0' => (941.0, 1336.0),
            '#' => (941.0, 1477.0),
            _ => panic!("key {key}"),
        };
        let samples: Vec<i16> = (0..1600)
            .map(|n| {
                let t = n as f64 / 8000.0;
                if n < 800 {
                    (8000.0
                        * ((2.0 * std::f64::consts::PI * low * t).sin()
                            + (2.0 * std::f64::consts::PI * high * t).sin()))
                        as i16
                } else {
                    0
                }
            })
            .collect();
        self.send_samples(&samples).await;
    }

    /// Audio packets (not telephone-events) received so far.
    pub fn audio_packets(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.payload_type == 0 || p.payload_type == 8)
            .cloned()
            .collect()
    }

    /// Waits until at least `n` audio packets arrived.
    pub async fn wait_packets(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let packets = self.audio_packets();
            if packets.len() >= n || Instant::now() > deadline {
                return packets;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A sine tone of `frequency` Hz, `ms` long, at 8 kHz: distinct audio whose
/// arrival on the far side can be checked by content.
pub fn tone(frequency: f64, ms: usize) -> Vec<i16> {
    (0..ms * 8)
        .map(|n| {
            (12_000.0 * (2.0 * std::f64::consts::PI * frequency * n as f64 / 8000.0).sin()) as i16
        })
        .collect()
}

impl CallPhone {
    /// Dials `number`; returns the phone once the call is answered (200 and
    /// ACK sent) or with `final_status` set to the rejection.
    pub async fn dial(server: SocketAddr, number: &str, options: DialOptions) -> CallPhone {
        let (sip, requests, responses) = sip_socket("127.0.0.1:0").await;
        let local_sip = sip.local_addr().unwrap();
        let media = RtpMedia::bind(options.codec).await;
        let mut phone = CallPhone {
            sip,
            server,
            local_sip,
            call_id: format!("call-{}-{}", local_sip.port(), std::process::id()),
            from_tag: format!("ft{}", local_sip.port()),
            to_tag: String::new(),
            number: number.to_string(),
            cseq: 1,
            final_status: 0,
            answer_sdp: String::new(),
            media,
            requests,
            responses,
        };
        phone.invite(options).await;
        phone
    }

    /// Dials with a hand-written media section; returns the final status.
    pub async fn dial_raw_offer(server: SocketAddr, number: &str, media: &str) -> u16 {
        let sip = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let me = sip.local_addr().unwrap();
        let sdp = format!(
            "v=0\r\no=test 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n{media}"
        );
        let invite = format!(
            "INVITE sip:{number}@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-raw-{p};rport\r\nMax-Forwards: 70\r\nFrom: <sip:79160000000@{me}>;tag=raw\r\nTo: <sip:{number}@{server}>\r\nCall-ID: raw-{p}\r\nCSeq: 1 INVITE\r\nContact: <sip:79160000000@{me}>\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            p = me.port(),
            len = sdp.len()
        );
        sip.send_to(invite.as_bytes(), server).await.unwrap();
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, _) = tokio::time::timeout(Duration::from_secs(5), sip.recv_from(&mut buf))
                .await
                .expect("answered")
                .unwrap();
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            if let Some(status) = status_of(&text)
                && status >= 200
            {
                return status;
            }
        }
    }

    fn offer(&self, options: DialOptions) -> String {
        self.media.sdp(options.telephone_event)
    }

    async fn invite(&mut self, options: DialOptions) {
        let sdp = self.offer(options);
        let branch = format!("z9hG4bK-inv-{}", self.local_sip.port());
        let invite = format!(
            "INVITE sip:{num}@{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: \"Test Caller\" <sip:79161234567@{me}>;tag={ft}\r\nTo: <sip:{num}@{srv}>\r\nCall-ID: {cid}\r\nCSeq: 1 INVITE\r\nContact: <sip:79161234567@{me}>\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            num = self.number,
            srv = self.server,
            me = self.local_sip,
            ft = self.from_tag,
            cid = self.call_id,
            len = sdp.len(),
        );
        self.sip
            .send_to(invite.as_bytes(), self.server)
            .await
            .unwrap();
        loop {
            let resp = tokio::time::timeout(Duration::from_secs(5), self.responses.recv())
                .await
                .expect("INVITE answered within 5 s")
                .unwrap();
            let status = status_of(&resp).unwrap();
            if status < 200 {
                continue;
            }
            self.final_status = status;
            if let Some(to) = header(&resp, "To") {
                if let Some(tag) = to.split(";tag=").nth(1) {
                    self.to_tag = tag.split(';').next().unwrap().to_string();
                }
            }
            if status >= 300 {
                // The transaction layer wants an ACK for a final non-2xx too.
                self.send_ack(&branch).await;
                return;
            }
            self.answer_sdp = body_of(&resp).to_string();
            self.media.use_peer_sdp(&self.answer_sdp);
            self.send_ack(&format!("z9hG4bK-ack-{}", self.local_sip.port()))
                .await;
            return;
        }
    }

    /// The text of an in-dialog request (our tag, the server's tag).
    fn dialog_request(
        &self,
        method: &str,
        branch: &str,
        cseq: u32,
        extra: &str,
        body: &str,
    ) -> String {
        format!(
            "{method} sip:{num}@{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:79161234567@{me}>;tag={ft}\r\nTo: <sip:{num}@{srv}>;tag={tt}\r\nCall-ID: {cid}\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: {len}\r\n\r\n{body}",
            num = self.number,
            srv = self.server,
            me = self.local_sip,
            ft = self.from_tag,
            tt = self.to_tag,
            cid = self.call_id,
            len = body.len(),
        )
    }

    /// The ACK of the INVITE with CSeq `cseq`.
    async fn send_ack_for(&self, branch: &str, cseq: u32) {
        let ack = self.dialog_request("ACK", branch, cseq, "", "");
        self.sip.send_to(ack.as_bytes(), self.server).await.unwrap();
    }

    async fn send_ack(&self, branch: &str) {
        self.send_ack_for(branch, 1).await;
    }

    /// The next final response to a request with this CSeq method.
    async fn final_response(&mut self, method: &str) -> String {
        loop {
            let resp = tokio::time::timeout(Duration::from_secs(5), self.responses.recv())
                .await
                .unwrap_or_else(|_| panic!("{method} answered within 5 s"))
                .unwrap();
            let status = status_of(&resp).unwrap();
            if status >= 200 && header(&resp, "CSeq").is_some_and(|c| c.ends_with(method)) {
                return resp;
            }
        }
    }

    /// An in-dialog request; returns the final status.
    async fn request(&mut self, method: &str, extra: &str, body: &str) -> u16 {
        self.cseq += 1;
        let branch = format!("z9hG4bK-{method}-{}-{}", self.cseq, self.local_sip.port());
        let req = self.dialog_request(method, &branch, self.cseq, extra, body);
        self.sip.send_to(req.as_bytes(), self.server).await.unwrap();
        status_of(&self.final_response(method).await).unwrap()
    }

    /// re-INVITE with our offer in `direction` (`sendonly` = hold); returns
    /// the status and the answer's SDP body.
    pub async fn reinvite(&mut self, direction: &str) -> (u16, String) {
        let offer = self
            .offer(DialOptions {
                codec: self.media.codec,
                telephone_event: true,
            })
            .replace("a=sendrecv", &format!("a={direction}"))
            .replace("o=test 1 1", "o=test 1 2");
        self.cseq += 1;
        let branch = format!("z9hG4bK-reinv-{}-{}", self.cseq, self.local_sip.port());
        let extra = format!(
            "Contact: <sip:79161234567@{}>\r\nContent-Type: application/sdp\r\n",
            self.local_sip
        );
        let req = self.dialog_request("INVITE", &branch, self.cseq, &extra, &offer);
        self.sip.send_to(req.as_bytes(), self.server).await.unwrap();
        let resp = self.final_response("INVITE").await;
        self.send_ack_for(&format!("{branch}-ack"), self.cseq).await;
        (status_of(&resp).unwrap(), body_of(&resp).to_string())
    }

    pub async fn hang_up(&mut self) -> u16 {
        self.request("BYE", "", "").await
    }

    /// Waits for the server's BYE and answers it 200.
    pub async fn wait_for_bye(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            let Ok(Some(req)) = tokio::time::timeout(left, self.requests.recv()).await else {
                return false;
            };
            if req.starts_with("BYE ") {
                let mut resp = String::from("SIP/2.0 200 OK\r\n");
                for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
                    if let Some(v) = header(&req, name) {
                        resp.push_str(&format!("{name}: {v}\r\n"));
                    }
                }
                resp.push_str("Content-Length: 0\r\n\r\n");
                self.sip
                    .send_to(resp.as_bytes(), self.server)
                    .await
                    .unwrap();
                return true;
            }
        }
    }

    /// Waits for an INVITE to this phone (the server calling back), answers
    /// 200 with our SDP and takes the server's media address from its
    /// offer. Returns the INVITE's text once the ACK arrived.
    pub async fn answer_incoming(&mut self, within: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + within;
        let invite = loop {
            let req = tokio::time::timeout_at(deadline, self.requests.recv())
                .await
                .ok()??;
            if req.starts_with("INVITE ") {
                break req;
            }
        };
        let sdp = self.media.sdp(true);
        let mut resp = String::from("SIP/2.0 200 OK\r\n");
        for name in ["Via", "From", "Call-ID", "CSeq"] {
            if let Some(v) = header(&invite, name) {
                resp.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        let to = header(&invite, "To").unwrap_or_default();
        resp.push_str(&format!(
            "To: {to};tag=cb{}\r\nContact: <sip:79161234567@{}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            self.local_sip.port(),
            self.local_sip,
            sdp.len()
        ));
        self.media.use_peer_sdp(body_of(&invite));
        self.sip
            .send_to(resp.as_bytes(), self.server)
            .await
            .unwrap();
        loop {
            let req = tokio::time::timeout_at(deadline, self.requests.recv())
                .await
                .ok()??;
            if req.starts_with("ACK ") {
                return Some(invite);
            }
        }
    }

    pub async fn press_info(&mut self, key: char) -> u16 {
        let body = format!("Signal={key}\r\nDuration=160\r\n");
        self.request("INFO", "Content-Type: application/dtmf-relay\r\n", &body)
            .await
    }

    /// Sends `frames` 20 ms frames of silence, paced in real time (the
    /// server latches onto our address from them).
    pub async fn send_silence(&mut self, frames: usize) {
        self.media.send_silence(frames).await;
    }

    pub async fn press_rfc4733(&mut self, key: char) {
        self.media.press_rfc4733(key).await;
    }

    pub async fn press_inband(&mut self, key: char) {
        self.media.press_inband(key).await;
    }

    /// Audio packets (not telephone-events) received so far.
    pub fn audio_packets(&self) -> Vec<Received> {
        self.media.audio_packets()
    }

    /// Waits until at least `n` audio packets arrived.
    pub async fn wait_packets(&self, n: usize, within: Duration) -> Vec<Received> {
        self.media.wait_packets(n, within).await
    }
}

/// The RTP address an SDP body names (`c=IN IP4` and `m=audio`).
pub fn parse_sdp_addr(sdp: &str) -> SocketAddr {
    let ip = sdp
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .expect("c= line")
        .trim();
    let port = sdp
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split(' ').next())
        .expect("m=audio")
        .parse::<u16>()
        .unwrap();
    format!("{ip}:{port}").parse().unwrap()
}

/// Decodes received packets (in sequence order) into samples.
pub fn decode(packets: &[Received]) -> Vec<i16> {
    let mut sorted = packets.to_vec();
    sorted.sort_by_key(|p| p.sequence);
    sorted
        .iter()
        .flat_map(|p| {
            let kind = if p.payload_type == 8 {
                CodecKind::Pcma
            } else {
                CodecKind::Pcmu
            };
            p.payload.iter().map(move |&b| kind.decode(b))
        })
        .collect()
}

/// The prompt as a phone would hear it: the WAV through G.711.
pub fn prompt_samples(path: &std::path::Path, codec: CodecKind) -> Vec<i16> {
    let mut reader = hound::WavReader::open(path).unwrap();
    reader
        .samples::<i16>()
        .map(|s| codec.decode(codec.encode(s.unwrap())))
        .collect()
}

/// Best normalised correlation of `expected` (its first `len` samples)
/// within `heard`, at frame-aligned offsets up to `max_offset`.
pub fn best_correlation(heard: &[i16], expected: &[i16], len: usize, max_offset: usize) -> f64 {
    let len = len.min(expected.len());
    let e = &expected[..len];
    let e_energy: f64 = e.iter().map(|&x| (x as f64).powi(2)).sum();
    let mut best = 0.0f64;
    let mut offset = 0;
    while offset <= max_offset && offset + len <= heard.len() {
        let h = &heard[offset..offset + len];
        let h_energy: f64 = h.iter().map(|&x| (x as f64).powi(2)).sum();
        let dot: f64 = h.iter().zip(e).map(|(&a, &b)| a as f64 * b as f64).sum();
        if h_energy > 0.0 && e_energy > 0.0 {
            best = best.max(dot / (h_energy.sqrt() * e_energy.sqrt()));
        }
        offset += 160;
    }
    best
}
