-- The system of record (issue 6): who resolved an inquiry and how the client
-- was told (seed 3.5, 3.6), transfers counted per inquiry, personal managers
-- per area, and a folded client name for case-insensitive search. Portable
-- SQL as before: TEXT and BIGINT only, times in Unix milliseconds.

-- Number of times the call was transferred (call layer).
ALTER TABLE inquiries ADD COLUMN transfers BIGINT;
-- Login of whoever recorded the resolution.
ALTER TABLE inquiries ADD COLUMN resolved_by TEXT;
-- Login of whoever told the client the outcome, and how
-- (phone, email, messenger, in_person, chat, sms, post).
ALTER TABLE inquiries ADD COLUMN informed_by TEXT;
ALTER TABLE inquiries ADD COLUMN informed_how TEXT;
ALTER TABLE inquiries ADD COLUMN informed_note TEXT;
-- Login of the API user who typed the inquiry in (NULL for calls and
-- channel ingest).
ALTER TABLE inquiries ADD COLUMN created_by TEXT;

-- The name lower-cased by the application (full Unicode, so Cyrillic
-- folds too; SQLite's LOWER() only folds ASCII). Search matches on it.
ALTER TABLE clients ADD COLUMN name_folded TEXT;
UPDATE clients SET name_folded = LOWER(name) WHERE name IS NOT NULL;

-- A client has at most one personal manager per area (admission,
-- education). Supersedes the unused clients.manager column. Deleting the
-- agent or the client removes the assignment.
CREATE TABLE client_managers (
    client_id     TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    area          TEXT NOT NULL,
    login         TEXT NOT NULL REFERENCES agents (login) ON DELETE CASCADE,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (client_id, area)
);

CREATE INDEX client_managers_login ON client_managers (login);
