//! The B2BUA media bridge: two [`MediaSession`]s (caller leg, agent leg)
//! relay audio and DTMF to each other while linked.
//!
//! Each session keeps its own RTP stream towards its phone (its SSRC,
//! sequence, timestamp, codec, latched address); the bridge only connects
//! them. A session that receives an audio frame hands it, still encoded, to
//! the other session's task through a small bounded channel; that task
//! transcodes it to its own law when they differ (G.711 μ-law ↔ A-law
//! through 16-bit PCM) and sends it at once, so relay timing follows the
//! source and adds no pacing delay. A session that plays something of its
//! own (a prompt, a loop, silence fill, an outgoing DTMF event) sends that
//! instead and drops relayed frames: music on hold is
//! `caller.play_loop_prompt(moh)` while the agent holds, `caller.stop()`
//! on resume.
//!
//! DTMF: a key one side presses (RFC 4733 or in-band) is still reported
//! to the call as [`MediaEvent::Digit`](super::MediaEvent::Digit) and is
//! sent to the other side as an RFC 4733 event when that side negotiated
//! telephone-event ([`MediaSession::send_dtmf`]); to a side without it, an
//! RFC 4733 key is played as an in-band tone (an in-band key already is in
//! the relayed audio).
//!
//! Every message carries the link's id, so frames still in flight from an
//! old link are ignored after a re-link (e.g. after a transfer). The link
//! ends on [`Bridge::unlink`], when the `Bridge` is dropped, or when one
//! session's task ends (the other one notices its closed channel).

use super::g711::CodecKind;
use super::recorder::{Recorder, RecorderTap, Recording};
use super::session::{FRAME_SAMPLES, MediaCommand, MediaSession};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::sync::mpsc;

/// Relay frames buffered towards one session (160 ms). A task that falls
/// further behind loses frames instead of adding delay.
pub(crate) const RELAY_QUEUE: usize = 8;

/// One encoded audio frame from the other leg, as it arrived.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RelayFrame {
    pub link: u64,
    /// Law of `data` (the source leg's codec).
    pub kind: CodecKind,
    /// The source's marker bit: a talk-spurt starts here.
    pub marker: bool,
    /// Source SSRC and RTP timestamp of the first sample, so the receiving
    /// task can tell continuous audio from gaps.
    pub ssrc: u32,
    pub timestamp: u32,
    pub len: u8,
    pub data: [u8; FRAME_SAMPLES],
}

impl RelayFrame {
    pub fn payload(&self) -> &[u8] {
        self.data.get(..usize::from(self.len)).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum RelayMsg {
    Audio(RelayFrame),
    /// A key pressed on the other leg; `in_band` when it was detected in
    /// the audio (and so is also in the relayed audio).
    Digit {
        link: u64,
        digit: char,
        in_band: bool,
    },
}

/// A session's half of a link: where to relay to and, when recording, the
/// tap for what this session receives.
#[derive(Debug)]
pub struct LinkEnd {
    pub(crate) id: u64,
    pub(crate) peer: mpsc::Sender<RelayMsg>,
    pub(crate) recorder: Option<RecorderTap>,
}

/// Transcodes one G.711 frame from law `from` to law `to` (same length).
/// The identity when the laws are equal; no allocation either way.
pub fn transcode(from: CodecKind, to: CodecKind, input: &[u8], out: &mut [u8]) {
    if from == to {
        for (o, i) in out.iter_mut().zip(input) {
            *o = *i;
        }
    } else {
        for (o, i) in out.iter_mut().zip(input) {
            *o = to.encode(from.decode(*i));
        }
    }
}

static NEXT_LINK: AtomicU64 = AtomicU64::new(1);

/// A live link between a caller's and an agent's media session. Unlinks
/// on drop.
#[derive(Debug)]
pub struct Bridge {
    id: u64,
    /// Weak: a bridge must not keep a closed session's task alive.
    caller: mpsc::WeakUnboundedSender<MediaCommand>,
    agent: mpsc::WeakUnboundedSender<MediaCommand>,
    recording: Option<Recording>,
    linked: bool,
}

/// Links `caller` and `agent`: from now on each relays what it receives to
/// the other. With a `recorder`, what the caller says goes to the left
/// channel and what the agent says to the right one.
///
/// If the recorder thread cannot be started the call is bridged without
/// recording (logged): losing a recording is better than losing the call.
pub fn link(caller: &MediaSession, agent: &MediaSession, recorder: Option<Recorder>) -> Bridge {
    let id = NEXT_LINK.fetch_add(1, Ordering::Relaxed);
    let (caller_tap, agent_tap, recording) = match recorder.map(|r| r.start(Instant::now())) {
        Some(Ok((c, a, rec))) => (Some(c), Some(a), Some(rec)),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "cannot start the recorder: bridging without recording");
            (None, None, None)
        }
        None => (None, None, None),
    };
    caller.command(MediaCommand::Link(LinkEnd {
        id,
        peer: agent.relay_sender(),
        recorder: caller_tap,
    }));
    agent.command(MediaCommand::Link(LinkEnd {
        id,
        peer: caller.relay_sender(),
        recorder: agent_tap,
    }));
    Bridge {
        id,
        caller: caller.command_sender().downgrade(),
        agent: agent.command_sender().downgrade(),
        recording,
        linked: true,
    }
}

impl Bridge {
    /// Where the recording is written, when recording.
    pub fn recording_path(&self) -> Option<&Path> {
        self.recording.as_ref().map(Recording::path)
    }

    /// Takes the recording handle while staying linked, to await the file
    /// when the link ends by itself (one session closed).
    pub fn take_recording(&mut self) -> Option<Recording> {
        self.recording.take()
    }

    /// Stops relaying both ways. Returns the recording, which is finalised
    /// once both sessions have let go of it (await
    /// [`Recording::finished`]).
    pub fn unlink(mut self) -> Option<Recording> {
        self.send_unlink();
        self.recording.take()
    }

    fn send_unlink(&mut self) {
        if std::mem::take(&mut self.linked) {
            // A session already closed has nothing left to unlink.
            for session in [&self.caller, &self.agent] {
                if let Some(commands) = session.upgrade() {
                    let _ = commands.send(MediaCommand::Unlink(self.id));
                }
            }
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.send_unlink();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcode_keeps_the_waveform() {
        let pcm: Vec<i16> = (0..160)
            .map(|n| ((n as f32 * 0.3).sin() * 12000.0) as i16)
            .collect();
        let mut ulaw = [0u8; 160];
        CodecKind::Pcmu.encode_into(&pcm, &mut ulaw);
        let mut alaw = [0u8; 160];
        transcode(CodecKind::Pcmu, CodecKind::Pcma, &ulaw, &mut alaw);
        for (i, (&a, &p)) in alaw.iter().zip(&pcm).enumerate() {
            let back = CodecKind::Pcma.decode(a);
            // Two quantisations: within a few percent of full scale.
            assert!(
                (back as i32 - p as i32).abs() < 600,
                "sample {i}: {back} vs {p}"
            );
        }
        let mut same = [0u8; 160];
        transcode(CodecKind::Pcmu, CodecKind::Pcmu, &ulaw, &mut same);
        assert_eq!(same, ulaw);
    }
}
