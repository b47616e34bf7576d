//! A caller's journey through the default IVR over real sockets: the
//! phone hears the right prompt (decoded G.711 correlated against the WAV),
//! paced every 20 ms, presses keys by RFC 4733, SIP INFO and in-band tones,
//! and the inquiry in the database tells what happened.

mod common;

use common::call_phone::{CallPhone, DialOptions, best_correlation, decode, prompt_samples};
use common::{TestServer, always, test_config};
use hotline::media::g711::CodecKind;
use hotline::store::{Inquiry, InquiryFilter};
use std::path::Path;
use std::time::{Duration, Instant};

fn prompt(id: &str) -> Vec<i16> {
    prompt_samples(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("prompts/ru/{id}.wav")),
        CodecKind::Pcmu,
    )
}

/// The single inquiry of the test's call, once its status is `status`
/// (writes are asynchronous: wait with a deadline).
async fn inquiry_when(server: &TestServer, status: &str) -> Inquiry {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        server.running.inquiries.flush().await;
        let (items, _) = server
            .running
            .store
            .list_inquiries(&InquiryFilter::default(), 10, None)
            .await
            .unwrap();
        if let Some(i) = items.first()
            && i.status.as_str() == status
        {
            assert_eq!(items.len(), 1);
            return items[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "inquiry never reached {status}: {items:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn caller_hears_the_greeting_paced_and_the_inquiry_opens() {
    let server = TestServer::start(vec![]).await;
    let mut phone = CallPhone::dial(server.sip(), "hotline", DialOptions::default()).await;
    assert_eq!(phone.final_status, 200);
    phone.send_silence(5).await;
    let packets = phone.wait_packets(100, Duration::from_secs(10)).await;
    assert!(
        packets.len() >= 100,
        "only {} packets in 10 s",
        packets.len()
    );

    // Content: the first second is the greeting prompt.
    let heard = decode(&packets);
    let corr = best_correlation(&heard, &prompt("greeting"), 8000, 1600);
    assert!(corr > 0.95, "greeting correlation {corr}");

    // Header fields: one SSRC, +1 sequence, +160 timestamp, marker first.
    assert!(packets[0].marker, "marker on the first packet");
    for w in packets.windows(2) {
        assert_eq!(w[1].ssrc, w[0].ssrc);
        assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
        assert_eq!(w[1].timestamp, w[0].timestamp.wrapping_add(160));
        assert_eq!(w[1].payload.len(), 160);
    }
    // Pacing: 20 ms apart (sanity bounds; the timing goal is a benchmark).
    let span = packets.last().unwrap().at - packets[0].at;
    let expected = Duration::from_millis(20 * (packets.len() as u64 - 1));
    assert!(
        span + Duration::from_millis(100) > expected
            && span < expected + Duration::from_millis(200),
        "{} packets in {span:?}",
        packets.len()
    );

    let inquiry = inquiry_when(&server, "in_ivr").await;
    assert_eq!(inquiry.channel.as_str(), "phone");
    assert_eq!(inquiry.from, "79161234567");
    assert!(
        inquiry.client_id.is_some(),
        "client found or created by phone"
    );
    assert_eq!(phone.hang_up().await, 200);
    let ended = inquiry_when(&server, "abandoned").await;
    assert!(ended.ended_at_ms.is_some());
}

/// Presses 1 (applicants) then 1 (admission rules) with `press`, checks the
/// caller hears the admission answer and the inquiry is resolved in the IVR.
async fn admission_self_service(options: DialOptions, how: &str) {
    let server = TestServer::start(vec![]).await;
    let mut phone = CallPhone::dial(server.sip(), "hotline", options).await;
    assert_eq!(phone.final_status, 200, "{how}");
    phone.send_silence(10).await;
    for key in ['1', '1'] {
        match how {
            "rfc4733" => phone.press_rfc4733(key).await,
            "info" => assert_eq!(phone.press_info(key).await, 200),
            "inband" => phone.press_inband(key).await,
            _ => unreachable!(),
        }
        phone.send_silence(10).await;
    }
    let before = phone.audio_packets().len();
    phone.send_silence(100).await;
    let after = phone.audio_packets();
    let heard = decode(&after[before.saturating_sub(25)..]);
    let corr = best_correlation(&heard, &prompt("admission_info"), 8000, 8000);
    assert!(corr > 0.95, "{how}: admission answer correlation {corr}");

    let inquiry = inquiry_when(&server, "in_ivr").await;
    assert_eq!(inquiry.ivr_path.as_deref(), Some("1,1"), "{how}");
    assert_eq!(inquiry.category.as_deref(), Some("applicant"));
    assert_eq!(inquiry.topic.as_deref(), Some("admission_rules"));
    assert_eq!(phone.hang_up().await, 200);
    let done = inquiry_when(&server, "resolved_in_ivr").await;
    assert_eq!(done.ivr_path.as_deref(), Some("1,1"));
}

#[tokio::test]
async fn keys_by_rfc4733_reach_admission_self_service() {
    admission_self_service(DialOptions::default(), "rfc4733").await;
}

#[tokio::test]
async fn keys_by_sip_info_reach_admission_self_service() {
    admission_self_service(DialOptions::default(), "info").await;
}

#[tokio::test]
async fn inband_keys_without_telephone_event_reach_admission_self_service() {
    let options = DialOptions {
        telephone_event: false,
        ..DialOptions::default()
    };
    admission_self_service(options, "inband").await;
}

#[tokio::test]
async fn pcma_caller_is_answered_in_pcma() {
    let server = TestServer::start(vec![]).await;
    let options = DialOptions {
        codec: CodecKind::Pcma,
        ..DialOptions::default()
    };
    let mut phone = CallPhone::dial(server.sip(), "100", options).await;
    assert_eq!(phone.final_status, 200);
    assert!(
        phone.answer_sdp.contains("PCMA/8000"),
        "{}",
        phone.answer_sdp
    );
    phone.send_silence(3).await;
    let packets = phone.wait_packets(50, Duration::from_secs(5)).await;
    assert!(packets.iter().all(|p| p.payload_type == 8));
    let greeting = prompt_samples(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/ru/greeting.wav"),
        CodecKind::Pcma,
    );
    assert!(best_correlation(&decode(&packets), &greeting, 4000, 1600) > 0.95);
    phone.hang_up().await;
}

#[tokio::test]
async fn zero_puts_the_caller_in_the_general_queue_with_hold_message() {
    let server = TestServer::start(vec![]).await;
    let mut phone = CallPhone::dial(server.sip(), "hotline", DialOptions::default()).await;
    phone.send_silence(5).await;
    phone.press_rfc4733('0').await;
    phone.send_silence(5).await;
    let waiting = inquiry_when(&server, "waiting").await;
    assert_eq!(waiting.queue.as_deref(), Some("general"));
    assert_eq!(waiting.category.as_deref(), Some("other"));
    let before = phone.audio_packets().len();
    phone.send_silence(75).await;
    let heard = decode(&phone.audio_packets()[before.saturating_sub(10)..]);
    let corr = best_correlation(&heard, &prompt("please_hold"), 8000, 4000);
    assert!(corr > 0.95, "please-hold correlation {corr}");
    phone.hang_up().await;
    let abandoned = inquiry_when(&server, "abandoned").await;
    assert!(abandoned.wait_ms.is_some_and(|w| w > 0));
}

#[tokio::test]
async fn closed_hours_play_the_closed_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir, vec![]);
    config.calendar = always(false);
    let running = hotline::server::start(config).await.unwrap();
    let mut phone = CallPhone::dial(running.sip_addr, "hotline", DialOptions::default()).await;
    phone.send_silence(5).await;
    let packets = phone.wait_packets(60, Duration::from_secs(5)).await;
    let corr = best_correlation(&decode(&packets), &prompt("closed"), 8000, 1600);
    assert!(corr > 0.95, "closed-message correlation {corr}");
    phone.hang_up().await;
    running.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_number_is_404_and_no_common_codec_is_488() {
    let server = TestServer::start(vec![]).await;
    let phone = CallPhone::dial(server.sip(), "nobody-here", DialOptions::default()).await;
    assert_eq!(phone.final_status, 404);
    let g729 = CallPhone::dial_raw_offer(
        server.sip(),
        "hotline",
        "m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n",
    )
    .await;
    assert_eq!(g729, 488);
}

#[tokio::test]
async fn silent_caller_is_hung_up_after_the_rtp_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir, vec![]);
    config.media.rtp_timeout_s = 1;
    let running = hotline::server::start(config).await.unwrap();
    let mut phone = CallPhone::dial(running.sip_addr, "hotline", DialOptions::default()).await;
    assert_eq!(phone.final_status, 200);
    // The phone sends no RTP at all: the server gives up and sends BYE.
    assert!(
        phone.wait_for_bye(Duration::from_secs(10)).await,
        "server hung up the dead call"
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn graceful_stop_hangs_up_calls_and_finalises_inquiries() {
    let server = TestServer::start(vec![]).await;
    let mut phone = CallPhone::dial(server.sip(), "hotline", DialOptions::default()).await;
    phone.send_silence(3).await;
    inquiry_when(&server, "in_ivr").await;
    let TestServer {
        running,
        dir,
        config,
    } = server;
    let (bye, stopped) = tokio::join!(phone.wait_for_bye(Duration::from_secs(10)), running.stop());
    assert!(bye, "the caller got a BYE");
    stopped.unwrap();
    // Every inquiry was written before the stop returned.
    let store = hotline::store::Store::connect(&config.database.url)
        .await
        .unwrap();
    let (items, _) = store
        .list_inquiries(&InquiryFilter::default(), 10, None)
        .await
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].status.as_str(), "abandoned");
    assert!(items[0].ended_at_ms.is_some());
    drop(dir);
}

#[tokio::test]
async fn hold_and_resume_by_reinvite() {
    let server = TestServer::start(vec![]).await;
    let mut phone = CallPhone::dial(server.sip(), "hotline", DialOptions::default()).await;
    phone.send_silence(3).await;
    let (status, answer) = phone.reinvite("sendonly").await;
    assert_eq!(status, 200);
    assert!(
        answer.contains("a=recvonly"),
        "held: we only receive\n{answer}"
    );
    // While held the server sends nothing.
    phone.send_silence(5).await;
    let held_at = phone.audio_packets().len();
    phone.send_silence(10).await;
    assert!(
        phone.audio_packets().len() <= held_at + 1,
        "audio while on hold"
    );
    let (status, answer) = phone.reinvite("sendrecv").await;
    assert_eq!(status, 200);
    assert!(answer.contains("a=sendrecv"), "{answer}");
    phone.send_silence(10).await;
    let resumed = phone
        .wait_packets(held_at + 10, Duration::from_secs(3))
        .await;
    assert!(
        resumed.len() >= held_at + 10,
        "audio flows again after resume"
    );
    assert_eq!(phone.hang_up().await, 200);
}

#[tokio::test]
async fn after_hours_caller_leaves_a_callback_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(&dir, vec![]);
    config.calendar = always(false);
    let running = hotline::server::start(config).await.unwrap();
    let mut phone = CallPhone::dial(running.sip_addr, "hotline", DialOptions::default()).await;
    phone.send_silence(5).await;
    phone.press_rfc4733('1').await;
    // The confirmation plays, then the server hangs up by itself.
    assert!(
        phone.wait_for_bye(Duration::from_secs(30)).await,
        "server ends the call after the confirmation"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        running.inquiries.flush().await;
        let (items, _) = running
            .store
            .list_inquiries(&InquiryFilter::default(), 10, None)
            .await
            .unwrap();
        let i = &items[0];
        if i.ended_at_ms.is_some() {
            assert_eq!(i.status.as_str(), "callback_requested");
            assert_eq!(i.topic.as_deref(), Some("callback"));
            assert_eq!(i.from, "79161234567", "the number to call back");
            break;
        }
        assert!(Instant::now() < deadline, "inquiry not finalised: {i:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.stop().await.unwrap();
}
