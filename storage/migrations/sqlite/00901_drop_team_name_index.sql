-- machines_team_id_name_idx (team, name) repeats the leading columns of
-- machines_fleet_idx (team, name, id, ...), which serves every read that
-- the smaller one could. On PostgreSQL every heartbeat's update of its
-- machine (last_seen_at is in machines_fleet_idx, so the update is never
-- HOT) also wrote an entry into it.

-- +goose Up
DROP INDEX machines_team_id_name_idx;

-- +goose Down
CREATE INDEX machines_team_id_name_idx ON machines (team_id, name);
