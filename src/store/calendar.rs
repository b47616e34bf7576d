//! Working hours saved from the console (`PUT /api/v1/calendar`): every
//! save is a new row of `calendar_versions`, the newest is in force.
//!
//! **Why in the database.** The admin edits working hours in the browser
//! while calls run; a change must survive a restart without anyone
//! editing `hotline.toml`. The saved calendar therefore wins over the
//! config's `[calendar]` at start-up (`crate::api::calendar`), and is
//! written in the same spelling as that table, so one parser
//! ([`Calendar`]'s own `Deserialize`) reads both.

use super::audit::AuditEntry;
use super::ids::new_id;
use super::{Store, StoreError};
use crate::config::calendar_toml;
use crate::ivr::Calendar;
use serde::{Serialize, Serializer};
use sqlx::Row;

/// The calendar in force as last saved, and who saved it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedCalendar {
    pub calendar: Calendar,
    pub saved_by: String,
    pub saved_at_ms: i64,
}

/// A calendar in the config file's spelling (`utc_offset`, `hours`,
/// `holidays`), as stored in `calendar_versions.body`.
struct Written<'a>(&'a Calendar);

impl Serialize for Written<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        calendar_toml::serialize(self.0, serializer)
    }
}

impl Store {
    /// Saves `calendar` as the one in force and audits the change.
    pub async fn save_calendar(
        &self,
        calendar: &Calendar,
        saved_by: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(&Written(calendar))
            .map_err(|e| StoreError::Corrupt(format!("calendar not serialisable: {e}")))?;
        // Its own statement: the thread-local RNG must not live across an await.
        let id = new_id(at_ms, &mut rand::thread_rng());
        sqlx::query(
            "INSERT INTO calendar_versions (id, body, saved_by, saved_at_ms) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(&body)
        .bind(saved_by)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        self.audit(
            &AuditEntry {
                actor: saved_by,
                action: "update",
                object_kind: "calendar",
                object_id: Some(&id),
                detail: Some(&body),
            },
            at_ms,
        )
        .await
    }

    /// The newest saved calendar; `None` when nobody has saved one (the
    /// config's `[calendar]` is then in force).
    pub async fn saved_calendar(&self) -> Result<Option<SavedCalendar>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT body, saved_by, saved_at_ms FROM calendar_versions \
             ORDER BY saved_at_ms DESC, id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let body: String = row.try_get("body")?;
        let calendar = serde_json::from_str::<Calendar>(&body)
            .map_err(|e| StoreError::Corrupt(format!("saved calendar: {e}")))?;
        Ok(Some(SavedCalendar {
            calendar,
            saved_by: row.try_get("saved_by")?,
            saved_at_ms: row.try_get("saved_at_ms")?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ivr::calendar::Date;

    #[tokio::test]
    async fn the_newest_save_is_read_back_with_who_and_when() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        assert_eq!(store.saved_calendar().await.unwrap(), None);

        let mut first = Calendar::default();
        first.weekly[5] = vec![(10 * 60, 14 * 60)];
        store.save_calendar(&first, "admin", 1_000).await.unwrap();
        let mut second = Calendar {
            utc_offset_minutes: -(5 * 60 + 30),
            ..Calendar::default()
        };
        second.weekly[0] = vec![(0, 12 * 60), (13 * 60, 24 * 60)];
        second.holidays.insert(Date::new(2026, 1, 1).unwrap());
        store.save_calendar(&second, "root", 2_000).await.unwrap();

        let saved = store.saved_calendar().await.unwrap().unwrap();
        assert_eq!(saved.calendar, second);
        assert_eq!(saved.saved_by, "root");
        assert_eq!(saved.saved_at_ms, 2_000);
        let (rows, _) = store
            .list_audit(
                &crate::store::AuditFilter {
                    object_kind: Some("calendar".into()),
                    ..Default::default()
                },
                10,
                None,
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 2, "each save is audited");
        assert_eq!(rows[0].actor, "root");
    }
}
