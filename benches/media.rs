//! Media hot paths, per call and per 20 ms frame. The budget is ≤ 0.04 % of
//! a core per streaming call: 400 µs of CPU per second, i.e. 8 µs per 20 ms
//! frame for everything (send one packet, receive one, detect DTMF).
//!
//! Run: `cargo bench --bench media`

use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use hotline::media::bridge;
use hotline::media::dtmf::{DtmfReceiver, event_packets};
use hotline::media::g711::CodecKind;
use hotline::media::inband::{InbandDetector, detect_frame};
use hotline::media::prompts::Prompt;
use hotline::media::rtp::{self, RtpSender};
use hotline::media::sdp::{Codec, Direction};
use hotline::media::session::{MediaConfig, MediaSession};
use std::time::{Duration, Instant};

fn speechlike(samples: usize) -> Vec<i16> {
    let mut phase = 0f32;
    (0..samples)
        .map(|n| {
            let t = n as f32 / 8000.0;
            let f0 = 170.0 + 50.0 * (2.0 * std::f32::consts::PI * 0.9 * t).sin();
            phase += 2.0 * std::f32::consts::PI * f0 / 8000.0;
            let v: f32 = (1..=10).map(|h| (phase * h as f32).sin() / h as f32).sum();
            (v * 8000.0) as i16
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let ten_seconds = speechlike(80_000);
    let mut g = c.benchmark_group("prompt");
    g.throughput(Throughput::Elements(ten_seconds.len() as u64));
    g.bench_function("encode_10s_pcmu_and_pcma", |b| {
        b.iter(|| Prompt::from_pcm("bench", black_box(&ten_seconds)))
    });
    g.finish();

    let frame: Vec<i16> = ten_seconds[..160].to_vec();
    let encoded: Vec<u8> = frame.iter().map(|&s| CodecKind::Pcmu.encode(s)).collect();
    let mut g = c.benchmark_group("per_frame");
    g.bench_function("goertzel_detect_20ms", |b| {
        b.iter(|| detect_frame(black_box(&frame)))
    });
    g.bench_function("inband_detector_push_20ms", |b| {
        let mut det = InbandDetector::new();
        b.iter(|| {
            det.push(black_box(&frame), |k| {
                black_box(k);
            })
        })
    });
    g.bench_function("decode_pcmu_20ms", |b| {
        let mut out = [0i16; 160];
        b.iter(|| CodecKind::Pcmu.decode_into(black_box(&encoded), &mut out))
    });
    g.bench_function("build_rtp_packet_20ms", |b| {
        let mut tx = RtpSender::with_initial(0, 1, 0, 0);
        let mut out = [0u8; 172];
        b.iter(|| tx.write_audio(black_box(&encoded), &mut out).unwrap())
    });
    g.finish();

    // RFC 4733: parse a received datagram and run it through the receiver.
    let mut tx = RtpSender::with_initial(0, 1, 0, 0);
    let datagrams: Vec<Vec<u8>> = (0..64u32)
        .flat_map(|i| {
            event_packets('5', 100, 10)
                .unwrap()
                .into_iter()
                .map(|p| {
                    let mut buf = [0u8; 32];
                    let n = tx
                        .write_event(101, p.marker, i * 1600, &p.payload, &mut buf)
                        .unwrap();
                    buf[..n].to_vec()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut g = c.benchmark_group("dtmf");
    g.throughput(Throughput::Elements(datagrams.len() as u64));
    g.bench_with_input(
        BenchmarkId::new("parse_and_receive", datagrams.len()),
        &datagrams,
        |b, d| {
            b.iter(|| {
                let mut rx = DtmfReceiver::new(101);
                let mut keys = 0;
                for dg in d {
                    let p = rtp::parse(dg).unwrap();
                    keys += rx.on_packet(p.payload_type, &p).is_some() as u32;
                }
                keys
            })
        },
    );
    g.finish();
}

/// The bridge relay path. `relay_transcode_and_build_20ms` is the pure
/// per-frame work of the receiving leg (PCMU → PCMA, RTP header).
/// `relay_loopback_frame` pushes one frame at a time through two linked
/// sessions on loopback (phone → caller leg → agent leg → phone) and waits
/// for it: wall time per frame including four syscalls and two task
/// wake-ups, an upper bound for the CPU a relayed frame costs.
fn bench_bridge(c: &mut Criterion) {
    let pcm = speechlike(160);
    let mut ulaw = [0u8; 160];
    CodecKind::Pcmu.encode_into(&pcm, &mut ulaw);
    let mut g = c.benchmark_group("bridge");
    g.bench_function("relay_transcode_and_build_20ms", |b| {
        let mut tx = RtpSender::with_initial(8, 1, 0, 0);
        let mut alaw = [0u8; 160];
        let mut out = [0u8; 172];
        b.iter(|| {
            bridge::transcode(
                CodecKind::Pcmu,
                CodecKind::Pcma,
                black_box(&ulaw),
                &mut alaw,
            );
            tx.write_audio(&alaw, &mut out).unwrap()
        })
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (caller_phone, agent_phone, caller, agent, _bridge, _events) = rt.block_on(async {
        let caller_phone = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let agent_phone = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let config = |kind: CodecKind, remote| MediaConfig {
            codec: Codec {
                payload_type: kind.static_payload_type(),
                kind,
            },
            dtmf_pt: Some(101),
            remote: Some(remote),
            direction: Direction::SendRecv,
            inactivity_timeout: None,
            record: false,
            pacing: None,
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let caller = MediaSession::start(
            tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            None,
            config(CodecKind::Pcmu, caller_phone.local_addr().unwrap()),
            tx.clone(),
        )
        .unwrap();
        let agent = MediaSession::start(
            tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            None,
            config(CodecKind::Pcma, agent_phone.local_addr().unwrap()),
            tx,
        )
        .unwrap();
        let bridge = bridge::link(&caller, &agent, None);
        (caller_phone, agent_phone, caller, agent, bridge, rx)
    });
    let to = caller.local_addr();
    let mut phone = RtpSender::with_initial(0, 7, 0, 0);
    g.bench_function("relay_loopback_frame", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut packet = [0u8; 172];
                let mut buf = [0u8; 2048];
                let start = Instant::now();
                for _ in 0..iters {
                    let n = phone.write_audio(&ulaw, &mut packet).unwrap();
                    caller_phone.send_to(&packet[..n], to).await.unwrap();
                    let got = tokio::time::timeout(
                        Duration::from_secs(1),
                        agent_phone.recv_from(&mut buf),
                    )
                    .await;
                    black_box(got.is_ok());
                }
                start.elapsed()
            })
        })
    });
    g.finish();
    drop((caller, agent));
}

criterion_group!(benches, bench, bench_bridge);
criterion_main!(benches);
