-- Versions of the IVR scripts edited through the API and the console
-- (ARCHITECTURE §4: "scripts are versioned in the database when edited
-- through the API"). The file in `ivr-scripts/` stays what the server
-- loads; every save writes a row here first, so the history and rollback
-- survive the file being overwritten. Before a script's first edit its
-- file text is recorded as version 1 (author `file`), and a file changed
-- on disk is recorded the same way before the next edit, so the history
-- always starts from, and includes, what was deployed. Portable SQL: TEXT
-- and BIGINT only, times in Unix milliseconds.

CREATE TABLE ivr_script_versions (
    -- The script's name: its file name without `.toml`.
    script     TEXT NOT NULL,
    -- 1, 2, 3... per script. The primary key makes two saves based on the
    -- same version (two servers, one database) collide instead of both
    -- becoming "version N+1".
    version    BIGINT NOT NULL,
    -- Login of the user who saved it, or `file` for text found on disk.
    author     TEXT NOT NULL,
    at_ms      BIGINT NOT NULL,
    -- Size of `text` in bytes, for the version list (no need to read every text).
    size_bytes BIGINT NOT NULL,
    text       TEXT NOT NULL,
    PRIMARY KEY (script, version)
);
