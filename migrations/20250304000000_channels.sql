-- Inquiries arriving by e-mail and by messenger (ARCHITECTURE §6 "Channels
-- other than phone"). Portable SQL as in the first migration: TEXT and
-- BIGINT only, times in Unix milliseconds, booleans 0/1.

-- Every e-mail we filed, by its Message-ID: a reply names its parent in
-- In-Reply-To / References, and this is how it finds the parent's inquiry.
-- The primary key also makes a second delivery of the same message a no-op.
CREATE TABLE email_messages (
    -- Without the angle brackets, exactly as sent (RFC 5322 §3.6.4).
    message_id     TEXT PRIMARY KEY,
    inquiry_id     TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    -- 1 when the message joined an existing inquiry, 0 when it created one.
    joined         BIGINT NOT NULL,
    received_at_ms BIGINT NOT NULL
);

CREATE INDEX email_messages_inquiry ON email_messages (inquiry_id);

-- Webhook updates already processed, so a redelivered update (the bot
-- platform retries until it gets a 2xx) is filed once.
CREATE TABLE messenger_updates (
    -- The `[channels.messenger.<name>]` the update came through.
    messenger      TEXT NOT NULL,
    update_id      TEXT NOT NULL,
    inquiry_id     TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    joined         BIGINT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    PRIMARY KEY (messenger, update_id)
);

-- The inquiry a messenger chat is currently writing into. A chat has no
-- thread headers; messages join its inquiry while it is open and recent.
CREATE TABLE messenger_chats (
    messenger          TEXT NOT NULL,
    chat_id            TEXT NOT NULL,
    inquiry_id         TEXT NOT NULL,
    last_message_at_ms BIGINT NOT NULL,
    PRIMARY KEY (messenger, chat_id)
);

-- The user name (@name) a messenger user had when first seen; the handle
-- itself is the platform's stable user id, since user names can change.
ALTER TABLE client_handles ADD COLUMN username TEXT;
