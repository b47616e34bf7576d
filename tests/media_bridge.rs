//! The B2BUA media bridge on 127.0.0.1: two real MediaSessions (caller leg
//! in PCMU, agent leg in PCMA) linked, with test UDP "phones" on both ends.
//! Audio is checked by content (Goertzel power at the sent tone), not by
//! packet counts.

use hotline::media::bridge;
use hotline::media::dtmf::{TelephoneEvent, event_packets};
use hotline::media::g711::CodecKind;
use hotline::media::inband::InbandDetector;
use hotline::media::rtp::{self, RtpSender};
use hotline::media::sdp::{self, Codec, Direction, SessionDescription};
use hotline::media::session::{MediaConfig, MediaEvent, MediaSession};
use hotline::media::{Recorder, Recording};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout, timeout_at};

const WAIT: Duration = Duration::from_secs(5);
const CALLER_HZ: f64 = 440.0;
const AGENT_HZ: f64 = 1000.0;

#[derive(Debug, Clone)]
struct Packet {
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

async fn recv_packet(sock: &UdpSocket, deadline: Instant) -> Option<Packet> {
    let mut buf = [0u8; 2048];
    let (n, _) = timeout_at(deadline, sock.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    let p = rtp::parse(&buf[..n]).expect("session sent invalid RTP");
    Some(Packet {
        payload_type: p.payload_type,
        marker: p.marker,
        sequence: p.sequence,
        timestamp: p.timestamp,
        ssrc: p.ssrc,
        payload: p.payload.to_vec(),
    })
}

/// Power of `freq` in `pcm` (Goertzel), normalised by length.
fn goertzel(pcm: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0f64, 0f64);
    for &x in pcm {
        let s = x as f64 + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / pcm.len().max(1) as f64
}

/// Whether `pcm` is clearly the `want` tone and not the `other` one.
fn is_tone(pcm: &[i16], want: f64, other: f64) -> bool {
    let w = goertzel(pcm, want);
    w > 1e5 && w > 20.0 * goertzel(pcm, other)
}

fn tone(freq: f64, samples: usize, phase0: usize) -> Vec<i16> {
    (phase0..phase0 + samples)
        .map(|n| ((2.0 * std::f64::consts::PI * freq * n as f64 / 8000.0).sin() * 10_000.0) as i16)
        .collect()
}

fn decode(kind: CodecKind, payload: &[u8]) -> Vec<i16> {
    let mut pcm = vec![0i16; payload.len()];
    kind.decode_into(payload, &mut pcm);
    pcm
}

/// A test phone: one UDP socket that sends a tone as 20 ms RTP frames.
struct Phone {
    sock: Arc<UdpSocket>,
}

impl Phone {
    async fn new() -> Phone {
        Phone {
            sock: Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap()),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    /// Sends `freq` in `kind` to `dest` every 20 ms until aborted.
    fn talk(&self, dest: SocketAddr, kind: CodecKind, freq: f64) -> JoinHandle<()> {
        let sock = Arc::clone(&self.sock);
        tokio::spawn(async move {
            let mut tx = RtpSender::new(kind.static_payload_type());
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let mut n = 0;
            loop {
                tick.tick().await;
                let pcm = tone(freq, 160, n);
                n += 160;
                let mut enc = [0u8; 160];
                kind.encode_into(&pcm, &mut enc);
                let mut buf = [0u8; 200];
                let len = tx.write_audio(&enc, &mut buf).unwrap();
                let _ = sock.send_to(&buf[..len], dest).await;
            }
        })
    }

    /// Receives until `n` consecutive audio packets of payload type `pt`
    /// decode to `want` (not `other`); returns them.
    async fn hear(&self, kind: CodecKind, want: f64, other: f64, n: usize) -> Vec<Packet> {
        let deadline = Instant::now() + WAIT;
        let mut run: Vec<Packet> = Vec::new();
        loop {
            let p = recv_packet(&self.sock, deadline)
                .await
                .unwrap_or_else(|| panic!("did not hear {want} Hz for {n} frames in time"));
            if p.payload_type != kind.static_payload_type() {
                continue;
            }
            if is_tone(&decode(kind, &p.payload), want, other) {
                run.push(p);
                if run.len() == n {
                    return run;
                }
            } else {
                run.clear();
            }
        }
    }

    /// Drops whatever is queued on the socket now.
    fn drain(&self) {
        let mut buf = [0u8; 2048];
        while self.sock.try_recv_from(&mut buf).is_ok() {}
    }
}

fn caller_config(phone: SocketAddr, dtmf_pt: Option<u8>) -> MediaConfig {
    MediaConfig {
        codec: Codec {
            payload_type: 0,
            kind: CodecKind::Pcmu,
        },
        dtmf_pt,
        remote: Some(phone),
        direction: Direction::SendRecv,
        inactivity_timeout: None,
        record: true,
        pacing: None,
    }
}

struct Call {
    caller_phone: Phone,
    agent_phone: Phone,
    caller: MediaSession,
    agent: MediaSession,
    caller_events: mpsc::UnboundedReceiver<MediaEvent>,
    #[allow(dead_code)]
    agent_events: mpsc::UnboundedReceiver<MediaEvent>,
    /// Where the agent's SDP said to send (never read): relayed audio must
    /// reach the agent phone's real source address instead.
    _decoy: UdpSocket,
    _background: Vec<Aborting>,
}

/// A phone task that stops with the test.
struct Aborting(JoinHandle<()>);

impl Drop for Aborting {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A caller leg answered in PCMU and an agent leg set up the way the call
/// layer does it: started before the answer, offer built from its port,
/// then updated with the agent's PCMA answer. With `agent_silent`, the
/// agent phone sends silence frames (as softphones do), which is what lets
/// the agent leg latch onto its real address.
async fn call(agent_silent: bool) -> Call {
    call_with(agent_silent, true, true).await
}

/// [`call`] where either phone may lack telephone-event.
async fn call_with(agent_silent: bool, caller_rfc4733: bool, agent_rfc4733: bool) -> Call {
    let caller_phone = Phone::new().await;
    let agent_phone = Phone::new().await;
    let (ctx, caller_events) = mpsc::unbounded_channel();
    let caller = MediaSession::start(
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        None,
        caller_config(caller_phone.addr(), caller_rfc4733.then_some(101)),
        ctx,
    )
    .unwrap();

    let (atx, agent_events) = mpsc::unbounded_channel();
    let mut agent = MediaSession::start(
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        None,
        MediaConfig::awaiting_answer(),
        atx,
    )
    .unwrap();
    let offer = sdp::build_offer(&sdp::LocalMedia {
        addr: agent.local_addr(),
        session_id: 1,
        session_version: 1,
    });
    assert!(offer.contains(&format!(
        "m=audio {} RTP/AVP 0 8 101",
        agent.local_addr().port()
    )));
    // The agent's softphone answers PCMA, from behind a NAT: its SDP names
    // an address it does not send from.
    let decoy = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let events = if agent_rfc4733 {
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
    } else {
        ""
    };
    let answer = format!(
        "v=0\r\no=agent 5 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 8{}\r\na=rtpmap:8 PCMA/8000\r\n\
         {events}a=ptime:20\r\na=sendrecv\r\n",
        decoy.local_addr().unwrap().port(),
        if agent_rfc4733 { " 101" } else { "" },
    );
    let answer = sdp::accept_answer(&SessionDescription::parse(&answer).unwrap()).unwrap();
    assert_eq!(answer.codec.kind, CodecKind::Pcma);
    let mut config = MediaConfig::from_answer(&answer);
    config.inactivity_timeout = None;
    agent.update(config);
    assert_eq!(agent.codec(), CodecKind::Pcma);
    let mut background = Vec::new();
    if agent_silent {
        background.push(Aborting(agent_phone.talk(
            agent.local_addr(),
            CodecKind::Pcma,
            0.0,
        )));
    }
    Call {
        caller_phone,
        agent_phone,
        caller,
        agent,
        caller_events,
        agent_events,
        _decoy: decoy,
        _background: background,
    }
}

#[tokio::test]
async fn audio_flows_both_ways_transcoded_with_continuous_streams() {
    let c = call(false).await;
    let _bridge = bridge::link(&c.caller, &c.agent, None);
    let caller_talks = c
        .caller_phone
        .talk(c.caller.local_addr(), CodecKind::Pcmu, CALLER_HZ);
    let agent_talks = c
        .agent_phone
        .talk(c.agent.local_addr(), CodecKind::Pcma, AGENT_HZ);

    // The agent hears the caller's tone in its own law (PCMA), at the
    // address it sends from (latching), not at its SDP address.
    let heard = c
        .agent_phone
        .hear(CodecKind::Pcma, CALLER_HZ, AGENT_HZ, 25)
        .await;
    // One stream: same SSRC, consecutive sequence numbers, 160 samples of
    // timestamp per 20 ms frame, no marker inside the talk-spurt.
    for pair in heard.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(a.ssrc, b.ssrc);
        assert_eq!(b.sequence, a.sequence.wrapping_add(1));
        assert_eq!(b.timestamp, a.timestamp.wrapping_add(160));
        assert!(!b.marker);
    }
    // The caller hears the agent's tone in PCMU.
    c.caller_phone
        .hear(CodecKind::Pcmu, AGENT_HZ, CALLER_HZ, 25)
        .await;
    caller_talks.abort();
    agent_talks.abort();
}

#[tokio::test]
async fn rfc4733_digit_is_reported_and_passed_through() {
    let mut c = call(true).await;
    let _bridge = bridge::link(&c.caller, &c.agent, None);
    let caller_talks = c
        .caller_phone
        .talk(c.caller.local_addr(), CodecKind::Pcmu, CALLER_HZ);
    // Relay is up (and latched) before the key press.
    c.agent_phone
        .hear(CodecKind::Pcma, CALLER_HZ, AGENT_HZ, 3)
        .await;
    press(&c.caller_phone, c.caller.local_addr(), '5').await;
    let ev = timeout(WAIT, c.caller_events.recv()).await.unwrap();
    assert_eq!(ev, Some(MediaEvent::Digit('5')));

    // The agent receives a proper event train on its telephone-event PT.
    let deadline = Instant::now() + WAIT;
    let mut events = Vec::new();
    while events
        .iter()
        .filter(|(_, e): &&(Packet, TelephoneEvent)| e.end)
        .count()
        < 3
    {
        let p = recv_packet(&c.agent_phone.sock, deadline)
            .await
            .expect("event train did not arrive");
        if p.payload_type == 101 {
            let e = TelephoneEvent::parse(&p.payload).unwrap();
            events.push((p, e));
        }
    }
    let (first, _) = &events[0];
    assert!(first.marker, "start packet carries the marker");
    assert!(
        events
            .iter()
            .all(|(p, e)| e.event == 5 && p.timestamp == first.timestamp && p.ssrc == first.ssrc)
    );
    assert!(events[1..].iter().all(|(p, _)| !p.marker));
    let durations: Vec<u16> = events.iter().map(|(_, e)| e.duration).collect();
    assert!(durations.windows(2).all(|w| w[0] <= w[1]), "{durations:?}");
    assert!(durations.len() >= 4, "start, updates, ends: {durations:?}");
    assert_eq!(events.iter().filter(|(_, e)| e.end).count(), 3);
    // Afterwards relayed audio continues on the same stream.
    let after = c
        .agent_phone
        .hear(CodecKind::Pcma, CALLER_HZ, AGENT_HZ, 3)
        .await;
    assert_eq!(after[0].ssrc, first.ssrc);
    caller_talks.abort();
}

#[tokio::test]
async fn hold_music_replaces_relay_and_stop_restores_it() {
    let c = call(true).await;
    let _bridge = bridge::link(&c.caller, &c.agent, None);
    let caller_talks = c
        .caller_phone
        .talk(c.caller.local_addr(), CodecKind::Pcmu, CALLER_HZ);
    let before = c
        .agent_phone
        .hear(CodecKind::Pcma, CALLER_HZ, AGENT_HZ, 5)
        .await;

    // "Hold music" (a 1 kHz loop) on the agent leg: the agent hears it, not
    // the caller, although the caller keeps talking.
    let mut music = vec![0u8; 8000];
    CodecKind::Pcma.encode_into(&tone(AGENT_HZ, 8000, 0), &mut music);
    c.agent.play_loop(1, Arc::from(music));
    let held = c
        .agent_phone
        .hear(CodecKind::Pcma, AGENT_HZ, CALLER_HZ, 10)
        .await;
    c.agent.stop();
    let resumed = c
        .agent_phone
        .hear(CodecKind::Pcma, CALLER_HZ, AGENT_HZ, 10)
        .await;
    // Each switch of source starts a talk-spurt.
    assert!(held[0].marker, "music starts with the marker");
    assert!(
        resumed[0].marker,
        "relay after music starts with the marker"
    );
    assert!(held[1..].iter().chain(&resumed[1..]).all(|p| !p.marker));

    // Prompt and relay are one RTP stream: same SSRC throughout, sequence
    // numbers only go up, and the timestamp never goes back.
    let all: Vec<&Packet> = before.iter().chain(&held).chain(&resumed).collect();
    assert!(all.iter().all(|p| p.ssrc == before[0].ssrc));
    for pair in all.windows(2) {
        let seq_step = pair[1].sequence.wrapping_sub(pair[0].sequence);
        assert!((1..1000).contains(&seq_step), "sequence went {seq_step}");
        let ts_step = pair[1].timestamp.wrapping_sub(pair[0].timestamp);
        assert!(ts_step > 0 && ts_step < 1 << 31, "timestamp went back");
    }
    caller_talks.abort();
}

#[tokio::test]
async fn unlink_stops_relay() {
    let c = call(true).await;
    let bridge = bridge::link(&c.caller, &c.agent, None);
    let caller_talks = c
        .caller_phone
        .talk(c.caller.local_addr(), CodecKind::Pcmu, CALLER_HZ);
    c.agent_phone
        .hear(CodecKind::Pcma, CALLER_HZ, AGENT_HZ, 3)
        .await;
    assert!(bridge.unlink().is_none(), "no recorder, no recording");
    // Commands run in order: once these answer, both tasks have unlinked
    // and everything relayed before is in the agent phone's socket.
    c.caller.take_recording().await;
    c.agent.take_recording().await;
    c.agent_phone.drain();
    // Wait until the caller session has received a further 200 ms.
    let deadline = Instant::now() + WAIT;
    let mut got = 0;
    while got < 1600 {
        assert!(Instant::now() < deadline, "caller audio stopped arriving");
        got += c.caller.take_recording().await.len();
        tokio::task::yield_now().await;
    }
    let mut buf = [0u8; 2048];
    assert!(
        c.agent_phone.sock.try_recv_from(&mut buf).is_err(),
        "audio relayed after unlink"
    );
    caller_talks.abort();
}

/// Reads the WAV as (left, right).
fn read_stereo(path: &std::path::Path) -> Option<(Vec<i16>, Vec<i16>)> {
    let mut r = hound::WavReader::open(path).ok()?;
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let samples: Vec<i16> = r.samples::<i16>().collect::<Result<_, _>>().ok()?;
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    Some((left, right))
}

#[tokio::test]
async fn recording_has_caller_left_agent_right_and_is_readable_mid_call() {
    let dir = tempfile::tempdir().unwrap();
    let c = call(false).await;
    // 2025-03-01T12:00:00Z
    let recorder = Recorder::create(dir.path(), "inq_bridge_1", 1_740_830_400_000).unwrap();
    let expected = dir.path().join("2025/03/01/inq_bridge_1.wav");
    assert_eq!(recorder.path(), expected);
    let bridge = bridge::link(&c.caller, &c.agent, Some(recorder));
    assert_eq!(bridge.recording_path(), Some(expected.as_path()));
    let caller_talks = c
        .caller_phone
        .talk(c.caller.local_addr(), CodecKind::Pcmu, CALLER_HZ);
    let agent_talks = c
        .agent_phone
        .talk(c.agent.local_addr(), CodecKind::Pcma, AGENT_HZ);

    // Mid-call the file is a valid WAV that grows: wait (with a deadline)
    // until a reader sees a second of both voices.
    let deadline = Instant::now() + WAIT;
    let (left, right) = loop {
        assert!(Instant::now() < deadline, "recording not readable in time");
        if let Some((l, r)) = read_stereo(&expected)
            && l.len() >= 8000
            && is_tone(&l[l.len() - 1600..], CALLER_HZ, AGENT_HZ)
            && is_tone(&r[r.len() - 1600..], AGENT_HZ, CALLER_HZ)
        {
            break (l, r);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(left.len(), right.len());

    let recording: Recording = bridge.unlink().expect("a recording");
    let path = timeout(WAIT, recording.finished())
        .await
        .expect("recording finalised in time")
        .unwrap();
    assert_eq!(path, expected);
    let (left, right) = read_stereo(&path).unwrap();
    let n = left.len();
    assert!(n >= 8000);
    // Both voices on their own channel over the last second, 100 ms at a
    // time (aligned in time: no window is silent on one side).
    for w in (n - 8000..n - 800).step_by(800) {
        assert!(
            is_tone(&left[w..w + 800], CALLER_HZ, AGENT_HZ),
            "left at {w}"
        );
        assert!(
            is_tone(&right[w..w + 800], AGENT_HZ, CALLER_HZ),
            "right at {w}"
        );
    }
    caller_talks.abort();
    agent_talks.abort();
}

#[tokio::test]
async fn a_session_that_closes_ends_the_link_and_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let c = call(false).await;
    let recorder = Recorder::create(dir.path(), "inq_closed", 1_740_830_400_000).unwrap();
    let mut bridge = bridge::link(&c.caller, &c.agent, Some(recorder));
    let recording = bridge.take_recording().expect("a recording");
    let caller_talks = c
        .caller_phone
        .talk(c.caller.local_addr(), CodecKind::Pcmu, CALLER_HZ);
    let agent_talks = c
        .agent_phone
        .talk(c.agent.local_addr(), CodecKind::Pcma, AGENT_HZ);
    c.agent_phone
        .hear(CodecKind::Pcma, CALLER_HZ, AGENT_HZ, 5)
        .await;
    // The caller hangs up: its session closes although the bridge is still
    // there (the bridge holds no strong reference to it) ...
    timeout(WAIT, c.caller.close())
        .await
        .expect("a linked session still closes");
    // ... and the agent side notices on its next frame and lets go of the
    // recording, which is finalised while the bridge still exists.
    let path = timeout(WAIT, recording.finished())
        .await
        .expect("recording finalised")
        .unwrap();
    let (left, right) = read_stereo(&path).unwrap();
    assert_eq!(left.len(), right.len());
    assert!(left.len() >= 800, "{} samples", left.len());
    drop(bridge);
    caller_talks.abort();
    agent_talks.abort();
}

/// Sends the RFC 4733 train of `digit` from `phone` to `to`.
async fn press(phone: &Phone, to: SocketAddr, digit: char) {
    let mut tx = RtpSender::new(101);
    for p in event_packets(digit, 100, 10).unwrap() {
        let mut buf = [0u8; 32];
        let n = tx
            .write_event(101, p.marker, 99_000, &p.payload, &mut buf)
            .unwrap();
        phone.sock.send_to(&buf[..n], to).await.unwrap();
    }
}

#[tokio::test]
async fn rfc4733_digit_reaches_a_phone_without_telephone_event_as_a_tone() {
    let mut c = call_with(true, true, false).await;
    let _bridge = bridge::link(&c.caller, &c.agent, None);
    let caller_talks = c
        .caller_phone
        .talk(c.caller.local_addr(), CodecKind::Pcmu, CALLER_HZ);
    c.agent_phone
        .hear(CodecKind::Pcma, CALLER_HZ, AGENT_HZ, 3)
        .await;
    press(&c.caller_phone, c.caller.local_addr(), '7').await;
    let ev = timeout(WAIT, c.caller_events.recv()).await.unwrap();
    assert_eq!(ev, Some(MediaEvent::Digit('7')));
    // The agent phone's own detector hears the key in the audio.
    let mut det = InbandDetector::new();
    let deadline = Instant::now() + WAIT;
    let mut keys = Vec::new();
    while keys.is_empty() {
        let p = recv_packet(&c.agent_phone.sock, deadline)
            .await
            .expect("no in-band key in time");
        assert_ne!(p.payload_type, 101, "no events to a phone without them");
        det.push(&decode(CodecKind::Pcma, &p.payload), |k| keys.push(k));
    }
    assert_eq!(keys, vec!['7']);
    caller_talks.abort();
}

#[tokio::test]
async fn in_band_digit_is_reported_and_sent_as_rfc4733() {
    let mut c = call_with(true, false, true).await;
    let _bridge = bridge::link(&c.caller, &c.agent, None);
    // Relay is up and the agent leg latched before the key press.
    let caller_talks = c
        .caller_phone
        .talk(c.caller.local_addr(), CodecKind::Pcmu, CALLER_HZ);
    c.agent_phone
        .hear(CodecKind::Pcma, CALLER_HZ, AGENT_HZ, 3)
        .await;
    caller_talks.abort();
    // The caller's phone plays the key's tone in its audio (PCMU).
    let pcm = hotline::media::dtmf::tone_pcm('3', 120, 100).unwrap();
    let mut tx = RtpSender::new(0);
    for frame in pcm.chunks(160) {
        let mut enc = [0u8; 160];
        CodecKind::Pcmu.encode_into(frame, &mut enc);
        let mut buf = [0u8; 200];
        let n = tx.write_audio(&enc, &mut buf).unwrap();
        c.caller_phone
            .sock
            .send_to(&buf[..n], c.caller.local_addr())
            .await
            .unwrap();
    }
    let ev = timeout(WAIT, c.caller_events.recv()).await.unwrap();
    assert_eq!(ev, Some(MediaEvent::Digit('3')));
    let deadline = Instant::now() + WAIT;
    loop {
        let p = recv_packet(&c.agent_phone.sock, deadline)
            .await
            .expect("no RFC 4733 event in time");
        if p.payload_type == 101 {
            let e = TelephoneEvent::parse(&p.payload).unwrap();
            assert_eq!(e.event, 3);
            assert!(p.marker, "{p:?} {e:?}");
            break;
        }
    }
}

#[tokio::test]
async fn relay_keeps_the_sources_timing_across_silence_suppression() {
    let c = call(true).await;
    let _bridge = bridge::link(&c.caller, &c.agent, None);
    let caller_talks = c
        .caller_phone
        .talk(c.caller.local_addr(), CodecKind::Pcmu, CALLER_HZ);
    c.agent_phone
        .hear(CodecKind::Pcma, CALLER_HZ, AGENT_HZ, 3)
        .await;
    caller_talks.abort();
    let _ = caller_talks.await;

    // A new talk-spurt from another SSRC: two frames, 100 ms of
    // suppressed silence, then a frame with the marker.
    const HZ: f64 = 700.0;
    let mut enc = [0u8; 160];
    CodecKind::Pcmu.encode_into(&tone(HZ, 160, 0), &mut enc);
    let mut tx = RtpSender::with_initial(0, 0xABCD, 100, 50_000);
    for skip in [0, 0, 800] {
        tx.skip(skip);
        let mut buf = [0u8; 200];
        let n = tx.write_audio(&enc, &mut buf).unwrap();
        c.caller_phone
            .sock
            .send_to(&buf[..n], c.caller.local_addr())
            .await
            .unwrap();
    }
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    while got.len() < 3 {
        let p = recv_packet(&c.agent_phone.sock, deadline)
            .await
            .expect("relayed frames did not arrive");
        if is_tone(&decode(CodecKind::Pcma, &p.payload), HZ, CALLER_HZ) {
            got.push(p);
        }
    }
    assert!(got[0].marker, "a new source starts a talk-spurt");
    assert_eq!(got[1].timestamp, got[0].timestamp.wrapping_add(160));
    assert!(!got[1].marker);
    assert_eq!(got[2].timestamp, got[1].timestamp.wrapping_add(960));
    assert!(got[2].marker, "the source's talk-spurt marker is kept");
    assert_eq!(got[1].sequence, got[0].sequence.wrapping_add(1));
    assert_eq!(got[2].sequence, got[1].sequence.wrapping_add(1));
}
