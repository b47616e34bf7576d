//! Calls reach people: a caller goes through the default IVR to a queue,
//! an operator's registered test phone rings, answers, and the two hear
//! each other (checked by content: each side sends its own tone). Personal
//! managers, fallbacks, hang-ups while ringing, REFER transfers and the
//! stereo recording are checked the way an operator or the head would:
//! what the phone showed, what was heard, what the inquiry says.

mod common;

use common::agent_phone::AgentPhone;
use common::call_phone::{CallPhone, DialOptions, decode, tone};
use common::{TestServer, agent, start_with};
use hotline::acd::{AgentRequest, AgentState, RoutingReason};
use hotline::config::{AgentConfig, Config};
use hotline::role::Role;
use hotline::sip::digest::Algorithm;
use hotline::store::{Inquiry, InquiryFilter, QueueSkill};
use std::time::{Duration, Instant};

const CALLER_HZ: f64 = 600.0;
const AGENT_HZ: f64 = 1000.0;
const WAIT: Duration = Duration::from_secs(15);

fn manager(login: &str, role: Role, queue: &str) -> AgentConfig {
    AgentConfig {
        role,
        queues: vec![QueueSkill::new(queue)],
        ..agent(login, &format!("password-{login}"), &[Algorithm::Md5])
    }
}

/// Registers `login`'s phone and waits until routing counts them available.
async fn phone_of(server: &TestServer, login: &str) -> AgentPhone {
    let phone = AgentPhone::register(server.sip(), login, &format!("password-{login}")).await;
    server.wait_state(login, AgentState::Available).await;
    phone
}

/// The single inquiry once `check` holds (writes are asynchronous).
async fn inquiry_where(
    server: &TestServer,
    what: &str,
    check: impl Fn(&Inquiry) -> bool,
) -> Inquiry {
    let deadline = Instant::now() + WAIT;
    loop {
        server.running.inquiries.flush().await;
        let (items, _) = server
            .running
            .store
            .list_inquiries(&InquiryFilter::default(), 10, None)
            .await
            .unwrap();
        if let Some(i) = items.first()
            && check(i)
        {
            assert_eq!(items.len(), 1, "one call, one inquiry");
            return i.clone();
        }
        assert!(Instant::now() < deadline, "inquiry never {what}: {items:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A bearer token for `login` (agents log in with their SIP password).
async fn api_token(server: &TestServer, login: &str) -> String {
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "http://{}/api/v1/auth/login",
            server.running.http_addr
        ))
        .json(&serde_json::json!({"username": login, "password": format!("password-{login}")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"]
        .as_str()
        .unwrap_or_else(|| panic!("login {login}: {r}"))
        .to_string()
}

/// `GET path` as `login`: status and JSON body.
async fn api_get(server: &TestServer, login: &str, path: &str) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .get(format!("http://{}{path}", server.running.http_addr))
        .bearer_auth(api_token(server, login).await)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// The single inquiry once its status is `status`.
async fn inquiry_in(server: &TestServer, status: &str) -> Inquiry {
    inquiry_where(server, status, |i| i.status.as_str() == status).await
}

/// Dials the hotline and presses `keys` (the greeting can be barged into).
async fn caller(server: &TestServer, keys: &[char]) -> CallPhone {
    let mut phone = CallPhone::dial(server.sip(), "hotline", DialOptions::default()).await;
    assert_eq!(phone.final_status, 200);
    phone.send_silence(5).await;
    for &key in keys {
        phone.press_rfc4733(key).await;
        phone.send_silence(10).await;
    }
    phone
}

/// Relative power of `hz` in `samples` (Goertzel over the whole span,
/// divided by the signal's energy): near 1 for that pure tone, near 0
/// for silence, music or another tone.
fn tone_share(samples: &[i16], hz: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * hz / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2, mut energy) = (0.0f64, 0.0f64, 0.0f64);
    for &x in samples {
        let x = x as f64;
        energy += x * x;
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    if energy == 0.0 {
        0.0
    } else {
        2.0 * power / (energy * samples.len() as f64)
    }
}

/// Sends a second of the caller's tone and of the agent's tone at the
/// same time, then checks each side heard the other's.
async fn both_hear_each_other(caller: &mut CallPhone, agent: &mut AgentPhone) {
    let caller_before = caller.audio_packets().len();
    let agent_before = agent.audio_packets().len();
    let caller_tone = tone(CALLER_HZ, 1000);
    let agent_tone = tone(AGENT_HZ, 1000);
    tokio::join!(
        caller.media.send_samples(&caller_tone),
        agent.media.send_samples(&agent_tone)
    );
    caller.send_silence(10).await;
    let heard_by_caller = decode(&caller.audio_packets()[caller_before..]);
    let heard_by_agent = decode(&agent.audio_packets()[agent_before..]);
    let share = tone_share(&heard_by_caller, AGENT_HZ);
    assert!(
        share > 0.3,
        "caller hears the agent's tone: share {share:.3}"
    );
    assert!(
        tone_share(&heard_by_caller, CALLER_HZ) < 0.05,
        "no echo of the caller"
    );
    let share = tone_share(&heard_by_agent, CALLER_HZ);
    assert!(
        share > 0.3,
        "agent hears the caller's tone: share {share:.3}"
    );
}

#[tokio::test]
async fn zero_reaches_a_free_contact_manager_and_both_hear_each_other() {
    let server = start_with(
        vec![manager("anna", Role::ContactManager, "general")],
        |_| {},
    )
    .await;
    let mut anna = phone_of(&server, "anna").await;
    let mut phone = caller(&server, &['0']).await;

    let invite = anna.wait_invite(WAIT).await.expect("anna's phone rings");
    // Who is calling, before answering: number, category and topic, screen pop.
    assert_eq!(invite.caller, "79161234567");
    assert_eq!(
        invite.display_name.as_deref(),
        Some("Другое · общий вопрос")
    );
    let waiting = inquiry_in(&server, "waiting").await;
    let call_info = invite.call_info.clone().expect("Call-Info header");
    assert!(
        call_info.contains(&format!("/api/v1/inquiries/{}", waiting.id)),
        "{call_info}"
    );
    anna.ring().await;
    assert!(anna.answer().await, "the server ACKs the answer");
    anna.send_silence(3).await;

    let talking = inquiry_in(&server, "in_progress").await;
    assert_eq!(talking.agent.as_deref(), Some("anna"));
    assert_eq!(talking.queue.as_deref(), Some("general"));
    assert_eq!(
        talking.routing_reason.as_deref(),
        Some(RoutingReason::LongestIdle.as_str())
    );
    assert!(talking.answered_at_ms.is_some());
    server.wait_state("anna", AgentState::Busy).await;
    // The live views agree: the agent is busy, the call is talking.
    let (status, me) = api_get(&server, "anna", "/api/v1/agents/anna").await;
    assert_eq!((status, me["state"].as_str()), (200, Some("busy")), "{me}");
    let (status, calls) = api_get(&server, "anna", "/api/v1/calls").await;
    assert_eq!(status, 200, "{calls}");
    assert!(calls.to_string().contains("\"talking\""), "{calls}");
    let (status, queues) = api_get(&server, "anna", "/api/v1/queues").await;
    assert_eq!(status, 200, "{queues}");
    // And so does /metrics (routing is sampled once a second).
    let deadline = Instant::now() + WAIT;
    loop {
        let text = reqwest::get(format!("http://{}/metrics", server.running.http_addr))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let has = |line: &str| text.lines().any(|l| l == line);
        if has("hotline_calls_in_progress 1") && has("hotline_agents{state=\"busy\"} 1") {
            assert!(has("hotline_calls_total 1"), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never showed the call: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    both_hear_each_other(&mut phone, &mut anna).await;

    // The caller hangs up: the agent's phone gets BYE, the inquiry closes.
    phone.hang_up().await;
    assert!(anna.wait_bye(WAIT).await, "agent leg ended");
    let done = inquiry_in(&server, "resolved").await;
    assert!(
        done.talk_ms.is_some_and(|t| t >= 1000),
        "{:?}",
        done.talk_ms
    );
    assert!(done.wait_ms.is_some());
    assert!(done.ended_at_ms.is_some());
    server.wait_state("anna", AgentState::WrapUp).await;
    assert!(server.running.live_calls.list().is_empty());
}

#[tokio::test]
async fn agent_hanging_up_ends_the_callers_call_too() {
    let server = start_with(
        vec![manager("anna", Role::ContactManager, "general")],
        |_| {},
    )
    .await;
    let mut anna = phone_of(&server, "anna").await;
    let mut phone = caller(&server, &['0']).await;
    anna.wait_invite(WAIT).await.expect("rings");
    assert!(anna.answer().await);
    inquiry_in(&server, "in_progress").await;
    assert_eq!(anna.hang_up().await, Some(200));
    assert!(
        phone.wait_for_bye(WAIT).await,
        "caller is not left on a dead line"
    );
    inquiry_in(&server, "resolved").await;
}

#[tokio::test]
async fn caller_hanging_up_while_ringing_is_abandoned_and_the_phone_stops() {
    let server = start_with(
        vec![manager("anna", Role::ContactManager, "general")],
        |_| {},
    )
    .await;
    let mut anna = phone_of(&server, "anna").await;
    let mut phone = caller(&server, &['0']).await;
    anna.wait_invite(WAIT).await.expect("rings");
    anna.ring().await;
    phone.hang_up().await;
    assert!(
        anna.wait_cancel(WAIT).await,
        "the server cancels the ringing phone"
    );
    let gone = inquiry_in(&server, "abandoned").await;
    assert_eq!(gone.agent, None);
    server.wait_state("anna", AgentState::Available).await;
}

#[tokio::test]
async fn a_declining_agent_passes_the_call_to_the_next() {
    let server = start_with(
        vec![
            manager("anna", Role::ContactManager, "general"),
            manager("boris", Role::ContactManager, "general"),
        ],
        |_| {},
    )
    .await;
    let mut anna = phone_of(&server, "anna").await;
    let mut boris = phone_of(&server, "boris").await;
    let _phone = caller(&server, &['0']).await;
    // Whoever rings first declines; the other must get the call.
    let (first, second) = tokio::select! {
        Some(_) = anna.wait_invite(WAIT) => (&mut anna, &mut boris),
        Some(_) = boris.wait_invite(WAIT) => (&mut boris, &mut anna),
    };
    assert!(first.decline(486).await);
    second
        .wait_invite(WAIT)
        .await
        .expect("the next agent rings");
    assert!(second.answer().await);
    let login = second.login.clone();
    let talking = inquiry_in(&server, "in_progress").await;
    assert_eq!(talking.agent, Some(login));
}

/// An applicant (1) who asks for a manager (2) reaches their own personal
/// admission manager first.
async fn applicant_with_manager(server: &TestServer, login: &str) {
    let client = server
        .running
        .store
        .find_or_create_client_by_phone("79161234567", 0)
        .await
        .unwrap();
    server
        .running
        .store
        .set_personal_manager(&client.id, "admission", Some(login), "admin")
        .await
        .unwrap();
}

fn admission_team(personal_ring_s: u64) -> (Vec<AgentConfig>, impl FnOnce(&mut Config)) {
    (
        vec![
            manager("olga", Role::AdmissionManager, "admission"),
            manager("petr", Role::AdmissionManager, "admission"),
        ],
        move |c: &mut Config| {
            for q in &mut c.queues {
                q.personal_ring_s = personal_ring_s;
            }
        },
    )
}

#[tokio::test]
async fn a_known_applicant_rings_their_personal_manager_first() {
    let (agents, tune) = admission_team(20);
    let server = start_with(agents, tune).await;
    let mut olga = phone_of(&server, "olga").await;
    let mut petr = phone_of(&server, "petr").await;
    applicant_with_manager(&server, "olga").await;
    let _phone = caller(&server, &['1', '2']).await;
    let invite = olga.wait_invite(WAIT).await.expect("olga rings first");
    assert_eq!(invite.display_name.as_deref(), Some("Абитуриент · приём"));
    assert!(olga.answer().await);
    let talking = inquiry_in(&server, "in_progress").await;
    assert_eq!(talking.agent.as_deref(), Some("olga"));
    assert_eq!(
        talking.routing_reason.as_deref(),
        Some(RoutingReason::PersonalManager.as_str())
    );
    assert!(petr.wait_invite(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn personal_manager_not_answering_falls_back_to_the_queue() {
    let (agents, tune) = admission_team(1);
    let server = start_with(agents, tune).await;
    let mut olga = phone_of(&server, "olga").await;
    let mut petr = phone_of(&server, "petr").await;
    applicant_with_manager(&server, "olga").await;
    let _phone = caller(&server, &['1', '2']).await;
    olga.wait_invite(WAIT).await.expect("olga rings first");
    // Olga does not pick up: after personal_ring_s the queue takes over.
    assert!(olga.wait_cancel(WAIT).await, "olga's phone stops ringing");
    petr.wait_invite(WAIT).await.expect("petr rings next");
    assert!(petr.answer().await);
    let talking = inquiry_in(&server, "in_progress").await;
    assert_eq!(talking.agent.as_deref(), Some("petr"));
    assert_eq!(
        talking.routing_reason.as_deref(),
        Some(RoutingReason::PersonalNoAnswerFallback.as_str())
    );
}

#[tokio::test]
async fn personal_manager_on_pause_falls_back_at_once() {
    let (agents, tune) = admission_team(20);
    let server = start_with(agents, tune).await;
    let mut olga = phone_of(&server, "olga").await;
    let mut petr = phone_of(&server, "petr").await;
    applicant_with_manager(&server, "olga").await;
    server
        .running
        .routing
        .agent_request("olga", AgentRequest::Pause)
        .await
        .unwrap();
    let _phone = caller(&server, &['1', '2']).await;
    petr.wait_invite(WAIT).await.expect("petr rings");
    assert!(petr.answer().await);
    let talking = inquiry_in(&server, "in_progress").await;
    assert_eq!(
        talking.routing_reason.as_deref(),
        Some(RoutingReason::PersonalBusyFallback.as_str())
    );
    assert!(olga.wait_invite(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn refer_transfers_the_caller_to_another_queue_in_one_inquiry() {
    let server = start_with(
        vec![
            manager("anna", Role::ContactManager, "general"),
            manager("petr", Role::AdmissionManager, "admission"),
        ],
        |_| {},
    )
    .await;
    let mut anna = phone_of(&server, "anna").await;
    let mut petr = phone_of(&server, "petr").await;
    let mut phone = caller(&server, &['0']).await;
    anna.wait_invite(WAIT).await.expect("anna rings");
    assert!(anna.answer().await);
    inquiry_where(&server, "with anna", |i| i.agent.as_deref() == Some("anna")).await;

    let target = format!("sip:admission@{}", server.sip());
    assert_eq!(anna.refer(&target).await, Some(202));
    let outcome = anna.wait_notify(WAIT).await.expect("NOTIFY");
    assert!(outcome.starts_with("SIP/2.0 200"), "{outcome}");
    assert!(anna.wait_bye(WAIT).await, "anna's leg is released");

    petr.wait_invite(WAIT)
        .await
        .expect("petr rings after the transfer");
    assert!(petr.answer().await);
    petr.send_silence(3).await;
    let moved = inquiry_where(&server, "with petr", |i| i.agent.as_deref() == Some("petr")).await;
    assert_eq!(moved.transfers, Some(1));
    assert_eq!(moved.queue.as_deref(), Some("admission"));
    assert_eq!(
        moved.routing_reason.as_deref(),
        Some(RoutingReason::LongestIdle.as_str())
    );
    both_hear_each_other(&mut phone, &mut petr).await;

    // The timeline lists both legs.
    let events = server
        .running
        .store
        .events_of_inquiry(&moved.id)
        .await
        .unwrap();
    let agents: Vec<String> = events
        .iter()
        .filter_map(|e| {
            e.data
                .get("agent")
                .and_then(|a| a.as_str())
                .map(str::to_string)
        })
        .collect();
    assert_eq!(agents, ["anna", "petr"], "{events:?}");
    phone.hang_up().await;
    inquiry_in(&server, "resolved").await;
}

#[tokio::test]
async fn agent_hold_gives_the_caller_music_and_resume_brings_the_agent_back() {
    let server = start_with(
        vec![manager("anna", Role::ContactManager, "general")],
        |_| {},
    )
    .await;
    let mut anna = phone_of(&server, "anna").await;
    let mut phone = caller(&server, &['0']).await;
    anna.wait_invite(WAIT).await.expect("rings");
    assert!(anna.answer().await);
    inquiry_in(&server, "in_progress").await;

    let (status, _) = anna.hold().await;
    assert_eq!(status, Some(200));
    let before = phone.audio_packets().len();
    phone.send_silence(50).await;
    let during_hold = decode(&phone.audio_packets()[before..]);
    let moh = common::call_phone::prompt_samples(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/moh.wav"),
        hotline::media::g711::CodecKind::Pcmu,
    );
    let corr = common::call_phone::best_correlation(
        &during_hold,
        &moh,
        4000,
        moh.len().saturating_sub(4000),
    );
    assert!(
        corr > 0.9,
        "caller hears the hold music: correlation {corr}"
    );

    let (status, _) = anna.resume().await;
    assert_eq!(status, Some(200));
    both_hear_each_other(&mut phone, &mut anna).await;
}

#[tokio::test]
async fn bridged_calls_are_recorded_in_stereo_caller_left_agent_right() {
    let server = start_with(
        vec![
            manager("anna", Role::ContactManager, "general"),
            manager("boris", Role::ContactManager, "general"),
        ],
        |c| c.recording.enabled = true,
    )
    .await;
    // Boris is not registered: the call can only go to anna.
    let mut anna = phone_of(&server, "anna").await;
    let mut phone = caller(&server, &['0']).await;
    anna.wait_invite(WAIT).await.expect("rings");
    assert!(anna.answer().await);
    let talking = inquiry_where(&server, "recording", |i| i.recording.is_some()).await;
    both_hear_each_other(&mut phone, &mut anna).await;
    phone.hang_up().await;
    let done = inquiry_in(&server, "resolved").await;
    assert_eq!(done.recording, talking.recording);

    let path = server
        .config
        .paths
        .recordings_dir
        .join(done.recording.as_deref().unwrap());
    // Finalised after the call: poll for the header to be complete.
    let deadline = Instant::now() + WAIT;
    let (left, right) = loop {
        if let Ok(mut wav) = hound::WavReader::open(&path) {
            let spec = wav.spec();
            assert_eq!(
                (spec.channels, spec.sample_rate, spec.bits_per_sample),
                (2, 8000, 16)
            );
            let samples: Vec<i16> = wav.samples::<i16>().map(Result::unwrap).collect();
            let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
            let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
            if tone_share(&right, AGENT_HZ) > 0.1 {
                break (left, right);
            }
        }
        assert!(
            Instant::now() < deadline,
            "recording never complete: {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(tone_share(&left, CALLER_HZ) > 0.1, "caller on the left");
    assert!(tone_share(&left, AGENT_HZ) < 0.02, "no agent on the left");
    assert!(
        tone_share(&right, CALLER_HZ) < 0.02,
        "no caller on the right"
    );

    // The agent who took the call fetches it over the API; another
    // manager may not (and the attempt is audited).
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.running.http_addr);
    let token = |login: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let r: serde_json::Value = http
                .post(format!("{base}/api/v1/auth/login"))
                .json(&serde_json::json!({"username": login, "password": format!("password-{login}")}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["token"]
                .as_str()
                .unwrap_or_else(|| panic!("login {login}: {r}"))
                .to_string()
        }
    };
    let url = format!("{base}/api/v1/inquiries/{}/recording", done.id);
    let own = http
        .get(&url)
        .bearer_auth(token("anna").await)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(own.headers()["content-type"], "audio/wav");
    let bytes = own.bytes().await.unwrap();
    let wav = hound::WavReader::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(wav.spec().channels, 2);
    let other = http
        .get(&url)
        .bearer_auth(token("boris").await)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403);
    let audits = server
        .running
        .store
        .count_audit("recording", &done.id)
        .await
        .unwrap();
    assert_eq!(audits, 2, "both the read and the refusal are audited");
}

#[tokio::test]
async fn a_callback_keeps_the_place_then_rings_the_agent_first_and_then_the_client() {
    let server = start_with(
        vec![manager("anna", Role::ContactManager, "general")],
        |_| {},
    )
    .await;
    let mut anna = phone_of(&server, "anna").await;
    server
        .running
        .routing
        .agent_request("anna", AgentRequest::Pause)
        .await
        .unwrap();
    // Nobody free: the caller waits, then presses 1 for a callback.
    let mut phone = caller(&server, &['0']).await;
    inquiry_in(&server, "waiting").await;
    phone.press_rfc4733('1').await;
    phone.send_silence(5).await;
    inquiry_in(&server, "callback_requested").await;
    assert!(phone.wait_for_bye(WAIT).await, "confirmed, then hung up");
    let snapshot = server.running.routing.snapshot().await;
    let general = snapshot
        .queues
        .iter()
        .find(|q| q.name == "general")
        .unwrap();
    assert_eq!(
        (general.waiting, general.callbacks),
        (1, 1),
        "the place is kept"
    );

    // Anna comes back: her phone rings first, then the client's.
    server
        .running
        .routing
        .agent_request("anna", AgentRequest::Available)
        .await
        .unwrap();
    anna.wait_invite(WAIT)
        .await
        .expect("the agent is called first");
    assert!(anna.answer().await);
    let invite = phone
        .answer_incoming(WAIT)
        .await
        .expect("the client is called back");
    assert!(invite.starts_with("INVITE sip:79161234567@"), "{invite}");
    let talking = inquiry_in(&server, "in_progress").await;
    assert_eq!(talking.agent.as_deref(), Some("anna"));
    both_hear_each_other(&mut phone, &mut anna).await;
    assert_eq!(anna.hang_up().await, Some(200));
    assert!(phone.wait_for_bye(WAIT).await);
    let done = inquiry_in(&server, "resolved").await;
    // One inquiry tells the whole story: the request, then the talk.
    let events = server
        .running
        .store
        .events_of_inquiry(&done.id)
        .await
        .unwrap();
    let statuses: Vec<&str> = events
        .iter()
        .filter_map(|e| e.data.get("status").and_then(|s| s.as_str()))
        .collect();
    let position = |s: &str| statuses.iter().position(|x| *x == s);
    assert!(
        position("callback_requested") < position("in_progress")
            && position("in_progress") < position("resolved"),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn feature_codes_from_the_operators_phone_pause_and_resume_them() {
    let server = start_with(
        vec![manager("anna", Role::ContactManager, "general")],
        |_| {},
    )
    .await;
    let mut anna = phone_of(&server, "anna").await;
    let (status, hung_up) = anna.dial("*51").await;
    assert_eq!(status, 200);
    assert!(hung_up, "confirmation played, then the server hangs up");
    server.wait_state("anna", AgentState::Paused).await;
    let heard = anna.heard();
    let expected = common::call_phone::prompt_samples(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/ru/agent_paused.wav"),
        hotline::media::g711::CodecKind::Pcmu,
    );
    let corr = common::call_phone::best_correlation(&heard, &expected, 4000, 4000);
    assert!(
        corr > 0.9,
        "the operator hears \"paused\": correlation {corr}"
    );

    assert_eq!(anna.dial("*50").await, (200, true));
    server.wait_state("anna", AgentState::Available).await;

    // The same code from a phone that is not a registered agent: refused.
    let stranger = CallPhone::dial(server.sip(), "*51", DialOptions::default()).await;
    assert_eq!(stranger.final_status, 403);
}
