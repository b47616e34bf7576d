//! `GET /api/v1/events` (Server-Sent Events) against the whole server:
//! live delivery of events appended after connecting, replay with
//! `Last-Event-ID` / `?since=` without gaps or duplicates, the manager's
//! filtered view, and the error answers.

mod common;
#[path = "common/http.rs"]
mod http;

use common::TestServer;
use hotline::role::Role;
use hotline::store::ids::new_id;
use hotline::store::{Channel, InquiryStatus, InquiryUpdate, InquiryWrite, NewInquiry};
use http::{Api, assert_error, start_with, user};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// One SSE frame.
#[derive(Debug)]
struct Frame {
    id: String,
    event: String,
    data: Value,
}

/// A minimal `text/event-stream` reader over a reqwest response.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    async fn open(
        api: &Api,
        path: &str,
        token: Option<&str>,
        last_id: Option<&str>,
    ) -> EventStream {
        let mut req = api.client.get(format!("{}{path}", api.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(id) = last_id {
            req = req.header("Last-Event-ID", id);
        }
        let response = req.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        EventStream {
            response,
            buffer: String::new(),
        }
    }

    /// The next event frame (comments skipped); panics after 10 s.
    async fn next(&mut self) -> Frame {
        tokio::time::timeout(Duration::from_secs(10), self.read_frame())
            .await
            .expect("no event within 10 s")
    }

    /// `None` when no event comes within `wait` (to show one is not sent).
    async fn next_within(&mut self, wait: Duration) -> Option<Frame> {
        tokio::time::timeout(wait, self.read_frame()).await.ok()
    }

    async fn read_frame(&mut self) -> Frame {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim_start().to_string());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = Some(v.trim_start().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if let (Some(id), Some(event)) = (id, event) {
                    return Frame {
                        id,
                        event,
                        data: serde_json::from_str(&data).unwrap(),
                    };
                }
                continue; // a keep-alive comment
            }
            let chunk = self.response.chunk().await.unwrap().expect("stream ended");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

async fn agent_state(s: &TestServer, agent: &str, state: &str) -> String {
    s.running
        .store
        .append_event(
            now_ms(),
            "agent.state",
            None,
            Some(agent),
            &json!({ "state": state }),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn a_subscriber_receives_events_appended_after_connecting() {
    let s = start_with(vec![user("hanna", Role::Head)], |_| {}).await;
    let api = Api::new(&s);
    let token = api.login("hanna").await;
    let before = agent_state(&s, "anna", "available").await;
    let mut events = EventStream::open(&api, "/api/v1/events", Some(&token), None).await;

    let id = agent_state(&s, "anna", "busy").await;
    let frame = events.next().await;
    assert_eq!(
        frame.id, id,
        "the event from before connecting is not replayed ({before})"
    );
    assert_eq!(frame.event, "agent.state");
    assert_eq!(frame.data["agent"], "anna");
    assert_eq!(frame.data["data"]["state"], "busy");
    assert!(frame.data["at"].as_str().unwrap().ends_with('Z'));

    // The call layer's batched writes are published too, after commit.
    let inquiry = new_id(now_ms(), &mut rand::thread_rng());
    s.running.inquiries.send(InquiryWrite::Create {
        id: inquiry.clone(),
        inquiry: NewInquiry {
            channel: Channel::Phone,
            from: "+7 916 000-00-01".into(),
            client_id: None,
            status: InquiryStatus::InIvr,
            call_id: Some("c1@test".into()),
            language: None,
            created_at_ms: now_ms(),
        },
        phone_for_client: None,
    });
    let frame = events.next().await;
    assert_eq!(frame.event, "inquiry.created");
    assert_eq!(frame.data["inquiry_id"], inquiry.as_str());
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn last_event_id_replays_then_follows_live_without_gaps_or_duplicates() {
    let s = start_with(vec![user("hanna", Role::Head)], |_| {}).await;
    let api = Api::new(&s);
    let token = api.login("hanna").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(agent_state(&s, "anna", &format!("s{i}")).await);
    }
    let mut events = EventStream::open(&api, "/api/v1/events", Some(&token), Some(&ids[1])).await;
    let live = agent_state(&s, "anna", "live").await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(events.next().await.id);
    }
    assert_eq!(
        got,
        [ids[2].clone(), ids[3].clone(), ids[4].clone(), live.clone()]
    );
    assert!(
        events
            .next_within(Duration::from_millis(300))
            .await
            .is_none(),
        "an event was sent twice"
    );

    // `?since=` and `?access_token=` do the same for clients that cannot
    // set headers (EventSource).
    let path = format!("/api/v1/events?since={}&access_token={token}", ids[3]);
    let mut events = EventStream::open(&api, &path, None, None).await;
    assert_eq!(events.next().await.id, ids[4]);
    assert_eq!(events.next().await.id, live);
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_manager_sees_only_their_own_events() {
    let s = start_with(vec![user("anna", Role::ContactManager)], |_| {}).await;
    let api = Api::new(&s);
    let token = api.login("anna").await;
    let boris_before = agent_state(&s, "boris", "busy").await;
    let anna_before = agent_state(&s, "anna", "busy").await;
    let mut events =
        EventStream::open(&api, "/api/v1/events", Some(&token), Some(&boris_before)).await;
    assert_eq!(events.next().await.id, anna_before);

    agent_state(&s, "boris", "available").await;
    // An inquiry assigned to anna: its later events reach her too.
    let inquiry = new_id(now_ms(), &mut rand::thread_rng());
    s.running.inquiries.send(InquiryWrite::Create {
        id: inquiry.clone(),
        inquiry: NewInquiry {
            channel: Channel::Phone,
            from: "+7 916 000-00-02".into(),
            client_id: None,
            status: InquiryStatus::Waiting,
            call_id: None,
            language: None,
            created_at_ms: now_ms(),
        },
        phone_for_client: None,
    });
    let at = now_ms();
    for update in [
        InquiryUpdate {
            agent: Some("anna".into()),
            status: Some(InquiryStatus::InProgress),
            ..Default::default()
        },
        InquiryUpdate {
            talk_ms: Some(1000),
            ..Default::default()
        },
    ] {
        s.running.inquiries.send(InquiryWrite::Update {
            id: inquiry.clone(),
            update,
            at_ms: at,
        });
    }
    // The creation may come too: whether an event of an inquiry is hers
    // is decided by its assignment when the event is delivered, and the
    // batch that created it also assigned it.
    let mut assigned = events.next().await;
    if assigned.event == "inquiry.created" {
        assert_eq!(assigned.data["inquiry_id"], inquiry.as_str());
        assigned = events.next().await;
    }
    assert_eq!(assigned.event, "inquiry.updated");
    assert_eq!(assigned.data["agent"], "anna");
    let later = events.next().await;
    assert_eq!(later.data["inquiry_id"], inquiry.as_str());
    assert_eq!(later.data["data"]["talk_ms"], 1000);
    let anna_after = agent_state(&s, "anna", "available").await;
    assert_eq!(
        events.next().await.id,
        anna_after,
        "boris's events are not sent"
    );
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn the_stream_refuses_bad_tokens_and_bad_ids() {
    let s = start_with(vec![user("hanna", Role::Head)], |_| {}).await;
    let api = Api::new(&s);
    let token = api.login("hanna").await;
    let r = api
        .request(reqwest::Method::GET, "/api/v1/events", None, None)
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
    let r = api
        .request(
            reqwest::Method::GET,
            "/api/v1/events?access_token=nope",
            None,
            None,
        )
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_token");
    let r = api.get("/api/v1/events?since=not-an-id", &token).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(r.json["error"]["fields"]["since"].is_string(), "{}", r.text);
    s.running.stop().await.unwrap();
}
