//! The CRM outbox: what the optional amoCRM sync (`crate::crm`) still has
//! to send. Rows are written in the transaction of the inquiry change they
//! report, so the CRM being down, or the process dying, loses nothing; the
//! worker takes due rows oldest first and marks each sent, rescheduled or
//! failed for good.

use super::inquiries::{Channel, ClientKey, InquiryStatus, NewInquiry};
use super::inquiry_writer::InquiryWrite;
use super::{Store, StoreError};
use crate::phone;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// What a row asks of the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmKind {
    /// A new inquiry: find or create the contact (by phone, or by e-mail),
    /// so the CRM knows the caller while the call is still going on.
    Contact,
    /// A finished call: find or create the contact, then record the call.
    Call,
}

impl CrmKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CrmKind::Contact => "contact",
            CrmKind::Call => "call",
        }
    }

    fn parse(s: &str) -> Option<CrmKind> {
        match s {
            "contact" => Some(CrmKind::Contact),
            "call" => Some(CrmKind::Call),
            _ => None,
        }
    }
}

/// The data of a push, captured when the row is written (the `payload`
/// column, as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrmPush {
    pub inquiry_id: String,
    /// Normalised digits ([`phone::normalize`]); empty when the contact is
    /// known by `email` only.
    #[serde(default)]
    pub phone: String,
    /// Lower-cased address of a contact without a phone number (an e-mail
    /// inquiry): the CRM contact is found or created by it instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub created_at_ms: i64,
    /// How the call ended; `None` for a contact push.
    pub status: Option<InquiryStatus>,
    pub answered: bool,
    /// Whole call, from the first ring to the hang-up.
    pub duration_ms: Option<i64>,
    pub talk_ms: Option<i64>,
    pub agent: Option<String>,
    pub queue: Option<String>,
    pub recording: Option<String>,
}

/// A pending row, as the worker takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: String,
    pub kind: CrmKind,
    pub push: CrmPush,
    /// Attempts made so far.
    pub attempts: i64,
}

/// A row with its bookkeeping, for inspection (tests, operators).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
    pub done_at_ms: Option<i64>,
}

/// Inserts one row, due at `at_ms`. Nothing happens when the row exists:
/// a replayed write never queues a second push for the same inquiry.
pub(super) async fn enqueue_in(
    conn: &mut AnyConnection,
    kind: CrmKind,
    push: &CrmPush,
    at_ms: i64,
) -> Result<(), StoreError> {
    let payload = serde_json::to_string(push)
        .map_err(|e| StoreError::Corrupt(format!("crm payload: {e}")))?;
    sqlx::query(
        "INSERT INTO crm_outbox (id, kind, payload, status, attempts, next_attempt_at_ms, \
         created_at_ms) VALUES ($1, $2, $3, 'pending', 0, $4, $4) ON CONFLICT (id) DO NOTHING",
    )
    .bind(format!("{}:{}", kind.as_str(), push.inquiry_id))
    .bind(kind.as_str())
    .bind(payload)
    .bind(at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The rows an applied write of the call layer puts in the outbox: a
/// contact push for a new phone inquiry, a call push once the call has
/// ended. Inquiries without a usable number (`anonymous`) push nothing.
pub(super) async fn enqueue_for_write_in(
    conn: &mut AnyConnection,
    write: &InquiryWrite,
) -> Result<(), StoreError> {
    match write {
        InquiryWrite::Create {
            id,
            inquiry,
            phone_for_client,
        } => {
            let Some(phone) = phone_of(inquiry, phone_for_client.as_deref()) else {
                return Ok(());
            };
            let push = CrmPush {
                inquiry_id: id.clone(),
                phone,
                email: None,
                created_at_ms: inquiry.created_at_ms,
                status: None,
                answered: false,
                duration_ms: None,
                talk_ms: None,
                agent: None,
                queue: None,
                recording: None,
            };
            enqueue_in(conn, CrmKind::Contact, &push, inquiry.created_at_ms).await
        }
        InquiryWrite::Update { id, update, at_ms } => {
            if update.ended_at_ms.is_none() {
                return Ok(());
            }
            match finished_call_in(conn, id).await? {
                Some(push) => enqueue_in(conn, CrmKind::Call, &push, *at_ms).await,
                None => Ok(()),
            }
        }
    }
}

/// The contact push of a new inquiry that did not come through the call
/// layer (typed in through the API, an e-mail, a messenger message), in
/// the transaction that created it. The contact is the inquiry's own phone
/// number or e-mail address (`key`); for a known client
/// ([`ClientKey::Id`]) its first phone number, else its first e-mail
/// address. Without either there is nobody the CRM could find (a chat
/// nickname, a Telegram user), and nothing is queued.
pub(super) async fn enqueue_new_inquiry_in(
    conn: &mut AnyConnection,
    inquiry_id: &str,
    key: ClientKey<'_>,
    created_at_ms: i64,
) -> Result<(), StoreError> {
    let (phone, email) = match key {
        ClientKey::Phone(phone) => (phone.to_string(), None),
        ClientKey::Email(email) => (String::new(), Some(email.to_string())),
        ClientKey::Id(client_id) => match client_address_in(conn, client_id).await? {
            Some(found) => found,
            None => return Ok(()),
        },
        ClientKey::None => return Ok(()),
    };
    let push = CrmPush {
        inquiry_id: inquiry_id.to_string(),
        phone,
        email,
        created_at_ms,
        status: None,
        answered: false,
        duration_ms: None,
        talk_ms: None,
        agent: None,
        queue: None,
        recording: None,
    };
    enqueue_in(conn, CrmKind::Contact, &push, created_at_ms).await
}

/// `(phone, None)` with the client's first phone number, else
/// `("", Some(email))` with its first e-mail address.
async fn client_address_in(
    conn: &mut AnyConnection,
    client_id: &str,
) -> Result<Option<(String, Option<String>)>, StoreError> {
    let phone = sqlx::query(
        "SELECT phone FROM client_phones WHERE client_id = $1 \
         ORDER BY created_at_ms, phone LIMIT 1",
    )
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = phone {
        return Ok(Some((row.try_get("phone")?, None)));
    }
    let email = sqlx::query(
        "SELECT email FROM client_emails WHERE client_id = $1 \
         ORDER BY created_at_ms, email LIMIT 1",
    )
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?;
    match email {
        Some(row) => Ok(Some((String::new(), Some(row.try_get("email")?)))),
        None => Ok(None),
    }
}

fn phone_of(inquiry: &NewInquiry, phone_for_client: Option<&str>) -> Option<String> {
    if inquiry.channel != Channel::Phone {
        return None;
    }
    phone_for_client
        .and_then(phone::normalize)
        .or_else(|| phone::normalize(&inquiry.from))
}

/// The call push of an ended phone inquiry, read inside the transaction
/// that just wrote its end.
async fn finished_call_in(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<CrmPush>, StoreError> {
    let row = sqlx::query(
        "SELECT channel, from_addr, status, agent, queue, created_at_ms, answered_at_ms, \
         ended_at_ms, talk_ms, recording FROM inquiries WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let channel: String = row.try_get("channel")?;
    let from: String = row.try_get("from_addr")?;
    let Some(phone) = phone::normalize(&from).filter(|_| channel == Channel::Phone.as_str()) else {
        return Ok(None);
    };
    let status: String = row.try_get("status")?;
    let created_at_ms: i64 = row.try_get("created_at_ms")?;
    let answered_at_ms: Option<i64> = row.try_get("answered_at_ms")?;
    let ended_at_ms: Option<i64> = row.try_get("ended_at_ms")?;
    Ok(Some(CrmPush {
        inquiry_id: id.to_string(),
        phone,
        email: None,
        created_at_ms,
        status: Some(
            status
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("inquiries.status: {e}")))?,
        ),
        answered: answered_at_ms.is_some(),
        duration_ms: ended_at_ms.map(|end| end.saturating_sub(created_at_ms).max(0)),
        talk_ms: row.try_get("talk_ms")?,
        agent: row.try_get("agent")?,
        queue: row.try_get("queue")?,
        recording: row.try_get("recording")?,
    }))
}

fn outbox_row(row: &AnyRow) -> Result<OutboxRow, StoreError> {
    let id: String = row.try_get("id")?;
    let kind: String = row.try_get("kind")?;
    let payload: String = row.try_get("payload")?;
    Ok(OutboxRow {
        kind: CrmKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("crm_outbox.kind {kind:?} of {id}")))?,
        push: serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("crm_outbox.payload of {id}: {e}")))?,
        attempts: row.try_get("attempts")?,
        id,
    })
}

impl Store {
    /// This store with the CRM outbox on or off: when on, inquiries created
    /// by the API and the e-mail and messenger channels queue their contact
    /// push in their own transaction (the call layer's writer has its own
    /// switch, `InquiryWriter::spawn_with_crm_outbox`). Off by default.
    pub fn with_crm_outbox(mut self, on: bool) -> Store {
        self.crm_outbox = on;
        self
    }

    /// Whether new inquiries queue CRM pushes ([`Store::with_crm_outbox`]).
    pub(super) fn crm_outbox_on(&self) -> bool {
        self.crm_outbox
    }

    /// Queues a push outside the call layer (an inquiry created by the API
    /// or a channel). Idempotent per kind and inquiry.
    pub async fn crm_enqueue(
        &self,
        kind: CrmKind,
        push: &CrmPush,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        enqueue_in(&mut tx, kind, push, at_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Pending rows due at `now_ms`, oldest first. A row whose kind or
    /// payload cannot be read is marked failed (with why) and skipped, so
    /// one bad row never blocks the queue.
    pub async fn crm_due(&self, now_ms: i64, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, payload, attempts FROM crm_outbox \
             WHERE status = 'pending' AND next_attempt_at_ms <= $1 \
             ORDER BY next_attempt_at_ms, id LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut due = Vec::with_capacity(rows.len());
        for row in &rows {
            match outbox_row(row) {
                Ok(r) => due.push(r),
                Err(e) => {
                    let id: String = row.try_get("id")?;
                    tracing::error!(id = %id, error = %e, "crm outbox: unreadable row");
                    self.crm_failed(&id, now_ms, &e.to_string()).await?;
                }
            }
        }
        Ok(due)
    }

    /// When the earliest pending row is due; `None` with nothing pending.
    pub async fn crm_next_due_ms(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(next_attempt_at_ms) AS next FROM crm_outbox WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("next")?)
    }

    /// The CRM accepted the row.
    pub async fn crm_sent(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        self.crm_finish(id, "sent", now_ms, None).await
    }

    /// The CRM refused the row for good (a 4xx other than 429): it leaves
    /// the queue with the reason, for an operator to look at.
    pub async fn crm_failed(&self, id: &str, now_ms: i64, error: &str) -> Result<(), StoreError> {
        self.crm_finish(id, "failed", now_ms, Some(error)).await
    }

    async fn crm_finish(
        &self,
        id: &str,
        status: &str,
        now_ms: i64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE crm_outbox SET status = $2, attempts = attempts + 1, done_at_ms = $3, \
             last_error = COALESCE($4, last_error) WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(now_ms)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The attempt failed in a way that may pass (5xx, 429, no
    /// connection): try again at `next_attempt_at_ms`.
    pub async fn crm_retry_at(
        &self,
        id: &str,
        next_attempt_at_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE crm_outbox SET attempts = attempts + 1, next_attempt_at_ms = $2, \
             last_error = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(next_attempt_at_ms)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every row, oldest first (tests and operators).
    pub async fn crm_outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, payload, status, attempts, next_attempt_at_ms, last_error, \
             done_at_ms FROM crm_outbox ORDER BY created_at_ms, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let payload: String = row.try_get("payload")?;
                Ok(OutboxEntry {
                    id: row.try_get("id")?,
                    kind: row.try_get("kind")?,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| StoreError::Corrupt(format!("crm_outbox.payload: {e}")))?,
                    status: row.try_get("status")?,
                    attempts: row.try_get("attempts")?,
                    next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
                    last_error: row.try_get("last_error")?,
                    done_at_ms: row.try_get("done_at_ms")?,
                })
            })
            .collect()
    }
}
