-- Fleet health and the AVS catalogue: what health rules read from each
-- machine's latest heartbeat, the AVS deployments agents report, facts an
-- admin records (AVS registrations, operator stake), the AVS catalogue, and
-- the health each machine was last swept into with its transitions.

-- +goose Up

-- One row per machine, replaced by each heartbeat that is the newest seen.
-- It holds the figures health needs, so that fleet-wide reads never decode
-- the JSON sample kept in machines.latest_sample.
CREATE TABLE machine_observations (
    machine_id       TEXT    NOT NULL PRIMARY KEY REFERENCES machines (id) ON DELETE CASCADE,
    seen_at          TEXT    NOT NULL,
    cpu_percent      REAL    NOT NULL,
    memory_percent   REAL    NOT NULL,
    disk_max_percent REAL    NOT NULL,
    disk_max_mount   TEXT    NOT NULL DEFAULT '',
    gpu_count        INTEGER NOT NULL,
    gpu_xid_errors   INTEGER NOT NULL,
    running_jobs     INTEGER NOT NULL,
    -- JSON array of the errors the agent reported; '' when there were none,
    -- so that the common case costs no decoding.
    errors           TEXT    NOT NULL DEFAULT '',
    -- Last heartbeat that reported a running job.
    last_active_at   TEXT
) STRICT, WITHOUT ROWID;

-- Fleet-wide reads take each machine's identity from this index alone: the
-- rows of machines carry the JSON sample, many pages each on SQLite.
CREATE INDEX machines_fleet_idx ON machines (team_id, name, id, role, agent_version, last_seen_at);

-- The AVS deployments of each machine as its newest heartbeat reported
-- them.
CREATE TABLE avs_deployments (
    machine_id       TEXT    NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    avs_id           TEXT    NOT NULL,
    chain            TEXT    NOT NULL,
    version          TEXT    NOT NULL,
    operator_address TEXT    NOT NULL,
    healthy          INTEGER NOT NULL,
    error            TEXT    NOT NULL DEFAULT '',
    -- NULL when the agent does not check registration.
    registered       INTEGER,
    reported_at      TEXT    NOT NULL,
    PRIMARY KEY (machine_id, avs_id, chain)
) STRICT, WITHOUT ROWID;

CREATE INDEX avs_deployments_registration_idx ON avs_deployments (avs_id, chain, operator_address);

-- Registration of an operator with an AVS on a chain, as an admin recorded it.
CREATE TABLE avs_registrations (
    avs_id           TEXT    NOT NULL,
    chain            TEXT    NOT NULL,
    operator_address TEXT    NOT NULL,
    registered       INTEGER NOT NULL,
    source           TEXT    NOT NULL,
    as_of            TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    PRIMARY KEY (avs_id, chain, operator_address)
) STRICT, WITHOUT ROWID;

-- Delegated stake of an operator; strategies is a JSON array.
CREATE TABLE operator_stakes (
    operator_address TEXT NOT NULL PRIMARY KEY,
    eigen            REAL NOT NULL,
    strategies       TEXT NOT NULL,
    source           TEXT NOT NULL,
    as_of            TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;

-- The AVS catalogue, one JSON document per AVS.
CREATE TABLE avs_catalogue (
    avs_id     TEXT    NOT NULL PRIMARY KEY,
    avs_name   TEXT    NOT NULL,
    position   INTEGER NOT NULL,
    document   TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    as_of      TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
) STRICT;

-- Catalogue values that belong to no AVS (latest agent version, prices).
CREATE TABLE catalogue_settings (
    name       TEXT NOT NULL PRIMARY KEY,
    value      TEXT NOT NULL,
    source     TEXT NOT NULL,
    as_of      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- The health state each machine was last swept into.
CREATE TABLE machine_health (
    machine_id TEXT NOT NULL PRIMARY KEY REFERENCES machines (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    since      TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE machine_health_transitions (
    id         INTEGER PRIMARY KEY,
    machine_id TEXT NOT NULL REFERENCES machines (id) ON DELETE CASCADE,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    at         TEXT NOT NULL,
    reason     TEXT NOT NULL
) STRICT;

CREATE INDEX machine_health_transitions_machine_id_at_idx ON machine_health_transitions (machine_id, at);
CREATE INDEX machine_health_transitions_at_idx ON machine_health_transitions (at);

-- +goose Down
DROP TABLE machine_health_transitions;
DROP TABLE machine_health;
DROP TABLE catalogue_settings;
DROP TABLE avs_catalogue;
DROP TABLE operator_stakes;
DROP TABLE avs_registrations;
DROP TABLE avs_deployments;
DROP TABLE machine_observations;
DROP INDEX machines_fleet_idx;
