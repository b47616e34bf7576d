//! E-mail and messenger ingest over a real socket and SQLite:
//! `POST /api/v1/channels/email` with real messages from
//! `tests/data/email/*.eml` (plain, multipart with an attachment,
//! quoted-printable windows-1251, base64 UTF-8 and koi8-r subjects, HTML
//! only, a reply joining its thread, a repeat delivery, garbage), and
//! `POST /api/v1/channels/messenger/{name}` with Telegram-style updates.
//! Results are checked where a user would see them: the inquiry and its
//! timeline from `GET /api/v1/inquiries/{id}`, the client rows, the audit.

#[path = "common/api_helpers.rs"]
mod api_helpers;

use api_helpers::{ADMIN_PASSWORD, REALM, Reply, db_url, into_reply, temp_db};
use hotline::api::{AgentEvent, AppState, router};
use hotline::config::{ChannelsConfig, Config, MessengerConfig};
use hotline::role::Role;
use hotline::store::{
    ContactKey, InquiryStatus, InquiryUpdate, MessengerHandle, NewAgent, QueueSkill, Store,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::broadcast;

const INGEST_TOKEN: &str = "mta-ingest-token-0123456789";
const BOT_SECRET: &str = "telegram-webhook-secret_42";
/// Small, so the 413 test need not send megabytes.
const MAX_EMAIL_BYTES: usize = 8192;

struct Server {
    base: String,
    store: Store,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/email/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

impl Server {
    async fn start() -> Server {
        let (dir, path) = temp_db();
        let store = Store::connect(&db_url(&path)).await.unwrap();
        store.migrate().await.unwrap();
        store
            .ensure_admin(Some(ADMIN_PASSWORD), REALM)
            .await
            .unwrap();
        let mut channels = ChannelsConfig {
            email_ingest_token: Some(INGEST_TOKEN.into()),
            max_email_bytes: MAX_EMAIL_BYTES,
            ..ChannelsConfig::default()
        };
        channels.messenger.insert(
            "telegram".into(),
            MessengerConfig {
                secret: BOT_SECRET.into(),
            },
        );
        let (agent_events, _) = broadcast::channel::<AgentEvent>(16);
        let app = router(AppState {
            store: store.clone(),
            realm: REALM.to_string(),
            token_ttl_s: 3600,
            agent_events,
            channels: Arc::new(channels),
            routing: None,
            reports: Default::default(),
            recordings_dir: Default::default(),
            lockout: hotline::store::LoginLockout::default(),
            metrics: Default::default(),
            stopping: tokio::sync::watch::channel(false).1,
            calendar: Default::default(),
            ivr: None,
            board_today: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server {
            base: format!("http://{addr}"),
            store,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn login(&self, username: &str, password: &str) -> String {
        let r = into_reply(
            self.client
                .post(format!("{}/api/v1/auth/login", self.base))
                .json(&json!({ "username": username, "password": password }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json["token"].as_str().unwrap().to_string()
    }

    async fn user(&self, login: &str, role: Role) -> String {
        let password = format!("{login}-password");
        self.store
            .create_agent(
                &NewAgent {
                    login: login.into(),
                    name: login.into(),
                    role,
                    password: password.clone(),
                    queues: vec![QueueSkill::new("general")],
                    digest_algorithms: vec![],
                    nat: false,
                },
                REALM,
            )
            .await
            .unwrap();
        self.login(login, &password).await
    }

    /// Posts a raw message the way an MTA pipe does (curl --data-binary).
    async fn mail(&self, raw: Vec<u8>, headers: &[(&str, &str)]) -> Reply {
        let mut req = self
            .client
            .post(format!("{}/api/v1/channels/email", self.base))
            .body(raw);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        into_reply(req.send().await.unwrap()).await
    }

    async fn mta(&self, raw: Vec<u8>) -> Reply {
        self.mail(
            raw,
            &[
                ("x-hotline-token", INGEST_TOKEN),
                ("content-type", "message/rfc822"),
            ],
        )
        .await
    }

    async fn webhook(&self, name: &str, secret: Option<&str>, update: Value) -> Reply {
        let mut req = self
            .client
            .post(format!("{}/api/v1/channels/messenger/{name}", self.base))
            .json(&update);
        if let Some(secret) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        into_reply(req.send().await.unwrap()).await
    }

    async fn inquiry(&self, id: &str) -> Value {
        let token = self.login("admin", ADMIN_PASSWORD).await;
        let r = into_reply(
            self.client
                .get(format!("{}/api/v1/inquiries/{id}", self.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json
    }

    /// The `inquiry.message` events of an inquiry, oldest first.
    async fn messages(&self, id: &str) -> Vec<Value> {
        self.inquiry(id).await["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "inquiry.message")
            .map(|e| e["data"].clone())
            .collect()
    }

    async fn inquiries_total(&self) -> usize {
        let (items, _) = self
            .store
            .list_inquiries(&Default::default(), 1000, None)
            .await
            .unwrap();
        items.len()
    }
}

fn assert_filed(r: &Reply, status: StatusCode, joined: bool) -> (String, String) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.json["joined"], joined, "{}", r.text);
    (
        r.json["inquiry_id"].as_str().unwrap().to_string(),
        r.json["client_id"].as_str().unwrap().to_string(),
    )
}

fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.json["error"]["code"], code, "{}", r.text);
}

#[tokio::test]
async fn a_plain_email_creates_an_inquiry_and_its_client() {
    let s = Server::start().await;
    let r = s.mta(fixture("plain.eml")).await;
    let (id, client_id) = assert_filed(&r, StatusCode::CREATED, false);
    assert_eq!(r.json["duplicate"], false);

    let inquiry = s.inquiry(&id).await;
    assert_eq!(inquiry["channel"], "email");
    assert_eq!(inquiry["status"], "new");
    assert_eq!(inquiry["from"], "ivan.petrov@example.org", "lower-cased");
    assert_eq!(inquiry["topic"], "Admission documents");
    assert_eq!(inquiry["client_id"], client_id.as_str());
    let kinds: Vec<&str> = inquiry["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["inquiry.created", "inquiry.updated", "inquiry.message"]
    );
    let message = &s.messages(&id).await[0];
    assert_eq!(message["subject"], "Admission documents");
    assert_eq!(message["name"], "Ivan Petrov");
    assert_eq!(
        message["message_id"],
        "20250303101500.GA1234@mail.example.org"
    );
    assert_eq!(message["sent_at"], "2025-03-03T07:15:00Z");
    assert!(
        message["text"]
            .as_str()
            .unwrap()
            .contains("which documents do I need"),
        "{message}"
    );

    let client = s.store.get_client(&client_id).await.unwrap().unwrap();
    assert_eq!(client.name.as_deref(), Some("Ivan Petrov"));
    assert_eq!(client.emails, ["ivan.petrov@example.org"]);
    assert_eq!(
        s.store
            .client_id_by_contact(ContactKey::Email("ivan.petrov@example.org"))
            .await
            .unwrap(),
        Some(client_id)
    );
    assert!(s.store.count_audit("inquiry", &id).await.unwrap() >= 1);
}

#[tokio::test]
async fn a_reply_joins_its_thread_and_a_repeat_is_filed_once() {
    let s = Server::start().await;
    let (id, client_id) = assert_filed(
        &s.mta(fixture("plain.eml")).await,
        StatusCode::CREATED,
        false,
    );

    let again = s.mta(fixture("plain.eml")).await;
    let (again_id, again_client) = assert_filed(&again, StatusCode::OK, false);
    assert_eq!(again.json["duplicate"], true);
    assert_eq!(
        (again_id.as_str(), again_client.as_str()),
        (id.as_str(), client_id.as_str())
    );

    let reply = s.mta(fixture("reply.eml")).await;
    let (reply_id, reply_client) = assert_filed(&reply, StatusCode::OK, true);
    assert_eq!(reply.json["duplicate"], false);
    assert_eq!(reply_id, id, "the reply joins the first message's inquiry");
    assert_eq!(reply_client, client_id, "same sender, same client");

    // The repeat of the reply reports what the reply did.
    let reply_again = s.mta(fixture("reply.eml")).await;
    assert_filed(&reply_again, StatusCode::OK, true);
    assert_eq!(reply_again.json["duplicate"], true);

    let messages = s.messages(&id).await;
    assert_eq!(
        messages.len(),
        2,
        "one event per distinct message: {messages:?}"
    );
    assert_eq!(messages[1]["subject"], "Re: Admission documents");
    assert!(messages[1]["text"].as_str().unwrap().contains("passport"));
    assert_eq!(s.inquiries_total().await, 1);
    assert_eq!(s.store.count_clients().await.unwrap(), 1);
}

#[tokio::test]
async fn concurrent_deliveries_of_one_message_file_it_once() {
    let s = Arc::new(Server::start().await);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.mta(fixture("plain.eml")).await })
        })
        .collect();
    let mut ids = Vec::new();
    let mut created = 0;
    for t in tasks {
        let r = t.await.unwrap();
        assert!(r.status.is_success(), "{}", r.text);
        created += usize::from(r.status == StatusCode::CREATED);
        ids.push(r.json["inquiry_id"].as_str().unwrap().to_string());
    }
    assert_eq!(created, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1);
    assert_eq!(s.inquiries_total().await, 1);
    assert_eq!(s.messages(&ids[0]).await.len(), 1);
}

#[tokio::test]
async fn multipart_alternative_prefers_text_and_lists_the_attachment() {
    let s = Server::start().await;
    let (id, client_id) = assert_filed(
        &s.mta(fixture("multipart_attachment.eml")).await,
        StatusCode::CREATED,
        false,
    );
    let message = &s.messages(&id).await[0];
    assert_eq!(message["text"], "Please find my application form attached.");
    assert_eq!(
        message["attachments"],
        json!([{ "name": "application.pdf", "content_type": "application/pdf", "size": 69 }])
    );
    let client = s.store.get_client(&client_id).await.unwrap().unwrap();
    assert_eq!(client.name.as_deref(), Some("Anna Smirnova"));
}

#[tokio::test]
async fn cyrillic_in_every_encoding_is_decoded() {
    let s = Server::start().await;
    // windows-1251: Q-encoded subject, quoted-printable body; UTF-8 B name.
    let (id, client_id) = assert_filed(
        &s.mta(fixture("qp_cyrillic_cp1251.eml")).await,
        StatusCode::CREATED,
        false,
    );
    let inquiry = s.inquiry(&id).await;
    assert_eq!(inquiry["topic"], "Приём документов");
    assert_eq!(inquiry["from"], "maria.ivanova@yandex.ru");
    let message = &s.messages(&id).await[0];
    assert_eq!(
        message["text"],
        "Здравствуйте!\nПодскажите, пожалуйста, когда начинается приём документов на заочное отделение?\nСпасибо."
    );
    let client = s.store.get_client(&client_id).await.unwrap().unwrap();
    assert_eq!(client.name.as_deref(), Some("Мария Иванова"));

    // =?UTF-8?B?...?= subject, base64 UTF-8 body.
    let (id, client_id) = assert_filed(
        &s.mta(fixture("subject_utf8_base64.eml")).await,
        StatusCode::CREATED,
        false,
    );
    assert_eq!(s.inquiry(&id).await["topic"], "Вопрос об оплате обучения");
    assert_eq!(
        s.messages(&id).await[0]["text"],
        "Добрый день! Можно ли оплатить обучение в рассрочку?"
    );
    let client = s.store.get_client(&client_id).await.unwrap().unwrap();
    assert_eq!(client.name.as_deref(), Some("Пётр Сидоров"));

    // =?koi8-r?B?...?= subject, 8-bit koi8-r body.
    let (id, _) = assert_filed(
        &s.mta(fixture("subject_koi8r.eml")).await,
        StatusCode::CREATED,
        false,
    );
    assert_eq!(s.inquiry(&id).await["topic"], "Расписание занятий");
    assert_eq!(
        s.messages(&id).await[0]["text"],
        "Где посмотреть расписание занятий для слушателей курсов?"
    );
}

#[tokio::test]
async fn an_html_only_message_is_filed_as_text() {
    let s = Server::start().await;
    let (id, _) = assert_filed(
        &s.mta(fixture("html_only.eml")).await,
        StatusCode::CREATED,
        false,
    );
    let text = s.messages(&id).await[0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("Is there a preparatory course in physics?"),
        "{text:?}"
    );
    assert!(!text.contains('<') && !text.contains("color"), "{text:?}");
}

#[tokio::test]
async fn unusable_messages_are_refused_by_field_and_file_nothing() {
    let s = Server::start().await;
    let r = s.mta(fixture("garbage.eml")).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // Binary junk has no From and no readable body.
    assert_eq!(
        r.json["error"]["fields"]["from"], "is missing",
        "{}",
        r.text
    );
    assert!(r.json["error"]["fields"]["body"].is_string(), "{}", r.text);

    let r = s.mta(fixture("no_from.eml")).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        r.json["error"]["fields"]["from"], "is missing",
        "{}",
        r.text
    );

    let r = s
        .mta(b"From: someone@example.org\r\nSubject: empty\r\n\r\n".to_vec())
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(r.json["error"]["fields"]["body"].is_string(), "{}", r.text);

    let r = s.mta(Vec::new()).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(r.json["error"]["fields"]["message"], "is empty");

    let mut big = fixture("plain.eml");
    big.extend(std::iter::repeat_n(b'x', MAX_EMAIL_BYTES));
    assert_error(
        &s.mta(big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );

    let r = s
        .mail(
            fixture("plain.eml"),
            &[
                ("x-hotline-token", INGEST_TOKEN),
                ("content-type", "application/json"),
            ],
        )
        .await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    assert_eq!(s.inquiries_total().await, 0);
    assert_eq!(s.store.count_clients().await.unwrap(), 0);
}

#[tokio::test]
async fn email_ingest_needs_the_ingest_token_or_a_head_token() {
    let s = Server::start().await;
    let r = s.mail(fixture("plain.eml"), &[]).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");

    let r = s
        .mail(
            fixture("plain.eml"),
            &[("x-hotline-token", "mta-ingest-token-0123456780")],
        )
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_ingest_token");

    let manager = s.user("1001", Role::ContactManager).await;
    let bearer = format!("Bearer {manager}");
    let r = s
        .mail(fixture("plain.eml"), &[("authorization", bearer.as_str())])
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(s.inquiries_total().await, 0);

    let head = s.user("boss", Role::Head).await;
    let bearer = format!("Bearer {head}");
    let r = s
        .mail(
            fixture("plain.eml"),
            &[
                ("authorization", bearer.as_str()),
                ("content-type", "text/plain"),
            ],
        )
        .await;
    assert_filed(&r, StatusCode::CREATED, false);

    let r = s
        .mail(fixture("reply.eml"), &[("x-hotline-token", INGEST_TOKEN)])
        .await;
    assert_filed(&r, StatusCode::OK, true);
}

fn update(update_id: i64, user_id: i64, text: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id * 10,
            "from": { "id": user_id, "is_bot": false, "username": "ivan_p",
                      "first_name": "Иван", "last_name": "Петров", "language_code": "ru" },
            "chat": { "id": user_id, "type": "private", "first_name": "Иван" },
            "date": 1_741_000_000,
            "text": text
        }
    })
}

#[tokio::test]
async fn a_messenger_chat_opens_an_inquiry_and_later_messages_join_it() {
    let s = Server::start().await;
    let first = s
        .webhook(
            "telegram",
            Some(BOT_SECRET),
            update(500, 4242, "Здравствуйте! Когда экзамены?"),
        )
        .await;
    let (id, client_id) = assert_filed(&first, StatusCode::CREATED, false);
    let inquiry = s.inquiry(&id).await;
    assert_eq!(inquiry["channel"], "messenger");
    assert_eq!(inquiry["status"], "new");
    assert_eq!(inquiry["from"], "4242");
    assert_eq!(inquiry["client_id"], client_id.as_str());
    let client = s.store.get_client(&client_id).await.unwrap().unwrap();
    assert_eq!(client.name.as_deref(), Some("Иван Петров"));
    assert_eq!(
        client.handles,
        [MessengerHandle {
            messenger: "telegram".into(),
            handle: "4242".into()
        }]
    );
    assert_eq!(
        s.store
            .client_id_by_contact(ContactKey::Handle {
                messenger: "telegram",
                handle: "4242",
                username: None
            })
            .await
            .unwrap(),
        Some(client_id.clone())
    );

    let second = s
        .webhook(
            "telegram",
            Some(BOT_SECRET),
            update(501, 4242, "И где их смотреть?"),
        )
        .await;
    assert_eq!(
        assert_filed(&second, StatusCode::OK, true),
        (id.clone(), client_id.clone())
    );

    let repeat = s
        .webhook(
            "telegram",
            Some(BOT_SECRET),
            update(501, 4242, "И где их смотреть?"),
        )
        .await;
    assert_eq!(
        assert_filed(&repeat, StatusCode::OK, true),
        (id.clone(), client_id.clone())
    );
    assert_eq!(repeat.json["duplicate"], true);

    let messages = s.messages(&id).await;
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["Здравствуйте! Когда экзамены?", "И где их смотреть?"]
    );
    assert_eq!(messages[0]["username"], "ivan_p");
    assert_eq!(messages[0]["messenger"], "telegram");

    // Once the inquiry is resolved, the chat's next message opens a new one.
    s.store
        .update_inquiry(
            &id,
            &InquiryUpdate {
                status: Some(InquiryStatus::Resolved),
                ..Default::default()
            },
            hotline_now(),
        )
        .await
        .unwrap();
    let third = s
        .webhook(
            "telegram",
            Some(BOT_SECRET),
            update(502, 4242, "Ещё вопрос"),
        )
        .await;
    let (new_id, new_client) = assert_filed(&third, StatusCode::CREATED, false);
    assert_ne!(new_id, id);
    assert_eq!(new_client, client_id);

    // Another person is another client and another inquiry.
    let other = s
        .webhook("telegram", Some(BOT_SECRET), update(503, 777, "Hello"))
        .await;
    let (other_id, other_client) = assert_filed(&other, StatusCode::CREATED, false);
    assert_ne!(other_id, new_id);
    assert_ne!(other_client, client_id);
    assert_eq!(s.inquiries_total().await, 3);
}

#[tokio::test]
async fn webhooks_check_name_and_secret_and_ignore_what_is_not_a_message() {
    let s = Server::start().await;
    let r = s
        .webhook(
            "telegram",
            Some("telegram-webhook-secret_43"),
            update(1, 1, "x"),
        )
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_secret");
    let r = s.webhook("telegram", None, update(1, 1, "x")).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_secret");
    let r = s
        .webhook("viber", Some(BOT_SECRET), update(1, 1, "x"))
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");

    let edited = json!({ "update_id": 2, "edited_message": {
        "message_id": 1, "from": { "id": 1, "first_name": "A" }, "chat": { "id": 1 },
        "date": 0, "edit_date": 1, "text": "fixed" } });
    let r = s.webhook("telegram", Some(BOT_SECRET), edited).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["ignored"], true);
    assert_eq!(r.json["kind"], "edited_message");

    let r = s
        .webhook("telegram", Some(BOT_SECRET), json!({ "message": {} }))
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(
        r.json["error"]["fields"]["update"].is_string(),
        "{}",
        r.text
    );

    assert_eq!(s.inquiries_total().await, 0);
    assert_eq!(s.store.count_clients().await.unwrap(), 0);
}

/// The thread window, with the clock in the test's hands: the store takes
/// `now`, so a day passes without waiting for one.
#[tokio::test]
async fn a_chat_silent_longer_than_the_window_starts_a_new_inquiry() {
    let s = Server::start().await;
    let hour = 3_600_000;
    let t0 = 1_741_000_000_000;
    let message = |update_id: i64| match hotline::channels::messenger::MessengerUpdate::parse(
        update(update_id, 99, "text").to_string().as_bytes(),
    )
    .unwrap()
    {
        hotline::channels::messenger::MessengerUpdate::Message(m) => m,
        other => panic!("{other:?}"),
    };
    let file = |update_id: i64, now: i64| {
        let store = s.store.clone();
        let m = message(update_id);
        async move {
            store
                .file_messenger_message("telegram", &m, 24 * hour, now)
                .await
                .unwrap()
        }
    };
    let a = file(1, t0).await;
    let b = file(2, t0 + 23 * hour).await;
    assert!(b.joined && b.inquiry_id == a.inquiry_id);
    let c = file(3, t0 + 23 * hour + 24 * hour + 1).await;
    assert!(!c.joined && c.inquiry_id != a.inquiry_id, "{c:?}");
    assert_eq!(c.client_id, a.client_id);
}

#[test]
fn channel_config_problems_point_at_the_value() {
    let text = "[channels]\nemail_ingest_token = \"short\"\n\n[channels.messenger.telegram]\nsecret = \"has spaces in it, which Telegram refuses\"\n\n[channels.messenger.Bad]\nsecret = \"abcdefghijklmnopqrstuvwxyz\"\n";
    let e = Config::from_toml_str(text, "h.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("h.toml:2:22: email_ingest_token must be 16 to 256 characters long"),
        "{e}"
    );
    assert!(
        e.contains("h.toml:5:10: secret of messenger \"telegram\" may only contain"),
        "{e}"
    );
    assert!(e.contains("h.toml:7:1") || e.contains("h.toml:8:"), "{e}");
    assert!(e.contains("messenger name \"Bad\""), "{e}");

    let ok = Config::from_toml_str(
        "[channels]\nmax_email_bytes = 65536\n[channels.messenger.telegram]\nsecret = \"abcdefghijklmnop_-123\"\n",
        "ok.toml",
    )
    .unwrap();
    assert_eq!(ok.channels.max_email_bytes, 65536);
    assert_eq!(
        ok.channels.messenger["telegram"].secret,
        "abcdefghijklmnop_-123"
    );
    let e = Config::from_toml_str("[channels.messenger.telegram]\nsecrett = \"x\"\n", "t.toml")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("t.toml:2:1"), "{e}");
}

fn hotline_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The whole server, configured from TOML: `[channels]` reaches the API.
#[tokio::test]
async fn the_server_takes_its_channels_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[sip]\nlisten = \"127.0.0.1:0\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
         [database]\nurl = \"{}\"\n[ivr]\nreload_interval_ms = 0\n\
         [channels]\nemail_ingest_token = \"{INGEST_TOKEN}\"\n\
         [channels.messenger.telegram]\nsecret = \"{BOT_SECRET}\"\n",
        db_url(&dir.path().join("hotline.db"))
    );
    let config = Config::from_toml_str(&text, "hotline.toml").unwrap();
    let running = hotline::server::start(config).await.unwrap();
    let base = format!("http://{}", running.http_addr);
    let client = reqwest::Client::new();
    let r = into_reply(
        client
            .post(format!("{base}/api/v1/channels/email"))
            .header("x-hotline-token", INGEST_TOKEN)
            .body(fixture("plain.eml"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_filed(&r, StatusCode::CREATED, false);
    let r = into_reply(
        client
            .post(format!("{base}/api/v1/channels/messenger/telegram"))
            .header("x-telegram-bot-api-secret-token", BOT_SECRET)
            .json(&update(1, 1, "hi"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_filed(&r, StatusCode::CREATED, false);
    let (items, _) = running
        .store
        .list_inquiries(&Default::default(), 10, None)
        .await
        .unwrap();
    let mut channels: Vec<String> = items.iter().map(|i| i.channel.to_string()).collect();
    channels.sort();
    assert_eq!(channels, ["email", "messenger"]);
    running.stop().await.unwrap();
}

/// A client typed in by a manager with an e-mail address is the client a
/// letter from that mailbox lands on, and its history shows the letter.
#[tokio::test]
async fn a_letter_lands_on_the_client_already_known_by_that_address() {
    let s = Server::start().await;
    let admin = s.login("admin", ADMIN_PASSWORD).await;
    let created = into_reply(
        s.client
            .post(format!("{}/api/v1/clients", s.base))
            .bearer_auth(&admin)
            .json(
                &json!({ "name": "Петров Иван Сергеевич", "emails": ["IVAN.PETROV@example.org"] }),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let known = created.json["id"].as_str().unwrap().to_string();

    let (id, client_id) = assert_filed(
        &s.mta(fixture("plain.eml")).await,
        StatusCode::CREATED,
        false,
    );
    assert_eq!(client_id, known);
    let client = s.store.get_client(&known).await.unwrap().unwrap();
    assert_eq!(
        client.name.as_deref(),
        Some("Петров Иван Сергеевич"),
        "a name typed in is not replaced by the display name"
    );

    let history = into_reply(
        s.client
            .get(format!("{}/api/v1/clients/{known}/history", s.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.text);
    let items = history.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", history.text);
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(items[0]["channel"], "email");
}
