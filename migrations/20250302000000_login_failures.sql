-- Failed API logins per username, for the lockout against password guessing
-- (src/api/auth.rs). Kept in the database so a restart does not hand an
-- attacker a fresh set of attempts. Keyed by the username as typed, known
-- or not: unknown logins are counted and locked the same way, so the
-- answers do not reveal which logins exist.

CREATE TABLE login_failures (
    username         TEXT PRIMARY KEY,
    -- Failures in the current window.
    failures         BIGINT NOT NULL,
    -- Start of the current counting window (Unix ms).
    window_start_ms  BIGINT NOT NULL,
    -- Logins are refused until then (Unix ms); 0 when not locked.
    locked_until_ms  BIGINT NOT NULL
);

-- Old rows are purged by age.
CREATE INDEX login_failures_window ON login_failures (window_start_ms);
