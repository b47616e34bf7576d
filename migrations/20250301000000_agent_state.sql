-- The routing state an agent chose (available or paused), kept across a
-- restart: an operator who paused before the server restarted stays paused.
-- Calls do not survive a restart, so ringing/busy/wrap_up come back as
-- available (see acd::Engine::restore). Portable SQL: TEXT and BIGINT only.

CREATE TABLE agent_state (
    login         TEXT PRIMARY KEY REFERENCES agents (login) ON DELETE CASCADE,
    -- offline, available, ringing, busy, wrap_up, paused
    state         TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
