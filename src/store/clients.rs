//! Clients: the people behind inquiries, found by phone, e-mail or
//! messenger handle. A phone number (an e-mail, a handle) belongs to at
//! most one client; that unique key is what makes find-or-create safe when
//! the same number calls twice at once, and what turns a second client
//! claiming it into a conflict.
//!
//! Each client has at most one personal manager per area (`admission`,
//! `education`), which routing rings first (ARCHITECTURE §5).
//!
//! Deleting a client keeps their inquiries (the department's record and
//! its reports need them) but detaches them: `client_id` becomes NULL, with
//! an `inquiry.updated` event each, and the personal data (name, phones,
//! e-mails, handles, managers) is gone.

use super::agents::FieldError;
use super::events::{self, INQUIRY_UPDATED};
use super::ids::new_id;
use super::inquiries::FreeText;
use super::{AuditEntry, Store, StoreError, is_unique_violation, wall_clock_ms};
use crate::ivr::CATEGORIES;
use crate::phone;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

/// A client as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Client {
    pub id: String,
    pub name: Option<String>,
    pub category: Option<String>,
    /// Normalised (see [`crate::phone::normalize`]), in the order added.
    pub phones: Vec<String>,
    /// Lower-cased, in the order added.
    pub emails: Vec<String>,
    pub handles: Vec<MessengerHandle>,
    /// One per area at most.
    pub managers: Vec<PersonalManager>,
    #[serde(rename = "created_at", serialize_with = "super::serde_time::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at_ms: i64,
    #[serde(rename = "updated_at", serialize_with = "super::serde_time::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at_ms: i64,
}

/// A messenger account, e.g. `telegram` / `@ivanov`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessengerHandle {
    pub messenger: String,
    pub handle: String,
}

/// A client's personal manager in one area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PersonalManager {
    pub area: String,
    pub login: String,
}

/// The areas a client can have a personal manager in; each is also the
/// name of the queue whose agents may be that manager.
pub const MANAGER_AREAS: [&str; 2] = ["admission", "education"];

/// What a create or an update sets; `None` leaves a field as it is (an
/// update) or empty (a create). A `Some` list replaces the whole list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFields {
    pub name: Option<String>,
    pub category: Option<String>,
    pub phones: Option<Vec<String>>,
    pub emails: Option<Vec<String>>,
    pub handles: Option<Vec<MessengerHandle>>,
}

/// Largest page of [`Store::search_clients`].
pub const MAX_CLIENT_PAGE: i64 = 200;
const MAX_NAME_CHARS: usize = 200;
const MAX_ADDRESS_CHARS: usize = 254;

/// A lower-cased e-mail address, or `None` when `raw` is not one
/// (`local@domain`, no spaces, a dot-free domain allowed for intranets).
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let valid = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && email.chars().count() <= MAX_ADDRESS_CHARS
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.starts_with('.')
        && !domain.ends_with('.');
    valid.then_some(email)
}

fn field_error(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// Checks `fields` and returns them normalised: phones as digits, e-mails
/// lower-cased, names trimmed, duplicates dropped. Every problem is
/// reported, one per field, so a form can show them all at once.
pub fn validate_client_fields(fields: &ClientFields) -> Result<ClientFields, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = fields.name.as_deref().map(str::trim).map(str::to_string);
    if let Some(name) = &name
        && (name.is_empty() || name.chars().count() > MAX_NAME_CHARS)
    {
        errors.push(field_error(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    if let Some(category) = &fields.category
        && !CATEGORIES.contains(&category.as_str())
    {
        errors.push(field_error(
            "category",
            format!(
                "unknown category {category:?} (expected one of {})",
                CATEGORIES.join(", ")
            ),
        ));
    }
    let phones = fields.phones.as_ref().map(|raw| {
        let mut phones: Vec<String> = Vec::new();
        for p in raw {
            match phone::normalize(p) {
                Some(n) if !phones.contains(&n) => phones.push(n),
                Some(_) => {}
                None => errors.push(field_error(
                    "phones",
                    format!("{p:?} is not a phone number"),
                )),
            }
        }
        phones
    });
    let emails = fields.emails.as_ref().map(|raw| {
        let mut emails: Vec<String> = Vec::new();
        for e in raw {
            match normalize_email(e) {
                Some(n) if !emails.contains(&n) => emails.push(n),
                Some(_) => {}
                None => errors.push(field_error(
                    "emails",
                    format!("{e:?} is not an e-mail address"),
                )),
            }
        }
        emails
    });
    let handles = fields.handles.as_ref().map(|raw| {
        let mut handles: Vec<MessengerHandle> = Vec::new();
        for h in raw {
            let handle = MessengerHandle {
                messenger: h.messenger.trim().to_lowercase(),
                handle: h.handle.trim().to_string(),
            };
            if handle.messenger.is_empty()
                || handle.handle.is_empty()
                || handle.handle.chars().count() > MAX_ADDRESS_CHARS
            {
                errors.push(field_error(
                    "handles",
                    "each handle needs a messenger and a handle",
                ));
            } else if !handles.contains(&handle) {
                handles.push(handle);
            }
        }
        handles
    });
    if errors.is_empty() {
        Ok(ClientFields {
            name,
            category: fields.category.clone(),
            phones,
            emails,
            handles,
        })
    } else {
        Err(errors)
    }
}

fn first_error(errors: Vec<FieldError>) -> StoreError {
    errors
        .into_iter()
        .next()
        .map_or(StoreError::Corrupt("empty validation".into()), Into::into)
}

/// One of the tables that map an address to its client.
#[derive(Clone, Copy)]
enum AddressTable {
    Phones,
    Emails,
}

impl AddressTable {
    fn table(self) -> &'static str {
        match self {
            AddressTable::Phones => "client_phones",
            AddressTable::Emails => "client_emails",
        }
    }
    fn column(self) -> &'static str {
        match self {
            AddressTable::Phones => "phone",
            AddressTable::Emails => "email",
        }
    }
}

/// How often find-or-create retries after losing a race on the unique
/// address key; one retry always suffices in practice (the winner's row is
/// then visible), the rest is headroom.
const FIND_OR_CREATE_ATTEMPTS: usize = 5;

/// The id of the client with `phone` (already normalised), creating the
/// client when there is none. Runs on `conn` so that the inquiry writer
/// can do it inside its batch transaction.
pub(super) async fn find_or_create_in(
    conn: &mut AnyConnection,
    phone: &str,
    now_ms: i64,
) -> Result<String, StoreError> {
    find_or_create_by_address_in(conn, AddressTable::Phones, phone, now_ms).await
}

/// The id of the client with `email` (already lower-cased), creating the
/// client when there is none.
pub(super) async fn find_or_create_by_email_in(
    conn: &mut AnyConnection,
    email: &str,
    now_ms: i64,
) -> Result<String, StoreError> {
    find_or_create_by_address_in(conn, AddressTable::Emails, email, now_ms).await
}

/// Race safety: the address insert is `ON CONFLICT DO NOTHING`; when
/// another writer took the address first, the client row just inserted is
/// removed again and the winner's id is returned. On PostgreSQL the
/// conflicting insert waits for the winner to commit, so the re-read sees
/// it; SQLite runs write transactions one at a time (`BEGIN IMMEDIATE`).
async fn find_or_create_by_address_in(
    conn: &mut AnyConnection,
    table: AddressTable,
    address: &str,
    now_ms: i64,
) -> Result<String, StoreError> {
    if let Some(id) = owner_of(conn, table, address).await? {
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
    if insert_address(conn, table, address, &id, now_ms).await? {
        return Ok(id);
    }
    sqlx::query("DELETE FROM clients WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?;
    owner_of(conn, table, address).await?.ok_or_else(|| {
        StoreError::Conflict(format!("client {} vanished during insert", table.column()))
    })
}

/// `false` when the address already belongs to someone (nothing written).
async fn insert_address(
    conn: &mut AnyConnection,
    table: AddressTable,
    address: &str,
    client_id: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let (t, c) = (table.table(), table.column());
    let inserted = sqlx::query(&format!(
        "INSERT INTO {t} ({c}, client_id, created_at_ms) VALUES ($1, $2, $3) \
         ON CONFLICT ({c}) DO NOTHING"
    ))
    .bind(address)
    .bind(client_id)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

async fn owner_of(
    conn: &mut AnyConnection,
    table: AddressTable,
    address: &str,
) -> Result<Option<String>, StoreError> {
    let (t, c) = (table.table(), table.column());
    let row = sqlx::query(&format!("SELECT client_id FROM {t} WHERE {c} = $1"))
        .bind(address)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => Ok(Some(row.try_get("client_id")?)),
        None => Ok(None),
    }
}

/// Gives `client_id` exactly `addresses` in `table`: the others it had are
/// removed, new ones added. `Conflict` naming the address when one belongs
/// to another client.
async fn replace_addresses(
    conn: &mut AnyConnection,
    table: AddressTable,
    client_id: &str,
    addresses: &[String],
    now_ms: i64,
) -> Result<(), StoreError> {
    let (t, c) = (table.table(), table.column());
    let current: Vec<String> = sqlx::query(&format!("SELECT {c} FROM {t} WHERE client_id = $1"))
        .bind(client_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(c))
        .collect::<Result<_, _>>()?;
    for old in current.iter().filter(|a| !addresses.contains(a)) {
        sqlx::query(&format!("DELETE FROM {t} WHERE {c} = $1"))
            .bind(old.as_str())
            .execute(&mut *conn)
            .await?;
    }
    for address in addresses.iter().filter(|a| !current.contains(a)) {
        if !insert_address(conn, table, address, client_id, now_ms).await? {
            let owner = owner_of(conn, table, address).await?.unwrap_or_default();
            return Err(StoreError::Conflict(format!(
                "{c} {address} belongs to client {owner}"
            )));
        }
    }
    Ok(())
}

async fn replace_handles(
    conn: &mut AnyConnection,
    client_id: &str,
    handles: &[MessengerHandle],
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM client_handles WHERE client_id = $1")
        .bind(client_id)
        .execute(&mut *conn)
        .await?;
    for h in handles {
        let inserted = sqlx::query(
            "INSERT INTO client_handles (messenger, handle, client_id, created_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (messenger, handle) DO NOTHING",
        )
        .bind(h.messenger.as_str())
        .bind(h.handle.as_str())
        .bind(client_id)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "{} handle {} belongs to another client",
                h.messenger, h.handle
            )));
        }
    }
    Ok(())
}

/// Points every inquiry of `from` at `to` (`None`: detaches them), with an
/// `inquiry.updated` event each, so the timelines show the move.
async fn move_inquiries_in(
    conn: &mut AnyConnection,
    from: &str,
    to: Option<&str>,
    by: &str,
    at_ms: i64,
) -> Result<Vec<super::Event>, StoreError> {
    let ids: Vec<String> = sqlx::query("SELECT id FROM inquiries WHERE client_id = $1")
        .bind(from)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("id"))
        .collect::<Result<_, _>>()?;
    sqlx::query("UPDATE inquiries SET client_id = $2, updated_at_ms = $3 WHERE client_id = $1")
        .bind(from)
        .bind(to)
        .bind(at_ms)
        .execute(&mut *conn)
        .await?;
    let data = serde_json::json!({ "client_id": to, "previous_client_id": from, "by": by });
    let mut appended = Vec::with_capacity(ids.len());
    for id in &ids {
        appended.push(events::append(conn, at_ms, INQUIRY_UPDATED, Some(id), None, &data).await?);
    }
    Ok(appended)
}

pub(super) fn folded(name: Option<&str>) -> Option<String> {
    name.map(str::to_lowercase)
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
        self.find_or_create_by_address(AddressTable::Phones, &phone, now_ms)
            .await
    }

    /// The client with this e-mail address (lower-cased first), created
    /// when the address is new; `Invalid` when it is not an address. Safe
    /// to call concurrently, like [`Store::find_or_create_client_by_phone`].
    pub async fn find_or_create_client_by_email(
        &self,
        email: &str,
        now_ms: i64,
    ) -> Result<Client, StoreError> {
        let email = normalize_email(email).ok_or_else(|| StoreError::Invalid {
            field: "email",
            message: "is not an e-mail address".into(),
        })?;
        self.find_or_create_by_address(AddressTable::Emails, &email, now_ms)
            .await
    }

    async fn find_or_create_by_address(
        &self,
        table: AddressTable,
        address: &str,
        now_ms: i64,
    ) -> Result<Client, StoreError> {
        let mut last_error = None;
        for _ in 0..FIND_OR_CREATE_ATTEMPTS {
            let mut tx = self.begin_write().await?;
            match find_or_create_by_address_in(&mut tx, table, address, now_ms).await {
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
        let strings = |sql: &'static str, column: &'static str| {
            let pool = self.pool.clone();
            async move {
                sqlx::query(sql)
                    .bind(id)
                    .fetch_all(&pool)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String, _>(column))
                    .collect::<Result<Vec<_>, _>>()
            }
        };
        let phones = strings(
            "SELECT phone FROM client_phones WHERE client_id = $1 ORDER BY created_at_ms, phone",
            "phone",
        )
        .await?;
        let emails = strings(
            "SELECT email FROM client_emails WHERE client_id = $1 ORDER BY created_at_ms, email",
            "email",
        )
        .await?;
        let handles = sqlx::query(
            "SELECT messenger, handle FROM client_handles WHERE client_id = $1 \
             ORDER BY created_at_ms, messenger, handle",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(MessengerHandle {
                messenger: r.try_get("messenger")?,
                handle: r.try_get("handle")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let managers = sqlx::query(
            "SELECT area, login FROM client_managers WHERE client_id = $1 ORDER BY area",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(PersonalManager {
                area: r.try_get("area")?,
                login: r.try_get("login")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(Client {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            category: row.try_get("category")?,
            phones,
            emails,
            handles,
            managers,
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

    /// Creates a client from validated `fields` (see
    /// [`validate_client_fields`]; checked again here). `Conflict` when a
    /// phone, e-mail or handle already belongs to another client: nothing
    /// is written then. Audited as `actor`.
    pub async fn create_client(
        &self,
        fields: &ClientFields,
        actor: &str,
        now_ms: i64,
    ) -> Result<Client, StoreError> {
        let fields = validate_client_fields(fields).map_err(first_error)?;
        let id = new_id(now_ms, &mut rand::thread_rng());
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO clients (id, name, name_folded, category, manager, created_at_ms, \
             updated_at_ms) VALUES ($1, $2, $3, $4, NULL, $5, $5)",
        )
        .bind(id.as_str())
        .bind(fields.name.as_deref())
        .bind(folded(fields.name.as_deref()))
        .bind(fields.category.as_deref())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        self.replace_contacts_in(&mut tx, &id, &fields, now_ms)
            .await?;
        tx.commit().await?;
        self.audit_change(actor, "create", &id, None).await?;
        self.get_client(&id).await?.ok_or(StoreError::NotFound)
    }

    async fn replace_contacts_in(
        &self,
        conn: &mut AnyConnection,
        id: &str,
        fields: &ClientFields,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        if let Some(phones) = &fields.phones {
            replace_addresses(conn, AddressTable::Phones, id, phones, now_ms).await?;
        }
        if let Some(emails) = &fields.emails {
            replace_addresses(conn, AddressTable::Emails, id, emails, now_ms).await?;
        }
        if let Some(handles) = &fields.handles {
            replace_handles(conn, id, handles, now_ms).await?;
        }
        Ok(())
    }

    /// Changes the fields that are `Some`; a list replaces the client's
    /// whole list. `NotFound`, `Conflict` (an address of another client)
    /// or `Invalid`; nothing is written on error. Audited as `actor`.
    pub async fn update_client(
        &self,
        id: &str,
        fields: &ClientFields,
        actor: &str,
        now_ms: i64,
    ) -> Result<Client, StoreError> {
        let fields = validate_client_fields(fields).map_err(first_error)?;
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE clients SET name = COALESCE($2, name), \
             name_folded = COALESCE($3, name_folded), category = COALESCE($4, category), \
             updated_at_ms = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(fields.name.as_deref())
        .bind(folded(fields.name.as_deref()))
        .bind(fields.category.as_deref())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.replace_contacts_in(&mut tx, id, &fields, now_ms)
            .await?;
        tx.commit().await?;
        self.audit_change(actor, "update", id, None).await?;
        self.get_client(id).await?.ok_or(StoreError::NotFound)
    }

    /// Deletes the client with its addresses and managers. Its inquiries
    /// stay, detached (`client_id` NULL, an event each): they are the
    /// department's record and count in reports. Audited as `actor`.
    pub async fn delete_client(&self, id: &str, actor: &str) -> Result<(), StoreError> {
        let now_ms = wall_clock_ms();
        let mut tx = self.begin_write().await?;
        let moved = move_inquiries_in(&mut tx, id, None, actor, now_ms).await?;
        let deleted = sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        self.publish_events(moved);
        self.audit_change(actor, "delete", id, None).await
    }

    /// Merges the duplicate `from` into `into`, in one transaction: its
    /// phones, e-mails, handles and inquiries move over, its personal
    /// managers too for the areas `into` has none in, a missing name or
    /// category is taken from it, and `from` is deleted. `NotFound` when
    /// either is unknown, `Invalid` when they are the same client.
    pub async fn merge_clients(
        &self,
        into: &str,
        from: &str,
        actor: &str,
        now_ms: i64,
    ) -> Result<Client, StoreError> {
        if into == from {
            return Err(StoreError::Invalid {
                field: "from",
                message: "cannot merge a client into itself".into(),
            });
        }
        let mut tx = self.begin_write().await?;
        let Some(source) = sqlx::query("SELECT name, category FROM clients WHERE id = $1")
            .bind(from)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Err(StoreError::NotFound);
        };
        let name: Option<String> = source.try_get("name")?;
        let category: Option<String> = source.try_get("category")?;
        let updated = sqlx::query(
            "UPDATE clients SET name = COALESCE(name, $2), \
             name_folded = COALESCE(name_folded, $3), category = COALESCE(category, $4), \
             updated_at_ms = $5 WHERE id = $1",
        )
        .bind(into)
        .bind(name.as_deref())
        .bind(folded(name.as_deref()))
        .bind(category.as_deref())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        for table in ["client_phones", "client_emails", "client_handles"] {
            sqlx::query(&format!(
                "UPDATE {table} SET client_id = $1 WHERE client_id = $2"
            ))
            .bind(into)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE client_managers SET client_id = $1 WHERE client_id = $2 AND area NOT IN \
             (SELECT area FROM client_managers WHERE client_id = $1)",
        )
        .bind(into)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        let moved = move_inquiries_in(&mut tx, from, Some(into), actor, now_ms).await?;
        sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(from)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.publish_events(moved);
        self.audit_change(actor, "merge", into, Some(&format!("merged {from}")))
            .await?;
        self.audit_change(actor, "delete", from, Some(&format!("merged into {into}")))
            .await?;
        self.get_client(into).await?.ok_or(StoreError::NotFound)
    }

    /// Clients matching `q` (a substring of the name, case-insensitive; a
    /// phone number in any written form; part of an e-mail address or a
    /// messenger handle), newest first, after `cursor`. With `visible_to`,
    /// only that manager's clients: those with an inquiry they handled or
    /// whom they are personal manager of. Returns the page and the cursor
    /// of the next one.
    pub async fn search_clients(
        &self,
        q: Option<&str>,
        visible_to: Option<&str>,
        limit: i64,
        cursor: Option<&str>,
    ) -> Result<(Vec<Client>, Option<String>), StoreError> {
        let limit = limit.clamp(1, MAX_CLIENT_PAGE);
        let mut conditions: Vec<String> = Vec::new();
        let mut params: Vec<String> = Vec::new();
        let text = q
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(FreeText::new);
        if let Some(text) = &text {
            params.push(text.folded.clone());
            let n = params.len();
            let mut alternatives = vec![
                format!("name_folded LIKE ${n} ESCAPE '\\'"),
                format!(
                    "id IN (SELECT client_id FROM client_emails WHERE email LIKE ${n} ESCAPE '\\')"
                ),
                format!(
                    "id IN (SELECT client_id FROM client_handles \
                     WHERE LOWER(handle) LIKE ${n} ESCAPE '\\')"
                ),
            ];
            if let Some(phone) = &text.phone {
                params.push(phone.clone());
                alternatives.push(format!(
                    "id IN (SELECT client_id FROM client_phones WHERE phone LIKE ${} ESCAPE '\\')",
                    params.len()
                ));
            }
            conditions.push(format!("({})", alternatives.join(" OR ")));
        }
        if let Some(login) = visible_to {
            params.push(login.to_string());
            let n = params.len();
            conditions.push(format!(
                "(id IN (SELECT client_id FROM inquiries WHERE agent = ${n}) \
                 OR id IN (SELECT client_id FROM client_managers WHERE login = ${n}))"
            ));
        }
        if let Some(cursor) = cursor {
            params.push(cursor.to_string());
            conditions.push(format!("id < ${}", params.len()));
        }
        let where_clause = super::paging::where_clause(&conditions);
        let sql = format!(
            "SELECT id FROM clients {where_clause} ORDER BY id DESC LIMIT {}",
            limit.saturating_add(1)
        );
        let mut query = sqlx::query(&sql);
        for p in &params {
            query = query.bind(p.as_str());
        }
        let ids: Vec<String> = query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?;
        let page = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = ids.len() > page;
        let mut clients = Vec::with_capacity(ids.len().min(page));
        for id in ids.iter().take(page) {
            // A client deleted between the two reads is simply skipped.
            if let Some(c) = self.get_client(id).await? {
                clients.push(c);
            }
        }
        let next = if more {
            ids.get(page.saturating_sub(1)).cloned()
        } else {
            None
        };
        Ok((clients, next))
    }

    /// `true` when `login` may see the client as a manager: they handled
    /// one of its inquiries or are its personal manager in some area.
    pub async fn client_visible_to(
        &self,
        client_id: &str,
        login: &str,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM inquiries WHERE client_id = $1 AND agent = $2) \
             + (SELECT COUNT(*) FROM client_managers WHERE client_id = $1 AND login = $2) AS n",
        )
        .bind(client_id)
        .bind(login)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Login of the client's personal manager in `area`, if any.
    pub async fn personal_manager(
        &self,
        client_id: &str,
        area: &str,
    ) -> Result<Option<String>, StoreError> {
        let row =
            sqlx::query("SELECT login FROM client_managers WHERE client_id = $1 AND area = $2")
                .bind(client_id)
                .bind(area)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(row) => Ok(Some(row.try_get("login")?)),
            None => Ok(None),
        }
    }

    /// Sets (`Some`) or clears (`None`) the client's personal manager in
    /// `area`. `Invalid` for an area not in [`MANAGER_AREAS`] or a login
    /// that is not an agent serving that area's queue; `NotFound` for an
    /// unknown client. Audited as `actor` (the routing code passes the
    /// agent whose call made the assignment).
    pub async fn set_personal_manager(
        &self,
        client_id: &str,
        area: &str,
        login: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        if !MANAGER_AREAS.contains(&area) {
            return Err(StoreError::Invalid {
                field: "area",
                message: format!(
                    "unknown area {area:?} (expected one of {})",
                    MANAGER_AREAS.join(", ")
                ),
            });
        }
        let now_ms = wall_clock_ms();
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT id FROM clients WHERE id = $1")
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        match login {
            Some(login) => {
                let serves =
                    sqlx::query("SELECT login FROM agent_queues WHERE login = $1 AND queue = $2")
                        .bind(login)
                        .bind(area)
                        .fetch_optional(&mut *tx)
                        .await?;
                if serves.is_none() {
                    return Err(StoreError::Invalid {
                        field: "login",
                        message: format!("{login:?} is not an agent of the {area} queue"),
                    });
                }
                sqlx::query(
                    "INSERT INTO client_managers (client_id, area, login, created_at_ms) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (client_id, area) \
                     DO UPDATE SET login = excluded.login, created_at_ms = excluded.created_at_ms",
                )
                .bind(client_id)
                .bind(area)
                .bind(login)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM client_managers WHERE client_id = $1 AND area = $2")
                    .bind(client_id)
                    .bind(area)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        let detail = format!("personal manager {area} = {}", login.unwrap_or("none"));
        self.audit_change(actor, "update", client_id, Some(&detail))
            .await
    }

    async fn audit_change(
        &self,
        actor: &str,
        action: &str,
        client_id: &str,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        self.audit(
            &AuditEntry {
                actor,
                action,
                object_kind: "client",
                object_id: Some(client_id),
                detail,
            },
            wall_clock_ms(),
        )
        .await
    }
}
