-- Working hours and holidays saved from the console or `PUT
-- /api/v1/calendar` (src/api/calendar.rs). Every save is a new row and the
-- newest row is the calendar in force: it wins over `[calendar]` in the
-- config file at start-up, and the older rows show who changed what when.
-- Portable SQL: TEXT and BIGINT only, times in Unix milliseconds.

CREATE TABLE calendar_versions (
    -- Time-sortable id (src/store/ids.rs); breaks ties within one ms.
    id          TEXT PRIMARY KEY,
    -- JSON in the spelling of the config's `[calendar]` table:
    -- {"utc_offset": "+03:00", "hours": {"mon": "09:00-18:00", ...},
    --  "holidays": ["2026-01-01", ...]}.
    body        TEXT NOT NULL,
    -- Login of the admin who saved it.
    saved_by    TEXT NOT NULL,
    saved_at_ms BIGINT NOT NULL
);

-- The newest version is read at every start and by the console.
CREATE INDEX calendar_versions_saved ON calendar_versions (saved_at_ms);
