-- Agents (every agent is also an API user), their queues, registrar bindings
-- and API tokens. Portable SQL: the same file runs on SQLite and PostgreSQL
-- through sqlx's Any driver, so only TEXT and BIGINT columns are used
-- (booleans are 0/1, timestamps are Unix milliseconds).

CREATE TABLE agents (
    login             TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    role              TEXT NOT NULL,
    -- argon2 PHC string; verifies API/console logins.
    password_hash     TEXT NOT NULL,
    -- H(login:realm:password) per digest algorithm; the registrar never sees
    -- the password itself.
    ha1_md5           TEXT NOT NULL,
    ha1_sha256        TEXT NOT NULL,
    -- Comma-separated, in challenge order, e.g. 'SHA-256,MD5'.
    digest_algorithms TEXT NOT NULL,
    nat               BIGINT NOT NULL DEFAULT 0,
    created_at_ms     BIGINT NOT NULL,
    updated_at_ms     BIGINT NOT NULL
);

CREATE INDEX agents_role ON agents (role);

CREATE TABLE agent_queues (
    login TEXT NOT NULL REFERENCES agents (login) ON DELETE CASCADE,
    queue TEXT NOT NULL,
    skill BIGINT NOT NULL,
    -- Keeps the order the administrator gave.
    position BIGINT NOT NULL,
    PRIMARY KEY (login, queue)
);

CREATE INDEX agent_queues_queue ON agent_queues (queue);

CREATE TABLE bindings (
    login         TEXT NOT NULL REFERENCES agents (login) ON DELETE CASCADE,
    contact       TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    call_id       TEXT NOT NULL,
    cseq          BIGINT NOT NULL,
    source        TEXT NOT NULL,
    transport     TEXT NOT NULL,
    nat           BIGINT NOT NULL,
    -- Contact q-value in thousandths (q=0.5 -> 500): avoids float columns,
    -- whose types differ between the backends.
    q_milli       BIGINT,
    user_agent    TEXT,
    PRIMARY KEY (login, contact)
);

CREATE INDEX bindings_expires ON bindings (expires_at_ms);

CREATE TABLE api_tokens (
    -- SHA-256 of the token: a leaked database does not leak live sessions.
    token_sha256  TEXT PRIMARY KEY,
    login         TEXT NOT NULL REFERENCES agents (login) ON DELETE CASCADE,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);

CREATE INDEX api_tokens_login ON api_tokens (login);
CREATE INDEX api_tokens_expires ON api_tokens (expires_at_ms);
