package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/proofgrid/proofgrid"
)

// Checkpoint states. A checkpoint is open while job events may still be
// assigned to it, closed once its window and grace period have passed (its
// reward pool and weights are fixed then), and processed once its rewards
// are computed. Recomputing a processed checkpoint keeps it processed.
const (
	PsyCheckpointOpen      = "open"
	PsyCheckpointClosed    = "closed"
	PsyCheckpointProcessed = "processed"
)

// PsyCheckpoint is one checkpoint and, once processed, its statistics.
type PsyCheckpoint struct {
	ID     int64
	Start  time.Time
	End    time.Time
	Status string
	// Pool and Weights are fixed when the checkpoint closes, so that a
	// recomputation uses the rules the checkpoint closed under.
	Pool    int64
	Weights string
	// Revision counts computations; distribution rows carry the revision
	// that wrote them.
	Revision      int64
	TotalJobs     int64
	CompletedJobs int64
	FailedJobs    int64
	UniqueWorkers int64
	TotalRewards  int64
	ProcessingMS  *float64
	ClosedAt      *time.Time
	ProcessedAt   *time.Time
	CreatedAt     time.Time
}

type psyCheckpointRow struct {
	ID            int64           `db:"id"`
	Start         dbTime          `db:"start_time"`
	End           dbTime          `db:"end_time"`
	Status        string          `db:"status"`
	Pool          int64           `db:"pool"`
	Weights       string          `db:"weights"`
	Revision      int64           `db:"revision"`
	TotalJobs     int64           `db:"total_jobs"`
	CompletedJobs int64           `db:"completed_jobs"`
	FailedJobs    int64           `db:"failed_jobs"`
	UniqueWorkers int64           `db:"unique_workers"`
	TotalRewards  int64           `db:"total_rewards"`
	ProcessingMS  sql.NullFloat64 `db:"processing_ms"`
	ClosedAt      dbTime          `db:"closed_at"`
	ProcessedAt   dbTime          `db:"processed_at"`
	CreatedAt     dbTime          `db:"created_at"`
}

func (r psyCheckpointRow) checkpoint() PsyCheckpoint {
	c := PsyCheckpoint{ID: r.ID, Start: r.Start.Time, End: r.End.Time, Status: r.Status, Pool: r.Pool, Weights: r.Weights,
		Revision: r.Revision, TotalJobs: r.TotalJobs, CompletedJobs: r.CompletedJobs, FailedJobs: r.FailedJobs,
		UniqueWorkers: r.UniqueWorkers, TotalRewards: r.TotalRewards, ClosedAt: r.ClosedAt.ptr(),
		ProcessedAt: r.ProcessedAt.ptr(), CreatedAt: r.CreatedAt.Time}
	if r.ProcessingMS.Valid {
		v := r.ProcessingMS.Float64
		c.ProcessingMS = &v
	}
	return c
}

const psyCheckpointColumns = `id, start_time, end_time, status, pool, weights, revision, total_jobs, completed_jobs,
	failed_jobs, unique_workers, total_rewards, processing_ms, closed_at, processed_at, created_at`

// TouchPsyCheckpoint creates checkpoint id as open unless it exists and
// returns its status. On PostgreSQL, called on a Tx, the row stays locked
// until the transaction ends, so it cannot close under a conversion that is
// assigning events to it.
func (c *conn) TouchPsyCheckpoint(ctx context.Context, id int64, start, end, now time.Time) (string, error) {
	var status string
	err := getContext(ctx, c.w, &status,
		`INSERT INTO psy_checkpoints (id, start_time, end_time, status, created_at) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (id) DO UPDATE SET status = psy_checkpoints.status RETURNING status`,
		id, start, end, PsyCheckpointOpen, now)
	if err != nil {
		return "", fmt.Errorf("storage: touch checkpoint %d: %w", id, err)
	}
	return status, nil
}

// ClosePsyCheckpoints closes every open checkpoint whose window ended at
// or before endedBy, fixing its pool and weights, and returns their ids.
func (c *conn) ClosePsyCheckpoints(ctx context.Context, endedBy time.Time, pool int64, weights string, now time.Time) ([]int64, error) {
	var ids []int64
	err := selectContext(ctx, c.w, &ids,
		`UPDATE psy_checkpoints SET status = ?, pool = ?, weights = ?, closed_at = ?
		 WHERE status = ? AND end_time <= ? RETURNING id`,
		PsyCheckpointClosed, pool, weights, now, PsyCheckpointOpen, endedBy)
	if err != nil {
		return nil, fmt.Errorf("storage: close checkpoints: %w", err)
	}
	return ids, nil
}

// ClosePsyCheckpoint closes checkpoint id now, creating it when no event
// ever touched it; a checkpoint closed already keeps its pool and weights.
func (c *conn) ClosePsyCheckpoint(ctx context.Context, id int64, start, end time.Time, pool int64, weights string, now time.Time) error {
	_, err := execContext(ctx, c.w,
		`INSERT INTO psy_checkpoints (id, start_time, end_time, status, pool, weights, closed_at, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (id) DO UPDATE SET status = excluded.status, pool = excluded.pool, weights = excluded.weights,
		   closed_at = excluded.closed_at
		 WHERE psy_checkpoints.status = ?`,
		id, start, end, PsyCheckpointClosed, pool, weights, now, now, PsyCheckpointOpen)
	if err != nil {
		return fmt.Errorf("storage: close checkpoint %d: %w", id, err)
	}
	return nil
}

// BeginPsyCheckpointComputation starts a reward computation of checkpoint
// id in t: it bumps the checkpoint's revision, which locks its row until
// t ends (so two computations of one checkpoint run one after the other),
// and returns the checkpoint. An open checkpoint is ECONFLICT; a missing
// one ENOTFOUND.
func (t *Tx) BeginPsyCheckpointComputation(ctx context.Context, id int64) (PsyCheckpoint, error) {
	var r psyCheckpointRow
	err := getContext(ctx, t.w, &r, `UPDATE psy_checkpoints SET revision = revision + 1
		WHERE id = ? AND status <> ? RETURNING `+psyCheckpointColumns, id, PsyCheckpointOpen)
	if errors.Is(err, sql.ErrNoRows) {
		cp, err := t.PsyCheckpoint(ctx, id)
		if err != nil {
			return PsyCheckpoint{}, err
		}
		return cp, proofgrid.Errorf(proofgrid.ECONFLICT, "checkpoint %d is still open", id)
	} else if err != nil {
		return PsyCheckpoint{}, fmt.Errorf("storage: lock checkpoint %d: %w", id, err)
	}
	return r.checkpoint(), nil
}

// PsyCell counts the job events of one worker, circuit type, status and
// eligibility in a checkpoint.
type PsyCell struct {
	WorkerPublicKey string `db:"worker_public_key"`
	CircuitType     string `db:"circuit_type"`
	Status          string `db:"status"`
	Eligible        bool   `db:"eligible"`
	Jobs            int64  `db:"jobs"`
}

// PsyCheckpointCells groups the job events of checkpoint id by worker,
// circuit type, status and eligibility.
func (c *conn) PsyCheckpointCells(ctx context.Context, id int64) ([]PsyCell, error) {
	var cells []PsyCell
	err := selectContext(ctx, c.r, &cells, `SELECT worker_public_key, circuit_type, status, eligible, COUNT(*) AS jobs
		FROM psy_job_events WHERE checkpoint_id = ? GROUP BY status, worker_public_key, circuit_type, eligible`, id)
	if err != nil {
		return nil, fmt.Errorf("storage: checkpoint %d cells: %w", id, err)
	}
	return cells, nil
}

// PsyCompletedWork is the plain GROUP BY of a checkpoint's eligible
// completed jobs by worker and circuit type, the query every reward
// computation needs at least; benchmarks compare against it.
func (c *conn) PsyCompletedWork(ctx context.Context, id int64) ([]PsyCell, error) {
	var cells []PsyCell
	err := selectContext(ctx, c.r, &cells, `SELECT worker_public_key, circuit_type, status, eligible, COUNT(*) AS jobs
		FROM psy_job_events WHERE checkpoint_id = ? AND status = ? AND eligible = ?
		GROUP BY status, worker_public_key, circuit_type, eligible`,
		id, WorkerEventCompleted, true)
	if err != nil {
		return nil, fmt.Errorf("storage: checkpoint %d work: %w", id, err)
	}
	return cells, nil
}

// PsyDistribution is the reward of one worker for one circuit type in one
// checkpoint.
type PsyDistribution struct {
	ID              int64     `json:"id"`
	CheckpointID    int64     `json:"checkpoint_id"`
	WorkerPublicKey string    `json:"worker_public_key"`
	CircuitType     string    `json:"circuit_type"`
	JobCount        int64     `json:"job_count"`
	TotalRewards    int64     `json:"total_rewards"`
	CreatedAt       time.Time `json:"created_at"`
}

type psyDistributionRow struct {
	ID              int64  `db:"id"`
	CheckpointID    int64  `db:"checkpoint_id"`
	WorkerPublicKey string `db:"worker_public_key"`
	CircuitType     string `db:"circuit_type"`
	JobCount        int64  `db:"job_count"`
	TotalRewards    int64  `db:"total_rewards"`
	CreatedAt       dbTime `db:"created_at"`
}

func (r psyDistributionRow) distribution() PsyDistribution {
	return PsyDistribution{ID: r.ID, CheckpointID: r.CheckpointID, WorkerPublicKey: r.WorkerPublicKey,
		CircuitType: r.CircuitType, JobCount: r.JobCount, TotalRewards: r.TotalRewards, CreatedAt: r.CreatedAt.Time}
}

const psyDistributionColumns = `id, checkpoint_id, worker_public_key, circuit_type, job_count, total_rewards, created_at`

// ReplacePsyDistributions makes rows the distribution of cp and returns
// it as PsyDistributions does. It writes only the difference from the
// stored distribution: new and changed rows are upserted with cp's
// revision (a row that exists keeps its id and created_at), rows no
// longer in it are deleted, and an unchanged row is not written at all,
// so a recomputation that changes nothing writes nothing. Within the
// transaction that BeginPsyCheckpointComputation started, readers see the
// old distribution or the new one, never a mix.
func (t *Tx) ReplacePsyDistributions(ctx context.Context, cp PsyCheckpoint, rows []PsyDistribution, now time.Time) ([]PsyDistribution, error) {
	old, err := t.PsyDistributions(ctx, cp.ID)
	if err != nil {
		return nil, err
	}
	type key struct{ worker, circuit string }
	stored := make(map[key]PsyDistribution, len(old))
	for _, d := range old {
		stored[key{d.WorkerPublicKey, d.CircuitType}] = d
	}
	var write []PsyDistribution
	for _, r := range rows {
		k := key{r.WorkerPublicKey, r.CircuitType}
		d, ok := stored[k]
		delete(stored, k)
		if !ok || d.JobCount != r.JobCount || d.TotalRewards != r.TotalRewards {
			write = append(write, r)
		}
	}
	for start := 0; start < len(write); start += psyInsertBatch {
		batch := write[start:min(start+psyInsertBatch, len(write))]
		args := make([]any, 0, len(batch)*7)
		for _, r := range batch {
			args = append(args, cp.ID, r.WorkerPublicKey, r.CircuitType, r.JobCount, r.TotalRewards, cp.Revision, now)
		}
		_, err := execContext(ctx, t.w, `INSERT INTO psy_reward_distributions (checkpoint_id, worker_public_key,
			circuit_type, job_count, total_rewards, revision, created_at) VALUES `+valuesList(len(batch), 7)+`
			ON CONFLICT (checkpoint_id, worker_public_key, circuit_type) DO UPDATE SET job_count = excluded.job_count,
			  total_rewards = excluded.total_rewards, revision = excluded.revision`, args...)
		if err != nil {
			return nil, fmt.Errorf("storage: write distributions of checkpoint %d: %w", cp.ID, err)
		}
	}
	gone := make([]any, 0, len(stored))
	for _, d := range stored {
		gone = append(gone, d.ID)
	}
	for start := 0; start < len(gone); start += psyInsertBatch {
		batch := gone[start:min(start+psyInsertBatch, len(gone))]
		_, err := execContext(ctx, t.w, `DELETE FROM psy_reward_distributions WHERE id IN `+valuesList(1, len(batch)), batch...)
		if err != nil {
			return nil, fmt.Errorf("storage: prune distributions of checkpoint %d: %w", cp.ID, err)
		}
	}
	if len(write) == 0 && len(gone) == 0 {
		return old, nil
	}
	return t.PsyDistributions(ctx, cp.ID)
}

// FinishPsyCheckpoint records cp's statistics and marks it
// processed.
func (c *conn) FinishPsyCheckpoint(ctx context.Context, cp PsyCheckpoint) error {
	_, err := execContext(ctx, c.w, `UPDATE psy_checkpoints SET status = ?, total_jobs = ?, completed_jobs = ?,
		failed_jobs = ?, unique_workers = ?, total_rewards = ?, processing_ms = ?, processed_at = ? WHERE id = ?`,
		PsyCheckpointProcessed, cp.TotalJobs, cp.CompletedJobs, cp.FailedJobs, cp.UniqueWorkers, cp.TotalRewards,
		cp.ProcessingMS, cp.ProcessedAt, cp.ID)
	if err != nil {
		return fmt.Errorf("storage: finish checkpoint %d: %w", cp.ID, err)
	}
	return nil
}

// PsyCheckpoint returns checkpoint id, or ENOTFOUND when no event or
// computation ever touched it.
func (c *conn) PsyCheckpoint(ctx context.Context, id int64) (PsyCheckpoint, error) {
	var r psyCheckpointRow
	err := getContext(ctx, c.r, &r, `SELECT `+psyCheckpointColumns+` FROM psy_checkpoints WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return PsyCheckpoint{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "checkpoint %d not found", id)
	} else if err != nil {
		return PsyCheckpoint{}, fmt.Errorf("storage: checkpoint %d: %w", id, err)
	}
	return r.checkpoint(), nil
}

// PsyCheckpoints returns up to limit checkpoints with ids in [from, to],
// in id order.
func (c *conn) PsyCheckpoints(ctx context.Context, from, to int64, limit int) ([]PsyCheckpoint, error) {
	var rows []psyCheckpointRow
	err := selectContext(ctx, c.r, &rows, `SELECT `+psyCheckpointColumns+` FROM psy_checkpoints
		WHERE id >= ? AND id <= ? ORDER BY id LIMIT ?`, from, to, listLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("storage: list checkpoints: %w", err)
	}
	out := make([]PsyCheckpoint, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.checkpoint())
	}
	return out, nil
}

// PsyCheckpointIDs returns the ids of checkpoints in state status, in
// order.
func (c *conn) PsyCheckpointIDs(ctx context.Context, status string) ([]int64, error) {
	var ids []int64
	if err := selectContext(ctx, c.r, &ids, `SELECT id FROM psy_checkpoints WHERE status = ? ORDER BY id`, status); err != nil {
		return nil, fmt.Errorf("storage: %s checkpoints: %w", status, err)
	}
	return ids, nil
}

// PsyProcessingStatus returns the closed checkpoints waiting for their
// rewards and the highest processed checkpoint (nil when none).
func (c *conn) PsyProcessingStatus(ctx context.Context) (pending []int64, last *int64, err error) {
	if pending, err = c.PsyCheckpointIDs(ctx, PsyCheckpointClosed); err != nil {
		return nil, nil, err
	}
	var n sql.NullInt64
	if err := getContext(ctx, c.r, &n, `SELECT MAX(id) FROM psy_checkpoints WHERE status = ?`, PsyCheckpointProcessed); err != nil {
		return nil, nil, fmt.Errorf("storage: last processed checkpoint: %w", err)
	}
	return pending, nullInt(n), nil
}

// FirstPsyJobCheckpoint returns the lowest checkpoint id of any job
// event, nil when there is none.
func (c *conn) FirstPsyJobCheckpoint(ctx context.Context) (*int64, error) {
	var n sql.NullInt64
	if err := getContext(ctx, c.r, &n, `SELECT MIN(checkpoint_id) FROM psy_job_events`); err != nil {
		return nil, fmt.Errorf("storage: first job checkpoint: %w", err)
	}
	return nullInt(n), nil
}

// LatestClosedPsyCheckpoint returns the highest closed or processed
// checkpoint id, 0 when there is none.
func (c *conn) LatestClosedPsyCheckpoint(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	if err := getContext(ctx, c.r, &n, `SELECT MAX(id) FROM psy_checkpoints WHERE status <> ?`, PsyCheckpointOpen); err != nil {
		return 0, fmt.Errorf("storage: latest checkpoint: %w", err)
	}
	return n.Int64, nil
}

// PsyDistributions returns the distribution of checkpoint id, by worker
// key and circuit type.
func (c *conn) PsyDistributions(ctx context.Context, id int64) ([]PsyDistribution, error) {
	var rows []psyDistributionRow
	err := selectContext(ctx, c.r, &rows, `SELECT `+psyDistributionColumns+` FROM psy_reward_distributions
		WHERE checkpoint_id = ? ORDER BY worker_public_key, circuit_type`, id)
	if err != nil {
		return nil, fmt.Errorf("storage: distributions of checkpoint %d: %w", id, err)
	}
	out := make([]PsyDistribution, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.distribution())
	}
	return out, nil
}

// PsyWorkerReward is one distribution row of a worker with the window of
// its checkpoint.
type PsyWorkerReward struct {
	CheckpointID    int64
	CheckpointStart time.Time
	CircuitType     string
	JobCount        int64
	TotalRewards    int64
}

// PsyWorkerRewards returns a worker's distribution rows of checkpoints
// starting in [start, end] (nil bounds are open), oldest checkpoint first.
func (c *conn) PsyWorkerRewards(ctx context.Context, worker string, start, end *time.Time) ([]PsyWorkerReward, error) {
	q := `SELECT d.checkpoint_id, c.start_time, d.circuit_type, d.job_count, d.total_rewards
		FROM psy_reward_distributions d JOIN psy_checkpoints c ON c.id = d.checkpoint_id
		WHERE d.worker_public_key = ?`
	args := []any{worker}
	if start != nil {
		q += ` AND c.start_time >= ?`
		args = append(args, *start)
	}
	if end != nil {
		q += ` AND c.start_time <= ?`
		args = append(args, *end)
	}
	q += ` ORDER BY d.checkpoint_id, d.circuit_type`
	var rows []struct {
		CheckpointID int64  `db:"checkpoint_id"`
		Start        dbTime `db:"start_time"`
		CircuitType  string `db:"circuit_type"`
		JobCount     int64  `db:"job_count"`
		TotalRewards int64  `db:"total_rewards"`
	}
	if err := selectContext(ctx, c.r, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("storage: rewards of %s: %w", worker, err)
	}
	out := make([]PsyWorkerReward, 0, len(rows))
	for _, r := range rows {
		out = append(out, PsyWorkerReward{CheckpointID: r.CheckpointID, CheckpointStart: r.Start.Time,
			CircuitType: r.CircuitType, JobCount: r.JobCount, TotalRewards: r.TotalRewards})
	}
	return out, nil
}
