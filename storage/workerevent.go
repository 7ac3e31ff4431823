package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
)

// Worker event statuses, spelled as the Psy worker-event API spells them.
const (
	WorkerEventPending    = "Pending"
	WorkerEventInProgress = "InProgress"
	WorkerEventCompleted  = "Completed"
	WorkerEventFailed     = "Failed"
	WorkerEventCancelled  = "Cancelled"
)

// ValidWorkerEventStatus reports whether s is a known worker event status.
func ValidWorkerEventStatus(s string) bool {
	switch s {
	case WorkerEventPending, WorkerEventInProgress, WorkerEventCompleted, WorkerEventFailed, WorkerEventCancelled:
		return true
	}
	return false
}

// WorkerEvent is one job a worker finished or failed.
type WorkerEvent struct {
	ID int64 `json:"id"`
	// Key makes recording idempotent: a second event with the same key is
	// not stored.
	Key     string `json:"-"`
	RealmID int64  `json:"realm_id"`
	// WorkerPublicKey identifies the worker: an agent's base64 Ed25519
	// public key, "team:<uuid>" for work reported with a team API key, or
	// "coordinator" for the coordinator's own tasks.
	WorkerPublicKey string `json:"worker_public_key"`
	MachineID       string `json:"machine_id"`
	TeamID          *int64 `json:"team_id"`
	// Topic is the task type, e.g. "prove:block".
	Topic string `json:"topic"`
	// CircuitType is what was proved or checked: "<zkvm slug>/<version>".
	CircuitType string `json:"circuit_type"`
	JobID       string `json:"job_id"`
	Status      string `json:"status"`
	// Result is the job's outcome beyond its status, e.g. "proved" or a
	// verification outcome.
	Result       string    `json:"result"`
	Error        string    `json:"error"`
	StartTime    time.Time `json:"start_time"`
	EndTime      time.Time `json:"end_time"`
	DurationMS   int64     `json:"duration_ms"`
	CheckpointID int64     `json:"checkpoint_id"`
	CreatedAt    time.Time `json:"created_at"`
	// Eligible tells whether the job may draw from its checkpoint's
	// reward pool; the rewards package decides it when it records the job.
	Eligible bool `json:"-"`
}

type workerEventRow struct {
	ID              int64         `db:"id"`
	Key             string        `db:"event_key"`
	RealmID         int64         `db:"realm_id"`
	WorkerPublicKey string        `db:"worker_public_key"`
	MachineID       string        `db:"machine_id"`
	TeamID          sql.NullInt64 `db:"team_id"`
	Topic           string        `db:"topic"`
	CircuitType     string        `db:"circuit_type"`
	JobID           string        `db:"job_id"`
	Status          string        `db:"status"`
	Result          string        `db:"result"`
	Error           string        `db:"error"`
	StartTime       dbTime        `db:"start_time"`
	EndTime         dbTime        `db:"end_time"`
	DurationMS      int64         `db:"duration_ms"`
	CheckpointID    int64         `db:"checkpoint_id"`
	CreatedAt       dbTime        `db:"created_at"`
	Eligible        bool          `db:"eligible"`
}

func (r workerEventRow) event() WorkerEvent {
	return WorkerEvent{
		ID: r.ID, Key: r.Key, RealmID: r.RealmID, WorkerPublicKey: r.WorkerPublicKey, MachineID: r.MachineID,
		TeamID: nullInt(r.TeamID), Topic: r.Topic, CircuitType: r.CircuitType, JobID: r.JobID, Status: r.Status,
		Result: r.Result, Error: r.Error, StartTime: r.StartTime.Time, EndTime: r.EndTime.Time,
		DurationMS: r.DurationMS, CheckpointID: r.CheckpointID, CreatedAt: r.CreatedAt.Time, Eligible: r.Eligible,
	}
}

const workerEventColumns = `id, event_key, realm_id, worker_public_key, machine_id, team_id, topic, circuit_type,
	job_id, status, result, error, start_time, end_time, duration_ms, checkpoint_id, created_at, eligible`

func checkWorkerEvent(ev WorkerEvent) error {
	switch {
	case strings.TrimSpace(ev.Key) == "":
		return proofgrid.Errorf(proofgrid.EINVALID, "worker event has no key")
	case strings.TrimSpace(ev.WorkerPublicKey) == "" || ev.Topic == "" || ev.JobID == "":
		return proofgrid.Errorf(proofgrid.EINVALID, "worker event %s: worker, topic and job id are required", ev.Key)
	case !ValidWorkerEventStatus(ev.Status):
		return proofgrid.Errorf(proofgrid.EINVALID, "worker event %s: unknown status %q", ev.Key, ev.Status)
	}
	return nil
}

const workerEventInsert = `INSERT INTO worker_events (event_key, realm_id, worker_public_key, machine_id, team_id, topic,
	circuit_type, job_id, status, result, error, start_time, end_time, duration_ms, checkpoint_id, created_at, eligible)
	VALUES `

const workerEventInsertColumns = 17

func (ev WorkerEvent) insertArgs(args []any) []any {
	createdAt := ev.CreatedAt
	if createdAt.IsZero() {
		createdAt = ev.EndTime
	}
	return append(args, ev.Key, ev.RealmID, ev.WorkerPublicKey, ev.MachineID, ev.TeamID, ev.Topic, ev.CircuitType,
		ev.JobID, ev.Status, ev.Result, ev.Error, ev.StartTime, ev.EndTime, ev.DurationMS, ev.CheckpointID, createdAt,
		ev.Eligible)
}

// InsertWorkerEvent stores ev (normally on the Tx of the change the event
// reports) and tells whether it was new: an event whose
// Key is stored already changes nothing.
func (c *conn) InsertWorkerEvent(ctx context.Context, ev WorkerEvent) (bool, error) {
	if err := checkWorkerEvent(ev); err != nil {
		return false, err
	}
	res, err := execContext(ctx, c.w, workerEventInsert+valuesList(1, workerEventInsertColumns)+
		` ON CONFLICT (event_key) DO NOTHING`, ev.insertArgs(nil)...)
	if err != nil {
		return false, fmt.Errorf("storage: insert worker event: %w", err)
	}
	n, err := rowsAffected(res)
	return n == 1, err
}

// InsertWorkerEvents stores evs as InsertWorkerEvent stores each, in
// multi-row INSERTs (one INSERT of column arrays on PostgreSQL), and tells for each whether it was new: an event
// whose Key is stored already, or came earlier in evs, changes nothing.
// One invalid event stores none of them. Call it on a Tx when the events
// must be stored all or none.
func (c *conn) InsertWorkerEvents(ctx context.Context, evs []WorkerEvent) ([]bool, error) {
	for _, ev := range evs {
		if err := checkWorkerEvent(ev); err != nil {
			return nil, err
		}
	}
	added := make(map[string]bool, len(evs))
	if c.dialect == DialectPostgres {
		keys, err := c.insertWorkerEventsPostgres(ctx, evs)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			added[k] = true
		}
		return newFlags(evs, added), nil
	}
	args := make([]any, 0, min(len(evs), psyInsertBatch)*workerEventInsertColumns)
	for start := 0; start < len(evs); start += psyInsertBatch {
		batch := evs[start:min(start+psyInsertBatch, len(evs))]
		args = args[:0]
		for _, ev := range batch {
			args = ev.insertArgs(args)
		}
		// RETURNING names the rows this statement inserted: a key that
		// was stored before, or twice in the batch, comes back at most
		// once.
		var keys []string
		err := selectContext(ctx, c.w, &keys, workerEventInsert+valuesList(len(batch), workerEventInsertColumns)+
			` ON CONFLICT (event_key) DO NOTHING RETURNING event_key`, args...)
		if err != nil {
			return nil, fmt.Errorf("storage: insert worker events: %w", err)
		}
		for _, k := range keys {
			added[k] = true
		}
	}
	return newFlags(evs, added), nil
}

// newFlags tells for each event of evs whether its key is in added, the
// keys a statement inserted; the first of several events with one key is
// the one stored.
func newFlags(evs []WorkerEvent, added map[string]bool) []bool {
	out := make([]bool, len(evs))
	for i, ev := range evs {
		// The first of several events with one key is the one stored.
		out[i] = added[ev.Key]
		delete(added, ev.Key)
	}
	return out
}

// insertWorkerEventsPostgres inserts evs in one statement whose 17
// parameters are arrays, one a column: PostgreSQL plans it in no time,
// where a multi-row VALUES list of thousands of parameters costs as much
// to parse and plan as to run. It returns the keys it inserted.
func (c *conn) insertWorkerEventsPostgres(ctx context.Context, evs []WorkerEvent) ([]string, error) {
	n := len(evs)
	keys, workers, machines, topics, circuits := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	jobs, statuses, results, errs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	realms, durations, checkpoints := make([]int64, n), make([]int64, n), make([]int64, n)
	teams := make([]*int64, n)
	starts, ends, created := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
	eligible := make([]bool, n)
	for i, ev := range evs {
		keys[i], workers[i], machines[i], topics[i], circuits[i] = ev.Key, ev.WorkerPublicKey, ev.MachineID, ev.Topic, ev.CircuitType
		jobs[i], statuses[i], results[i], errs[i] = ev.JobID, ev.Status, ev.Result, ev.Error
		realms[i], durations[i], checkpoints[i], teams[i], eligible[i] = ev.RealmID, ev.DurationMS, ev.CheckpointID, ev.TeamID, ev.Eligible
		createdAt := ev.CreatedAt
		if createdAt.IsZero() {
			createdAt = ev.EndTime
		}
		starts[i], ends[i], created[i] = pgTime(ev.StartTime), pgTime(ev.EndTime), pgTime(createdAt)
	}
	var inserted []string
	err := selectContext(ctx, c.w, &inserted, `INSERT INTO worker_events (event_key, realm_id, worker_public_key,
		machine_id, team_id, topic, circuit_type, job_id, status, result, error, start_time, end_time, duration_ms,
		checkpoint_id, created_at, eligible)
		SELECT * FROM unnest(?::text[], ?::bigint[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[],
		  ?::text[], ?::text[], ?::text[], ?::timestamptz[], ?::timestamptz[], ?::bigint[], ?::bigint[], ?::timestamptz[],
		  ?::boolean[])
		ON CONFLICT (event_key) DO NOTHING RETURNING event_key`,
		keys, realms, workers, machines, teams, topics, circuits, jobs, statuses, results, errs, starts, ends, durations,
		checkpoints, created, eligible)
	if err != nil {
		return nil, fmt.Errorf("storage: insert worker events: %w", err)
	}
	return inserted, nil
}

// pgTime is t as timeArg stores it on PostgreSQL, for array parameters,
// which bindArgs does not look into.
func pgTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// WorkerEventFilter selects worker events. Zero fields select all.
type WorkerEventFilter struct {
	WorkerPublicKey string
	Topic           string
	Status          string
	JobID           string
	// FromCheckpoint and ToCheckpoint bound checkpoint_id, inclusive, when
	// not nil.
	FromCheckpoint, ToCheckpoint *int64
	Limit, Offset                int
	// Ascending orders by id ascending; the default is newest first.
	Ascending bool
}

// WorkerEvents returns the events f selects (at most Limit, default 300).
func (c *conn) WorkerEvents(ctx context.Context, f WorkerEventFilter) ([]WorkerEvent, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if f.WorkerPublicKey != "" {
		add("worker_public_key = ?", f.WorkerPublicKey)
	}
	if f.Topic != "" {
		add("topic = ?", f.Topic)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.JobID != "" {
		add("job_id = ?", f.JobID)
	}
	if f.FromCheckpoint != nil {
		add("checkpoint_id >= ?", *f.FromCheckpoint)
	}
	if f.ToCheckpoint != nil {
		add("checkpoint_id <= ?", *f.ToCheckpoint)
	}
	q := `SELECT ` + workerEventColumns + ` FROM worker_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	order := "DESC"
	if f.Ascending {
		order = "ASC"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 300
	}
	q += " ORDER BY id " + order + " LIMIT ? OFFSET ?"
	args = append(args, limit, max(f.Offset, 0))
	var rows []workerEventRow
	if err := selectContext(ctx, c.r, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("storage: list worker events: %w", err)
	}
	out := make([]WorkerEvent, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.event())
	}
	return out, nil
}
