-- Reward eligibility: whether a worker event, and the job event converted
-- from it, may draw from its checkpoint's reward pool. It is decided once,
-- when the job is recorded (rewards.Service.RecordJob): jobs of enrolled
-- agents and of ingest keys the operator trusts are eligible; the
-- coordinator's own verification, reports made with a team API key and
-- self-reported events of other keys are stored and shown but draw
-- nothing.
--
-- Existing rows: prove:block events of an enrolled agent (they carry its
-- machine id) become eligible; everything else, Psy ingest included, does
-- not, because no trust list existed when it was recorded.

-- +goose Up
ALTER TABLE worker_events ADD COLUMN eligible BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE psy_job_events ADD COLUMN eligible BOOLEAN NOT NULL DEFAULT FALSE;

UPDATE worker_events SET eligible = TRUE WHERE topic = 'prove:block' AND machine_id <> '';
UPDATE psy_job_events SET eligible = TRUE
 WHERE worker_event_id IN (SELECT id FROM worker_events WHERE eligible);

-- The reward computation groups by eligibility too; keep it inside the index.
DROP INDEX psy_job_events_reward_idx;
CREATE INDEX psy_job_events_reward_idx ON psy_job_events (checkpoint_id, status, worker_public_key, circuit_type, eligible);

-- +goose Down
DROP INDEX psy_job_events_reward_idx;
CREATE INDEX psy_job_events_reward_idx ON psy_job_events (checkpoint_id, status, worker_public_key, circuit_type);
ALTER TABLE psy_job_events DROP COLUMN eligible;
ALTER TABLE worker_events DROP COLUMN eligible;
