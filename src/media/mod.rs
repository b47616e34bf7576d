//! Media: RTP, G.711, DTMF (RFC 4733, SIP INFO, in-band), prompts, pacing,
//! the RTP port pool and the per-call tokio RTP session.
//!
//! Everything except [`session`] is sans-IO: plain data in, plain data out,
//! time passed in as `now`. [`session::MediaSession`] is the only part that
//! owns a socket and a task; `call.rs` drives it with commands and reads its
//! [`MediaEvent`]s.
//!
//! Typical use by a call:
//! 1. `SessionDescription::parse(body)?.negotiate()` → [`Answer`] (488 on
//!    [`SdpError::NoCommonCodec`], see [`SdpError::sip_status`]);
//! 2. `MediaSession::bind(&pool, ip, MediaConfig::from_answer(&answer), events_tx)`
//!    (503 on [`PortError::Exhausted`]);
//! 3. `sdp::build_answer(&offer, &answer, &LocalMedia { addr: session.local_addr(), .. })`;
//! 4. `session.play_prompt(id, &cache.get(lang, id)?)`, `session.stop()` on a
//!    digit (barge-in), `session.play_loop_prompt(id, &cache.moh()?)` in a queue;
//! 5. SIP INFO bodies go through [`dtmf::parse_info_body`].
//!
//! Bridging a caller to an agent (B2BUA, see [`bridge`]):
//! 1. `MediaSession::bind(&pool, ip, MediaConfig::awaiting_answer(), tx)` for
//!    the agent leg, `sdp::build_offer(&LocalMedia { addr: agent.local_addr(), .. })`
//!    as the INVITE body;
//! 2. on 200 OK: `sdp::accept_answer(&SessionDescription::parse(body)?)?` →
//!    `agent.update(MediaConfig::from_answer(&answer))`;
//! 3. `bridge::link(&caller, &agent, Recorder::create(dir, inquiry_id, now_ms).ok())`;
//!    agent hold → `caller.play_loop_prompt(id, &moh)`, resume → `caller.stop()`;
//! 4. `bridge.unlink()` → `Recording::finished().await` for the file.

pub mod bridge;
pub mod dtmf;
pub mod g711;
pub mod inband;
pub mod pacer;
pub mod ports;
pub mod prompts;
pub mod recorder;
pub mod rtp;
pub mod sdp;
pub mod session;

pub use bridge::{Bridge, link};
pub use g711::CodecKind;
pub use ports::{PortError, PortLease, RtpPortPool};
pub use prompts::{Prompt, PromptCache, PromptError, check_wav};
pub use recorder::{Recorder, Recording};
pub use sdp::{Answer, Codec, Direction, LocalMedia, SdpError, SessionDescription};
pub use session::{MediaCommand, MediaConfig, MediaEvent, MediaSession, PlaybackId};
