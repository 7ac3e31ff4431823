-- What fleet reads need to find the machines that may not be healthy
-- without judging every machine: per machine, whether anything but time
-- can keep it from being healthy (notable), and the rules, catalogue and
-- admin registrations that was judged under (basis; '' when not judged
-- since its inputs last changed). Heartbeats keep it current; reads judge
-- the stale rows again. version grows with every write, so that a read
-- that judged a row never overwrites a newer judgement.

-- +goose Up
CREATE TABLE machine_conditions (
    machine_id TEXT    NOT NULL PRIMARY KEY REFERENCES machines (id) ON DELETE CASCADE,
    team_id    INTEGER NOT NULL,
    notable    INTEGER NOT NULL DEFAULT 0,
    basis      TEXT    NOT NULL DEFAULT '',
    version    INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE INDEX machine_conditions_notable_idx ON machine_conditions (team_id) WHERE notable = 1;
CREATE INDEX machine_conditions_basis_idx ON machine_conditions (basis, team_id);
-- Machines whose last heartbeat is older than the TTL are offline by time
-- alone, whatever their conditions say. With id, the index answers alone.
CREATE INDEX machines_last_seen_idx ON machines (team_id, last_seen_at, id);

-- Changes of the admin-recorded registrations, which health reads.
CREATE TABLE health_generations (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

INSERT INTO machine_conditions (machine_id, team_id) SELECT id, team_id FROM machines;

-- +goose Down
DROP TABLE health_generations;
DROP INDEX machines_last_seen_idx;
DROP TABLE machine_conditions;
