-- Fleet reads take each machine's enrolment time too: a machine that has
-- run no job yet is idle only once the idle window has passed since it
-- enrolled. The index stays covering.

-- +goose Up
DROP INDEX machines_fleet_idx;
CREATE INDEX machines_fleet_idx ON machines (team_id, name, id) INCLUDE (role, agent_version, last_seen_at, enrolled_at);

-- +goose Down
DROP INDEX machines_fleet_idx;
CREATE INDEX machines_fleet_idx ON machines (team_id, name, id) INCLUDE (role, agent_version, last_seen_at);
