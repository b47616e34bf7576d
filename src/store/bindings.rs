//! Registrar bindings, persisted so that a restart does not log every
//! operator out. The registrar keeps its own in-memory view and writes
//! through; [`Store::load_bindings`] rebuilds that view at start.

use super::{Store, StoreError, is_foreign_key_violation};
use crate::sip::Transport;
use crate::sip::registrar::Binding;
use sqlx::Row;
use sqlx::any::AnyRow;

const BINDING_COLUMNS: &str =
    "login, contact, expires_at_ms, call_id, cseq, source, transport, nat, q_milli, user_agent";

fn transport_from_str(s: &str) -> Result<Transport, StoreError> {
    match s {
        "udp" => Ok(Transport::Udp),
        "tcp" => Ok(Transport::Tcp),
        other => Err(StoreError::Corrupt(format!("bindings.transport {other:?}"))),
    }
}

/// q is 0.0–1.0 with at most three decimals (RFC 3261 §20.10), so
/// thousandths are exact and avoid float column types.
fn q_to_milli(q: f32) -> i64 {
    // `as` saturates (NaN → 0), and the clamp keeps junk from a phone sane.
    (f64::from(q.clamp(0.0, 1.0)) * 1000.0).round() as i64
}

fn q_from_milli(milli: i64) -> f32 {
    // Bounded by the write side to 0..=1000, exactly representable.
    milli.clamp(0, 1000) as f32 / 1000.0
}

fn binding_from_row(row: &AnyRow) -> Result<Binding, StoreError> {
    let source: String = row.try_get("source")?;
    let transport: String = row.try_get("transport")?;
    let cseq: i64 = row.try_get("cseq")?;
    Ok(Binding {
        login: row.try_get("login")?,
        contact: row.try_get("contact")?,
        expires_at_ms: row.try_get("expires_at_ms")?,
        call_id: row.try_get("call_id")?,
        cseq: u32::try_from(cseq)
            .map_err(|_| StoreError::Corrupt(format!("bindings.cseq {cseq}")))?,
        source: source
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("bindings.source {source:?}")))?,
        transport: transport_from_str(&transport)?,
        nat: row.try_get::<i64, _>("nat")? != 0,
        q: row.try_get::<Option<i64>, _>("q_milli")?.map(q_from_milli),
        user_agent: row.try_get("user_agent")?,
    })
}

impl Store {
    /// Inserts or refreshes the binding of (`login`, `contact`).
    /// `NotFound` when the login is not an agent (e.g. deleted meanwhile).
    pub async fn save_binding(&self, b: &Binding) -> Result<(), StoreError> {
        let result = sqlx::query(&format!(
            "INSERT INTO bindings ({BINDING_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (login, contact) DO UPDATE SET expires_at_ms = excluded.expires_at_ms, \
             call_id = excluded.call_id, cseq = excluded.cseq, source = excluded.source, \
             transport = excluded.transport, nat = excluded.nat, q_milli = excluded.q_milli, \
             user_agent = excluded.user_agent"
        ))
        .bind(b.login.as_str())
        .bind(b.contact.as_str())
        .bind(b.expires_at_ms)
        .bind(b.call_id.as_str())
        .bind(i64::from(b.cseq))
        .bind(b.source.to_string())
        .bind(b.transport.as_str())
        .bind(i64::from(b.nat))
        .bind(b.q.map(q_to_milli))
        .bind(b.user_agent.clone())
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes one binding (unregister); removing a missing one is not an error.
    pub async fn remove_binding(&self, login: &str, contact: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM bindings WHERE login = $1 AND contact = $2")
            .bind(login)
            .bind(contact)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every binding still valid at `now_ms`, ordered by login and contact.
    pub async fn load_bindings(&self, now_ms: i64) -> Result<Vec<Binding>, StoreError> {
        sqlx::query(&format!(
            "SELECT {BINDING_COLUMNS} FROM bindings WHERE expires_at_ms > $1 \
             ORDER BY login, contact"
        ))
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(binding_from_row)
        .collect()
    }

    /// The bindings of one login still valid at `now_ms`.
    pub async fn bindings_of(&self, login: &str, now_ms: i64) -> Result<Vec<Binding>, StoreError> {
        sqlx::query(&format!(
            "SELECT {BINDING_COLUMNS} FROM bindings WHERE login = $1 AND expires_at_ms > $2 \
             ORDER BY contact"
        ))
        .bind(login)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(binding_from_row)
        .collect()
    }

    /// Deletes bindings expired at `now_ms`; returns how many. Housekeeping
    /// only: every read already ignores expired rows.
    pub async fn purge_expired_bindings(&self, now_ms: i64) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM bindings WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}
