//! Persistent state: agents (who are also API users), registrar bindings and
//! API tokens, through sqlx.
//!
//! Everything goes through `sqlx::AnyPool` with portable SQL (TEXT and BIGINT
//! columns, `$N` placeholders, `ON CONFLICT ... DO UPDATE`), so
//! `sqlite://hotline.db` and `postgres://...` run the same code and the same
//! migrations: moving to PostgreSQL is a configuration change (ARCHITECTURE §7).

mod agent_state;
mod agents;
mod audit;
mod bindings;
mod calendar;
mod channels;
mod clients;
mod crm_outbox;
mod events;
pub mod ids;
mod inquiries;
mod inquiry_writer;
mod ivr_scripts;
mod paging;
mod password;
mod serde_time;
mod tokens;

pub use agent_state::{AGENT_STATE, AgentStateChange};
pub use agents::{
    ADMIN_LOGIN, Agent, AgentPatch, FieldError, NewAgent, QueueSkill, SipCredentials,
    validate_new_agent, validate_patch,
};
pub use audit::{AuditEntry, AuditFilter, AuditRecord, MAX_AUDIT_PAGE};
pub use calendar::SavedCalendar;
pub use channels::{ContactKey, Filed, INQUIRY_MESSAGE};
pub use clients::{
    Client, ClientFields, MANAGER_AREAS, MAX_CLIENT_PAGE, MessengerHandle, PersonalManager,
    normalize_email, validate_client_fields,
};
pub use crm_outbox::{CrmKind, CrmPush, OutboxEntry, OutboxRow};
pub use events::{Event, INQUIRY_CREATED, INQUIRY_UPDATED, MAX_EVENT_PAGE};
pub use inquiries::{
    Channel, ClientKey, Inquiry, InquiryFilter, InquiryStatus, InquiryUpdate, MAX_INQUIRY_PAGE,
    NewInquiry, UnknownValue,
};
pub use inquiry_writer::{InquiryWrite, InquiryWriter};
pub use ivr_scripts::{IvrScriptText, IvrScriptVersion, MAX_IVR_VERSION_PAGE};
pub use tokens::LoginLockout;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Errors of the store. `Db` is an infrastructure failure; the others are
/// answers a caller can act on (and the API maps to 404, 409, 422).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// A stored value the code cannot read back (a hand-edited row, or a row
    /// written by a newer version).
    #[error("corrupt data in the store: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl From<FieldError> for StoreError {
    fn from(e: FieldError) -> Self {
        StoreError::Invalid {
            field: e.field,
            message: e.message,
        }
    }
}

/// Handle to the database. Cheap to clone: it wraps a connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// Committed events, for live subscribers (see `events.rs`).
    live: tokio::sync::broadcast::Sender<Event>,
    /// Whether new inquiries of the API and the channels queue a CRM push
    /// ([`Store::with_crm_outbox`]).
    crm_outbox: bool,
}

/// How long a connection waits on a locked SQLite database before failing.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Opens a pool on `url`: `sqlite://path` (file created when missing),
    /// `sqlite::memory:` (a private in-memory database, for tests) or
    /// `postgres://...`. Does not migrate; call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let is_sqlite = url.starts_with("sqlite:");
        let in_memory = is_sqlite && (url.contains(":memory:") || url.contains("mode=memory"));
        let url = if is_sqlite && !in_memory && !url.contains("mode=") {
            // Without `mode=rwc` sqlx refuses to open a file that does not
            // exist yet, and "created on first start" is the contract.
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}mode=rwc")
        } else {
            url.to_string()
        };
        let options = AnyConnectOptions::from_str(&url)?;

        let mut pool = AnyPoolOptions::new().after_connect(|conn, _meta| {
            Box::pin(async move {
                if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                    // WAL lets the registrar write while the API reads;
                    // foreign keys make deleting an agent delete its rows.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute(
                        format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}").as_str(),
                    )
                    .await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                }
                Ok(())
            })
        });
        if in_memory {
            // Every connection to `:memory:` is its own empty database, so
            // keep exactly one, forever.
            pool = pool
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        } else if is_sqlite {
            // SQLite has one writer anyway; a few readers are plenty.
            pool = pool.max_connections(4);
        } else {
            pool = pool.max_connections(16);
        }
        let pool = pool
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        let (live, _) = tokio::sync::broadcast::channel(events::LIVE_CAPACITY);
        Ok(Store {
            pool,
            live,
            crm_outbox: false,
        })
    }

    /// Applies the pending migrations from `migrations/` (embedded at build time).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// A trivial query, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool; pending writes are flushed (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The pool, for read-only query layers that live beside their pure
    /// computation (the reports in `crate::report`).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Wall-clock time for `created_at`-style columns. The store is shell code,
/// not a sans-IO core; expiry decisions take `now_ms` from the caller.
fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `true` when a database error is a uniqueness violation (duplicate key).
fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// `true` when a database error is a foreign-key violation (unknown agent).
fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_clients;
#[cfg(test)]
mod tests_inquiries;
