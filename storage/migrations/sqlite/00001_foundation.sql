-- Foundation schema: teams, API tokens, machines and their metrics, and the
-- task outbox. Timestamps are TEXT in the fixed-width UTC form
-- 2006-01-02T15:04:05.000000Z, so comparing and ordering them as text is
-- comparing and ordering them in time. Tables are STRICT so a value of the
-- wrong type fails loudly instead of being stored as something else.

-- +goose Up
CREATE TABLE teams (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    created_at TEXT    NOT NULL
) STRICT;

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id      INTEGER NOT NULL REFERENCES teams (id),
    mode         TEXT    NOT NULL CHECK (mode IN ('admin', 'read', 'write')),
    label        TEXT    NOT NULL DEFAULT '',
    prefix       TEXT    NOT NULL DEFAULT '',
    hash         TEXT    NOT NULL UNIQUE,
    created_at   TEXT    NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
) STRICT;

CREATE INDEX api_tokens_team_id_idx ON api_tokens (team_id);

CREATE TABLE machines (
    id            TEXT    NOT NULL PRIMARY KEY,
    team_id       INTEGER NOT NULL REFERENCES teams (id),
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    cluster_id    TEXT    NOT NULL DEFAULT '',
    public_key    TEXT    NOT NULL UNIQUE,
    agent_version TEXT    NOT NULL DEFAULT '',
    enrolled_at   TEXT    NOT NULL,
    last_seen_at  TEXT,
    latest_sample TEXT,
    agent_status  TEXT
) STRICT;

CREATE INDEX machines_team_id_name_idx ON machines (team_id, name);

CREATE TABLE machine_metrics (
    id               INTEGER PRIMARY KEY,
    machine_id       TEXT    NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    collected_at     TEXT    NOT NULL,
    received_at      TEXT    NOT NULL,
    cpu_percent      REAL    NOT NULL,
    memory_percent   REAL    NOT NULL,
    disk_max_percent REAL    NOT NULL,
    gpu_count        INTEGER NOT NULL,
    sample           TEXT    NOT NULL
) STRICT;

CREATE INDEX machine_metrics_machine_id_received_at_idx ON machine_metrics (machine_id, received_at);
-- Retention deletes by age across all machines.
CREATE INDEX machine_metrics_received_at_idx ON machine_metrics (received_at);

CREATE TABLE outbox (
    id          TEXT    NOT NULL PRIMARY KEY,
    task_type   TEXT    NOT NULL,
    queue       TEXT    NOT NULL,
    payload     BLOB    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'enqueued', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT    NOT NULL DEFAULT '',
    created_at  TEXT    NOT NULL,
    enqueued_at TEXT,
    finished_at TEXT
) STRICT;

CREATE INDEX outbox_state_created_at_idx ON outbox (state, created_at);

-- +goose Down
DROP TABLE outbox;
DROP TABLE machine_metrics;
DROP TABLE machines;
DROP TABLE api_tokens;
DROP TABLE teams;
