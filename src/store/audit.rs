//! The audit log: who read or changed client data, and when (the
//! department's commercial secrecy, ARCHITECTURE §6). Issue 6 adds
//! `GET /api/v1/audit`; the rows are written from the first read on.

use super::ids::new_id;
use super::{Store, StoreError};

/// One audited action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry<'a> {
    /// Login of the API user.
    pub actor: &'a str,
    /// `read`, `create`, `update`, `delete`.
    pub action: &'a str,
    /// `inquiry`, `inquiries` (a list), `client`, `recording`.
    pub object_kind: &'a str,
    pub object_id: Option<&'a str>,
    /// Free text, e.g. the filters of a list read.
    pub detail: Option<&'a str>,
}

impl Store {
    /// Writes one audit row. Callers fail the request when this fails: an
    /// unaudited read of client data is worse than no read.
    pub async fn audit(&self, entry: &AuditEntry<'_>, at_ms: i64) -> Result<(), StoreError> {
        // Its own statement: the thread-local RNG must not live across an await.
        let id = new_id(at_ms, &mut rand::thread_rng());
        sqlx::query(
            "INSERT INTO audit (id, at_ms, actor, action, object_kind, object_id, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(at_ms)
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.object_kind)
        .bind(entry.object_id)
        .bind(entry.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Number of audit rows about one object (tests and, later, the audit API).
    pub async fn count_audit(&self, object_kind: &str, object_id: &str) -> Result<i64, StoreError> {
        use sqlx::Row;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM audit WHERE object_kind = $1 AND object_id = $2",
        )
        .bind(object_kind)
        .bind(object_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }
}
