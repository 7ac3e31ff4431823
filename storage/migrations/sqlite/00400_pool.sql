-- The mining Pool: miners and where their rewards go, the algorithms
-- miners evaluate and evolve (each algorithm is also its result: its
-- status, consensus score and evaluation count), the evaluations, the
-- leases and batches handed out (one active per miner), and the reward
-- windows with what each miner earned. Window starts are unix seconds.

-- +goose Up
CREATE TABLE pool_miners (
    hotkey               TEXT    PRIMARY KEY,
    recipient_coldkey    TEXT    NOT NULL DEFAULT '',
    recipient_updated_at TEXT,
    reputation           INTEGER NOT NULL DEFAULT 0,
    registered_at        TEXT    NOT NULL,
    last_seen_at         TEXT    NOT NULL
) STRICT;
CREATE INDEX pool_miners_reputation_idx ON pool_miners (reputation DESC, hotkey);

CREATE TABLE pool_algorithms (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    task_type    TEXT    NOT NULL,
    digest       TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL DEFAULT '',
    dsl          TEXT    NOT NULL,
    origin       TEXT    NOT NULL CHECK (origin IN ('seed', 'evolution')),
    author       TEXT    NOT NULL DEFAULT '',
    parent_ids   TEXT    NOT NULL DEFAULT '[]',
    window_start INTEGER NOT NULL DEFAULT 0,
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'verified', 'disputed')),
    score_micros INTEGER,
    evaluations  INTEGER NOT NULL DEFAULT 0,
    reason       TEXT    NOT NULL DEFAULT '',
    verified_at  TEXT,
    created_at   TEXT    NOT NULL
) STRICT;
CREATE INDEX pool_algorithms_pending_idx ON pool_algorithms (task_type, status, evaluations, id);
CREATE INDEX pool_algorithms_score_idx ON pool_algorithms (task_type, status, score_micros DESC, id);
CREATE INDEX pool_algorithms_author_idx ON pool_algorithms (author, window_start);

CREATE TABLE pool_evaluations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    algorithm_id  INTEGER NOT NULL REFERENCES pool_algorithms (id),
    hotkey        TEXT    NOT NULL,
    assignment_id TEXT    NOT NULL,
    score_micros  INTEGER NOT NULL,
    outcome       TEXT    NOT NULL CHECK (outcome IN ('pending', 'agree', 'outlier', 'disputed', 'late')),
    window_start  INTEGER NOT NULL,
    created_at    TEXT    NOT NULL,
    UNIQUE (algorithm_id, hotkey)
) STRICT;
CREATE INDEX pool_evaluations_window_idx ON pool_evaluations (window_start, hotkey);
CREATE INDEX pool_evaluations_hotkey_idx ON pool_evaluations (hotkey, outcome);

CREATE TABLE pool_assignments (
    id            TEXT    PRIMARY KEY,
    hotkey        TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('lease', 'evaluate', 'evolve')),
    task_type     TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('active', 'submitted', 'expired')),
    evaluate_ids  TEXT    NOT NULL DEFAULT '[]',
    seed_ids      TEXT    NOT NULL DEFAULT '[]',
    gossip_ids    TEXT    NOT NULL DEFAULT '[]',
    evolve_budget INTEGER NOT NULL DEFAULT 0,
    window_start  INTEGER,
    iterations    INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL,
    expires_at    TEXT    NOT NULL,
    submitted_at  TEXT
) STRICT;
-- One active lease or batch per miner.
CREATE UNIQUE INDEX pool_assignments_active_idx ON pool_assignments (hotkey) WHERE status = 'active';
CREATE INDEX pool_assignments_hotkey_idx ON pool_assignments (hotkey, created_at);

CREATE TABLE pool_windows (
    start_unix  INTEGER PRIMARY KEY,
    end_unix    INTEGER NOT NULL,
    pool        TEXT    NOT NULL,
    distributed TEXT    NOT NULL,
    miners      INTEGER NOT NULL,
    credited    INTEGER NOT NULL DEFAULT 0,
    settled_at  TEXT    NOT NULL,
    credited_at TEXT
) STRICT;

CREATE TABLE pool_window_rewards (
    window_start INTEGER NOT NULL REFERENCES pool_windows (start_unix),
    hotkey       TEXT    NOT NULL,
    activity     INTEGER NOT NULL,
    amount       TEXT    NOT NULL,
    PRIMARY KEY (window_start, hotkey)
) STRICT;
CREATE INDEX pool_window_rewards_hotkey_idx ON pool_window_rewards (hotkey);

-- +goose Down
DROP TABLE pool_window_rewards;
DROP TABLE pool_windows;
DROP TABLE pool_assignments;
DROP TABLE pool_evaluations;
DROP TABLE pool_algorithms;
DROP TABLE pool_miners;
