//! Feeds arbitrary bytes to everything the server does with network input:
//! the stream framer (split at fuzzer-chosen points), the datagram parser,
//! every typed getter, validation, editing and serialization, salvage, and
//! the response builders. Any panic is a bug.
#![no_main]

use bytes::Bytes;
use hotline::sip::message::{
    Frame, Limits, Message, StreamFramer, response, response_from_salvage, salvage_for_response,
};
use libfuzzer_sys::fuzz_target;

fn exercise(bytes: &[u8]) {
    if let Some(s) = salvage_for_response(bytes) {
        let r = response_from_salvage(&s, 400, "Bad Request").to_tag("x").build();
        assert!(Message::parse(Bytes::from(r), &Limits::default()).is_ok());
    }
    let Ok(mut m) = Message::parse(Bytes::copy_from_slice(bytes), &Limits::default()) else {
        return;
    };
    let _ = (m.vias(), m.top_via(), m.from_header(), m.to_header(), m.call_id(), m.cseq());
    let _ = (m.contacts(), m.expires(), m.max_forwards(), m.content_length());
    let _ = (m.validate_request(), m.validate_response(), m.header_list("Contact"), m.start_line());
    if let Some(uri) = m.request_uri() {
        let _ = hotline::sip::message::Uri::parse(uri);
    }
    assert_eq!(m.to_bytes(), m.as_bytes(), "untouched messages serialize byte-exact");
    if m.is_request() {
        let r = response(&m, 400, "Bad").to_tag("t").build();
        assert!(Message::parse(Bytes::from(r), &Limits::default()).is_ok());
    }
    m.push_header_front("Via", "SIP/2.0/UDP fuzz.invalid;branch=z9hG4bKfuzz");
    m.set_header("Max-Forwards", "69");
    m.remove_header("Route");
    let _ = Message::parse(Bytes::from(m.to_bytes()), &Limits::default());
}

fuzz_target!(|data: &[u8]| {
    // First byte picks up to 3 split points for the stream framer.
    let (control, payload) = data.split_first().map_or((0u8, data), |(c, rest)| (*c, rest));
    exercise(payload);
    let mut framer = StreamFramer::new(Limits::default());
    let step = usize::from(control).max(1);
    let mut start = 0;
    while start < payload.len() {
        let end = (start + step).min(payload.len());
        framer.push(&payload[start..end]);
        start = end;
        loop {
            match framer.next_frame() {
                Ok(Some(Frame::Message(frame))) => exercise(&frame),
                Ok(Some(Frame::KeepAlive)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
});
