-- Worker events: one row per finished or failed job of a worker (an
-- agent, keyed by its public key, or the coordinator itself), shaped after
-- the Psy worker-event record so that reward computation can read them.
-- event_key makes recording idempotent: a report delivered twice is one
-- event.

-- +goose Up
CREATE TABLE worker_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key         TEXT    NOT NULL UNIQUE,
    realm_id          INTEGER NOT NULL DEFAULT 0,
    worker_public_key TEXT    NOT NULL,
    machine_id        TEXT    NOT NULL DEFAULT '',
    team_id           INTEGER REFERENCES teams (id),
    topic             TEXT    NOT NULL,
    circuit_type      TEXT    NOT NULL,
    job_id            TEXT    NOT NULL,
    status            TEXT    NOT NULL
                      CHECK (status IN ('Pending', 'InProgress', 'Completed', 'Failed', 'Cancelled')),
    result            TEXT    NOT NULL DEFAULT '',
    error             TEXT    NOT NULL DEFAULT '',
    start_time        TEXT    NOT NULL,
    end_time          TEXT    NOT NULL,
    duration_ms       INTEGER NOT NULL,
    checkpoint_id     INTEGER NOT NULL,
    created_at        TEXT    NOT NULL
) STRICT;

CREATE INDEX worker_events_checkpoint_id_idx ON worker_events (checkpoint_id);
CREATE INDEX worker_events_worker_checkpoint_idx ON worker_events (worker_public_key, checkpoint_id);
CREATE INDEX worker_events_end_time_idx ON worker_events (end_time);

-- +goose Down
DROP TABLE worker_events;
