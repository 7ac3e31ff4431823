-- Operator tokens: an admin token flagged operator acts on every team's
-- data and on global state (blocks, zkVMs, stake, rewards, the monitor); a
-- plain admin token acts for its own team only.

-- +goose Up
ALTER TABLE api_tokens ADD COLUMN operator BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE api_tokens DROP COLUMN operator;
