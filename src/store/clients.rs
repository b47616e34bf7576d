//! Clients: the people behind inquiries, found by phone (and, with issue 6,
//! by e-mail and messenger handle). A phone number belongs to at most one
//! client; that unique key is what makes find-or-create safe when the same
//! number calls twice at once.

use super::ids::new_id;
use super::{Store, StoreError, is_unique_violation};
use crate::phone;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

/// A client as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Client {
    pub id: String,
    pub name: Option<String>,
    pub category: Option<String>,
    /// Normalised (see [`crate::phone::normalize`]), in the order added.
    pub phones: Vec<String>,
    #[serde(rename = "created_at", serialize_with = "super::serde_time::ms")]
    pub created_at_ms: i64,
    #[serde(rename = "updated_at", serialize_with = "super::serde_time::ms")]
    pub updated_at_ms: i64,
}

/// How often find-or-create retries after losing a race on the unique
/// phone key; one retry always suffices in practice (the winner's row is
/// then visible), the rest is headroom.
const FIND_OR_CREATE_ATTEMPTS: usize = 5;

/// The id of the client with `phone` (already normalised), creating the
/// client when there is none. Runs on `conn` so that the inquiry writer
/// can do it inside its batch transaction.
///
/// Race safety: the phone insert is `ON CONFLICT DO NOTHING`; when another
/// writer took the phone first, the client row just inserted is removed
/// again and the winner's id is returned. On PostgreSQL the conflicting
/// insert waits for the winner to commit, so the re-read sees it; SQLite
/// runs write transactions one at a time (`BEGIN IMMEDIATE`).
pub(super) async fn find_or_create_in(
    conn: &mut AnyConnection,
    phone: &str,
    now_ms: i64,
) -> Result<String, StoreError> {
    if let Some(id) = client_id_by_phone(conn, phone).await? {
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
        "INSERT INTO client_phones (phone, client_id, created_at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (phone) DO NOTHING",
    )
    .bind(phone)
    .bind(id.as_str())
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(id);
    }
    sqlx::query("DELETE FROM clients WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    client_id_by_phone(conn, phone)
        .await?
        .ok_or_else(|| StoreError::Conflict(format!("client phone {phone} vanished during insert")))
}

async fn client_id_by_phone(
    conn: &mut AnyConnection,
    phone: &str,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT client_id FROM client_phones WHERE phone = $1")
        .bind(phone)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => Ok(Some(row.try_get("client_id")?)),
        None => Ok(None),
    }
}

impl Store {
    /// The client with this phone number, created (with no name yet) when
    /// the number is new. `phone` is normalised first; `Invalid` when it
    /// has no digits. Idempotent and safe to call concurrently: all callers
    /// get the same client.
    pub async fn find_or_create_client_by_phone(
        &self,
        phone: &str,
        now_ms: i64,
    ) -> Result<Client, StoreError> {
        let phone = phone::normalize(phone).ok_or_else(|| StoreError::Invalid {
            field: "phone",
            message: "has no digits".into(),
        })?;
        let mut last_error = None;
        for _ in 0..FIND_OR_CREATE_ATTEMPTS {
            let mut tx = self.begin_write().await?;
            match find_or_create_in(&mut tx, &phone, now_ms).await {
                Ok(id) => {
                    match tx.commit().await {
                        Ok(()) => {}
                        Err(e) if is_unique_violation(&e) => {
                            last_error = Some(StoreError::Db(e));
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    }
                    return self.get_client(&id).await?.ok_or(StoreError::NotFound);
                }
                Err(StoreError::Db(e)) if is_unique_violation(&e) => {
                    last_error = Some(StoreError::Db(e));
                }
                Err(StoreError::Conflict(m)) => last_error = Some(StoreError::Conflict(m)),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| StoreError::Conflict("find-or-create client".into())))
    }

    pub async fn get_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, name, category, created_at_ms, updated_at_ms FROM clients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let phones = sqlx::query(
            "SELECT phone FROM client_phones WHERE client_id = $1 ORDER BY created_at_ms, phone",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("phone"))
        .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Client {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            category: row.try_get("category")?,
            phones,
            created_at_ms: row.try_get("created_at_ms")?,
            updated_at_ms: row.try_get("updated_at_ms")?,
        }))
    }

    /// Number of clients (tests and health figures).
    pub async fn count_clients(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM clients")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}
