-- A machine's latest sample was stored twice: on its machines row and in
-- its newest history row (machine_metrics). Every heartbeat rewrote the
-- machines row with the sample (about 1 kB, more with many GPUs), so the
-- row is now narrow and the latest sample is read from the history: the
-- newest row by received_at (ties: the last inserted), which is the
-- heartbeat that set last_seen_at. Retention keeps each machine's newest
-- row (DeleteMetricsBefore).
--
-- Up first writes a history row for every machine whose latest sample is
-- no longer in its history (retention of the old kind deleted it), with
-- the figures of its observation.

-- +goose Up
INSERT INTO machine_metrics
    (machine_id, collected_at, received_at, cpu_percent, memory_percent, disk_max_percent, gpu_count, sample)
SELECT m.id, m.last_seen_at, m.last_seen_at, COALESCE(o.cpu_percent, 0), COALESCE(o.memory_percent, 0),
       COALESCE(o.disk_max_percent, 0), COALESCE(o.gpu_count, 0), m.latest_sample
FROM machines m
LEFT JOIN machine_observations o ON o.machine_id = m.id
WHERE m.latest_sample IS NOT NULL AND m.last_seen_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM machine_metrics mm WHERE mm.machine_id = m.id AND mm.received_at >= m.last_seen_at);
ALTER TABLE machines DROP COLUMN latest_sample;

-- +goose Down
ALTER TABLE machines ADD COLUMN latest_sample TEXT;
UPDATE machines SET latest_sample = (
    SELECT mm.sample FROM machine_metrics mm WHERE mm.machine_id = machines.id
    ORDER BY mm.received_at DESC, mm.id DESC LIMIT 1);
