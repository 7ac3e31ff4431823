-- Each machine's judgement in full, so that fleet reads answer from it
-- without loading and judging the machines that are not healthy: the
-- flags no time can change (a bit set that fleet defines), the times after
-- which time alone makes the machine offline (offline_at; NULL: offline
-- at any time) and idle (idle_at; NULL: never idle), and due_at, the
-- earliest time it may not be healthy, which reads search by. name is the
-- machine's, for ordering the answers. notable is replaced by the flags;
-- judgements made before this migration lack them and are made stale.

-- +goose Up
DROP INDEX machine_conditions_notable_idx;
ALTER TABLE machine_conditions DROP COLUMN notable;
ALTER TABLE machine_conditions ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE machine_conditions ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
ALTER TABLE machine_conditions ADD COLUMN offline_at TEXT;
ALTER TABLE machine_conditions ADD COLUMN idle_at TEXT;
ALTER TABLE machine_conditions ADD COLUMN due_at TEXT;
CREATE INDEX machine_conditions_due_idx ON machine_conditions (team_id, due_at);
UPDATE machine_conditions SET basis = '', version = version + 1,
    name = (SELECT name FROM machines WHERE machines.id = machine_conditions.machine_id);

-- +goose Down
DROP INDEX machine_conditions_due_idx;
ALTER TABLE machine_conditions DROP COLUMN due_at;
ALTER TABLE machine_conditions DROP COLUMN idle_at;
ALTER TABLE machine_conditions DROP COLUMN offline_at;
ALTER TABLE machine_conditions DROP COLUMN flags;
ALTER TABLE machine_conditions DROP COLUMN name;
ALTER TABLE machine_conditions ADD COLUMN notable INTEGER NOT NULL DEFAULT 0;
CREATE INDEX machine_conditions_notable_idx ON machine_conditions (team_id) WHERE notable = 1;
UPDATE machine_conditions SET basis = '', version = version + 1;
