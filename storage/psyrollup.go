package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// UnrolledPsyJobEvents returns up to limit job events the rollup has not
// counted yet, in id order.
func (c *conn) UnrolledPsyJobEvents(ctx context.Context, limit int) ([]PsyJobEvent, error) {
	var rows []psyJobEventRow
	err := selectContext(ctx, c.r, &rows, `SELECT `+psyJobEventColumns+` FROM psy_job_events
		WHERE rolled_up = 0 ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: unrolled job events: %w", err)
	}
	out := make([]PsyJobEvent, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.event())
	}
	return out, nil
}

// MarkPsyJobEventsRolledUp marks job events ids as counted by the rollup.
// It is a method of Tx only: the mark must commit with the counts it
// stands for (AddPsyJobRollups, AddPsyEventRollups).
func (t *Tx) MarkPsyJobEventsRolledUp(ctx context.Context, ids []int64) error {
	return t.markRolledUp(ctx, "psy_job_events", ids)
}

// MarkPsyUserEventsRolledUp marks user events ids as counted by the
// rollup, in the transaction that adds their counts.
func (t *Tx) MarkPsyUserEventsRolledUp(ctx context.Context, ids []int64) error {
	return t.markRolledUp(ctx, "psy_user_events", ids)
}

// markRolledUp sets rolled_up on rows ids of table, a constant of the
// callers above.
func (t *Tx) markRolledUp(ctx context.Context, table string, ids []int64) error {
	for start := 0; start < len(ids); start += psyInsertBatch {
		batch := ids[start:min(start+psyInsertBatch, len(ids))]
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		in := strings.TrimSuffix(strings.Repeat("?, ", len(batch)), ", ")
		if _, err := execContext(ctx, t.w, `UPDATE `+table+` SET rolled_up = 1 WHERE id IN (`+in+`)`, args...); err != nil {
			return fmt.Errorf("storage: mark %s rolled up: %w", table, err)
		}
	}
	return nil
}

// PsyEventRollup is one bucket of the worker-event aggregation.
type PsyEventRollup struct {
	Bucket        string    `db:"bucket"`
	BucketStart   time.Time `db:"-"`
	TotalEvents   int64     `db:"total_events"`
	Completed     int64     `db:"completed"`
	Failed        int64     `db:"failed"`
	UniqueWorkers int64     `db:"unique_workers"`
}

// PsyBucketWorker says that worker had an event in a bucket.
type PsyBucketWorker struct {
	Bucket      string
	BucketStart time.Time
	Worker      string
}

// AddPsyEventRollups adds the counts of deltas to their buckets and
// records the workers seen in each, then recounts the unique workers of
// the buckets deltas touched, in the transaction that marks the events
// counted.
func (t *Tx) AddPsyEventRollups(ctx context.Context, deltas []PsyEventRollup, workers []PsyBucketWorker) error {
	for start := 0; start < len(deltas); start += psyInsertBatch {
		batch := deltas[start:min(start+psyInsertBatch, len(deltas))]
		args := make([]any, 0, len(batch)*6)
		for _, d := range batch {
			args = append(args, d.Bucket, d.BucketStart, d.TotalEvents, d.Completed, d.Failed, 0)
		}
		_, err := execContext(ctx, t.w, `INSERT INTO psy_event_rollups (bucket, bucket_start, total_events, completed,
			failed, unique_workers) VALUES `+valuesList(len(batch), 6)+`
			ON CONFLICT (bucket, bucket_start) DO UPDATE SET
			  total_events = psy_event_rollups.total_events + excluded.total_events,
			  completed = psy_event_rollups.completed + excluded.completed,
			  failed = psy_event_rollups.failed + excluded.failed`, args...)
		if err != nil {
			return fmt.Errorf("storage: add event rollups: %w", err)
		}
	}
	for start := 0; start < len(workers); start += psyInsertBatch {
		batch := workers[start:min(start+psyInsertBatch, len(workers))]
		args := make([]any, 0, len(batch)*3)
		for _, w := range batch {
			args = append(args, w.Bucket, w.BucketStart, w.Worker)
		}
		_, err := execContext(ctx, t.w, `INSERT INTO psy_event_rollup_workers (bucket, bucket_start, worker_public_key)
			VALUES `+valuesList(len(batch), 3)+` ON CONFLICT DO NOTHING`, args...)
		if err != nil {
			return fmt.Errorf("storage: add rollup workers: %w", err)
		}
	}
	for _, d := range deltas {
		_, err := execContext(ctx, t.w, `UPDATE psy_event_rollups SET unique_workers = (SELECT COUNT(*)
			FROM psy_event_rollup_workers w WHERE w.bucket = ? AND w.bucket_start = ?)
			WHERE bucket = ? AND bucket_start = ?`, d.Bucket, d.BucketStart, d.Bucket, d.BucketStart)
		if err != nil {
			return fmt.Errorf("storage: count rollup workers: %w", err)
		}
	}
	return nil
}

// PsyJobRollup is the job events of one hour, realm, status and circuit
// type.
type PsyJobRollup struct {
	HourStart     time.Time
	RealmID       int64  `db:"realm_id"`
	Status        string `db:"status"`
	CircuitType   string `db:"circuit_type"`
	JobCount      int64  `db:"job_count"`
	DurationMSSum int64  `db:"duration_ms_sum"`
}

// AddPsyJobRollups adds deltas to the hourly job rollup, in the
// transaction that marks the events counted.
func (t *Tx) AddPsyJobRollups(ctx context.Context, deltas []PsyJobRollup) error {
	for start := 0; start < len(deltas); start += psyInsertBatch {
		batch := deltas[start:min(start+psyInsertBatch, len(deltas))]
		args := make([]any, 0, len(batch)*6)
		for _, d := range batch {
			args = append(args, d.HourStart, d.RealmID, d.Status, d.CircuitType, d.JobCount, d.DurationMSSum)
		}
		_, err := execContext(ctx, t.w, `INSERT INTO psy_job_rollups (hour_start, realm_id, status, circuit_type,
			job_count, duration_ms_sum) VALUES `+valuesList(len(batch), 6)+`
			ON CONFLICT (hour_start, realm_id, status, circuit_type) DO UPDATE SET
			  job_count = psy_job_rollups.job_count + excluded.job_count,
			  duration_ms_sum = psy_job_rollups.duration_ms_sum + excluded.duration_ms_sum`, args...)
		if err != nil {
			return fmt.Errorf("storage: add job rollups: %w", err)
		}
	}
	return nil
}

// UnrolledPsyUserEvents returns up to limit user events the rollup has
// not counted yet, in id order.
func (c *conn) UnrolledPsyUserEvents(ctx context.Context, limit int) ([]PsyUserEvent, error) {
	var rows []psyUserEventRow
	err := selectContext(ctx, c.r, &rows, `SELECT id, event_key, user_id, public_key, tx_type, checkpoint_id, timestamp,
		created_at FROM psy_user_events WHERE rolled_up = 0 ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: unrolled user events: %w", err)
	}
	out := make([]PsyUserEvent, 0, len(rows))
	for _, r := range rows {
		out = append(out, PsyUserEvent{ID: r.ID, Key: r.Key, UserID: r.UserID, PublicKey: r.PublicKey, TxType: r.TxType,
			CheckpointID: r.CheckpointID, Timestamp: r.Timestamp.Time, CreatedAt: r.CreatedAt.Time})
	}
	return out, nil
}

// PsyUserEventRollup is one bucket of the user-event aggregation.
type PsyUserEventRollup struct {
	Bucket         string `db:"bucket"`
	BucketStart    time.Time
	TotalEvents    int64 `db:"total_events"`
	RegisterUser   int64 `db:"register_user"`
	DeployContract int64 `db:"deploy_contract"`
	UserTx         int64 `db:"user_tx"`
}

// AddPsyUserEventRollups adds deltas to their buckets, in the transaction
// that marks the events counted.
func (t *Tx) AddPsyUserEventRollups(ctx context.Context, deltas []PsyUserEventRollup) error {
	for start := 0; start < len(deltas); start += psyInsertBatch {
		batch := deltas[start:min(start+psyInsertBatch, len(deltas))]
		args := make([]any, 0, len(batch)*6)
		for _, d := range batch {
			args = append(args, d.Bucket, d.BucketStart, d.TotalEvents, d.RegisterUser, d.DeployContract, d.UserTx)
		}
		_, err := execContext(ctx, t.w, `INSERT INTO psy_user_event_rollups (bucket, bucket_start, total_events,
			register_user, deploy_contract, user_tx) VALUES `+valuesList(len(batch), 6)+`
			ON CONFLICT (bucket, bucket_start) DO UPDATE SET
			  total_events = psy_user_event_rollups.total_events + excluded.total_events,
			  register_user = psy_user_event_rollups.register_user + excluded.register_user,
			  deploy_contract = psy_user_event_rollups.deploy_contract + excluded.deploy_contract,
			  user_tx = psy_user_event_rollups.user_tx + excluded.user_tx`, args...)
		if err != nil {
			return fmt.Errorf("storage: add user event rollups: %w", err)
		}
	}
	return nil
}

// PsyRollupQuery selects buckets of one size.
type PsyRollupQuery struct {
	Bucket string
	// From and To bound bucket_start, inclusive, when not nil.
	From, To      *time.Time
	Limit, Offset int
	Ascending     bool
}

func (f PsyRollupQuery) where() (string, []any) {
	q := ` WHERE bucket = ?`
	args := []any{f.Bucket}
	if f.From != nil {
		q += ` AND bucket_start >= ?`
		args = append(args, *f.From)
	}
	if f.To != nil {
		q += ` AND bucket_start <= ?`
		args = append(args, *f.To)
	}
	order := "DESC"
	if f.Ascending {
		order = "ASC"
	}
	q += ` ORDER BY bucket_start ` + order + ` LIMIT ? OFFSET ?`
	return q, append(args, listLimit(f.Limit), max(f.Offset, 0))
}

// PsyEventRollups returns worker-event buckets.
func (c *conn) PsyEventRollups(ctx context.Context, f PsyRollupQuery) ([]PsyEventRollup, error) {
	where, args := f.where()
	var rows []struct {
		PsyEventRollup
		Start dbTime `db:"bucket_start"`
	}
	if err := selectContext(ctx, c.r, &rows, `SELECT bucket, bucket_start, total_events, completed, failed,
		unique_workers FROM psy_event_rollups`+where, args...); err != nil {
		return nil, fmt.Errorf("storage: event rollups: %w", err)
	}
	out := make([]PsyEventRollup, 0, len(rows))
	for _, r := range rows {
		r.PsyEventRollup.BucketStart = r.Start.Time
		out = append(out, r.PsyEventRollup)
	}
	return out, nil
}

// PsyUserEventRollups returns user-event buckets.
func (c *conn) PsyUserEventRollups(ctx context.Context, f PsyRollupQuery) ([]PsyUserEventRollup, error) {
	where, args := f.where()
	var rows []struct {
		PsyUserEventRollup
		Start dbTime `db:"bucket_start"`
	}
	if err := selectContext(ctx, c.r, &rows, `SELECT bucket, bucket_start, total_events, register_user,
		deploy_contract, user_tx FROM psy_user_event_rollups`+where, args...); err != nil {
		return nil, fmt.Errorf("storage: user event rollups: %w", err)
	}
	out := make([]PsyUserEventRollup, 0, len(rows))
	for _, r := range rows {
		r.PsyUserEventRollup.BucketStart = r.Start.Time
		out = append(out, r.PsyUserEventRollup)
	}
	return out, nil
}

// PsyJobSums returns the hourly job rollup summed over hours from since
// on (all hours when since is nil), by realm, status and circuit type,
// optionally for one realm.
func (c *conn) PsyJobSums(ctx context.Context, since *time.Time, realm *int64) ([]PsyJobRollup, error) {
	q := `SELECT realm_id, status, circuit_type, SUM(job_count) AS job_count, SUM(duration_ms_sum) AS duration_ms_sum
		FROM psy_job_rollups WHERE 1 = 1`
	var args []any
	if since != nil {
		q += ` AND hour_start >= ?`
		args = append(args, *since)
	}
	if realm != nil {
		q += ` AND realm_id = ?`
		args = append(args, *realm)
	}
	q += ` GROUP BY realm_id, status, circuit_type ORDER BY realm_id, status, circuit_type`
	var rows []PsyJobRollup
	if err := selectContext(ctx, c.r, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("storage: job sums: %w", err)
	}
	return rows, nil
}

// PsyRealmCount returns how many realms ever had a job event.
func (c *conn) PsyRealmCount(ctx context.Context) (int64, error) {
	var n int64
	if err := getContext(ctx, c.r, &n, `SELECT COUNT(DISTINCT realm_id) FROM psy_job_rollups`); err != nil {
		return 0, fmt.Errorf("storage: realm count: %w", err)
	}
	return n, nil
}

// PsyActivity summarises job events in a time range.
type PsyActivity struct {
	Key           string          `db:"k"`
	Total         int64           `db:"total"`
	Completed     int64           `db:"completed"`
	Failed        int64           `db:"failed"`
	Workers       int64           `db:"workers"`
	AvgDurationMS sql.NullFloat64 `db:"avg_duration_ms"`
}

// PsyActivitySince groups the job events that ended at or after since by
// realm ("realm") or by worker ("worker"), optionally for one realm or
// worker only (key). AvgDurationMS averages completed jobs.
func (c *conn) PsyActivitySince(ctx context.Context, by string, key string, since time.Time) ([]PsyActivity, error) {
	var col string
	switch by {
	case "realm":
		col = "CAST(realm_id AS TEXT)"
	case "worker":
		col = "worker_public_key"
	default:
		return nil, fmt.Errorf("storage: activity by %q", by)
	}
	q := `SELECT ` + col + ` AS k, COUNT(*) AS total,
		SUM(CASE WHEN status = 'Completed' THEN 1 ELSE 0 END) AS completed,
		SUM(CASE WHEN status = 'Failed' THEN 1 ELSE 0 END) AS failed,
		COUNT(DISTINCT worker_public_key) AS workers,
		AVG(CASE WHEN status = 'Completed' THEN duration_ms END) AS avg_duration_ms
		FROM psy_job_events WHERE end_time >= ?`
	args := []any{since}
	if key != "" {
		q += ` AND ` + col + ` = ?`
		args = append(args, key)
	}
	q += ` GROUP BY ` + col + ` ORDER BY ` + col
	var rows []PsyActivity
	if err := selectContext(ctx, c.r, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("storage: activity: %w", err)
	}
	return rows, nil
}

// PsyRewardsSince sums the rewards of checkpoints starting at or after
// since, by worker.
func (c *conn) PsyRewardsSince(ctx context.Context, since time.Time) (map[string]int64, error) {
	var rows []struct {
		Worker string `db:"worker_public_key"`
		Total  int64  `db:"total"`
	}
	err := selectContext(ctx, c.r, &rows, `SELECT d.worker_public_key, SUM(d.total_rewards) AS total
		FROM psy_reward_distributions d JOIN psy_checkpoints c ON c.id = d.checkpoint_id
		WHERE c.start_time >= ? GROUP BY d.worker_public_key`, since)
	if err != nil {
		return nil, fmt.Errorf("storage: rewards since: %w", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Worker] = r.Total
	}
	return out, nil
}

// PsyWorkerTotals is a worker's all-time reward record.
type PsyWorkerTotals struct {
	TotalRewards int64 `db:"total_rewards"`
	TotalJobs    int64 `db:"total_jobs"`
	Checkpoints  int64 `db:"checkpoints"`
	FirstJob     *time.Time
	LastJob      *time.Time
}

// PsyWorkerTotalsOf returns worker's all-time rewards, rewarded jobs,
// checkpoints with a reward, and its first and last completed job.
func (c *conn) PsyWorkerTotalsOf(ctx context.Context, worker string) (PsyWorkerTotals, error) {
	var t PsyWorkerTotals
	err := getContext(ctx, c.r, &t, `SELECT COALESCE(SUM(total_rewards), 0) AS total_rewards,
		COALESCE(SUM(job_count), 0) AS total_jobs, COUNT(DISTINCT checkpoint_id) AS checkpoints
		FROM psy_reward_distributions WHERE worker_public_key = ?`, worker)
	if err != nil {
		return t, fmt.Errorf("storage: worker totals: %w", err)
	}
	var span struct {
		First dbTime `db:"first_job"`
		Last  dbTime `db:"last_job"`
	}
	err = getContext(ctx, c.r, &span, `SELECT MIN(end_time) AS first_job, MAX(end_time) AS last_job
		FROM psy_job_events WHERE worker_public_key = ? AND status = ?`, worker, WorkerEventCompleted)
	if err != nil {
		return t, fmt.Errorf("storage: worker job span: %w", err)
	}
	t.FirstJob, t.LastJob = span.First.ptr(), span.Last.ptr()
	return t, nil
}

// PsyWorkerEventsSince returns how many worker events ended at or after
// since.
func (c *conn) PsyWorkerEventsSince(ctx context.Context, since time.Time) (int64, error) {
	var n int64
	if err := getContext(ctx, c.r, &n, `SELECT COUNT(*) FROM worker_events WHERE end_time >= ?`, since); err != nil {
		return 0, fmt.Errorf("storage: count worker events: %w", err)
	}
	return n, nil
}

// PsyUserEventsSince returns how many user events happened at or after
// since.
func (c *conn) PsyUserEventsSince(ctx context.Context, since time.Time) (int64, error) {
	var n int64
	if err := getContext(ctx, c.r, &n, `SELECT COUNT(*) FROM psy_user_events WHERE timestamp >= ?`, since); err != nil {
		return 0, fmt.Errorf("storage: count user events: %w", err)
	}
	return n, nil
}
