//! Filing e-mails and messenger messages: the client found or created by
//! address or handle, the inquiry found by thread or created, the message
//! appended to its timeline (`inquiry.message`), all in one transaction.
//!
//! Race safety rests on unique keys, as for phones (see `clients.rs`): the
//! client's e-mail or handle, the Message-ID (`email_messages`) and the
//! update id (`messenger_updates`) are primary keys inserted with
//! `ON CONFLICT DO NOTHING`. Losing such an insert means a concurrent
//! delivery of the same thing committed first: the transaction is rolled
//! back and retried, and the retry finds the winner's rows.

use super::clients::{find_or_create_by_email_in, folded};
use super::crm_outbox::enqueue_new_inquiry_in;
use super::events::{self, Event};
use super::ids::new_id;
use super::inquiries::{InquiryUpdate, NewInquiry, create_in, update_in};
use super::{Client, Store, StoreError, is_unique_violation};
use crate::channels::email::IncomingEmail;
use crate::channels::messenger::{ChatThread, MessengerMessage, joins_thread};
use crate::store::{Channel, ClientKey, InquiryStatus};
use sqlx::{AnyConnection, Row};

/// Kind of the event that records a message received on an inquiry (the
/// first one too, after its `inquiry.created`).
pub const INQUIRY_MESSAGE: &str = "inquiry.message";

/// Attempts of a filing transaction that lost a race on a unique key; the
/// second always sees the winner, the rest is headroom.
const FILE_ATTEMPTS: usize = 5;

/// What became of a filed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    pub inquiry_id: String,
    pub client_id: String,
    /// The message joined an existing inquiry rather than creating one.
    pub joined: bool,
    /// The same message (Message-ID, update id) was filed before; nothing
    /// was written this time and the fields describe the first filing.
    pub duplicate: bool,
}

/// How a client is recognised on a written channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKey<'a> {
    /// Lower-cased address.
    Email(&'a str),
    /// A messenger's user id, with the user name kept when first seen.
    Handle {
        messenger: &'a str,
        handle: &'a str,
        username: Option<&'a str>,
    },
}

async fn client_id_by_key(
    conn: &mut AnyConnection,
    key: ContactKey<'_>,
) -> Result<Option<String>, StoreError> {
    let row = match key {
        ContactKey::Email(email) => {
            sqlx::query("SELECT client_id FROM client_emails WHERE email = $1")
                .bind(email)
                .fetch_optional(&mut *conn)
                .await?
        }
        ContactKey::Handle {
            messenger, handle, ..
        } => {
            sqlx::query("SELECT client_id FROM client_handles WHERE messenger = $1 AND handle = $2")
                .bind(messenger)
                .bind(handle)
                .fetch_optional(&mut *conn)
                .await?
        }
    };
    row.map(|r| r.try_get("client_id"))
        .transpose()
        .map_err(Into::into)
}

/// The id of the client with `key`, creating it when there is none; a
/// client without a name takes `name` (the e-mail display name, the
/// messenger user's name). E-mails go through the same find-or-create as
/// the clients API; handles follow its protocol: the key insert is
/// `ON CONFLICT DO NOTHING`, and a loser deletes its fresh client row and
/// returns the winner's.
async fn find_or_create_by_key_in(
    conn: &mut AnyConnection,
    key: ContactKey<'_>,
    name: Option<&str>,
    now_ms: i64,
) -> Result<String, StoreError> {
    let id = match key {
        ContactKey::Email(email) => find_or_create_by_email_in(conn, email, now_ms).await?,
        ContactKey::Handle {
            messenger,
            handle,
            username,
        } => find_or_create_by_handle_in(conn, messenger, handle, username, now_ms).await?,
    };
    if let Some(name) = name {
        sqlx::query(
            "UPDATE clients SET name = $2, name_folded = $3, updated_at_ms = $4 \
             WHERE id = $1 AND name IS NULL",
        )
        .bind(id.as_str())
        .bind(name)
        .bind(folded(Some(name)))
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

async fn find_or_create_by_handle_in(
    conn: &mut AnyConnection,
    messenger: &str,
    handle: &str,
    username: Option<&str>,
    now_ms: i64,
) -> Result<String, StoreError> {
    let key = ContactKey::Handle {
        messenger,
        handle,
        username,
    };
    if let Some(id) = client_id_by_key(conn, key).await? {
        return Ok(id);
    }
    let id = new_id(now_ms, &mut rand::thread_rng());
    sqlx::query(
        "INSERT INTO clients (id, name, category, manager, created_at_ms, updated_at_ms) \
         VALUES ($1, NULL, NULL, NULL, $2, $2)",
    )
    .bind(id.as_str())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO client_handles (messenger, handle, client_id, created_at_ms, username) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (messenger, handle) DO NOTHING",
    )
    .bind(messenger)
    .bind(handle)
    .bind(id.as_str())
    .bind(now_ms)
    .bind(username)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(id);
    }
    sqlx::query("DELETE FROM clients WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    client_id_by_key(conn, key)
        .await?
        .ok_or_else(|| StoreError::Conflict("client handle vanished during insert".into()))
}

/// Creates a new inquiry on a written channel: `inquiry.created`, then the
/// topic (an `inquiry.updated`, so the timeline shows where it came from).
async fn create_written_inquiry_in(
    conn: &mut AnyConnection,
    channel: Channel,
    from: &str,
    client_id: &str,
    topic: Option<&str>,
    now_ms: i64,
    appended: &mut Vec<Event>,
) -> Result<String, StoreError> {
    let id = new_id(now_ms, &mut rand::thread_rng());
    let new = NewInquiry {
        channel,
        from: from.to_string(),
        client_id: Some(client_id.to_string()),
        status: InquiryStatus::New,
        call_id: None,
        language: None,
        created_at_ms: now_ms,
    };
    let created = create_in(conn, &id, &new, Some(client_id))
        .await?
        .ok_or_else(|| StoreError::Conflict(format!("inquiry {id} exists")))?;
    appended.push(created);
    if let Some(topic) = topic {
        let update = InquiryUpdate {
            topic: Some(topic.to_string()),
            ..InquiryUpdate::default()
        };
        appended.extend(update_in(conn, &id, &update, now_ms).await?);
    }
    Ok(id)
}

fn filed_from_row(row: &sqlx::any::AnyRow) -> Result<Filed, StoreError> {
    let joined: i64 = row.try_get("joined")?;
    Ok(Filed {
        inquiry_id: row.try_get("inquiry_id")?,
        client_id: row.try_get("client_id")?,
        joined: joined != 0,
        duplicate: true,
    })
}

/// Result of one filing transaction: done, or lost a race and must retry.
enum Attempt {
    Done(Filed),
    Retry,
}

impl Store {
    /// The client with this contact, created (named `name`) when new.
    /// Idempotent and safe to call concurrently: all callers get the same
    /// client. An e-mail address must already be lower-cased.
    pub async fn find_or_create_client_by_contact(
        &self,
        key: ContactKey<'_>,
        name: Option<&str>,
        now_ms: i64,
    ) -> Result<Client, StoreError> {
        let mut last_error = None;
        for _ in 0..FILE_ATTEMPTS {
            let mut tx = self.begin_write().await?;
            let id = match find_or_create_by_key_in(&mut tx, key, name, now_ms).await {
                Ok(id) => id,
                Err(StoreError::Db(e)) if is_unique_violation(&e) => {
                    last_error = Some(StoreError::Db(e));
                    continue;
                }
                Err(StoreError::Conflict(m)) => {
                    last_error = Some(StoreError::Conflict(m));
                    continue;
                }
                Err(e) => return Err(e),
            };
            match tx.commit().await {
                Ok(()) => return self.get_client(&id).await?.ok_or(StoreError::NotFound),
                Err(e) if is_unique_violation(&e) => last_error = Some(StoreError::Db(e)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last_error.unwrap_or_else(|| StoreError::Conflict("find-or-create client".into())))
    }

    /// The client owning a contact, if any.
    pub async fn client_id_by_contact(
        &self,
        key: ContactKey<'_>,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        client_id_by_key(&mut conn, key).await
    }

    /// Files an e-mail: a message already filed (same Message-ID) is
    /// reported as a duplicate; a reply to a message we filed joins that
    /// message's inquiry; anything else creates an inquiry (channel
    /// `email`, status `new`, topic from the subject). The client is found
    /// or created by the sender's address either way, and the message is
    /// appended as an `inquiry.message` event.
    pub async fn file_email(
        &self,
        email: &IncomingEmail,
        now_ms: i64,
    ) -> Result<Filed, StoreError> {
        self.with_attempts(|| self.file_email_once(email, now_ms))
            .await
    }

    /// Files a messenger message: an update already processed is a
    /// duplicate; a chat whose current inquiry is open and wrote within
    /// `join_window_ms` joins it; otherwise a new inquiry (channel
    /// `messenger`) becomes the chat's current one.
    pub async fn file_messenger_message(
        &self,
        messenger: &str,
        message: &MessengerMessage,
        join_window_ms: i64,
        now_ms: i64,
    ) -> Result<Filed, StoreError> {
        self.with_attempts(|| self.file_messenger_once(messenger, message, join_window_ms, now_ms))
            .await
    }

    /// Runs a filing transaction until it does not lose a race.
    async fn with_attempts<F, Fut>(&self, attempt: F) -> Result<Filed, StoreError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Attempt, StoreError>>,
    {
        let mut last_error = None;
        for _ in 0..FILE_ATTEMPTS {
            match attempt().await {
                Ok(Attempt::Done(filed)) => return Ok(filed),
                Ok(Attempt::Retry) => {}
                Err(StoreError::Db(e)) if is_unique_violation(&e) => {
                    last_error = Some(StoreError::Db(e));
                }
                Err(StoreError::Conflict(m)) => last_error = Some(StoreError::Conflict(m)),
                Err(e) => return Err(e),
            }
        }
        Err(last_error
            .unwrap_or_else(|| StoreError::Conflict("concurrent deliveries kept colliding".into())))
    }

    async fn file_email_once(
        &self,
        email: &IncomingEmail,
        now_ms: i64,
    ) -> Result<Attempt, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(message_id) = &email.message_id {
            let row = sqlx::query(
                "SELECT inquiry_id, client_id, joined FROM email_messages WHERE message_id = $1",
            )
            .bind(message_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row {
                return Ok(Attempt::Done(filed_from_row(&row)?));
            }
        }
        let client_id = find_or_create_by_key_in(
            &mut tx,
            ContactKey::Email(&email.from_address),
            email.from_name.as_deref(),
            now_ms,
        )
        .await?;
        let mut appended = Vec::new();
        let mut thread = None;
        for parent in &email.parents {
            let row = sqlx::query(
                "SELECT m.inquiry_id FROM email_messages m \
                 JOIN inquiries i ON i.id = m.inquiry_id WHERE m.message_id = $1",
            )
            .bind(parent.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row {
                thread = Some(row.try_get::<String, _>("inquiry_id")?);
                break;
            }
        }
        let joined = thread.is_some();
        let inquiry_id = match thread {
            Some(id) => id,
            None => {
                let id = create_written_inquiry_in(
                    &mut tx,
                    Channel::Email,
                    &email.from_address,
                    &client_id,
                    email.topic.as_deref(),
                    now_ms,
                    &mut appended,
                )
                .await?;
                if self.crm_outbox_on() {
                    let key = ClientKey::Email(&email.from_address);
                    enqueue_new_inquiry_in(&mut tx, &id, key, now_ms).await?;
                }
                id
            }
        };
        if let Some(message_id) = &email.message_id {
            let inserted = sqlx::query(
                "INSERT INTO email_messages (message_id, inquiry_id, client_id, joined, received_at_ms) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id) DO NOTHING",
            )
            .bind(message_id.as_str())
            .bind(inquiry_id.as_str())
            .bind(client_id.as_str())
            .bind(i64::from(joined))
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(Attempt::Retry);
            }
        }
        appended.push(
            events::append(
                &mut tx,
                now_ms,
                INQUIRY_MESSAGE,
                Some(&inquiry_id),
                None,
                &email.event_data(),
            )
            .await?,
        );
        tx.commit().await?;
        self.publish_events(appended);
        Ok(Attempt::Done(Filed {
            inquiry_id,
            client_id,
            joined,
            duplicate: false,
        }))
    }

    async fn file_messenger_once(
        &self,
        messenger: &str,
        message: &MessengerMessage,
        join_window_ms: i64,
        now_ms: i64,
    ) -> Result<Attempt, StoreError> {
        let update_id = message.update_id.to_string();
        let chat_id = message.chat_id.to_string();
        let handle = message.handle();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT inquiry_id, client_id, joined FROM messenger_updates \
             WHERE messenger = $1 AND update_id = $2",
        )
        .bind(messenger)
        .bind(update_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            return Ok(Attempt::Done(filed_from_row(&row)?));
        }
        let client_id = find_or_create_by_key_in(
            &mut tx,
            ContactKey::Handle {
                messenger,
                handle: &handle,
                username: message.username.as_deref(),
            },
            message.name.as_deref().or(message.username.as_deref()),
            now_ms,
        )
        .await?;
        let thread = sqlx::query(
            "SELECT c.inquiry_id, c.last_message_at_ms, i.status FROM messenger_chats c \
             JOIN inquiries i ON i.id = c.inquiry_id \
             WHERE c.messenger = $1 AND c.chat_id = $2",
        )
        .bind(messenger)
        .bind(chat_id.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| -> Result<ChatThread, StoreError> {
            let status: String = row.try_get("status")?;
            Ok(ChatThread {
                inquiry_id: row.try_get("inquiry_id")?,
                status: status
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("inquiries.status: {e}")))?,
                last_message_at_ms: row.try_get("last_message_at_ms")?,
            })
        })
        .transpose()?
        .filter(|thread| joins_thread(thread, now_ms, join_window_ms));
        let joined = thread.is_some();
        let mut appended = Vec::new();
        let inquiry_id = match thread {
            Some(thread) => thread.inquiry_id,
            None => {
                let id = create_written_inquiry_in(
                    &mut tx,
                    Channel::Messenger,
                    &handle,
                    &client_id,
                    None,
                    now_ms,
                    &mut appended,
                )
                .await?;
                if self.crm_outbox_on() {
                    // A handle is no CRM contact: the client's phone or
                    // e-mail on record is, if any.
                    let key = ClientKey::Id(&client_id);
                    enqueue_new_inquiry_in(&mut tx, &id, key, now_ms).await?;
                }
                id
            }
        };
        let inserted = sqlx::query(
            "INSERT INTO messenger_updates \
             (messenger, update_id, inquiry_id, client_id, joined, received_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (messenger, update_id) DO NOTHING",
        )
        .bind(messenger)
        .bind(update_id.as_str())
        .bind(inquiry_id.as_str())
        .bind(client_id.as_str())
        .bind(i64::from(joined))
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(Attempt::Retry);
        }
        sqlx::query(
            "INSERT INTO messenger_chats (messenger, chat_id, inquiry_id, last_message_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (messenger, chat_id) \
             DO UPDATE SET inquiry_id = excluded.inquiry_id, \
             last_message_at_ms = excluded.last_message_at_ms",
        )
        .bind(messenger)
        .bind(chat_id.as_str())
        .bind(inquiry_id.as_str())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        appended.push(
            events::append(
                &mut tx,
                now_ms,
                INQUIRY_MESSAGE,
                Some(&inquiry_id),
                None,
                &message.event_data(messenger),
            )
            .await?,
        );
        tx.commit().await?;
        self.publish_events(appended);
        Ok(Attempt::Done(Filed {
            inquiry_id,
            client_id,
            joined,
            duplicate: false,
        }))
    }
}
