//! A real MediaSession on 127.0.0.1 against a test UDP "phone".

use hotline::media::dtmf::event_packets;
use hotline::media::g711::CodecKind;
use hotline::media::ports::RtpPortPool;
use hotline::media::prompts::PromptCache;
use hotline::media::rtp::{self, RtpSender};
use hotline::media::sdp::{Codec, Direction};
use hotline::media::session::{MediaConfig, MediaEvent, MediaSession};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

struct Packet {
    at: Instant,
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

async fn recv_packet(sock: &UdpSocket, wait: Duration) -> Option<Packet> {
    let mut buf = [0u8; 2048];
    let (n, _) = timeout(wait, sock.recv_from(&mut buf)).await.ok()?.ok()?;
    let at = Instant::now();
    let p = rtp::parse(&buf[..n]).expect("session sent invalid RTP");
    Some(Packet {
        at,
        payload_type: p.payload_type,
        marker: p.marker,
        sequence: p.sequence,
        timestamp: p.timestamp,
        ssrc: p.ssrc,
        payload: p.payload.to_vec(),
    })
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<MediaEvent>) -> MediaEvent {
    timeout(WAIT, events.recv())
        .await
        .expect("no media event in time")
        .expect("event channel closed")
}

fn config(kind: CodecKind, dtmf_pt: Option<u8>, remote: SocketAddr) -> MediaConfig {
    MediaConfig {
        codec: Codec {
            payload_type: kind.static_payload_type(),
            kind,
        },
        dtmf_pt,
        remote: Some(remote),
        direction: Direction::SendRecv,
        inactivity_timeout: None,
        record: true,
        pacing: None,
    }
}

async fn start(cfg: MediaConfig) -> (MediaSession, mpsc::UnboundedReceiver<MediaEvent>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    (MediaSession::start(socket, None, cfg, tx).unwrap(), rx)
}

/// A speech-like test signal: a gliding harmonic tone with a slow envelope.
fn test_signal(samples: usize) -> Vec<i16> {
    let mut phase = 0f32;
    (0..samples)
        .map(|n| {
            let t = n as f32 / 8000.0;
            let f0 = 180.0 + 60.0 * (2.0 * std::f32::consts::PI * 1.3 * t).sin();
            phase += 2.0 * std::f32::consts::PI * f0 / 8000.0;
            let env = 0.5 + 0.5 * (2.0 * std::f32::consts::PI * 3.0 * t).sin().abs();
            let v: f32 = (1..=8).map(|h| (phase * h as f32).sin() / h as f32).sum();
            (v * env * 9000.0) as i16
        })
        .collect()
}

fn write_wav(path: &std::path::Path, pcm: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in pcm {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

fn correlation(a: &[i16], b: &[i16]) -> f64 {
    let n = a.len().min(b.len());
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for i in 0..n {
        let (x, y) = (a[i] as f64, b[i] as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa.sqrt() * bb.sqrt())
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

async fn play_wav_and_check(kind: CodecKind) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("en")).unwrap();
    let pcm = test_signal(8000 + 77); // 1 s and a partial last frame
    write_wav(&dir.path().join("en/test.wav"), &pcm);
    let cache = PromptCache::new(dir.path());
    let prompt = cache.get("en", "test").unwrap();

    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (session, mut events) = start(config(kind, Some(101), phone.local_addr().unwrap())).await;
    session.play_prompt(7, &prompt);

    let frames = pcm.len().div_ceil(160);
    let mut packets = Vec::new();
    while packets.len() < frames {
        packets.push(recv_packet(&phone, WAIT).await.expect("prompt packet"));
    }
    assert_eq!(
        next_event(&mut events).await,
        MediaEvent::PlaybackFinished(7)
    );

    // Header fields.
    let first = &packets[0];
    assert!(first.marker, "first packet of a talk-spurt has the marker");
    for (i, p) in packets.iter().enumerate() {
        assert_eq!(p.payload_type, kind.static_payload_type());
        assert_eq!(p.ssrc, first.ssrc);
        assert_eq!(p.sequence, first.sequence.wrapping_add(i as u16));
        assert_eq!(p.timestamp, first.timestamp.wrapping_add(160 * i as u32));
        assert_eq!(p.payload.len(), 160);
        assert_eq!(p.marker, i == 0);
    }

    // Audio: decodes back to the WAV.
    let decoded: Vec<i16> = packets
        .iter()
        .flat_map(|p| p.payload.iter().map(|&c| kind.decode(c)))
        .collect();
    let corr = correlation(&decoded[..pcm.len()], &pcm);
    assert!(corr >= 0.99, "correlation {corr}");
    assert!(
        decoded[pcm.len()..].iter().all(|&s| s.abs() <= 8),
        "padding is silence"
    );

    // Pacing sanity: every 20 ms, no bursts.
    let gaps: Vec<f64> = packets
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_secs_f64() * 1000.0)
        .collect();
    let median = percentile(gaps.clone(), 0.5);
    let p95 = percentile(gaps.clone(), 0.95);
    assert!((15.0..=25.0).contains(&median), "median gap {median} ms");
    assert!(p95 <= 30.0, "p95 gap {p95} ms");
    let span = (packets.last().unwrap().at - first.at).as_secs_f64() * 1000.0;
    let ideal = (frames - 1) as f64 * 20.0;
    assert!(
        span >= ideal - 30.0 && span <= ideal + 100.0,
        "span {span} vs {ideal}"
    );

    // A second prompt after a gap: same SSRC, next sequence, marker, and a
    // timestamp that counted the silent slots.
    let last = packets.last().unwrap();
    let (last_seq, last_ts, last_at) = (last.sequence, last.timestamp, last.at);
    tokio::time::sleep(Duration::from_millis(200)).await; // create a gap in the stream
    session.play_prompt(8, &prompt);
    let p = recv_packet(&phone, WAIT).await.unwrap();
    assert_eq!(p.ssrc, first.ssrc);
    assert!(p.marker);
    assert_eq!(p.sequence, last_seq.wrapping_add(1));
    let ts_ms = p.timestamp.wrapping_sub(last_ts) as f64 / 8.0;
    let wall_ms = (p.at - last_at).as_secs_f64() * 1000.0;
    assert!(
        ts_ms >= 200.0,
        "timestamp advanced only {ts_ms} ms over a {wall_ms} ms gap"
    );
    assert!(
        (ts_ms - wall_ms).abs() <= 45.0,
        "timestamp {ts_ms} ms vs wall {wall_ms} ms"
    );
    session.close().await;
}

#[tokio::test]
async fn plays_a_wav_prompt_pcmu() {
    play_wav_and_check(CodecKind::Pcmu).await;
}

#[tokio::test]
async fn plays_a_wav_prompt_pcma() {
    play_wav_and_check(CodecKind::Pcma).await;
}

/// Sends one RFC 4733 key press from `phone` with `tx`, event timestamp `ts`.
async fn send_key(
    phone: &UdpSocket,
    to: SocketAddr,
    tx: &mut RtpSender,
    digit: char,
    ts: u32,
) -> Vec<Vec<u8>> {
    let mut sent = Vec::new();
    for p in event_packets(digit, 100, 10).unwrap() {
        let mut buf = [0u8; 64];
        let n = tx
            .write_event(101, p.marker, ts, &p.payload, &mut buf)
            .unwrap();
        phone.send_to(&buf[..n], to).await.unwrap();
        sent.push(buf[..n].to_vec());
    }
    sent
}

#[tokio::test]
async fn rfc4733_digits_reported_once_each() {
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (session, mut events) = start(config(
        CodecKind::Pcmu,
        Some(101),
        phone.local_addr().unwrap(),
    ))
    .await;
    let to = session.local_addr();
    let mut tx = RtpSender::with_initial(0, 0x1234, 100, 5000);
    let first = send_key(&phone, to, &mut tx, '1', 5000).await;
    let second = send_key(&phone, to, &mut tx, '#', 6600).await;
    // Retransmissions of both events' end packets arrive late.
    phone.send_to(first.last().unwrap(), to).await.unwrap();
    phone.send_to(second.last().unwrap(), to).await.unwrap();
    send_key(&phone, to, &mut tx, '9', 8200).await;
    phone.send_to(first.last().unwrap(), to).await.unwrap();
    // A marker digit: if any duplicate was reported, it shows before this.
    send_key(&phone, to, &mut tx, '0', 9800).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(next_event(&mut events).await);
    }
    assert_eq!(
        got,
        vec![
            MediaEvent::Digit('1'),
            MediaEvent::Digit('#'),
            MediaEvent::Digit('9'),
            MediaEvent::Digit('0'),
        ]
    );
    session.close().await;
}

#[tokio::test]
async fn inband_tones_are_reported_and_audio_recorded() {
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (session, mut events) =
        start(config(CodecKind::Pcmu, None, phone.local_addr().unwrap())).await;
    let to = session.local_addr();
    let key = |row: f32, col: f32, ms: usize| -> Vec<i16> {
        (0..ms * 8)
            .map(|n| {
                let t = n as f32 / 8000.0;
                let w = 2.0 * std::f32::consts::PI;
                (5000.0 * ((w * row * t).sin() + (w * col * t).sin())) as i16
            })
            .collect()
    };
    let mut pcm = vec![0i16; 800];
    pcm.extend(key(770.0, 1336.0, 100)); // '5'
    pcm.extend(vec![0i16; 800]);
    pcm.extend(key(941.0, 1477.0, 100)); // '#'
    pcm.extend(vec![0i16; 800]);
    let mut tx = RtpSender::with_initial(0, 99, 0, 0);
    let mut sent = Vec::new();
    for frame in pcm.chunks(160) {
        let enc: Vec<u8> = frame.iter().map(|&s| CodecKind::Pcmu.encode(s)).collect();
        sent.extend(enc.iter().map(|&c| CodecKind::Pcmu.decode(c)));
        let mut buf = [0u8; 200];
        let n = tx.write_audio(&enc, &mut buf).unwrap();
        phone.send_to(&buf[..n], to).await.unwrap();
        // Paced a little so the test does not depend on socket buffer size.
        tokio::task::yield_now().await;
    }
    assert_eq!(next_event(&mut events).await, MediaEvent::Digit('5'));
    assert_eq!(next_event(&mut events).await, MediaEvent::Digit('#'));
    // Everything up to the end of the second tone has been processed (the
    // trailing silence may still be in flight).
    let rec = session.take_recording().await;
    let tones_end = 800 + 800 + 800 + 800;
    assert!(
        rec.len() >= tones_end && rec.len() <= sent.len(),
        "recorded {}",
        rec.len()
    );
    assert!(
        rec == sent[..rec.len()],
        "recording differs from the audio sent"
    );
    session.close().await;
}

#[tokio::test]
async fn barge_in_stops_within_one_frame() {
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (session, mut events) = start(config(
        CodecKind::Pcmu,
        Some(101),
        phone.local_addr().unwrap(),
    ))
    .await;
    let long: Arc<[u8]> = vec![0x55u8; 8000 * 10].into();
    session.play(1, long);
    for _ in 0..5 {
        recv_packet(&phone, WAIT).await.expect("prompt packet");
    }
    session.stop();
    let stopped_at = Instant::now();
    let mut late = 0;
    while let Some(p) = recv_packet(&phone, Duration::from_millis(150)).await {
        assert!(
            p.at - stopped_at < Duration::from_millis(25),
            "packet long after stop"
        );
        late += 1;
    }
    assert!(late <= 1, "{late} packets after stop");
    // No PlaybackFinished for a stopped prompt; the next prompt plays.
    let short: Arc<[u8]> = vec![0x55u8; 320].into();
    session.play(2, short);
    assert_eq!(
        next_event(&mut events).await,
        MediaEvent::PlaybackFinished(2)
    );
    session.close().await;
}

#[tokio::test]
async fn loop_plays_until_a_prompt_replaces_it() {
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (session, mut events) = start(config(
        CodecKind::Pcmu,
        Some(101),
        phone.local_addr().unwrap(),
    ))
    .await;
    let moh: Arc<[u8]> = vec![0x11u8; 400].into(); // 2.5 frames: wraps mid-frame
    session.play_loop(1, moh);
    let first = recv_packet(&phone, WAIT).await.unwrap();
    for i in 1..10u16 {
        let p = recv_packet(&phone, WAIT).await.unwrap();
        assert_eq!(p.sequence, first.sequence.wrapping_add(i));
        assert!(!p.marker);
    }
    session.play(2, vec![0x22u8; 160].into());
    assert_eq!(
        next_event(&mut events).await,
        MediaEvent::PlaybackFinished(2)
    );
    // Drain: the loop is gone and the stream goes quiet.
    let mut saw_prompt = false;
    while let Some(p) = recv_packet(&phone, Duration::from_millis(100)).await {
        saw_prompt |= p.payload.iter().all(|&b| b == 0x22);
    }
    assert!(saw_prompt);
    session.close().await;
}

#[tokio::test]
async fn symmetric_rtp_latches_to_the_real_source() {
    // The SDP address is a socket nobody reads (a NATed private address).
    let sdp_addr = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (session, mut events) = start(config(
        CodecKind::Pcmu,
        Some(101),
        sdp_addr.local_addr().unwrap(),
    ))
    .await;
    let to = session.local_addr();
    let mut tx = RtpSender::with_initial(0, 5, 0, 0);
    let mut buf = [0u8; 200];
    let n = tx.write_audio(&[0xFF; 160], &mut buf).unwrap();
    phone.send_to(&buf[..n], to).await.unwrap();
    // After latching, DTMF from another address is ignored...
    let mut other = RtpSender::with_initial(0, 6, 0, 0);
    send_key(&stranger, to, &mut other, '6', 100).await;
    // ...and media goes to the phone.
    session.play(1, vec![0x33u8; 160].into());
    let p = recv_packet(&phone, WAIT)
        .await
        .expect("media after latching");
    assert_eq!(p.payload, vec![0x33u8; 160]);
    send_key(&phone, to, &mut tx, '2', 200).await;
    assert_eq!(
        next_event(&mut events).await,
        MediaEvent::PlaybackFinished(1)
    );
    assert_eq!(next_event(&mut events).await, MediaEvent::Digit('2'));
    session.close().await;
}

#[tokio::test]
async fn inactivity_is_reported_and_rearmed() {
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = config(CodecKind::Pcmu, Some(101), phone.local_addr().unwrap());
    cfg.inactivity_timeout = Some(Duration::from_millis(200));
    let started = Instant::now();
    let (session, mut events) = start(cfg).await;
    assert_eq!(next_event(&mut events).await, MediaEvent::Inactive);
    assert!(started.elapsed() >= Duration::from_millis(200));
    // RTP resumes, then stops again: reported again.
    let mut tx = RtpSender::with_initial(0, 5, 0, 0);
    let mut buf = [0u8; 200];
    let n = tx.write_audio(&[0xFF; 160], &mut buf).unwrap();
    phone
        .send_to(&buf[..n], session.local_addr())
        .await
        .unwrap();
    let resumed = Instant::now();
    assert_eq!(next_event(&mut events).await, MediaEvent::Inactive);
    assert!(resumed.elapsed() >= Duration::from_millis(150));
    session.close().await;
}

#[tokio::test]
async fn pool_ports_are_returned_on_close() {
    let pool = RtpPortPool::new(41000, 41099).unwrap();
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let cfg = config(CodecKind::Pcmu, Some(101), phone.local_addr().unwrap());
    let (tx, _rx) = mpsc::unbounded_channel();
    let a = MediaSession::bind(&pool, "127.0.0.1".parse().unwrap(), cfg.clone(), tx.clone())
        .await
        .unwrap();
    let b = MediaSession::bind(&pool, "127.0.0.1".parse().unwrap(), cfg, tx)
        .await
        .unwrap();
    for s in [&a, &b] {
        let port = s.local_addr().port();
        assert!((41000..41099).contains(&port) && port % 2 == 0, "{port}");
    }
    assert_ne!(a.local_addr(), b.local_addr());
    assert!(pool.available() <= pool.capacity() - 2);
    a.close().await;
    b.close().await;
    assert_eq!(pool.available(), pool.capacity());
}

/// Every 20 ms tick is reported to the server's pacing monitor (the
/// overload brake's input); on an unloaded test run most are on time.
#[tokio::test]
async fn ticks_are_reported_to_the_pacing_monitor() {
    let monitor = hotline::media::session::SharedPacing::default();
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = config(CodecKind::Pcmu, Some(101), phone.local_addr().unwrap());
    cfg.pacing = Some(monitor.clone());
    let (session, mut events) = start(cfg).await;
    let prompt = hotline::media::prompts::Prompt::from_pcm("half-second", &test_signal(4000));
    session.play_prompt(1, &prompt);
    let finished = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap();
    assert_eq!(finished, Some(MediaEvent::PlaybackFinished(1)));
    let (ticks, late) = monitor.0.counts();
    assert!(ticks >= 25, "25 frames played, {ticks} ticks reported");
    assert!(late <= ticks);
    session.close().await;
}
