package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/queue"
)

// Outbox states. A message is written pending in the same transaction as
// the row that needs the task; the relay enqueues it and marks it enqueued;
// the task's handler finishes it done or failed. A reconciler requeues
// messages left enqueued too long (the task was lost), back to pending.
const (
	OutboxPending  = "pending"
	OutboxEnqueued = "enqueued"
	OutboxDone     = "done"
	OutboxFailed   = "failed"
)

// OutboxMessage is a task to enqueue, stored with the change that calls for
// it so that the task exists if and only if the change committed.
type OutboxMessage struct {
	// ID is also the task's asynq TaskID, so enqueueing twice is harmless.
	ID       string `json:"id"`
	TaskType string `json:"task_type"`
	Queue    string `json:"queue"`
	Payload  []byte `json:"payload"`
	State    string `json:"state"`
	// Attempts counts failed attempts to enqueue.
	Attempts   int        `json:"attempts"`
	LastError  string     `json:"last_error"`
	CreatedAt  time.Time  `json:"created_at"`
	EnqueuedAt *time.Time `json:"enqueued_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

type outboxRow struct {
	ID         string `db:"id"`
	TaskType   string `db:"task_type"`
	Queue      string `db:"queue"`
	Payload    []byte `db:"payload"`
	State      string `db:"state"`
	Attempts   int    `db:"attempts"`
	LastError  string `db:"last_error"`
	CreatedAt  dbTime `db:"created_at"`
	EnqueuedAt dbTime `db:"enqueued_at"`
	FinishedAt dbTime `db:"finished_at"`
}

func (r outboxRow) message() OutboxMessage {
	if r.Payload == nil {
		r.Payload = []byte{}
	}
	return OutboxMessage{
		ID:         r.ID,
		TaskType:   r.TaskType,
		Queue:      r.Queue,
		Payload:    r.Payload,
		State:      r.State,
		Attempts:   r.Attempts,
		LastError:  r.LastError,
		CreatedAt:  r.CreatedAt.Time,
		EnqueuedAt: r.EnqueuedAt.ptr(),
		FinishedAt: r.FinishedAt.ptr(),
	}
}

const outboxColumns = `id, task_type, queue, payload, state, attempts, last_error, created_at, enqueued_at, finished_at`

// Enqueue writes m as a pending outbox message whose id is m's TaskID. On
// a Tx it commits or rolls back with the row the task is about, so the task
// exists if and only if that row does; the relay then hands it to the
// queue. Enqueueing an id that exists changes nothing, so a handler that
// runs twice does not duplicate its follow-up tasks.
func (c *conn) Enqueue(ctx context.Context, m queue.Message) error {
	switch {
	case strings.TrimSpace(m.TaskID) == "":
		return proofgrid.Errorf(proofgrid.EINVALID, "outbox message id is empty")
	case strings.TrimSpace(m.Type) == "":
		return proofgrid.Errorf(proofgrid.EINVALID, "outbox message %q has no task type", m.TaskID)
	case strings.TrimSpace(m.Queue) == "":
		return proofgrid.Errorf(proofgrid.EINVALID, "outbox message %q has no queue", m.TaskID)
	}
	payload := m.Payload
	if payload == nil {
		payload = []byte{}
	}
	_, err := execContext(ctx, c.w,
		`INSERT INTO outbox (id, task_type, queue, payload, state, created_at)
		 VALUES (?, ?, ?, ?, ?, ?)
		 ON CONFLICT (id) DO NOTHING`,
		m.TaskID, m.Type, m.Queue, payload, OutboxPending, c.now())
	if err != nil {
		return fmt.Errorf("storage: enqueue %s: %w", m.TaskID, err)
	}
	return nil
}

// OutboxMessage returns message id, or ENOTFOUND.
func (c *conn) OutboxMessage(ctx context.Context, id string) (OutboxMessage, error) {
	var r outboxRow
	err := getContext(ctx, c.r, &r, `SELECT `+outboxColumns+` FROM outbox WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return OutboxMessage{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "outbox message %q not found", id)
	} else if err != nil {
		return OutboxMessage{}, fmt.Errorf("storage: outbox message: %w", err)
	}
	return r.message(), nil
}

// DefaultOutboxBatch is how many messages PendingOutbox and
// UnfinishedOutbox return when the caller sets no limit.
const DefaultOutboxBatch = 100

// PendingOutbox returns up to limit (DefaultOutboxBatch when limit <= 0)
// pending messages, oldest first: the relay's next batch.
func (c *conn) PendingOutbox(ctx context.Context, limit int) ([]OutboxMessage, error) {
	return c.listOutbox(ctx,
		`SELECT `+outboxColumns+` FROM outbox WHERE state = ?
		 ORDER BY created_at, id LIMIT ?`,
		OutboxPending, batchLimit(limit))
}

// UnfinishedOutbox returns up to limit (DefaultOutboxBatch when limit <= 0)
// messages enqueued before enqueuedBefore and not finished since, oldest
// enqueue first: the tasks a reconciler suspects were lost.
func (c *conn) UnfinishedOutbox(ctx context.Context, enqueuedBefore time.Time, limit int) ([]OutboxMessage, error) {
	return c.listOutbox(ctx,
		`SELECT `+outboxColumns+` FROM outbox WHERE state = ? AND enqueued_at < ?
		 ORDER BY enqueued_at, id LIMIT ?`,
		OutboxEnqueued, enqueuedBefore, batchLimit(limit))
}

func batchLimit(limit int) int {
	if limit <= 0 {
		return DefaultOutboxBatch
	}
	return limit
}

func (c *conn) listOutbox(ctx context.Context, query string, args ...any) ([]OutboxMessage, error) {
	var rows []outboxRow
	if err := selectContext(ctx, c.r, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("storage: list outbox: %w", err)
	}
	out := make([]OutboxMessage, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.message())
	}
	return out, nil
}

// MarkOutboxEnqueued records that message id was handed to the queue at at.
// Only a pending message changes: one that a fast task already finished
// stays finished. An unknown id is ENOTFOUND.
func (c *conn) MarkOutboxEnqueued(ctx context.Context, id string, at time.Time) error {
	res, err := execContext(ctx, c.w,
		`UPDATE outbox SET state = ?, enqueued_at = ? WHERE id = ? AND state = ?`,
		OutboxEnqueued, at, id, OutboxPending)
	if err != nil {
		return fmt.Errorf("storage: mark outbox enqueued: %w", err)
	}
	return c.expectOutbox(ctx, res, id)
}

// RecordOutboxError counts a failed attempt to enqueue message id and keeps
// msg as its last error. The message stays pending, so the relay tries
// again. An unknown id is ENOTFOUND.
func (c *conn) RecordOutboxError(ctx context.Context, id string, msg string) error {
	res, err := execContext(ctx, c.w,
		`UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?`,
		msg, id)
	if err != nil {
		return fmt.Errorf("storage: record outbox error: %w", err)
	}
	return c.expectOutbox(ctx, res, id)
}

// FinishOutbox records that the task of message id ended at at, with state
// OutboxDone or OutboxFailed. A message that is already finished keeps its
// first outcome, since a task delivered twice may end twice. An unknown id
// is ENOTFOUND.
func (c *conn) FinishOutbox(ctx context.Context, id string, state string, at time.Time) error {
	if state != OutboxDone && state != OutboxFailed {
		return proofgrid.Errorf(proofgrid.EINVALID, "outbox state %q is not %s or %s", state, OutboxDone, OutboxFailed)
	}
	res, err := execContext(ctx, c.w,
		`UPDATE outbox SET state = ?, finished_at = ? WHERE id = ? AND state IN (?, ?)`,
		state, at, id, OutboxPending, OutboxEnqueued)
	if err != nil {
		return fmt.Errorf("storage: finish outbox: %w", err)
	}
	return c.expectOutbox(ctx, res, id)
}

// RequeueOutbox puts message id back to pending so that the relay enqueues
// it again: a lost task, or a failed one to retry. A done message is
// ECONFLICT, which tells a reconciler that raced with the task's handler
// that there is nothing to do; an unknown id is ENOTFOUND.
func (c *conn) RequeueOutbox(ctx context.Context, id string) error {
	res, err := execContext(ctx, c.w,
		`UPDATE outbox SET state = ?, enqueued_at = NULL, finished_at = NULL
		 WHERE id = ? AND state <> ?`,
		OutboxPending, id, OutboxDone)
	if err != nil {
		return fmt.Errorf("storage: requeue outbox: %w", err)
	}
	n, err := rowsAffected(res)
	if err != nil || n > 0 {
		return err
	}
	ok, err := exists(ctx, c.r, `SELECT 1 FROM outbox WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("storage: requeue outbox: %w", err)
	} else if !ok {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "outbox message %q not found", id)
	}
	return proofgrid.Errorf(proofgrid.ECONFLICT, "outbox message %q is done", id)
}

// DeleteFinishedOutbox deletes messages that finished (done or failed)
// before before and returns how many it deleted.
func (c *conn) DeleteFinishedOutbox(ctx context.Context, before time.Time) (int64, error) {
	res, err := execContext(ctx, c.w,
		`DELETE FROM outbox WHERE state IN (?, ?) AND finished_at < ?`,
		OutboxDone, OutboxFailed, before)
	if err != nil {
		return 0, fmt.Errorf("storage: delete finished outbox: %w", err)
	}
	return rowsAffected(res)
}

// OutboxCounts returns how many messages are in each state; every state is
// present, with 0 when it has none.
func (c *conn) OutboxCounts(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		State string `db:"state"`
		N     int64  `db:"n"`
	}
	if err := selectContext(ctx, c.r, &rows, `SELECT state, COUNT(*) AS n FROM outbox GROUP BY state`); err != nil {
		return nil, fmt.Errorf("storage: outbox counts: %w", err)
	}
	counts := map[string]int64{OutboxPending: 0, OutboxEnqueued: 0, OutboxDone: 0, OutboxFailed: 0}
	for _, r := range rows {
		counts[r.State] = r.N
	}
	return counts, nil
}

// expectOutbox turns an update that matched no row into ENOTFOUND when the
// message does not exist, and into success when the update was a no-op.
func (c *conn) expectOutbox(ctx context.Context, res sql.Result, id string) error {
	n, err := rowsAffected(res)
	if err != nil || n > 0 {
		return err
	}
	ok, err := exists(ctx, c.r, `SELECT 1 FROM outbox WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("storage: outbox: %w", err)
	} else if !ok {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "outbox message %q not found", id)
	}
	return nil
}
