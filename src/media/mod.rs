//! Media: RTP, G.711, DTMF (RFC 4733, SIP INFO, in-band), prompts, pacing,
//! the RTP port pool and the per-call tokio RTP session.
//!
//! Everything except [`session`] is sans-IO: plain data in, plain data out,
//! time passed in as `now`. [`session::MediaSession`] is the only part that
//! owns a socket and a task; `call.rs` drives it with commands and reads its
//! events.

pub mod dtmf;
pub mod g711;
pub mod inband;
pub mod pacer;
pub mod ports;
pub mod prompts;
pub mod rtp;
pub mod sdp;
pub mod session;
