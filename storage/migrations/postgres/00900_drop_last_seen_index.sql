-- machines_last_seen_idx served reads that found machines offline by the
-- age of their last heartbeat. Stored judgements (machine_conditions, with
-- offline_at and due_at) answer those now and no query reads the index,
-- while every heartbeat moved its entry (last_seen_at changes each time).

-- +goose Up
DROP INDEX machines_last_seen_idx;

-- +goose Down
CREATE INDEX machines_last_seen_idx ON machines (team_id, last_seen_at, id);
