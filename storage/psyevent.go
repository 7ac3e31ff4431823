package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Names of psy_state rows. Each is also a lock: LockPsyState takes its
// row lock, which serialises the tasks that take the same name across
// coordinator replicas on PostgreSQL (SQLite serialises every write
// transaction anyway).
const (
	// PsyStateEvents serialises worker-event conversion, checkpoint closing
	// and the job-event rollup; its int_value is the conversion cursor (the
	// highest worker event id converted).
	PsyStateEvents = "events"
	// PsyStateRollup records the job-event rollup's last refresh
	// (time_value) and whether it consumed everything it found (flag).
	PsyStateRollup = "rollup"
	// PsyStateUserRollup is the same for user events.
	PsyStateUserRollup = "user_rollup"
)

// PsyState is one row of psy_state.
type PsyState struct {
	Name      string
	IntValue  int64
	TimeValue *time.Time
	Flag      bool
}

type psyStateRow struct {
	Name      string `db:"name"`
	IntValue  int64  `db:"int_value"`
	TimeValue dbTime `db:"time_value"`
	Flag      int64  `db:"flag"`
}

func (r psyStateRow) state() PsyState {
	return PsyState{Name: r.Name, IntValue: r.IntValue, TimeValue: r.TimeValue.ptr(), Flag: r.Flag != 0}
}

// LockPsyState locks the state row name for the rest of t and returns it,
// so that one conversion or rollup runs at a time.
func (t *Tx) LockPsyState(ctx context.Context, name string) (PsyState, error) {
	var r psyStateRow
	err := getContext(ctx, t.w, &r,
		`UPDATE psy_state SET flag = flag WHERE name = ? RETURNING name, int_value, time_value, flag`, name)
	if errors.Is(err, sql.ErrNoRows) {
		return PsyState{}, fmt.Errorf("storage: psy state %q is missing", name)
	} else if err != nil {
		return PsyState{}, fmt.Errorf("storage: lock psy state %s: %w", name, err)
	}
	return r.state(), nil
}

// SetPsyState writes the state row s.
func (c *conn) SetPsyState(ctx context.Context, s PsyState) error {
	flag := 0
	if s.Flag {
		flag = 1
	}
	_, err := execContext(ctx, c.w, `UPDATE psy_state SET int_value = ?, time_value = ?, flag = ? WHERE name = ?`,
		s.IntValue, s.TimeValue, flag, s.Name)
	if err != nil {
		return fmt.Errorf("storage: set psy state %s: %w", s.Name, err)
	}
	return nil
}

// PsyState returns the state row name.
func (c *conn) PsyState(ctx context.Context, name string) (PsyState, error) {
	var r psyStateRow
	if err := getContext(ctx, c.r, &r, `SELECT name, int_value, time_value, flag FROM psy_state WHERE name = ?`, name); err != nil {
		return PsyState{}, fmt.Errorf("storage: psy state %s: %w", name, err)
	}
	return r.state(), nil
}

// WorkerEventEnd is what conversion needs of a worker event to place
// it in a checkpoint.
type WorkerEventEnd struct {
	ID      int64
	EndTime time.Time
}

// UnconvertedWorkerEvents returns the id and end time of up to limit
// worker events with an id in (after, upTo] that have no job event yet,
// in id order. Both sides of the anti-join are bounded by that id range,
// so each call reads at most upTo - after rows of either table whatever
// plan the database picks: a window given as a row count (ORDER BY id
// LIMIT) lets PostgreSQL, on tables without fresh statistics, sort every
// worker event above after and hash all of psy_job_events for every
// batch, which makes converting n events cost n² / batch.
func (c *conn) UnconvertedWorkerEvents(ctx context.Context, after, upTo int64, limit int) ([]WorkerEventEnd, error) {
	var rows []struct {
		ID      int64  `db:"id"`
		EndTime dbTime `db:"end_time"`
	}
	err := selectContext(ctx, c.r, &rows, `SELECT w.id, w.end_time FROM worker_events w
		WHERE w.id > ? AND w.id <= ?
		  AND NOT EXISTS (SELECT 1 FROM psy_job_events j
		    WHERE j.worker_event_id = w.id AND j.worker_event_id > ? AND j.worker_event_id <= ?)
		ORDER BY w.id LIMIT ?`, after, upTo, after, upTo, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: unconverted worker events: %w", err)
	}
	out := make([]WorkerEventEnd, 0, len(rows))
	for _, r := range rows {
		out = append(out, WorkerEventEnd{ID: r.ID, EndTime: r.EndTime.Time})
	}
	return out, nil
}

// NextWorkerEventID returns the lowest worker event id above after, and
// false when there is none.
func (c *conn) NextWorkerEventID(ctx context.Context, after int64) (int64, bool, error) {
	var id sql.NullInt64
	if err := getContext(ctx, c.r, &id, `SELECT MIN(id) FROM worker_events WHERE id > ?`, after); err != nil {
		return 0, false, fmt.Errorf("storage: next worker event: %w", err)
	}
	return id.Int64, id.Valid, nil
}

// PsyConversion places worker event WorkerEventID in checkpoint
// CheckpointID.
type PsyConversion struct {
	WorkerEventID int64
	CheckpointID  int64
}

// ConvertWorkerEvents stores for each of cs a job event copied from its
// worker event, in cs's checkpoint, and returns how many were new; a
// worker event converted already is skipped. The rows are copied inside
// the database (INSERT ... SELECT), so conversion never carries them
// through the client and back.
func (c *conn) ConvertWorkerEvents(ctx context.Context, cs []PsyConversion) (int64, error) {
	const head = `INSERT INTO psy_job_events (worker_event_id, checkpoint_id, realm_id, job_id, worker_public_key, topic,
		circuit_type, status, duration_ms, start_time, end_time, eligible)
		SELECT w.id, c.cp, w.realm_id, w.job_id, w.worker_public_key, w.topic, w.circuit_type, w.status, w.duration_ms,
		  w.start_time, w.end_time, w.eligible `
	// SQLite needs the WHERE to tell the upsert's ON from a join's.
	const tail = ` JOIN worker_events w ON w.id = c.id WHERE true ORDER BY w.id
		ON CONFLICT (worker_event_id) DO NOTHING`
	if len(cs) == 0 {
		return 0, nil
	}
	if c.dialect == DialectPostgres {
		ids, cps := make([]int64, len(cs)), make([]int64, len(cs))
		for i, cv := range cs {
			ids[i], cps[i] = cv.WorkerEventID, cv.CheckpointID
		}
		// PostgreSQL sees unnest's real length and, on a table without
		// fresh statistics, hashes all of worker_events to join it; the
		// batch's id range keeps the join to the batch's rows.
		lo, hi := slices.Min(ids), slices.Max(ids)
		res, err := execContext(ctx, c.w, head+`FROM unnest(?::bigint[], ?::bigint[]) AS c(id, cp)
			JOIN worker_events w ON w.id = c.id WHERE w.id BETWEEN ? AND ? ORDER BY w.id
			ON CONFLICT (worker_event_id) DO NOTHING`, ids, cps, lo, hi)
		if err != nil {
			return 0, fmt.Errorf("storage: convert worker events: %w", err)
		}
		return rowsAffected(res)
	}
	var total int64
	const rows = 2000
	args := make([]any, 0, min(len(cs), rows)*2)
	for start := 0; start < len(cs); start += rows {
		batch := cs[start:min(start+rows, len(cs))]
		args = args[:0]
		for _, cv := range batch {
			args = append(args, cv.WorkerEventID, cv.CheckpointID)
		}
		res, err := execContext(ctx, c.w, `WITH c(id, cp) AS (VALUES `+valuesList(len(batch), 2)+`) `+head+`FROM c`+tail, args...)
		if err != nil {
			return total, fmt.Errorf("storage: convert worker events: %w", err)
		}
		n, err := rowsAffected(res)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// WorkerEventsWaiting reports whether a worker event with an id above
// after was stored before before and has no job event yet: conversion is
// behind.
func (c *conn) WorkerEventsWaiting(ctx context.Context, after int64, before time.Time) (bool, error) {
	ok, err := exists(ctx, c.r, `SELECT 1 FROM worker_events w WHERE w.id > ? AND w.created_at < ?
		AND NOT EXISTS (SELECT 1 FROM psy_job_events j WHERE j.worker_event_id = w.id) LIMIT 1`, after, before)
	if err != nil {
		return false, fmt.Errorf("storage: waiting worker events: %w", err)
	}
	return ok, nil
}

// PsyJobEvent is a worker event as the Psy checkpoint pipeline sees it:
// assigned to the checkpoint that was open when it was converted.
type PsyJobEvent struct {
	ID              int64     `json:"id"`
	WorkerEventID   int64     `json:"worker_event_id"`
	CheckpointID    int64     `json:"checkpoint_id"`
	RealmID         int64     `json:"realm_id"`
	JobID           string    `json:"job_id"`
	WorkerPublicKey string    `json:"worker_public_key"`
	Topic           string    `json:"topic"`
	CircuitType     string    `json:"circuit_type"`
	Status          string    `json:"status"`
	DurationMS      int64     `json:"duration_ms"`
	StartTime       time.Time `json:"start_time"`
	EndTime         time.Time `json:"end_time"`
	// Eligible is copied from the worker event: whether the job may draw
	// from the checkpoint's pool.
	Eligible bool `json:"-"`
}

type psyJobEventRow struct {
	ID              int64  `db:"id"`
	WorkerEventID   int64  `db:"worker_event_id"`
	CheckpointID    int64  `db:"checkpoint_id"`
	RealmID         int64  `db:"realm_id"`
	JobID           string `db:"job_id"`
	WorkerPublicKey string `db:"worker_public_key"`
	Topic           string `db:"topic"`
	CircuitType     string `db:"circuit_type"`
	Status          string `db:"status"`
	DurationMS      int64  `db:"duration_ms"`
	StartTime       dbTime `db:"start_time"`
	EndTime         dbTime `db:"end_time"`
	Eligible        bool   `db:"eligible"`
}

func (r psyJobEventRow) event() PsyJobEvent {
	return PsyJobEvent{ID: r.ID, WorkerEventID: r.WorkerEventID, CheckpointID: r.CheckpointID, RealmID: r.RealmID,
		JobID: r.JobID, WorkerPublicKey: r.WorkerPublicKey, Topic: r.Topic, CircuitType: r.CircuitType,
		Status: r.Status, DurationMS: r.DurationMS, StartTime: r.StartTime.Time, EndTime: r.EndTime.Time,
		Eligible: r.Eligible}
}

const psyJobEventColumns = `id, worker_event_id, checkpoint_id, realm_id, job_id, worker_public_key, topic,
	circuit_type, status, duration_ms, start_time, end_time, eligible`

// psyInsertBatch bounds the rows of one multi-row INSERT: 500 rows of at
// most 12 columns stay far below both dialects' limits on bound
// parameters.
const psyInsertBatch = 500

// valuesList returns "(?, ?), (?, ?)" for rows rows of cols columns.
func valuesList(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	var b strings.Builder
	b.Grow(rows * (len(one) + 2))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

// InsertPsyJobEvents stores evs in multi-row batches (one INSERT of
// column arrays on PostgreSQL, as InsertWorkerEvents does) and returns
// how many were new; a worker event converted already is skipped.
func (c *conn) InsertPsyJobEvents(ctx context.Context, evs []PsyJobEvent) (int64, error) {
	if c.dialect == DialectPostgres {
		return c.insertPsyJobEventsPostgres(ctx, evs)
	}
	var total int64
	for start := 0; start < len(evs); start += psyInsertBatch {
		batch := evs[start:min(start+psyInsertBatch, len(evs))]
		args := make([]any, 0, len(batch)*12)
		for _, e := range batch {
			args = append(args, e.WorkerEventID, e.CheckpointID, e.RealmID, e.JobID, e.WorkerPublicKey, e.Topic,
				e.CircuitType, e.Status, e.DurationMS, e.StartTime, e.EndTime, e.Eligible)
		}
		res, err := execContext(ctx, c.w, `INSERT INTO psy_job_events (worker_event_id, checkpoint_id, realm_id, job_id,
			worker_public_key, topic, circuit_type, status, duration_ms, start_time, end_time, eligible) VALUES `+
			valuesList(len(batch), 12)+` ON CONFLICT (worker_event_id) DO NOTHING`, args...)
		if err != nil {
			return total, fmt.Errorf("storage: insert job events: %w", err)
		}
		n, err := rowsAffected(res)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func (c *conn) insertPsyJobEventsPostgres(ctx context.Context, evs []PsyJobEvent) (int64, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	n := len(evs)
	ids, cps, realms, durations := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	jobs, workers, topics, circuits, statuses := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	starts, ends := make([]time.Time, n), make([]time.Time, n)
	eligible := make([]bool, n)
	for i, e := range evs {
		ids[i], cps[i], realms[i], durations[i] = e.WorkerEventID, e.CheckpointID, e.RealmID, e.DurationMS
		jobs[i], workers[i], topics[i], circuits[i], statuses[i] = e.JobID, e.WorkerPublicKey, e.Topic, e.CircuitType, e.Status
		starts[i], ends[i], eligible[i] = pgTime(e.StartTime), pgTime(e.EndTime), e.Eligible
	}
	res, err := execContext(ctx, c.w, `INSERT INTO psy_job_events (worker_event_id, checkpoint_id, realm_id, job_id,
		worker_public_key, topic, circuit_type, status, duration_ms, start_time, end_time, eligible)
		SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],
		  ?::bigint[], ?::timestamptz[], ?::timestamptz[], ?::boolean[])
		ON CONFLICT (worker_event_id) DO NOTHING`,
		ids, cps, realms, jobs, workers, topics, circuits, statuses, durations, starts, ends, eligible)
	if err != nil {
		return 0, fmt.Errorf("storage: insert job events: %w", err)
	}
	return rowsAffected(res)
}

// PsyJobEvents returns the job events of a checkpoint in id order.
func (c *conn) PsyJobEvents(ctx context.Context, checkpointID int64, limit, offset int) ([]PsyJobEvent, error) {
	var rows []psyJobEventRow
	err := selectContext(ctx, c.r, &rows, `SELECT `+psyJobEventColumns+` FROM psy_job_events
		WHERE checkpoint_id = ? ORDER BY id LIMIT ? OFFSET ?`, checkpointID, listLimit(limit), max(offset, 0))
	if err != nil {
		return nil, fmt.Errorf("storage: job events: %w", err)
	}
	out := make([]PsyJobEvent, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.event())
	}
	return out, nil
}

// PsyWorkerEventFilter selects worker events for the Psy surface. Zero
// fields select all.
type PsyWorkerEventFilter struct {
	RealmID     *int64
	Status      string
	PublicKey   string
	Topic       string
	CircuitType string
	// CircuitPrefixes keeps events whose circuit type starts with one of
	// them; with ExcludePrefixes it drops those events instead.
	CircuitPrefixes []string
	ExcludePrefixes bool
	// FromCheckpoint and ToCheckpoint bound the Psy checkpoint (that of the
	// event's job event), inclusive; events not converted yet have none.
	FromCheckpoint, ToCheckpoint *int64
	Limit, Offset                int
	Ascending                    bool
}

// PsyWorkerEvent is a worker event with the Psy checkpoint it was assigned
// to, nil until it is converted.
type PsyWorkerEvent struct {
	WorkerEvent
	PsyCheckpointID *int64
}

// PsyWorkerEvents returns the worker events f selects, by id (newest
// first unless Ascending).
func (c *conn) PsyWorkerEvents(ctx context.Context, f PsyWorkerEventFilter) ([]PsyWorkerEvent, error) {
	var where []string
	var args []any
	add := func(cond string, v ...any) { where, args = append(where, cond), append(args, v...) }
	if f.RealmID != nil {
		add("w.realm_id = ?", *f.RealmID)
	}
	if f.Status != "" {
		add("w.status = ?", f.Status)
	}
	if f.PublicKey != "" {
		add("w.worker_public_key = ?", f.PublicKey)
	}
	if f.Topic != "" {
		add("w.topic = ?", f.Topic)
	}
	if f.CircuitType != "" {
		add("w.circuit_type = ?", f.CircuitType)
	}
	if len(f.CircuitPrefixes) > 0 {
		var or []string
		var likeArgs []any
		for _, p := range f.CircuitPrefixes {
			// Prefixes come from code, but escape them all the same.
			or = append(or, `w.circuit_type LIKE ? ESCAPE '\'`)
			likeArgs = append(likeArgs, likeEscape(p)+"%")
		}
		cond := "(" + strings.Join(or, " OR ") + ")"
		if f.ExcludePrefixes {
			cond = "NOT " + cond
		}
		add(cond, likeArgs...)
	}
	if f.FromCheckpoint != nil {
		add("j.checkpoint_id >= ?", *f.FromCheckpoint)
	}
	if f.ToCheckpoint != nil {
		add("j.checkpoint_id <= ?", *f.ToCheckpoint)
	}
	q := `SELECT ` + prefixed("w", workerEventColumns) + `, j.checkpoint_id AS psy_checkpoint_id
		FROM worker_events w LEFT JOIN psy_job_events j ON j.worker_event_id = w.id`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	order := "DESC"
	if f.Ascending {
		order = "ASC"
	}
	q += " ORDER BY w.id " + order + " LIMIT ? OFFSET ?"
	args = append(args, listLimit(f.Limit), max(f.Offset, 0))
	var rows []struct {
		workerEventRow
		PsyCheckpointID sql.NullInt64 `db:"psy_checkpoint_id"`
	}
	if err := selectContext(ctx, c.r, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("storage: list psy worker events: %w", err)
	}
	out := make([]PsyWorkerEvent, 0, len(rows))
	for _, r := range rows {
		out = append(out, PsyWorkerEvent{WorkerEvent: r.event(), PsyCheckpointID: nullInt(r.PsyCheckpointID)})
	}
	return out, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
