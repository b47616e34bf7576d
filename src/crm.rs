//! Optional amoCRM sync (ARCHITECTURE §6): every new inquiry makes sure
//! its client is a contact (found or created by phone number, or by e-mail
//! address when that is all we have), every finished call is recorded as
//! a call (`POST /api/v4/calls`, `uniq` = the inquiry id).
//!
//! The inquiry writer (calls), the API and the e-mail and messenger
//! channels put each push in the `crm_outbox` table in the same
//! transaction as the inquiry change (`store::crm_outbox`), so nothing is
//! lost when the CRM is down or the process dies; the worker here sends
//! due rows oldest first. A 2xx answer marks the row sent; 5xx, 429 or no
//! connection reschedules it with exponential backoff and jitter
//! ([`Backoff`]); any other 4xx means the CRM will never take it, so the
//! row is marked failed with the CRM's answer for an operator to look at.
//!
//! The decisions (backoff, which answers are worth a retry, the request
//! bodies) are plain functions of their inputs, the time included; only
//! [`AmoCrm`] and [`run`] do I/O.

use crate::config::CrmConfig;
use crate::mask::mask_phone;
use crate::sip::transport::unix_ms;
use crate::store::{AuditEntry, CrmKind, CrmPush, InquiryStatus, OutboxRow, Store};
use rand::Rng;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Rows taken from the outbox per query.
const BATCH: i64 = 50;

/// `actor` of the audit rows of pushes (not a login: no user can have it,
/// logins are lower-case letters, digits, '.', '_' and '-').
pub const AUDIT_ACTOR: &str = "CRM sync";

/// Retry delays: `first_ms` after the first failure, doubling per failure
/// up to `max_ms`. Each delay is drawn from its upper half (half fixed,
/// half random): never much sooner than planned, yet many rows that failed
/// together (the CRM came back) do not all retry in the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first_ms: u64,
    pub max_ms: u64,
}

impl Backoff {
    /// The delay after `failures` failed attempts (1 = the first), with
    /// `jitter` in `[0, 1]` choosing within the upper half.
    pub fn delay_ms(&self, failures: u32, jitter: f64) -> u64 {
        let doublings = failures.saturating_sub(1);
        let nominal = 1u64
            .checked_shl(doublings)
            .and_then(|factor| self.first_ms.checked_mul(factor))
            .unwrap_or(u64::MAX)
            .min(self.max_ms);
        let half = nominal / 2;
        let spread = (nominal - half) as f64 * jitter.clamp(0.0, 1.0);
        half.saturating_add(spread as u64).min(nominal)
    }

    /// When to try again, `now_ms` being the time of the failure.
    pub fn next_attempt_at_ms(&self, now_ms: i64, failures: u32, jitter: f64) -> i64 {
        let delay = i64::try_from(self.delay_ms(failures, jitter)).unwrap_or(i64::MAX);
        now_ms.saturating_add(delay)
    }
}

/// Whether a failed push is worth another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The CRM is down, overloaded or unreachable: retry later.
    Transient,
    /// The CRM refused the request itself: retrying cannot help.
    Permanent,
}

/// `status` of the CRM's answer, `None` when there was none (no
/// connection, a timeout).
pub fn classify(status: Option<u16>) -> Failure {
    match status {
        None | Some(408) | Some(429) | Some(500..=599) => Failure::Transient,
        Some(_) => Failure::Permanent,
    }
}

/// A number as amoCRM shows it: `+` and the digits for full international
/// numbers, short internal numbers as they are.
pub fn crm_phone(digits: &str) -> String {
    if digits.len() >= 10 {
        format!("+{digits}")
    } else {
        digits.to_string()
    }
}

/// amoCRM's `call_status` and a `call_result` text for a finished call.
/// Codes: 2 call back, 4 conversation took place, 6 did not get through.
pub fn call_outcome(push: &CrmPush) -> (u8, String) {
    if push.answered {
        let by = push.agent.as_deref().unwrap_or("an agent");
        return (4, format!("answered by {by}"));
    }
    match push.status {
        Some(InquiryStatus::ResolvedInIvr) => (4, "resolved in the IVR".into()),
        Some(InquiryStatus::CallbackRequested) => (2, "callback requested".into()),
        Some(status) => (6, format!("not answered ({status})")),
        None => (6, "not answered".into()),
    }
}

/// Body of `POST /api/v4/calls` for one finished call.
pub fn call_body(push: &CrmPush, source: &str, user_id: Option<i64>) -> Value {
    let (call_status, call_result) = call_outcome(push);
    // Whole seconds, rounded up: a 300 ms call did happen.
    let duration_s = push.duration_ms.unwrap_or(0).max(0).saturating_add(999) / 1000;
    let mut call = json!({
        "uniq": push.inquiry_id,
        "phone": crm_phone(&push.phone),
        "direction": "inbound",
        "duration": duration_s,
        "source": source,
        "call_status": call_status,
        "call_result": call_result,
        "created_at": push.created_at_ms.div_euclid(1000),
    });
    if let (Some(user), Some(map)) = (user_id, call.as_object_mut()) {
        map.insert("created_by".into(), json!(user));
        map.insert("responsible_user_id".into(), json!(user));
    }
    json!([call])
}

/// How a push's contact is found in the CRM (and created when missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactRef<'a> {
    /// Normalised digits.
    Phone(&'a str),
    /// Lower-cased address.
    Email(&'a str),
}

impl<'a> ContactRef<'a> {
    /// The push's e-mail when it has one (an e-mail inquiry), else its phone.
    pub fn of(push: &'a CrmPush) -> ContactRef<'a> {
        match &push.email {
            Some(email) => ContactRef::Email(email),
            None => ContactRef::Phone(&push.phone),
        }
    }

    /// What to search amoCRM's contacts for, and the contact's field value.
    fn value(self) -> String {
        match self {
            ContactRef::Phone(digits) => crm_phone(digits),
            ContactRef::Email(email) => email.to_string(),
        }
    }

    /// For logs: phone numbers masked, e-mail addresses not logged.
    fn masked(self) -> String {
        match self {
            ContactRef::Phone(digits) => mask_phone(digits),
            ContactRef::Email(_) => "(e-mail)".to_string(),
        }
    }
}

/// Body of `POST /api/v4/contacts` for a client we know only by a phone
/// number or an e-mail address (named after it).
pub fn contact_body(contact: ContactRef<'_>) -> Value {
    let value = contact.value();
    let field_code = match contact {
        ContactRef::Phone(_) => "PHONE",
        ContactRef::Email(_) => "EMAIL",
    };
    json!([{
        "name": value,
        "custom_fields_values": [{
            "field_code": field_code,
            "values": [{ "value": value, "enum_code": "WORK" }],
        }],
    }])
}

/// The id of the first contact in a contacts answer
/// (`{"_embedded": {"contacts": [{"id": N}, ...]}}`).
fn first_contact_id(body: &Value) -> Option<i64> {
    body.pointer("/_embedded/contacts/0/id")?.as_i64()
}

/// A push that did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushError {
    /// The CRM's status code; `None` when it did not answer.
    pub status: Option<u16>,
    pub message: String,
}

impl PushError {
    fn transport(what: &str, e: &reqwest::Error) -> PushError {
        PushError {
            status: None,
            message: format!("{what}: {e}"),
        }
    }
}

/// The HTTP side: amoCRM API v4 with a long-lived bearer token.
#[derive(Debug, Clone)]
pub struct AmoCrm {
    http: reqwest::Client,
    base: String,
    token: String,
    source: String,
    user_id: Option<i64>,
}

impl AmoCrm {
    /// `None` when the sync is off (no URL or token).
    pub fn from_config(config: &CrmConfig) -> anyhow::Result<Option<AmoCrm>> {
        let (Some(url), Some(token)) = (&config.amocrm_url, &config.amocrm_token) else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.request_timeout_ms))
            .user_agent(concat!("hotline/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Some(AmoCrm {
            http,
            base: url.trim_end_matches('/').to_string(),
            token: token.clone(),
            source: config.source.clone(),
            user_id: config.amocrm_user_id,
        }))
    }

    /// Sends one outbox row.
    pub async fn push(&self, row: &OutboxRow) -> Result<(), PushError> {
        self.find_or_create_contact(ContactRef::of(&row.push))
            .await?;
        if row.kind == CrmKind::Call {
            let body = call_body(&row.push, &self.source, self.user_id);
            let answer = self.send(self.post("/api/v4/calls").json(&body)).await?;
            // amoCRM reports calls it could not file in `errors` even with 2xx.
            if let Some(errors) = answer
                .get("errors")
                .filter(|e| e.as_array().is_some_and(|a| !a.is_empty()))
            {
                return Err(PushError {
                    status: Some(422),
                    message: format!("amoCRM refused the call: {errors}"),
                });
            }
        }
        Ok(())
    }

    async fn find_or_create_contact(&self, contact: ContactRef<'_>) -> Result<i64, PushError> {
        // A phone is searched by its digits: amoCRM matches them however
        // the number was typed into the contact.
        let query = match contact {
            ContactRef::Phone(digits) => digits.to_string(),
            ContactRef::Email(email) => email.to_string(),
        };
        let found = self
            .send(
                self.http
                    .get(format!("{}/api/v4/contacts", self.base))
                    .bearer_auth(&self.token)
                    .query(&[("query", query)]),
            )
            .await?;
        if let Some(id) = first_contact_id(&found) {
            return Ok(id);
        }
        let created = self
            .send(self.post("/api/v4/contacts").json(&contact_body(contact)))
            .await?;
        let id = first_contact_id(&created).ok_or_else(|| PushError {
            status: Some(502),
            message: format!("amoCRM created a contact but returned no id: {created}"),
        })?;
        tracing::info!(contact_of = %contact.masked(), contact = id, "amoCRM contact created");
        Ok(id)
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Sends a request; a 2xx answer's JSON body (`null` when empty, as
    /// amoCRM's 204 for a search that found nothing), else the error.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, PushError> {
        let response = request
            .send()
            .await
            .map_err(|e| PushError::transport("request failed", &e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| PushError::transport("reading the answer failed", &e))?;
        if !status.is_success() {
            let excerpt: String = text.chars().take(500).collect();
            return Err(PushError {
                status: Some(status.as_u16()),
                message: format!("amoCRM answered {status}: {excerpt}"),
            });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| PushError {
            // A 2xx that is not JSON: a proxy's page, most likely passing.
            status: Some(502),
            message: format!("amoCRM answered {status} with a body that is not JSON: {e}"),
        })
    }
}

/// Starts the worker when the sync is configured; it ends when `stop`
/// turns true (after the row in flight, if any).
pub fn spawn(
    store: Store,
    config: &CrmConfig,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    let Some(crm) = AmoCrm::from_config(config)? else {
        return Ok(None);
    };
    let backoff = Backoff {
        first_ms: config.retry_first_ms,
        max_ms: config.retry_max_ms,
    };
    let poll = Duration::from_millis(config.poll_interval_ms);
    tracing::info!(url = %crm.base, "amoCRM sync on");
    Ok(Some(tokio::spawn(run(store, crm, backoff, poll, stop))))
}

/// The worker: sends due rows, then sleeps until the next one is due or
/// `poll` has passed (new rows arrive from the inquiry writer).
pub async fn run(
    store: Store,
    crm: AmoCrm,
    backoff: Backoff,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        match store.crm_due(unix_ms(), BATCH).await {
            Ok(rows) => {
                for row in rows {
                    if *stop.borrow() {
                        return;
                    }
                    deliver(&store, &crm, &backoff, &row).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "crm outbox: cannot read due rows"),
        }
        let wait = match store.crm_next_due_ms().await {
            Ok(Some(due)) => {
                let ms = u64::try_from(due.saturating_sub(unix_ms())).unwrap_or(0);
                Duration::from_millis(ms).min(poll)
            }
            _ => poll,
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
        }
    }
}

/// One attempt at one row, and its bookkeeping. A store error leaves the
/// row pending: it is sent again (amoCRM keys calls by `uniq`).
async fn deliver(store: &Store, crm: &AmoCrm, backoff: &Backoff, row: &OutboxRow) {
    let phone = ContactRef::of(&row.push).masked();
    let result = crm.push(row).await;
    let now = unix_ms();
    let written = match result {
        Ok(()) => {
            tracing::info!(id = %row.id, phone = %phone, attempts = row.attempts + 1, "pushed to amoCRM");
            // Client data left the system: audited like any other read.
            let audited = store
                .audit(
                    &AuditEntry {
                        actor: AUDIT_ACTOR,
                        action: "export",
                        object_kind: "inquiry",
                        object_id: Some(&row.push.inquiry_id),
                        detail: Some(match row.kind {
                            CrmKind::Contact => "amoCRM contact",
                            CrmKind::Call => "amoCRM call",
                        }),
                    },
                    now,
                )
                .await;
            if let Err(e) = audited {
                tracing::warn!(id = %row.id, error = %e, "crm: cannot write the audit row");
            }
            store.crm_sent(&row.id, now).await
        }
        Err(e) => match classify(e.status) {
            Failure::Transient => {
                let failures = u32::try_from(row.attempts.saturating_add(1)).unwrap_or(u32::MAX);
                let jitter = rand::thread_rng().gen_range(0.0..=1.0);
                let at = backoff.next_attempt_at_ms(now, failures, jitter);
                tracing::warn!(id = %row.id, phone = %phone, error = %e.message,
                    retry_in_ms = at.saturating_sub(now), "amoCRM push failed, will retry");
                store.crm_retry_at(&row.id, at, &e.message).await
            }
            Failure::Permanent => {
                tracing::error!(id = %row.id, phone = %phone, error = %e.message,
                    "amoCRM refused the push; not retried");
                store.crm_failed(&row.id, now, &e.message).await
            }
        },
    };
    if let Err(e) = written {
        tracing::warn!(id = %row.id, error = %e, "crm outbox: cannot record the attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Backoff = Backoff {
        first_ms: 1_000,
        max_ms: 60_000,
    };

    #[test]
    fn backoff_doubles_from_the_first_delay_up_to_the_cap() {
        let top: Vec<u64> = (1..=9).map(|n| POLICY.delay_ms(n, 1.0)).collect();
        assert_eq!(
            top,
            [
                1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000
            ]
        );
    }

    #[test]
    fn jitter_stays_in_the_upper_half_of_the_nominal_delay() {
        for failures in 1..=12 {
            let nominal = POLICY.delay_ms(failures, 1.0);
            assert_eq!(POLICY.delay_ms(failures, 0.0), nominal / 2);
            for jitter in [0.1, 0.5, 0.99] {
                let d = POLICY.delay_ms(failures, jitter);
                assert!(nominal / 2 <= d && d <= nominal, "{failures} {jitter}: {d}");
            }
            // Out-of-range jitter (a bad RNG draw) is clamped, not trusted.
            assert_eq!(POLICY.delay_ms(failures, 7.0), nominal);
            assert_eq!(POLICY.delay_ms(failures, -1.0), nominal / 2);
        }
    }

    #[test]
    fn backoff_never_overflows() {
        let huge = Backoff {
            first_ms: u64::MAX / 3,
            max_ms: u64::MAX,
        };
        assert_eq!(huge.delay_ms(u32::MAX, 1.0), u64::MAX);
        assert_eq!(POLICY.delay_ms(u32::MAX, 1.0), 60_000);
        assert_eq!(POLICY.delay_ms(0, 1.0), 1_000);
        assert_eq!(huge.next_attempt_at_ms(i64::MAX - 5, 64, 1.0), i64::MAX);
    }

    #[test]
    fn next_attempt_is_the_failure_time_plus_the_delay() {
        let now = 1_741_132_800_000;
        assert_eq!(POLICY.next_attempt_at_ms(now, 3, 1.0), now + 4_000);
        assert_eq!(POLICY.next_attempt_at_ms(now, 3, 0.0), now + 2_000);
    }

    #[test]
    fn only_outages_and_rate_limits_are_retried() {
        for status in [
            None,
            Some(500),
            Some(502),
            Some(503),
            Some(504),
            Some(429),
            Some(408),
        ] {
            assert_eq!(classify(status), Failure::Transient, "{status:?}");
        }
        for status in [
            Some(400),
            Some(401),
            Some(403),
            Some(404),
            Some(422),
            Some(302),
        ] {
            assert_eq!(classify(status), Failure::Permanent, "{status:?}");
        }
    }

    fn finished(status: InquiryStatus, answered: bool) -> CrmPush {
        CrmPush {
            inquiry_id: "01JNAB".into(),
            phone: "79161234567".into(),
            email: None,
            created_at_ms: 1_741_132_800_250,
            status: Some(status),
            answered,
            duration_ms: Some(61_200),
            talk_ms: Some(40_000),
            agent: Some("anna".into()),
            queue: Some("general".into()),
            recording: None,
        }
    }

    #[test]
    fn call_body_has_the_fields_amocrm_needs() {
        let body = call_body(
            &finished(InquiryStatus::Resolved, true),
            "hotline",
            Some(42),
        );
        assert_eq!(
            body,
            json!([{
                "uniq": "01JNAB",
                "phone": "+79161234567",
                "direction": "inbound",
                "duration": 62,
                "source": "hotline",
                "call_status": 4,
                "call_result": "answered by anna",
                "created_at": 1_741_132_800,
                "created_by": 42,
                "responsible_user_id": 42,
            }])
        );
        let anonymous_author = call_body(&finished(InquiryStatus::Resolved, true), "x", None);
        assert!(anonymous_author[0].get("created_by").is_none());
    }

    #[test]
    fn unanswered_calls_say_how_they_ended() {
        let status = |s, answered| call_outcome(&finished(s, answered)).0;
        assert_eq!(status(InquiryStatus::Abandoned, false), 6);
        assert_eq!(status(InquiryStatus::CallbackRequested, false), 2);
        assert_eq!(status(InquiryStatus::ResolvedInIvr, false), 4);
        assert_eq!(status(InquiryStatus::Abandoned, true), 4);
    }

    #[test]
    fn phones_are_international_unless_internal() {
        assert_eq!(crm_phone("79161234567"), "+79161234567");
        assert_eq!(crm_phone("100"), "100");
        let by_phone = contact_body(ContactRef::Phone("79161234567"));
        assert_eq!(by_phone[0]["name"], "+79161234567");
        assert_eq!(
            by_phone[0]["custom_fields_values"][0]["field_code"],
            "PHONE"
        );
    }

    #[test]
    fn e_mail_contacts_use_the_email_field() {
        let body = contact_body(ContactRef::Email("ivan@example.org"));
        assert_eq!(body[0]["name"], "ivan@example.org");
        let field = &body[0]["custom_fields_values"][0];
        assert_eq!(field["field_code"], "EMAIL");
        assert_eq!(field["values"][0]["value"], "ivan@example.org");
        let mut push = finished(InquiryStatus::New, false);
        assert_eq!(ContactRef::of(&push), ContactRef::Phone("79161234567"));
        push.email = Some("ivan@example.org".into());
        assert_eq!(ContactRef::of(&push), ContactRef::Email("ivan@example.org"));
    }

    #[test]
    fn contact_ids_are_read_defensively() {
        assert_eq!(
            first_contact_id(&json!({"_embedded": {"contacts": [{"id": 7}, {"id": 8}]}})),
            Some(7)
        );
        for body in [
            Value::Null,
            json!({}),
            json!({"_embedded": {"contacts": []}}),
            json!({"_embedded": {"contacts": [{"id": "7"}]}}),
        ] {
            assert_eq!(first_contact_id(&body), None, "{body}");
        }
    }
}
