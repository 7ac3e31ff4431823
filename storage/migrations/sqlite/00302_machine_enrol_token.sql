-- The API token that last enrolled each machine, so that revoking the
-- token can also revoke what the enrolment granted (the agent's Redis
-- user). NULL for machines enrolled before it was recorded.

-- +goose Up
ALTER TABLE machines ADD COLUMN enrolled_by_token_id INTEGER;
CREATE INDEX machines_enrolled_by_token_id_idx ON machines (enrolled_by_token_id);

-- +goose Down
DROP INDEX machines_enrolled_by_token_id_idx;
ALTER TABLE machines DROP COLUMN enrolled_by_token_id;
