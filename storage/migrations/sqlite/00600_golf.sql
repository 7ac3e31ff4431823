-- zkGolf: users and their cmp_ tokens, the challenge registry and project
-- tarball imported from a zk-golf-challenges checkout, submissions with
-- their files (small Lean sources, kept in the database so that every
-- replica serves them), and the verification log in chunks.

-- +goose Up
CREATE TABLE golf_users (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    created_at TEXT    NOT NULL
) STRICT;

CREATE TABLE golf_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES golf_users (id),
    label      TEXT    NOT NULL DEFAULT '',
    prefix     TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    created_at TEXT    NOT NULL,
    revoked_at TEXT
) STRICT;
CREATE INDEX golf_tokens_user_idx ON golf_tokens (user_id);

-- doc is the challenge as JSON (golf.Challenge); the columns beside it are
-- what queries need. A challenge missing from a later import is inactive,
-- not deleted: its submissions stay.
CREATE TABLE golf_challenges (
    slug           TEXT    PRIMARY KEY,
    position       INTEGER NOT NULL,
    active         INTEGER NOT NULL DEFAULT 1,
    baseline_score INTEGER NOT NULL,
    doc            TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
) STRICT;

-- Every import adds a row; the newest is served.
CREATE TABLE golf_projects (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256      TEXT    NOT NULL,
    size_bytes  INTEGER NOT NULL,
    tarball     BLOB    NOT NULL,
    imported_at TEXT    NOT NULL
) STRICT;

-- One row, locked by each intake so that the queue caps hold under
-- concurrent submissions.
CREATE TABLE golf_intake (
    id INTEGER PRIMARY KEY,
    n  INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO golf_intake (id) VALUES (1);

CREATE TABLE golf_submissions (
    id                  TEXT    PRIMARY KEY,
    challenge_slug      TEXT    NOT NULL REFERENCES golf_challenges (slug),
    user_id             INTEGER NOT NULL REFERENCES golf_users (id),
    status              TEXT    NOT NULL CHECK (status IN ('pending', 'verifying', 'verified', 'failed')),
    claimed_allocations INTEGER NOT NULL CHECK (claimed_allocations >= 0),
    claimed_constraints INTEGER NOT NULL CHECK (claimed_constraints >= 0),
    score               INTEGER,
    assisted_by         TEXT    NOT NULL DEFAULT '',
    description         TEXT    NOT NULL DEFAULT '',
    size_bytes          INTEGER NOT NULL,
    attempt             INTEGER NOT NULL DEFAULT 0,
    attempt_offset      INTEGER NOT NULL DEFAULT 0,
    verifier_id         TEXT    NOT NULL DEFAULT '',
    reason              TEXT    NOT NULL DEFAULT '',
    log_size            INTEGER NOT NULL DEFAULT 0,
    log_truncated       INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT    NOT NULL,
    started_at          TEXT,
    finished_at         TEXT
) STRICT;
CREATE INDEX golf_submissions_queue_idx ON golf_submissions (status, created_at, id);
CREATE INDEX golf_submissions_challenge_idx ON golf_submissions (challenge_slug, status, created_at, id);
CREATE INDEX golf_submissions_user_idx ON golf_submissions (user_id, created_at);

CREATE TABLE golf_submission_files (
    submission_id TEXT    NOT NULL REFERENCES golf_submissions (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    size_bytes    INTEGER NOT NULL,
    sha256        TEXT    NOT NULL,
    content       BLOB    NOT NULL,
    PRIMARY KEY (submission_id, name)
) STRICT;

CREATE TABLE golf_log_chunks (
    submission_id TEXT    NOT NULL REFERENCES golf_submissions (id) ON DELETE CASCADE,
    start_offset  INTEGER NOT NULL,
    end_offset    INTEGER NOT NULL,
    text          TEXT    NOT NULL,
    PRIMARY KEY (submission_id, start_offset)
) STRICT;

-- +goose Down
DROP TABLE golf_log_chunks;
DROP TABLE golf_submission_files;
DROP TABLE golf_submissions;
DROP TABLE golf_intake;
DROP TABLE golf_projects;
DROP TABLE golf_challenges;
DROP TABLE golf_tokens;
DROP TABLE golf_users;
