//! Throughput of the SIP message layer on the hot path: framing a stream,
//! parsing, and typing the headers every request needs (Via, From, To,
//! Call-ID, CSeq, Contact, Content-Length, Max-Forwards).
//! Goal: ≥ 1 million messages/s on one core.

use bytes::Bytes;
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use hotline::sip::message::{Limits, StreamFramer};

#[path = "common/sip_messages.rs"]
mod sip_messages;
use sip_messages::{REGISTER, frame_parse_and_type, invite, parse_only};

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("sip_parse");
    group.throughput(Throughput::Elements(1));
    let invite = invite();
    for (name, wire) in [
        ("invite_sdp", invite.as_bytes()),
        ("register", REGISTER.as_bytes()),
    ] {
        let mut framer = StreamFramer::new(limits.clone());
        group.bench_function(format!("frame_parse_type/{name}"), |b| {
            b.iter(|| frame_parse_and_type(&mut framer, black_box(wire), &limits))
        });
        let datagram = Bytes::copy_from_slice(wire);
        group.bench_function(format!("parse_only/{name}"), |b| {
            b.iter(|| parse_only(&datagram, &limits))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
