//! The audit log: who read or changed client data, and when (the
//! department's commercial secrecy, ARCHITECTURE §6), read back newest
//! first by `GET /api/v1/audit`.

use super::ids::new_id;
use super::paging::{Param, bind_all, finish_page, newest_first_page};
use super::{Store, StoreError};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Largest page of [`Store::list_audit`].
pub const MAX_AUDIT_PAGE: i64 = 1000;

/// One audited action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry<'a> {
    /// Login of the API user.
    pub actor: &'a str,
    /// `read`, `create`, `update`, `delete`; for logins `login`,
    /// `login_failed`, `locked` (the failure that locked the username),
    /// `login_locked` (refused while locked), `logout`.
    pub action: &'a str,
    /// `inquiry`, `inquiries` (a list), `client`, `recording`, `user`.
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

/// One stored audit row, as the audit API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub id: String,
    /// RFC 3339 UTC.
    #[serde(rename = "at", serialize_with = "super::serde_time::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub object_kind: String,
    pub object_id: Option<String>,
    pub detail: Option<String>,
}

/// Which audit rows to list; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub object_kind: Option<String>,
    pub object_id: Option<String>,
    /// At or after (Unix ms).
    pub from_ms: Option<i64>,
    /// Before (Unix ms, exclusive).
    pub before_ms: Option<i64>,
}

fn record_from_row(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        id: row.try_get("id")?,
        at_ms: row.try_get("at_ms")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        object_kind: row.try_get("object_kind")?,
        object_id: row.try_get("object_id")?,
        detail: row.try_get("detail")?,
    })
}

impl Store {
    /// Up to `limit` audit rows matching `filter`, newest first, after
    /// `cursor`; the second value is the next page's cursor, `None` on the
    /// last page.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        limit: i64,
        cursor: Option<&str>,
    ) -> Result<(Vec<AuditRecord>, Option<String>), StoreError> {
        let limit = limit.clamp(1, MAX_AUDIT_PAGE);
        let mut conditions: Vec<String> = Vec::new();
        let mut params: Vec<Param<'_>> = Vec::new();
        for (column, value) in [
            ("actor", filter.actor.as_deref()),
            ("object_kind", filter.object_kind.as_deref()),
            ("object_id", filter.object_id.as_deref()),
        ] {
            if let Some(value) = value {
                params.push(Param::Text(value));
                conditions.push(format!("{column} = ${}", params.len()));
            }
        }
        if let Some(from) = filter.from_ms {
            params.push(Param::Int(from));
            conditions.push(format!("at_ms >= ${}", params.len()));
        }
        if let Some(before) = filter.before_ms {
            params.push(Param::Int(before));
            conditions.push(format!("at_ms < ${}", params.len()));
        }
        let (where_clause, limit_n) =
            newest_first_page("at_ms", cursor, limit, &mut conditions, &mut params)?;
        let sql = format!(
            "SELECT id, at_ms, actor, action, object_kind, object_id, detail FROM audit \
             {where_clause} ORDER BY at_ms DESC, id DESC LIMIT ${limit_n}"
        );
        let mut items = bind_all(&sql, params)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next = finish_page(&mut items, limit, |r| (r.at_ms, r.id.as_str()));
        Ok((items, next))
    }
}
