-- The steward console (keep in step with ../postgres/0004_console.sql): sign-in sessions, keyed by the SHA-256 of their
-- random id (the id itself lives only in the browser's cookie), tied to the
-- hash of the token that signed in; and when each token was last used
-- (updated at most once a minute).
CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX sessions_by_token ON sessions (token_hash);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
ALTER TABLE tokens ADD COLUMN last_used_at TEXT;
