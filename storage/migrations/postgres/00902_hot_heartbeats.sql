-- A heartbeat updates its machine's row (last_seen_at, latest_sample,
-- agent_status). With last_seen_at in machines_fleet_idx that update could
-- never be HOT, so each one wrote a new entry into every index of the
-- table. Without it, and with room left on each page (fillfactor), the
-- update stays on its page and touches no index: heartbeat ingest rose
-- from 0.136 - 0.145 to 0.156 - 0.167 of /health at 64 senders
-- (BenchmarkHeartbeats), while /v1/client/status at 10 000 machines, which
-- answers from machine_conditions, read the same. Fleet reads that want
-- last_seen_at take it from the row. SQLite has no HOT updates and keeps
-- its covering index.

-- +goose Up
DROP INDEX machines_fleet_idx;
CREATE INDEX machines_fleet_idx ON machines (team_id, name, id) INCLUDE (role, agent_version, enrolled_at);
ALTER TABLE machines SET (fillfactor = 70);

-- +goose Down
ALTER TABLE machines RESET (fillfactor);
DROP INDEX machines_fleet_idx;
CREATE INDEX machines_fleet_idx ON machines (team_id, name, id) INCLUDE (role, agent_version, last_seen_at, enrolled_at);
