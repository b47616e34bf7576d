//! Runs the `benches/sip_parse.rs` workload a fixed number of times, for
//! instruction counting under `valgrind --tool=callgrind`: unlike wall-clock
//! time on the shared 2-core machine, instruction counts do not depend on
//! load. Run once with N and once with 0 iterations; the difference divided
//! by N is the cost of one message.
//!
//! `cargo build --release --example sip_parse_icount`
//! `valgrind --tool=callgrind target/release/examples/sip_parse_icount <case> <N>`
//! where case is `invite`, `register`, `parse_invite` or `parse_register`.

use bytes::Bytes;
use hotline::sip::message::{Limits, StreamFramer};
use std::hint::black_box;

#[path = "../benches/common/sip_messages.rs"]
mod sip_messages;
use sip_messages::{REGISTER, frame_parse_and_type, invite, parse_only};

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "register".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let limits = Limits::default();
    let invite = invite();
    let wire = match case.as_str() {
        "invite" | "parse_invite" => invite.as_bytes(),
        "register" | "parse_register" => REGISTER.as_bytes(),
        other => panic!("unknown case {other}"),
    };
    let datagram = Bytes::copy_from_slice(wire);
    let mut framer = StreamFramer::new(limits.clone());
    let mut total = 0usize;
    for _ in 0..n {
        total += if case.starts_with("parse_") {
            parse_only(&datagram, &limits)
        } else {
            frame_parse_and_type(&mut framer, black_box(wire), &limits)
        };
    }
    println!("{case} x{n}: {total}");
}
