-- The Psy surface: registered users (workers), user events, contracts,
-- checkpoints, job events converted from worker events, reward
-- distributions, and the rollup tables that aggregation endpoints read.
-- rolled_up marks rows the rollup task has counted, so that each row is
-- counted exactly once whatever the order in which rows commit.

-- +goose Up
CREATE TABLE psy_users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    public_key     TEXT    NOT NULL UNIQUE,
    key_type       TEXT    NOT NULL CHECK (key_type IN ('ed25519', 'secp256k1')),
    address        TEXT    NOT NULL DEFAULT '',
    twitter_handle TEXT    NOT NULL,
    label          TEXT    NOT NULL,
    created_at     TEXT    NOT NULL
) STRICT;

-- An Ethereum address stands for one secp256k1 key, whichever form it was
-- registered in.
CREATE UNIQUE INDEX psy_users_address_idx ON psy_users (address) WHERE address <> '';

CREATE TABLE psy_user_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key     TEXT    NOT NULL UNIQUE,
    user_id       TEXT    NOT NULL,
    public_key    TEXT    NOT NULL,
    tx_type       TEXT    NOT NULL CHECK (tx_type IN ('RegisterUser', 'DeployContract', 'UserTransaction')),
    checkpoint_id INTEGER NOT NULL,
    timestamp     TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    rolled_up     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX psy_user_events_timestamp_idx ON psy_user_events (timestamp);
CREATE INDEX psy_user_events_user_idx ON psy_user_events (user_id, timestamp);
CREATE INDEX psy_user_events_unrolled_idx ON psy_user_events (id) WHERE rolled_up = 0;

CREATE TABLE psy_contracts (
    uuid              TEXT    PRIMARY KEY,
    deployer          TEXT    NOT NULL,
    state_tree_height INTEGER NOT NULL,
    functions         TEXT    NOT NULL,
    description       TEXT    NOT NULL DEFAULT '',
    deployed_at       TEXT    NOT NULL,
    created_at        TEXT    NOT NULL
) STRICT;
CREATE INDEX psy_contracts_deployer_idx ON psy_contracts (deployer, deployed_at);
CREATE INDEX psy_contracts_deployed_idx ON psy_contracts (deployed_at);

CREATE TABLE psy_checkpoints (
    id                INTEGER PRIMARY KEY,
    start_time        TEXT    NOT NULL,
    end_time          TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN ('open', 'closed', 'processed')),
    pool              INTEGER NOT NULL DEFAULT 0,
    weights           TEXT    NOT NULL DEFAULT '',
    revision          INTEGER NOT NULL DEFAULT 0,
    total_jobs        INTEGER NOT NULL DEFAULT 0,
    completed_jobs    INTEGER NOT NULL DEFAULT 0,
    failed_jobs       INTEGER NOT NULL DEFAULT 0,
    unique_workers    INTEGER NOT NULL DEFAULT 0,
    total_rewards     INTEGER NOT NULL DEFAULT 0,
    processing_ms     REAL,
    closed_at         TEXT,
    processed_at      TEXT,
    created_at        TEXT    NOT NULL
) STRICT;
CREATE INDEX psy_checkpoints_status_idx ON psy_checkpoints (status, id);

CREATE TABLE psy_job_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    worker_event_id   INTEGER NOT NULL UNIQUE,
    checkpoint_id     INTEGER NOT NULL,
    realm_id          INTEGER NOT NULL,
    job_id            TEXT    NOT NULL,
    worker_public_key TEXT    NOT NULL,
    topic             TEXT    NOT NULL,
    circuit_type      TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    duration_ms       INTEGER NOT NULL,
    start_time        TEXT    NOT NULL,
    end_time          TEXT    NOT NULL,
    rolled_up         INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX psy_job_events_reward_idx ON psy_job_events (checkpoint_id, status, worker_public_key, circuit_type);
CREATE INDEX psy_job_events_end_idx ON psy_job_events (end_time);
CREATE INDEX psy_job_events_worker_idx ON psy_job_events (worker_public_key, end_time);
CREATE INDEX psy_job_events_unrolled_idx ON psy_job_events (id) WHERE rolled_up = 0;

CREATE TABLE psy_reward_distributions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    checkpoint_id     INTEGER NOT NULL REFERENCES psy_checkpoints (id),
    worker_public_key TEXT    NOT NULL,
    circuit_type      TEXT    NOT NULL,
    job_count         INTEGER NOT NULL,
    total_rewards     INTEGER NOT NULL,
    revision          INTEGER NOT NULL,
    created_at        TEXT    NOT NULL,
    UNIQUE (checkpoint_id, worker_public_key, circuit_type)
) STRICT;
CREATE INDEX psy_reward_distributions_worker_idx ON psy_reward_distributions (worker_public_key, checkpoint_id);

CREATE TABLE psy_event_rollups (
    bucket         TEXT    NOT NULL,
    bucket_start   TEXT    NOT NULL,
    total_events   INTEGER NOT NULL,
    completed      INTEGER NOT NULL,
    failed         INTEGER NOT NULL,
    unique_workers INTEGER NOT NULL,
    PRIMARY KEY (bucket, bucket_start)
) STRICT;

CREATE TABLE psy_event_rollup_workers (
    bucket            TEXT NOT NULL,
    bucket_start      TEXT NOT NULL,
    worker_public_key TEXT NOT NULL,
    PRIMARY KEY (bucket, bucket_start, worker_public_key)
) STRICT;

CREATE TABLE psy_user_event_rollups (
    bucket          TEXT    NOT NULL,
    bucket_start    TEXT    NOT NULL,
    total_events    INTEGER NOT NULL,
    register_user   INTEGER NOT NULL,
    deploy_contract INTEGER NOT NULL,
    user_tx         INTEGER NOT NULL,
    PRIMARY KEY (bucket, bucket_start)
) STRICT;

CREATE TABLE psy_job_rollups (
    hour_start      TEXT    NOT NULL,
    realm_id        INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    circuit_type    TEXT    NOT NULL,
    job_count       INTEGER NOT NULL,
    duration_ms_sum INTEGER NOT NULL,
    PRIMARY KEY (hour_start, realm_id, status, circuit_type)
) STRICT;

CREATE TABLE psy_state (
    name       TEXT    PRIMARY KEY,
    int_value  INTEGER NOT NULL DEFAULT 0,
    time_value TEXT,
    flag       INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO psy_state (name) VALUES ('events'), ('rollup'), ('user_rollup');

-- +goose Down
DROP TABLE psy_state;
DROP TABLE psy_job_rollups;
DROP TABLE psy_user_event_rollups;
DROP TABLE psy_event_rollup_workers;
DROP TABLE psy_event_rollups;
DROP TABLE psy_reward_distributions;
DROP TABLE psy_job_events;
DROP TABLE psy_checkpoints;
DROP TABLE psy_contracts;
DROP TABLE psy_user_events;
DROP TABLE psy_users;
