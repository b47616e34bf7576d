-- The outbox of the optional amoCRM sync (src/crm.rs). A row is written in
-- the same transaction as the inquiry change it reports, so a crash or a
-- CRM outage loses nothing: the worker sends pending rows until the CRM
-- accepts them (or refuses them for good). Portable SQL: TEXT and BIGINT
-- only, times in Unix milliseconds.

CREATE TABLE crm_outbox (
    -- `<kind>:<inquiry id>`: one row per kind and inquiry, so a write
    -- replayed by the inquiry writer never queues a second push.
    id                 TEXT PRIMARY KEY,
    -- `contact` (an inquiry from a phone number: make sure the CRM knows
    -- the caller) or `call` (a finished call: the contact, then the call).
    kind               TEXT NOT NULL,
    -- JSON object: what to send, captured when the row was written.
    payload            TEXT NOT NULL,
    -- pending, sent, failed (refused by the CRM for good; see last_error).
    status             TEXT NOT NULL,
    attempts           BIGINT NOT NULL,
    next_attempt_at_ms BIGINT NOT NULL,
    last_error         TEXT,
    created_at_ms      BIGINT NOT NULL,
    -- When the row left the queue (sent or failed).
    done_at_ms         BIGINT
);

-- The worker's query: pending rows whose time has come, oldest first.
CREATE INDEX crm_outbox_due ON crm_outbox (status, next_attempt_at_ms);
