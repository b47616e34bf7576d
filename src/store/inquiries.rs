//! Inquiries: one per contact on any channel (a call, an e-mail, a chat, a
//! visit), with its client, how it was routed and how it ended
//! (ARCHITECTURE §6). Every write appends its event to the event log in
//! the same transaction, so the timeline always matches the row.
//!
//! The call layer writes through [`InquiryWriter`](super::InquiryWriter),
//! which batches; the direct methods here serve the API and tests.

use super::clients::{find_or_create_by_email_in, find_or_create_in};
use super::events::{self, Event, INQUIRY_CREATED, INQUIRY_UPDATED};
use super::paging::{Param, bind_all, finish_page, newest_first_page};
use super::{Store, StoreError};
use crate::phone;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::fmt;
use std::str::FromStr;

/// How the contact arrived.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Phone,
    Email,
    Chat,
    Messenger,
    InPerson,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Phone,
        Channel::Email,
        Channel::Chat,
        Channel::Messenger,
        Channel::InPerson,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Email => "email",
            Channel::Chat => "chat",
            Channel::Messenger => "messenger",
            Channel::InPerson => "in_person",
        }
    }
}

/// Where an inquiry stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum InquiryStatus {
    New,
    InIvr,
    Waiting,
    InProgress,
    ResolvedInIvr,
    Transferred,
    Resolved,
    Abandoned,
    CallbackRequested,
}

impl InquiryStatus {
    pub const ALL: [InquiryStatus; 9] = [
        InquiryStatus::New,
        InquiryStatus::InIvr,
        InquiryStatus::Waiting,
        InquiryStatus::InProgress,
        InquiryStatus::ResolvedInIvr,
        InquiryStatus::Transferred,
        InquiryStatus::Resolved,
        InquiryStatus::Abandoned,
        InquiryStatus::CallbackRequested,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InquiryStatus::New => "new",
            InquiryStatus::InIvr => "in_ivr",
            InquiryStatus::Waiting => "waiting",
            InquiryStatus::InProgress => "in_progress",
            InquiryStatus::ResolvedInIvr => "resolved_in_ivr",
            InquiryStatus::Transferred => "transferred",
            InquiryStatus::Resolved => "resolved",
            InquiryStatus::Abandoned => "abandoned",
            InquiryStatus::CallbackRequested => "callback_requested",
        }
    }

    /// Whether the inquiry still needs someone: the rule of
    /// [`Store::has_open_inquiry`] (routing's "the client has an open
    /// inquiry"), for an inquiry already read.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            InquiryStatus::Resolved | InquiryStatus::ResolvedInIvr | InquiryStatus::Abandoned
        )
    }
}

/// A name that is not one of an enum's values; the message lists them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} (expected one of {expected})")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
    pub expected: String,
}

fn parse_enum<T: Copy>(
    what: &'static str,
    all: &[T],
    name: fn(T) -> &'static str,
    s: &str,
) -> Result<T, UnknownValue> {
    all.iter()
        .copied()
        .find(|v| name(*v) == s)
        .ok_or_else(|| UnknownValue {
            what,
            value: s.to_string(),
            expected: all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", "),
        })
}

impl FromStr for Channel {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        parse_enum("channel", &Channel::ALL, Channel::as_str, s)
    }
}

impl FromStr for InquiryStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        parse_enum("status", &InquiryStatus::ALL, InquiryStatus::as_str, s)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for InquiryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A new inquiry. Its id is chosen by the caller
/// ([`ids::new_id`](super::ids::new_id)) so the call layer can use it
/// (recording file name, logs) before the row is written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewInquiry {
    pub channel: Channel,
    /// Phone number, e-mail address or handle. Phone numbers are stored
    /// normalised ([`phone::normalize`]); `anonymous` stays as given.
    pub from: String,
    pub client_id: Option<String>,
    pub status: InquiryStatus,
    pub call_id: Option<String>,
    pub language: Option<String>,
    pub created_at_ms: i64,
}

/// A change to an inquiry; `None` leaves a field as it is. Serialised
/// (without the `None`s) as the data of its `inquiry.updated` event.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InquiryUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<InquiryStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ivr_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub talk_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
    /// Total transfers so far (the call layer counts them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfers: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// What was done (seed 3.5); with `resolved_at_ms` and `resolved_by`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    /// When the client was told the outcome (seed 3.6), by whom and how.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_informed_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub informed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub informed_how: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub informed_note: Option<String>,
}

/// An inquiry as stored. Serialises to the API's JSON (ARCHITECTURE §6):
/// `from` for the address, times as RFC 3339 (`created_at`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Inquiry {
    pub id: String,
    pub channel: Channel,
    pub from: String,
    pub client_id: Option<String>,
    pub category: Option<String>,
    pub topic: Option<String>,
    pub ivr_path: Option<String>,
    pub queue: Option<String>,
    pub agent: Option<String>,
    pub routing_reason: Option<String>,
    pub transfers: Option<i64>,
    pub status: InquiryStatus,
    pub call_id: Option<String>,
    pub language: Option<String>,
    #[serde(rename = "created_at", serialize_with = "super::serde_time::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at_ms: i64,
    #[serde(rename = "answered_at", serialize_with = "super::serde_time::opt_ms")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub answered_at_ms: Option<i64>,
    #[serde(rename = "ended_at", serialize_with = "super::serde_time::opt_ms")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at_ms: Option<i64>,
    #[serde(rename = "resolved_at", serialize_with = "super::serde_time::opt_ms")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at_ms: Option<i64>,
    pub resolved_by: Option<String>,
    #[serde(
        rename = "client_informed_at",
        serialize_with = "super::serde_time::opt_ms"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub client_informed_at_ms: Option<i64>,
    pub informed_by: Option<String>,
    pub informed_how: Option<String>,
    pub informed_note: Option<String>,
    pub wait_ms: Option<i64>,
    pub talk_ms: Option<i64>,
    pub recording: Option<String>,
    pub notes: Option<String>,
    pub resolution: Option<String>,
    /// Login of the API user who typed it in; `None` for calls and ingest.
    pub created_by: Option<String>,
}

/// Which inquiries a list returns; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InquiryFilter {
    pub status: Option<InquiryStatus>,
    pub channel: Option<Channel>,
    pub category: Option<String>,
    pub topic: Option<String>,
    pub queue: Option<String>,
    pub agent: Option<String>,
    pub client_id: Option<String>,
    /// Free text: a case-insensitive substring of `from`, topic, notes,
    /// resolution or the client's name.
    pub q: Option<String>,
    /// Created at or after this instant.
    pub created_from_ms: Option<i64>,
    /// Created strictly before this instant.
    pub created_before_ms: Option<i64>,
}

/// Largest page [`Store::list_inquiries`] returns, whatever is asked.
pub const MAX_INQUIRY_PAGE: i64 = 1000;

const INQUIRY_COLUMNS: &str = "id, channel, from_addr, client_id, category, topic, ivr_path, \
     queue, agent, routing_reason, transfers, status, call_id, language, created_at_ms, \
     answered_at_ms, ended_at_ms, resolved_at_ms, resolved_by, client_informed_at_ms, \
     informed_by, informed_how, informed_note, wait_ms, talk_ms, recording, notes, resolution, \
     created_by";

fn inquiry_from_row(row: &AnyRow) -> Result<Inquiry, StoreError> {
    let channel: String = row.try_get("channel")?;
    let status: String = row.try_get("status")?;
    Ok(Inquiry {
        id: row.try_get("id")?,
        channel: channel
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("inquiries.channel: {e}")))?,
        from: row.try_get("from_addr")?,
        client_id: row.try_get("client_id")?,
        category: row.try_get("category")?,
        topic: row.try_get("topic")?,
        ivr_path: row.try_get("ivr_path")?,
        queue: row.try_get("queue")?,
        agent: row.try_get("agent")?,
        routing_reason: row.try_get("routing_reason")?,
        transfers: row.try_get("transfers")?,
        status: status
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("inquiries.status: {e}")))?,
        call_id: row.try_get("call_id")?,
        language: row.try_get("language")?,
        created_at_ms: row.try_get("created_at_ms")?,
        answered_at_ms: row.try_get("answered_at_ms")?,
        ended_at_ms: row.try_get("ended_at_ms")?,
        resolved_at_ms: row.try_get("resolved_at_ms")?,
        resolved_by: row.try_get("resolved_by")?,
        client_informed_at_ms: row.try_get("client_informed_at_ms")?,
        informed_by: row.try_get("informed_by")?,
        informed_how: row.try_get("informed_how")?,
        informed_note: row.try_get("informed_note")?,
        wait_ms: row.try_get("wait_ms")?,
        talk_ms: row.try_get("talk_ms")?,
        recording: row.try_get("recording")?,
        notes: row.try_get("notes")?,
        resolution: row.try_get("resolution")?,
        created_by: row.try_get("created_by")?,
    })
}

/// The address as stored: phone numbers normalised so that one number is
/// one string whatever form the caller's phone sent.
fn stored_from(new: &NewInquiry) -> String {
    match new.channel {
        Channel::Phone => {
            phone::normalize(&new.from).unwrap_or_else(|| new.from.trim().to_string())
        }
        _ => new.from.trim().to_string(),
    }
}

/// Inserts the inquiry and its `inquiry.created` event on `conn`; the
/// event is returned for [`Store::publish_events`] after the commit.
/// `Ok(None)` when the id exists already (nothing is written).
pub(super) async fn create_in(
    conn: &mut AnyConnection,
    id: &str,
    new: &NewInquiry,
    client_id: Option<&str>,
) -> Result<Option<Event>, StoreError> {
    let from = stored_from(new);
    let inserted = sqlx::query(
        "INSERT INTO inquiries (id, channel, from_addr, client_id, status, call_id, language, \
         created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(new.channel.as_str())
    .bind(from.as_str())
    .bind(client_id)
    .bind(new.status.as_str())
    .bind(new.call_id.as_deref())
    .bind(new.language.as_deref())
    .bind(new.created_at_ms)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    let data = serde_json::json!({
        "channel": new.channel,
        "from": from,
        "client_id": client_id,
        "status": new.status,
        "call_id": new.call_id,
        "language": new.language,
    });
    let event = events::append(
        conn,
        new.created_at_ms,
        INQUIRY_CREATED,
        Some(id),
        None,
        &data,
    )
    .await?;
    Ok(Some(event))
}

/// Applies `update` and appends its `inquiry.updated` event on `conn`;
/// the event is returned for [`Store::publish_events`] after the commit.
/// `Ok(None)` when there is no such inquiry (nothing is written).
pub(super) async fn update_in(
    conn: &mut AnyConnection,
    id: &str,
    update: &InquiryUpdate,
    at_ms: i64,
) -> Result<Option<Event>, StoreError> {
    update_by_in(conn, id, update, at_ms, None).await
}

/// [`update_in`] recording who made the change (`by` in the event data):
/// the timeline then says who resolved, reassigned or edited what.
pub(super) async fn update_by_in(
    conn: &mut AnyConnection,
    id: &str,
    update: &InquiryUpdate,
    at_ms: i64,
    by: Option<&str>,
) -> Result<Option<Event>, StoreError> {
    let updated = sqlx::query(
        "UPDATE inquiries SET status = COALESCE($2, status), ivr_path = COALESCE($3, ivr_path), \
         category = COALESCE($4, category), topic = COALESCE($5, topic), \
         queue = COALESCE($6, queue), agent = COALESCE($7, agent), \
         routing_reason = COALESCE($8, routing_reason), language = COALESCE($9, language), \
         answered_at_ms = COALESCE($10, answered_at_ms), \
         ended_at_ms = COALESCE($11, ended_at_ms), wait_ms = COALESCE($12, wait_ms), \
         talk_ms = COALESCE($13, talk_ms), recording = COALESCE($14, recording), \
         updated_at_ms = $15, transfers = COALESCE($16, transfers), \
         notes = COALESCE($17, notes), resolution = COALESCE($18, resolution), \
         resolved_at_ms = COALESCE($19, resolved_at_ms), \
         resolved_by = COALESCE($20, resolved_by), \
         client_informed_at_ms = COALESCE($21, client_informed_at_ms), \
         informed_by = COALESCE($22, informed_by), informed_how = COALESCE($23, informed_how), \
         informed_note = COALESCE($24, informed_note) \
         WHERE id = $1",
    )
    .bind(id)
    .bind(update.status.map(InquiryStatus::as_str))
    .bind(update.ivr_path.as_deref())
    .bind(update.category.as_deref())
    .bind(update.topic.as_deref())
    .bind(update.queue.as_deref())
    .bind(update.agent.as_deref())
    .bind(update.routing_reason.as_deref())
    .bind(update.language.as_deref())
    .bind(update.answered_at_ms)
    .bind(update.ended_at_ms)
    .bind(update.wait_ms)
    .bind(update.talk_ms)
    .bind(update.recording.as_deref())
    .bind(at_ms)
    .bind(update.transfers)
    .bind(update.notes.as_deref())
    .bind(update.resolution.as_deref())
    .bind(update.resolved_at_ms)
    .bind(update.resolved_by.as_deref())
    .bind(update.client_informed_at_ms)
    .bind(update.informed_by.as_deref())
    .bind(update.informed_how.as_deref())
    .bind(update.informed_note.as_deref())
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    let mut data = serde_json::to_value(update)
        .map_err(|e| StoreError::Corrupt(format!("inquiry update as JSON: {e}")))?;
    if let (Some(by), Some(object)) = (by, data.as_object_mut()) {
        object.insert("by".into(), serde_json::Value::from(by));
    }
    let event = events::append(
        conn,
        at_ms,
        INQUIRY_UPDATED,
        Some(id),
        update.agent.as_deref(),
        &data,
    )
    .await?;
    Ok(Some(event))
}

/// Creates the inquiry like [`Store::create_inquiry`], first finding
/// or creating the client by `phone` (in the same transaction) when
/// the phone has digits.
pub(super) async fn create_with_client_in(
    conn: &mut AnyConnection,
    id: &str,
    new: &NewInquiry,
    phone_for_client: Option<&str>,
) -> Result<Option<Event>, StoreError> {
    let phone = phone_for_client.and_then(phone::normalize);
    let client_id = match phone {
        Some(phone) => Some(find_or_create_in(conn, &phone, new.created_at_ms).await?),
        None => new.client_id.clone(),
    };
    create_in(conn, id, new, client_id.as_deref()).await
}

/// A free-text query as LIKE patterns. `folded` matches `LOWER(column)`
/// (ASCII on SQLite, everything on PostgreSQL) and the application-folded
/// client name; `as_typed` catches exact-case non-ASCII text on SQLite;
/// `phone` matches a number however the user typed it.
pub(super) struct FreeText {
    pub(super) folded: String,
    pub(super) as_typed: String,
    pub(super) phone: Option<String>,
}

impl FreeText {
    pub(super) fn new(q: &str) -> FreeText {
        let q = q.trim();
        FreeText {
            folded: like_substring(&q.to_lowercase()),
            as_typed: like_substring(q),
            phone: phone::normalize(q).map(|digits| like_substring(&digits)),
        }
    }
}

/// `%text%` with LIKE's wildcards in `text` escaped (`ESCAPE '\'`), so a
/// user's `_` or `%` matches itself.
pub(super) fn like_substring(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store {
    /// Starts a transaction that will write. On SQLite it takes the write
    /// lock at once (`BEGIN IMMEDIATE`): a deferred transaction that reads
    /// first and writes later fails with SQLITE_BUSY, instead of waiting,
    /// when another connection wrote in between.
    pub(super) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let sqlite = self
            .pool
            .connect_options()
            .database_url
            .scheme()
            .starts_with("sqlite");
        let statement = if sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" };
        Ok(self.pool.begin_with(statement).await?)
    }

    /// Writes a new inquiry and its `inquiry.created` event. `Conflict`
    /// when the id is taken.
    pub async fn create_inquiry(&self, id: &str, new: &NewInquiry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(event) = create_in(&mut tx, id, new, new.client_id.as_deref()).await? else {
            return Err(StoreError::Conflict(format!("inquiry {id} exists")));
        };
        tx.commit().await?;
        self.publish_events([event]);
        Ok(())
    }

    /// Applies `update` and appends its `inquiry.updated` event at `at_ms`.
    /// `NotFound` when there is no such inquiry.
    pub async fn update_inquiry(
        &self,
        id: &str,
        update: &InquiryUpdate,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(event) = update_in(&mut tx, id, update, at_ms).await? else {
            return Err(StoreError::NotFound);
        };
        tx.commit().await?;
        self.publish_events([event]);
        Ok(())
    }

    pub async fn get_inquiry(&self, id: &str) -> Result<Option<Inquiry>, StoreError> {
        sqlx::query(&format!(
            "SELECT {INQUIRY_COLUMNS} FROM inquiries WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(inquiry_from_row)
        .transpose()
    }

    /// Up to `limit` inquiries matching `filter`, newest first, after
    /// `cursor` (from a previous page); the second value is the cursor of
    /// the next page, `None` on the last one.
    pub async fn list_inquiries(
        &self,
        filter: &InquiryFilter,
        limit: i64,
        cursor: Option<&str>,
    ) -> Result<(Vec<Inquiry>, Option<String>), StoreError> {
        let limit = limit.clamp(1, MAX_INQUIRY_PAGE);
        let mut conditions: Vec<String> = Vec::new();
        let mut params: Vec<Param<'_>> = Vec::new();
        let text_filters: [(&str, Option<&str>); 7] = [
            ("status", filter.status.map(InquiryStatus::as_str)),
            ("channel", filter.channel.map(Channel::as_str)),
            ("category", filter.category.as_deref()),
            ("topic", filter.topic.as_deref()),
            ("queue", filter.queue.as_deref()),
            ("agent", filter.agent.as_deref()),
            ("client_id", filter.client_id.as_deref()),
        ];
        for (column, value) in text_filters {
            if let Some(value) = value {
                params.push(Param::Text(value));
                conditions.push(format!("{column} = ${}", params.len()));
            }
        }
        // Owned here so the parameters can borrow them.
        let free_text = filter.q.as_deref().map(FreeText::new);
        if let Some(text) = &free_text {
            params.push(Param::Text(&text.folded));
            let folded = params.len();
            params.push(Param::Text(&text.as_typed));
            let typed = params.len();
            let mut alternatives = Vec::new();
            for column in ["from_addr", "topic", "notes", "resolution"] {
                alternatives.push(format!("LOWER({column}) LIKE ${folded} ESCAPE '\\'"));
                alternatives.push(format!("{column} LIKE ${typed} ESCAPE '\\'"));
            }
            alternatives.push(format!(
                "client_id IN (SELECT id FROM clients WHERE name_folded LIKE ${folded} ESCAPE '\\')"
            ));
            if let Some(digits) = &text.phone {
                params.push(Param::Text(digits));
                alternatives.push(format!("from_addr LIKE ${} ESCAPE '\\'", params.len()));
            }
            conditions.push(format!("({})", alternatives.join(" OR ")));
        }
        if let Some(from) = filter.created_from_ms {
            params.push(Param::Int(from));
            conditions.push(format!("created_at_ms >= ${}", params.len()));
        }
        if let Some(before) = filter.created_before_ms {
            params.push(Param::Int(before));
            conditions.push(format!("created_at_ms < ${}", params.len()));
        }
        let (where_clause, limit_n) =
            newest_first_page("created_at_ms", cursor, limit, &mut conditions, &mut params)?;
        let sql = format!(
            "SELECT {INQUIRY_COLUMNS} FROM inquiries {where_clause} \
             ORDER BY created_at_ms DESC, id DESC LIMIT ${limit_n}"
        );
        let mut items = bind_all(&sql, params)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(inquiry_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next = finish_page(&mut items, limit, |i| (i.created_at_ms, i.id.as_str()));
        Ok((items, next))
    }
}

/// Which client a typed-in inquiry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKey<'a> {
    /// A known client; `Invalid` (field `client_id`) when there is none.
    Id(&'a str),
    /// Found or created by this normalised phone number.
    Phone(&'a str),
    /// Found or created by this lower-cased e-mail address.
    Email(&'a str),
    /// No client (a chat nickname, an anonymous visitor).
    None,
}

impl Store {
    /// An inquiry typed in by an API user (a visit, a chat, a letter): in
    /// one transaction, finds or creates its client, writes the row with
    /// `created_by` and its `inquiry.created` event, then applies
    /// `details` (category, topic, notes, agent...) as an `inquiry.updated`
    /// event by `created_by`. Returns the stored inquiry.
    pub async fn create_typed_inquiry(
        &self,
        id: &str,
        new: &NewInquiry,
        client: ClientKey<'_>,
        details: &InquiryUpdate,
        created_by: &str,
    ) -> Result<Inquiry, StoreError> {
        let at = new.created_at_ms;
        let mut tx = self.begin_write().await?;
        let client_id = match client {
            ClientKey::Id(id) => {
                let known = sqlx::query("SELECT id FROM clients WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if known.is_none() {
                    return Err(StoreError::Invalid {
                        field: "client_id",
                        message: format!("no client {id:?}"),
                    });
                }
                Some(id.to_string())
            }
            ClientKey::Phone(phone) => Some(find_or_create_in(&mut tx, phone, at).await?),
            ClientKey::Email(email) => Some(find_or_create_by_email_in(&mut tx, email, at).await?),
            ClientKey::None => None,
        };
        let mut appended = vec![
            create_in(&mut tx, id, new, client_id.as_deref())
                .await?
                .ok_or_else(|| StoreError::Conflict(format!("inquiry {id} exists")))?,
        ];
        sqlx::query("UPDATE inquiries SET created_by = $2 WHERE id = $1")
            .bind(id)
            .bind(created_by)
            .execute(&mut *tx)
            .await?;
        if *details != InquiryUpdate::default() {
            appended.extend(update_by_in(&mut tx, id, details, at, Some(created_by)).await?);
        }
        if self.crm_outbox_on() {
            super::crm_outbox::enqueue_new_inquiry_in(&mut tx, id, client, at).await?;
        }
        tx.commit().await?;
        self.publish_events(appended);
        self.get_inquiry(id).await?.ok_or(StoreError::NotFound)
    }

    /// Applies `update` on behalf of `by` (an API user): the event records
    /// who. `NotFound` when there is no such inquiry.
    pub async fn update_inquiry_by(
        &self,
        id: &str,
        update: &InquiryUpdate,
        at_ms: i64,
        by: &str,
    ) -> Result<Inquiry, StoreError> {
        let mut tx = self.begin_write().await?;
        let event = update_by_in(&mut tx, id, update, at_ms, Some(by))
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        self.publish_events([event]);
        self.get_inquiry(id).await?.ok_or(StoreError::NotFound)
    }

    /// `true` when the client has an inquiry other than `excluding` that
    /// is still open (not resolved, resolved in the IVR or abandoned):
    /// routing gives such a caller priority.
    pub async fn has_open_inquiry(
        &self,
        client_id: &str,
        excluding: &str,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM inquiries WHERE client_id = $1 AND id <> $2 \
             AND status NOT IN ('resolved', 'resolved_in_ivr', 'abandoned') LIMIT 1",
        )
        .bind(client_id)
        .bind(excluding)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}
