//! SDP (RFC 4566) for G.711 audio calls and the offer/answer rules of
//! RFC 3264 that a contact centre needs: pick PCMU or PCMA in the caller's
//! order, keep telephone-event if offered, mirror the direction, reject every
//! other stream with port 0.
//!
//! The parser is strict about structure (every line `x=value`, numbers that
//! parse, addresses that parse) and lenient about what it does not use
//! (unknown attributes and line types are kept out of the way). It never
//! panics on input: SDP comes from the network.

use super::g711::CodecKind;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// Largest SDP body we accept; real offers are well under 4 KiB.
pub const MAX_SDP_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The answerer's direction for an offered one (RFC 3264 §6.1).
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// Whether the side having this direction sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the side having this direction receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    fn parse(attr: &str) -> Option<Direction> {
        match attr {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// `a=rtpmap:<pt> <name>/<rate>[/<channels>]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u8>,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, ...
    pub media: String,
    pub port: u16,
    /// `RTP/AVP`, `RTP/SAVP`, ...
    pub proto: String,
    /// The format list as written (payload types for RTP profiles).
    pub formats: Vec<String>,
    /// Media-level `c=` address.
    pub connection: Option<IpAddr>,
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp:<pt> <params>`
    pub fmtps: Vec<(u8, String)>,
    pub ptime: Option<u32>,
    pub direction: Option<Direction>,
}

impl MediaDescription {
    /// Payload types of the format list, skipping non-numeric ones.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats.iter().filter_map(|f| f.parse::<u8>().ok())
    }

    pub fn rtpmap(&self, payload_type: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|m| m.payload_type == payload_type)
    }

    /// The G.711 law a payload type stands for: its rtpmap if present, else
    /// the static assignment of RFC 3551.
    fn g711_kind(&self, payload_type: u8) -> Option<CodecKind> {
        match self.rtpmap(payload_type) {
            Some(m) if m.clock_rate == 8000 && m.channels.unwrap_or(1) == 1 => {
                if m.encoding.eq_ignore_ascii_case("PCMU") {
                    Some(CodecKind::Pcmu)
                } else if m.encoding.eq_ignore_ascii_case("PCMA") {
                    Some(CodecKind::Pcma)
                } else {
                    None
                }
            }
            Some(_) => None,
            None => match payload_type {
                0 => Some(CodecKind::Pcmu),
                8 => Some(CodecKind::Pcma),
                _ => None,
            },
        }
    }

    fn telephone_event_pt(&self) -> Option<u8> {
        self.payload_types().find(|&pt| {
            self.rtpmap(pt).is_some_and(|m| {
                m.encoding.eq_ignore_ascii_case("telephone-event") && m.clock_rate == 8000
            })
        })
    }
}

/// A parsed SDP body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionDescription {
    /// `o=` session id and version, kept to detect a changed re-offer.
    pub origin_session_id: String,
    pub origin_version: String,
    /// Session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    pub media: Vec<MediaDescription>,
}

/// A G.711 codec as negotiated: the payload type the peer uses for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Codec {
    pub payload_type: u8,
    pub kind: CodecKind,
}

/// The outcome of negotiating an offer: everything the media session needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub codec: Codec,
    /// Payload type of telephone-event/8000, kept as the offerer numbered it.
    pub dtmf_pt: Option<u8>,
    /// Where to send RTP (until symmetric RTP latches onto the real source).
    /// For an RFC 2543 hold (`c=0.0.0.0`) the IP is unspecified.
    pub remote: SocketAddr,
    /// Our direction in the answer (the offered one reversed).
    pub direction: Direction,
    /// Packetisation the offerer asked for (we always send 20 ms).
    pub ptime: Option<u32>,
    /// Index of the accepted `m=` line in the offer.
    pub media_index: usize,
}

impl Answer {
    /// Whether the peer put us on hold (old style `c=0.0.0.0`, or a
    /// direction that stops it receiving from us).
    pub fn remote_on_hold(&self) -> bool {
        self.remote.ip().is_unspecified() || !self.direction.sends()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("malformed SDP at line {line}: {reason}")]
    Malformed { line: usize, reason: String },
    #[error("SDP body too large")]
    TooLarge,
    #[error("no audio stream in the offer")]
    NoAudio,
    #[error("no common codec (we support PCMU and PCMA)")]
    NoCommonCodec,
    #[error("no connection address for the audio stream")]
    NoConnection,
}

impl SdpError {
    /// The SIP response for an INVITE whose offer fails this way:
    /// 488 Not Acceptable Here when we understood it but cannot do it, 400
    /// when it did not parse.
    pub fn sip_status(&self) -> u16 {
        match self {
            SdpError::Malformed { .. } | SdpError::TooLarge => 400,
            SdpError::NoAudio | SdpError::NoCommonCodec | SdpError::NoConnection => 488,
        }
    }
}

fn malformed(line: usize, reason: impl Into<String>) -> SdpError {
    SdpError::Malformed {
        line,
        reason: reason.into(),
    }
}

/// `c=IN IP4 192.0.2.1[/ttl[/n]]`
fn parse_connection(value: &str, line: usize) -> Result<IpAddr, SdpError> {
    let mut it = value.split_ascii_whitespace();
    let (net, addr_type, addr) = match (it.next(), it.next(), it.next()) {
        (Some(n), Some(t), Some(a)) => (n, t, a),
        _ => return Err(malformed(line, "c= needs <nettype> <addrtype> <address>")),
    };
    if net != "IN" {
        return Err(malformed(line, format!("unsupported network type {net}")));
    }
    let addr = addr.split('/').next().unwrap_or(addr);
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| malformed(line, format!("c= address {addr:?} is not an IP address")))?;
    match (addr_type, ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Ok(ip),
        _ => Err(malformed(
            line,
            format!("address type {addr_type} does not match {ip}"),
        )),
    }
}

impl SessionDescription {
    pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        if text.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLarge);
        }
        let mut sd = SessionDescription::default();
        let mut saw_version = false;
        for (idx, raw) in text.lines().enumerate() {
            let line = idx + 1;
            let raw = raw.trim_end_matches('\r');
            if raw.is_empty() {
                continue;
            }
            let (kind, value) = match raw.split_once('=') {
                Some((k, v)) if k.len() == 1 => (k, v),
                _ => return Err(malformed(line, "expected <type>=<value>")),
            };
            match kind {
                "v" => {
                    if value.trim() != "0" {
                        return Err(malformed(line, "unsupported SDP version"));
                    }
                    saw_version = true;
                }
                "o" => {
                    let f: Vec<&str> = value.split_ascii_whitespace().collect();
                    if f.len() != 6 {
                        return Err(malformed(line, "o= needs 6 fields"));
                    }
                    sd.origin_session_id = f[1].to_string();
                    sd.origin_version = f[2].to_string();
                }
                "c" => {
                    let ip = parse_connection(value, line)?;
                    match sd.media.last_mut() {
                        Some(m) => m.connection = Some(ip),
                        None => sd.connection = Some(ip),
                    }
                }
                "m" => {
                    let mut it = value.split_ascii_whitespace();
                    let media = it.next().ok_or_else(|| malformed(line, "empty m="))?;
                    let port_field = it
                        .next()
                        .ok_or_else(|| malformed(line, "m= without port"))?;
                    // `port/count` (RFC 4566 §5.14): we use the first port.
                    let port_str = port_field.split('/').next().unwrap_or(port_field);
                    let port: u16 = port_str
                        .parse()
                        .map_err(|_| malformed(line, format!("bad port {port_field:?}")))?;
                    let proto = it
                        .next()
                        .ok_or_else(|| malformed(line, "m= without proto"))?;
                    let formats: Vec<String> = it.map(str::to_string).collect();
                    sd.media.push(MediaDescription {
                        media: media.to_string(),
                        port,
                        proto: proto.to_string(),
                        formats,
                        connection: None,
                        rtpmaps: Vec::new(),
                        fmtps: Vec::new(),
                        ptime: None,
                        direction: None,
                    });
                }
                "a" => sd.parse_attribute(value, line)?,
                _ => {} // s=, t=, b=, i=, ... carry nothing we act on.
            }
        }
        if !saw_version {
            return Err(malformed(1, "missing v=0"));
        }
        Ok(sd)
    }

    fn parse_attribute(&mut self, value: &str, line: usize) -> Result<(), SdpError> {
        let (name, arg) = match value.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (value, None),
        };
        if let Some(dir) = Direction::parse(name) {
            match self.media.last_mut() {
                Some(m) => m.direction = Some(dir),
                None => self.direction = Some(dir),
            }
            return Ok(());
        }
        // The remaining attributes we use are media-level only.
        let Some(m) = self.media.last_mut() else {
            return Ok(());
        };
        match (name, arg) {
            ("rtpmap", Some(arg)) => {
                let (pt, rest) = arg
                    .split_once(' ')
                    .ok_or_else(|| malformed(line, "rtpmap needs <pt> <encoding>"))?;
                let payload_type: u8 = pt
                    .trim()
                    .parse()
                    .ok()
                    .filter(|&p| p < 128)
                    .ok_or_else(|| malformed(line, format!("bad payload type {pt:?}")))?;
                let mut parts = rest.trim().split('/');
                let encoding = parts.next().unwrap_or_default().to_string();
                let clock_rate: u32 = parts
                    .next()
                    .and_then(|r| r.parse().ok())
                    .ok_or_else(|| malformed(line, "rtpmap needs a clock rate"))?;
                let channels = match parts.next() {
                    Some(c) => Some(
                        c.parse()
                            .map_err(|_| malformed(line, format!("bad channel count {c:?}")))?,
                    ),
                    None => None,
                };
                if encoding.is_empty() {
                    return Err(malformed(line, "rtpmap without encoding name"));
                }
                m.rtpmaps.push(RtpMap {
                    payload_type,
                    encoding,
                    clock_rate,
                    channels,
                });
            }
            ("fmtp", Some(arg)) => {
                let (pt, params) = arg.split_once(' ').unwrap_or((arg, ""));
                let payload_type: u8 = pt
                    .trim()
                    .parse()
                    .map_err(|_| malformed(line, format!("bad fmtp payload type {pt:?}")))?;
                m.fmtps.push((payload_type, params.trim().to_string()));
            }
            ("ptime", Some(arg)) => {
                let ptime: u32 = arg
                    .trim()
                    .parse()
                    .map_err(|_| malformed(line, format!("bad ptime {arg:?}")))?;
                m.ptime = Some(ptime);
            }
            _ => {}
        }
        Ok(())
    }

    /// Chooses the first usable audio stream and codec, in the offerer's
    /// order of preference.
    pub fn negotiate(&self) -> Result<Answer, SdpError> {
        let mut saw_audio = false;
        for (media_index, m) in self.media.iter().enumerate() {
            if m.media != "audio" || m.port == 0 || m.proto != "RTP/AVP" {
                saw_audio |= m.media == "audio" && m.port != 0;
                continue;
            }
            saw_audio = true;
            let Some(codec) = m.payload_types().find_map(|pt| {
                m.g711_kind(pt).map(|kind| Codec {
                    payload_type: pt,
                    kind,
                })
            }) else {
                continue;
            };
            let ip = m
                .connection
                .or(self.connection)
                .ok_or(SdpError::NoConnection)?;
            let offered = m
                .direction
                .or(self.direction)
                .unwrap_or(Direction::SendRecv);
            // RFC 2543 hold: c=0.0.0.0 means "do not send to me"; treat it
            // like sendonly from the peer.
            let offered = if ip.is_unspecified() && offered == Direction::SendRecv {
                Direction::SendOnly
            } else {
                offered
            };
            return Ok(Answer {
                codec,
                dtmf_pt: m.telephone_event_pt(),
                remote: SocketAddr::new(ip, m.port),
                direction: offered.reversed(),
                ptime: m.ptime,
                media_index,
            });
        }
        Err(if saw_audio {
            SdpError::NoCommonCodec
        } else {
            SdpError::NoAudio
        })
    }
}

/// Our side of the media: where we receive RTP and the `o=` identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMedia {
    pub addr: SocketAddr,
    pub session_id: u64,
    /// Incremented for each new SDP we send in a dialog (RFC 3264 §8).
    pub session_version: u64,
}

fn write_session_header(out: &mut String, local: &LocalMedia) {
    let ip = local.addr.ip();
    let fam = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let _ = write!(
        out,
        "v=0\r\no=hotline {} {} IN {fam} {ip}\r\ns=hotline\r\nc=IN {fam} {ip}\r\nt=0 0\r\n",
        local.session_id, local.session_version
    );
}

fn write_audio(out: &mut String, port: u16, codec: Codec, dtmf_pt: Option<u8>, dir: Direction) {
    let _ = write!(out, "m=audio {port} RTP/AVP {}", codec.payload_type);
    if let Some(pt) = dtmf_pt {
        let _ = write!(out, " {pt}");
    }
    let _ = write!(
        out,
        "\r\na=rtpmap:{} {}/8000\r\n",
        codec.payload_type,
        codec.kind.encoding_name()
    );
    if let Some(pt) = dtmf_pt {
        let _ = write!(
            out,
            "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"
        );
    }
    let _ = write!(out, "a=ptime:20\r\na={}\r\n", dir.as_str());
}

/// Builds the answer body for `offer` as negotiated in `answer`. Every other
/// `m=` line is rejected with port 0, as RFC 3264 §6 requires the answer to
/// have as many streams as the offer.
pub fn build_answer(offer: &SessionDescription, answer: &Answer, local: &LocalMedia) -> String {
    let mut out = String::with_capacity(320);
    write_session_header(&mut out, local);
    for (i, m) in offer.media.iter().enumerate() {
        if i == answer.media_index {
            write_audio(
                &mut out,
                local.addr.port(),
                answer.codec,
                answer.dtmf_pt,
                answer.direction,
            );
        } else {
            let fmt = m.formats.first().map(String::as_str).unwrap_or("0");
            let _ = write!(out, "m={} 0 {} {fmt}\r\n", m.media, m.proto);
        }
    }
    out
}

/// Dynamic payload type we offer telephone-event on.
pub const OFFER_DTMF_PT: u8 = 101;

/// The offer we send when we call an agent (B2BUA agent leg): PCMU then
/// PCMA on their static payload types, telephone-event/8000 on
/// [`OFFER_DTMF_PT`], ptime 20, sendrecv. Both laws are offered so that the
/// agent's softphone never needs to transcode; the bridge transcodes between
/// the legs when the caller and the agent chose different laws.
pub fn build_offer(local: &LocalMedia) -> String {
    build_offer_with(
        local,
        &[CodecKind::Pcmu, CodecKind::Pcma],
        Direction::SendRecv,
    )
}

/// Builds an offer for PCMU and PCMA (in `codecs` order, static payload
/// types) plus telephone-event/8000 on [`OFFER_DTMF_PT`]; a re-offer for
/// hold uses another direction.
pub fn build_offer_with(local: &LocalMedia, codecs: &[CodecKind], direction: Direction) -> String {
    let mut out = String::with_capacity(320);
    write_session_header(&mut out, local);
    let _ = write!(out, "m=audio {} RTP/AVP", local.addr.port());
    for c in codecs {
        let _ = write!(out, " {}", c.static_payload_type());
    }
    let _ = write!(out, " {OFFER_DTMF_PT}\r\n");
    for c in codecs {
        let _ = write!(
            out,
            "a=rtpmap:{} {}/8000\r\n",
            c.static_payload_type(),
            c.encoding_name()
        );
    }
    let _ = write!(
        out,
        "a=rtpmap:{OFFER_DTMF_PT} telephone-event/8000\r\na=fmtp:{OFFER_DTMF_PT} 0-16\r\na=ptime:20\r\na={}\r\n",
        direction.as_str()
    );
    out
}

/// Reads the answer to an offer of ours ([`build_offer`]): the codec the
/// answerer chose (the first G.711 format of its accepted audio stream),
/// its telephone-event payload type, where to send, and OUR direction
/// (the answerer's reversed: an answer `recvonly` means we only send).
///
/// An answer that rejected the audio stream (port 0), chose a codec we did
/// not offer or carries no address is an error; the call layer then ends
/// the agent leg (BYE) and tries the next agent.
pub fn accept_answer(answer: &SessionDescription) -> Result<Answer, SdpError> {
    // The offer/answer rules of RFC 3264 §6 make the answer a one-stream
    // "offer" of what the answerer will do, so negotiation reads it the
    // same way: first G.711 format in its order, direction reversed.
    let accepted = answer.negotiate();
    match accepted {
        Err(SdpError::NoAudio) if answer.media.iter().any(|m| m.media == "audio") => {
            // Port 0 on our audio stream: the answerer refused it.
            Err(SdpError::NoCommonCodec)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 8 0 96 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

    fn local() -> LocalMedia {
        LocalMedia {
            addr: "198.51.100.1:10000".parse().unwrap(),
            session_id: 42,
            session_version: 1,
        }
    }

    #[test]
    fn picks_first_g711_in_callers_order_and_keeps_dtmf_pt() {
        let sd = SessionDescription::parse(OFFER).unwrap();
        let a = sd.negotiate().unwrap();
        assert_eq!(a.codec.kind, CodecKind::Pcma);
        assert_eq!(a.codec.payload_type, 8);
        assert_eq!(a.dtmf_pt, Some(101));
        assert_eq!(a.remote, "192.0.2.10:49170".parse().unwrap());
        assert_eq!(a.direction, Direction::SendRecv);
        assert_eq!(a.ptime, Some(20));
        let body = build_answer(&sd, &a, &local());
        let re = SessionDescription::parse(&body).unwrap();
        let ra = re.negotiate().unwrap();
        assert_eq!(ra.codec, a.codec);
        assert_eq!(ra.dtmf_pt, Some(101));
        assert_eq!(ra.remote, local().addr);
        assert!(body.contains("a=rtpmap:101 telephone-event/8000\r\n"));
    }

    #[test]
    fn static_pt_without_rtpmap_and_dynamic_pcmu() {
        let sd = SessionDescription::parse("v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 18 0\n")
            .unwrap();
        let a = sd.negotiate().unwrap();
        assert_eq!(
            a.codec,
            Codec {
                payload_type: 0,
                kind: CodecKind::Pcmu
            }
        );
        assert_eq!(a.dtmf_pt, None);
        let sd = SessionDescription::parse(
            "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 97\na=rtpmap:97 pcmu/8000\n",
        )
        .unwrap();
        assert_eq!(sd.negotiate().unwrap().codec.payload_type, 97);
    }

    #[test]
    fn no_common_codec_is_488() {
        let sd = SessionDescription::parse(
            "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 18 9\na=rtpmap:18 G729/8000\n",
        )
        .unwrap();
        let e = sd.negotiate().unwrap_err();
        assert_eq!(e, SdpError::NoCommonCodec);
        assert_eq!(e.sip_status(), 488);
        let sd =
            SessionDescription::parse("v=0\nc=IN IP4 10.0.0.1\nm=video 4000 RTP/AVP 31\n").unwrap();
        assert_eq!(sd.negotiate().unwrap_err().sip_status(), 488);
        // PCMU at 16 kHz is not G.711.
        let sd = SessionDescription::parse(
            "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 96\na=rtpmap:96 PCMU/16000\n",
        )
        .unwrap();
        assert_eq!(sd.negotiate().unwrap_err(), SdpError::NoCommonCodec);
    }

    #[test]
    fn directions_and_hold() {
        let base = "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\n";
        for (attr, ours) in [
            ("a=sendonly\n", Direction::RecvOnly),
            ("a=recvonly\n", Direction::SendOnly),
            ("a=inactive\n", Direction::Inactive),
            ("a=sendrecv\n", Direction::SendRecv),
        ] {
            let sd = SessionDescription::parse(&format!("{base}{attr}")).unwrap();
            assert_eq!(sd.negotiate().unwrap().direction, ours, "{attr}");
        }
        // Session-level direction applies when the media has none.
        let sd = SessionDescription::parse(
            "v=0\nc=IN IP4 10.0.0.1\na=sendonly\nm=audio 4000 RTP/AVP 0\n",
        )
        .unwrap();
        assert_eq!(sd.negotiate().unwrap().direction, Direction::RecvOnly);
        let sd =
            SessionDescription::parse("v=0\nc=IN IP4 0.0.0.0\nm=audio 4000 RTP/AVP 0\n").unwrap();
        let a = sd.negotiate().unwrap();
        assert!(a.remote_on_hold());
        assert_eq!(a.direction, Direction::RecvOnly);
    }

    #[test]
    fn other_streams_are_rejected_with_port_zero() {
        let sd = SessionDescription::parse(
            "v=0\nc=IN IP4 10.0.0.1\nm=video 5000 RTP/AVP 31\nm=audio 4000 RTP/AVP 0\n",
        )
        .unwrap();
        let a = sd.negotiate().unwrap();
        assert_eq!(a.media_index, 1);
        let body = build_answer(&sd, &a, &local());
        assert!(
            body.contains("m=video 0 RTP/AVP 31\r\nm=audio 10000 RTP/AVP 0\r\n"),
            "{body}"
        );
    }

    #[test]
    fn media_level_connection_wins_and_ipv6_works() {
        let sd = SessionDescription::parse(
            "v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\nc=IN IP6 2001:db8::1\n",
        )
        .unwrap();
        assert_eq!(
            sd.negotiate().unwrap().remote,
            "[2001:db8::1]:4000".parse().unwrap()
        );
        let sd = SessionDescription::parse("v=0\nm=audio 4000 RTP/AVP 0\n").unwrap();
        assert_eq!(sd.negotiate().unwrap_err(), SdpError::NoConnection);
    }

    #[test]
    fn bad_sdp_is_an_error_not_a_panic() {
        for bad in [
            "",
            "garbage",
            "v=1\n",
            "v=0\nm=audio\n",
            "v=0\nm=audio 99999 RTP/AVP 0\n",
            "v=0\nm=audio x RTP/AVP 0\n",
            "v=0\nc=IN IP4 not-an-ip\n",
            "v=0\nc=IN IP4 2001:db8::1\n",
            "v=0\nc=IN\n",
            "v=0\nm=audio 4000 RTP/AVP 0\na=rtpmap:300 PCMU/8000\n",
            "v=0\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU\n",
            "v=0\nm=audio 4000 RTP/AVP 0\na=rtpmap:0\n",
            "v=0\nm=audio 4000 RTP/AVP 0\na=ptime:abc\n",
            "v=0\no=x\n",
            "vv=0\n",
            "v=0\n=x\n",
        ] {
            let r = SessionDescription::parse(bad);
            assert!(r.is_err(), "{bad:?} parsed: {r:?}");
            assert_eq!(r.unwrap_err().sip_status(), 400);
        }
        assert_eq!(
            SessionDescription::parse(&"a".repeat(MAX_SDP_LEN + 1)).unwrap_err(),
            SdpError::TooLarge
        );
    }

    #[test]
    fn offer_round_trips() {
        let body = build_offer(&local());
        let sd = SessionDescription::parse(&body).unwrap();
        let a = sd.negotiate().unwrap();
        assert_eq!(a.codec.kind, CodecKind::Pcmu);
        assert_eq!(a.dtmf_pt, Some(OFFER_DTMF_PT));
        assert_eq!(a.remote, local().addr);
    }

    #[test]
    fn agent_answer_gives_its_codec_dtmf_address_and_our_direction() {
        let offer = build_offer(&local());
        assert!(
            offer.contains("m=audio 10000 RTP/AVP 0 8 101\r\n"),
            "{offer}"
        );
        assert!(offer.contains("a=ptime:20\r\na=sendrecv\r\n"), "{offer}");
        let answer = SessionDescription::parse(
            "v=0\r\no=agent 1 1 IN IP4 10.1.1.5\r\ns=-\r\nc=IN IP4 10.1.1.5\r\nt=0 0\r\n\
             m=audio 7078 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n",
        )
        .unwrap();
        let a = accept_answer(&answer).unwrap();
        assert_eq!(a.codec.kind, CodecKind::Pcma);
        assert_eq!(a.codec.payload_type, 8);
        assert_eq!(a.dtmf_pt, Some(101));
        assert_eq!(a.remote, "10.1.1.5:7078".parse().unwrap());
        // The agent only receives: we only send.
        assert_eq!(a.direction, Direction::SendOnly);
    }

    #[test]
    fn refused_or_foreign_answers_are_errors() {
        let refused =
            SessionDescription::parse("v=0\nc=IN IP4 10.0.0.1\nm=audio 0 RTP/AVP 0\n").unwrap();
        assert_eq!(
            accept_answer(&refused).unwrap_err(),
            SdpError::NoCommonCodec
        );
        let g729 =
            SessionDescription::parse("v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 18\n").unwrap();
        assert_eq!(accept_answer(&g729).unwrap_err(), SdpError::NoCommonCodec);
        let no_c = SessionDescription::parse("v=0\nm=audio 4000 RTP/AVP 0\n").unwrap();
        assert_eq!(accept_answer(&no_c).unwrap_err(), SdpError::NoConnection);
        let none = SessionDescription::parse("v=0\n").unwrap();
        assert_eq!(accept_answer(&none).unwrap_err(), SdpError::NoAudio);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,400}") {
            if let Ok(sd) = SessionDescription::parse(&s) {
                let _ = sd.negotiate();
            }
        }

        #[test]
        fn never_panics_on_sdp_like_lines(lines in proptest::collection::vec(
            "(v=0|c=IN IP[46] [0-9.:a-f]{0,20}|m=audio [0-9]{0,6} RTP/AVP( [0-9]{1,3}){0,4}|a=rtpmap:[0-9]{0,4} [A-Za-z-]{0,12}/[0-9]{0,6}(/[0-9]{0,4})?|a=(sendonly|recvonly|inactive|ptime:[0-9]{0,3}))",
            0..12,
        )) {
            let text = lines.join("\r\n");
            if let Ok(sd) = SessionDescription::parse(&text) {
                let _ = sd.negotiate();
            }
        }
    }
}
