//! The version history of the IVR scripts (`ivr_script_versions`): one row
//! per saved text, numbered 1, 2, 3... per script. Deciding what to save
//! (validation, the file, the live registry) is the API's job
//! (`crate::api::ivr_scripts`); this module only keeps the rows.

use super::{Store, StoreError, is_unique_violation};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Largest page of [`Store::ivr_script_versions`].
pub const MAX_IVR_VERSION_PAGE: i64 = 1000;

/// One version without its text, for the history list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IvrScriptVersion {
    pub version: i64,
    /// Login of the user who saved it; `file` for text found on disk.
    pub author: String,
    /// RFC 3339 UTC.
    #[serde(rename = "at", serialize_with = "super::serde_time::ms")]
    #[schema(value_type = String, format = DateTime)]
    pub at_ms: i64,
    /// Size of the text in bytes.
    pub size: i64,
}

/// One version with its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrScriptText {
    pub info: IvrScriptVersion,
    pub text: String,
}

fn version_from_row(row: &AnyRow) -> Result<IvrScriptVersion, StoreError> {
    Ok(IvrScriptVersion {
        version: row.try_get("version")?,
        author: row.try_get("author")?,
        at_ms: row.try_get("at_ms")?,
        size: row.try_get("size_bytes")?,
    })
}

fn text_from_row(row: &AnyRow) -> Result<IvrScriptText, StoreError> {
    Ok(IvrScriptText {
        info: version_from_row(row)?,
        text: row.try_get("text")?,
    })
}

impl Store {
    /// The newest version of `script`, `None` before its first one.
    pub async fn latest_ivr_script(
        &self,
        script: &str,
    ) -> Result<Option<IvrScriptText>, StoreError> {
        let row = sqlx::query(
            "SELECT version, author, at_ms, size_bytes, text FROM ivr_script_versions \
             WHERE script = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(script)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(text_from_row).transpose()
    }

    /// Version `version` of `script`, with its text.
    pub async fn ivr_script_at(
        &self,
        script: &str,
        version: i64,
    ) -> Result<Option<IvrScriptText>, StoreError> {
        let row = sqlx::query(
            "SELECT version, author, at_ms, size_bytes, text FROM ivr_script_versions \
             WHERE script = $1 AND version = $2",
        )
        .bind(script)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(text_from_row).transpose()
    }

    /// Up to `limit` versions of `script` older than `before` (all when
    /// `None`), newest first.
    pub async fn ivr_script_versions(
        &self,
        script: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<IvrScriptVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, author, at_ms, size_bytes FROM ivr_script_versions \
             WHERE script = $1 AND version < $2 ORDER BY version DESC LIMIT $3",
        )
        .bind(script)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit.clamp(1, MAX_IVR_VERSION_PAGE))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// Records `text` as version `version` of `script`.
    /// [`StoreError::Conflict`] when that version exists already: someone
    /// else saved first (the caller's base is stale).
    pub async fn add_ivr_script_version(
        &self,
        script: &str,
        version: i64,
        author: &str,
        at_ms: i64,
        text: &str,
    ) -> Result<IvrScriptVersion, StoreError> {
        let size = i64::try_from(text.len()).unwrap_or(i64::MAX);
        let inserted = sqlx::query(
            "INSERT INTO ivr_script_versions (script, version, author, at_ms, size_bytes, text) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(script)
        .bind(version)
        .bind(author)
        .bind(at_ms)
        .bind(size)
        .bind(text)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(IvrScriptVersion {
                version,
                author: author.to_owned(),
                at_ms,
                size,
            }),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                "version {version} of IVR script {script} was saved by someone else meanwhile"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a version just added whose file could not be written, so
    /// the history never lists a text that was never deployed.
    pub async fn remove_ivr_script_version(
        &self,
        script: &str,
        version: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM ivr_script_versions WHERE script = $1 AND version = $2")
            .bind(script)
            .bind(version)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
