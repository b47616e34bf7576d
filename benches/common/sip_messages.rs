//! The messages and the per-request work measured by `benches/sip_parse.rs`
//! and counted (instructions per message) by `examples/sip_parse_icount.rs`,
//! shared so both measure exactly the same thing.

use bytes::Bytes;
use hotline::sip::message::{Frame, Limits, Message, StreamFramer};
use std::hint::black_box;

pub const INVITE_HEAD: &str = "INVITE sip:hotline@sip.example.edu SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:hotline@sip.example.edu>\r\n\
From: \"Alice Caller\" <sip:+79161234567@gw.example.net>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.net\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:+79161234567@192.0.2.10:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY\r\n\
Supported: replaces, timer\r\n\
User-Agent: Example Phone 1.0\r\n\
Content-Type: application/sdp\r\n";

pub const SDP: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n";

pub const REGISTER: &str = "REGISTER sip:sip.example.edu SIP/2.0\r\n\
Via: SIP/2.0/TCP 10.0.0.5:52311;branch=z9hG4bKnashds7;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Operator 12\" <sip:op12@sip.example.edu>;tag=a73kszlfl\r\n\
To: \"Operator 12\" <sip:op12@sip.example.edu>\r\n\
Call-ID: 1j9FpLxk3uxtm8tn@10.0.0.5\r\n\
CSeq: 1826 REGISTER\r\n\
Contact: <sip:op12@10.0.0.5:52311;transport=tcp>;expires=3600;q=0.9\r\n\
Expires: 3600\r\n\
User-Agent: Softphone 5.2\r\n\
Content-Length: 0\r\n\
\r\n";

/// What the server does with every request before deciding anything.
pub fn frame_parse_and_type(framer: &mut StreamFramer, wire: &[u8], limits: &Limits) -> usize {
    framer.push(wire);
    let Ok(Some(Frame::Message(frame))) = framer.next_frame() else {
        panic!("bench message must frame");
    };
    let m = Message::parse(frame, limits).expect("bench message must parse");
    let vias = m.vias().expect("via");
    let from = m.from_header().expect("from");
    let to = m.to_header().expect("to");
    let call_id = m.call_id().expect("call-id");
    let cseq = m.cseq().expect("cseq");
    let contacts = m.contacts().expect("contact");
    let length = m.content_length().expect("content-length");
    let max_forwards = m.max_forwards().expect("max-forwards");
    black_box((
        &vias,
        &from,
        &to,
        call_id,
        &cseq,
        &contacts,
        length,
        max_forwards,
    ));
    vias.len() + call_id.len()
}

/// The INVITE with its SDP body and a matching Content-Length.
pub fn invite() -> String {
    format!("{INVITE_HEAD}Content-Length: {}\r\n\r\n{SDP}", SDP.len())
}

/// Structural parse only (no typed headers), of one datagram.
pub fn parse_only(datagram: &Bytes, limits: &Limits) -> usize {
    Message::parse(black_box(datagram.clone()), limits).map_or(0, |m| m.header_count())
}
