// Package outbox moves work from SQL to Redis without losing it.
//
// A row that needs a task is written in the same transaction as an outbox
// row (storage.Tx.Enqueue). The Relay enqueues pending rows with
// TaskID = outbox id, so enqueueing twice (two replicas, a crash between
// enqueue and marking) is a no-op: asynq answers ErrTaskIDConflict, which
// counts as success. The reconciler then follows each enqueued row until
// asynq reports it completed or archived, and puts rows whose task vanished
// from Redis (a Redis restart without AOF, a flushed database) back to
// pending, so SQL stays the source of truth.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/redis/go-redis/v9"
)

// Config configures a Relay. Zero values mean defaults.
type Config struct {
	// Poll is how often the relay looks for pending rows (default 1 s);
	// Notify wakes it at once.
	Poll time.Duration
	// Batch is how many rows one pass handles (default 100).
	Batch int
	// Grace is how long after enqueueing the reconciler leaves a row alone
	// (default 30 s), so it never races the relay.
	Grace  time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Relay enqueues outbox rows and reconciles them with Redis.
type Relay struct {
	db        *storage.DB
	rdb       redis.UniversalClient
	inspector *asynq.Inspector
	cfg       Config
	wake      chan struct{}
}

// New returns a Relay over the Redis connection rdb, which it shares and
// does not close.
func New(db *storage.DB, rdb redis.UniversalClient, cfg Config) *Relay {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Relay{db: db, rdb: rdb, inspector: asynq.NewInspectorFromRedisClient(rdb), cfg: cfg, wake: make(chan struct{}, 1)}
}

// Notify asks the relay to run a pass now (after a commit that wrote
// outbox rows). It never blocks.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Flush enqueues pending rows, oldest first, and returns how many it
// handed to Redis.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	// A fresh asynq client per pass: a client registers each queue name in
	// Redis only on its first enqueue, so a long-lived one would never
	// register it again after Redis lost its data, and the queue would
	// vanish from asynqmon and the inspector while its tasks still ran.
	client := asynq.NewClientFromRedisClient(r.rdb)
	total := 0
	for {
		msgs, err := r.db.PendingOutbox(ctx, r.cfg.Batch)
		if err != nil {
			return total, fmt.Errorf("list pending outbox: %w", err)
		}
		for _, m := range msgs {
			if err := r.enqueue(ctx, client, m); err != nil {
				// Leave it pending; the next pass tries again. Later
				// rows still go out.
				r.cfg.Logger.Warn("outbox enqueue failed", "outbox_id", m.ID, "task_type", m.TaskType, "error", err)
				_ = r.db.RecordOutboxError(ctx, m.ID, err.Error())
				if ctx.Err() != nil {
					return total, ctx.Err()
				}
				continue
			}
			total++
		}
		if len(msgs) < r.cfg.Batch {
			return total, nil
		}
	}
}

func (r *Relay) enqueue(ctx context.Context, client *asynq.Client, m storage.OutboxMessage) error {
	// The row holds the Message its producer built; the outbox id is the
	// TaskID.
	msg := queue.Message{Type: m.TaskType, Queue: m.Queue, TaskID: m.ID, Payload: m.Payload}
	opts, err := msg.Options()
	if err != nil {
		// A row naming an unknown type can never be enqueued.
		return errors.Join(err, r.db.FinishOutbox(ctx, m.ID, storage.OutboxFailed, r.cfg.Now()))
	}
	_, err = client.EnqueueContext(ctx, msg.Task(), opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return err
	}
	// Idle agents of the queue take the task now rather than at their
	// next look (queue.WakeHook); a lost announcement only delays it. The
	// coordinator's own queues have no listener.
	if _, own := queue.CoordinatorQueues[msg.Queue]; err == nil && !own {
		if err := queue.Wake(ctx, r.rdb, msg.Queue); err != nil {
			r.cfg.Logger.Debug("wake-up not sent", "queue", msg.Queue, "error", err)
		}
	}
	return r.db.MarkOutboxEnqueued(ctx, m.ID, r.cfg.Now())
}

// ReconcileStats counts what one reconciliation did.
type ReconcileStats struct {
	Checked, Done, Failed, Requeued int
}

// Reconcile looks up every row enqueued more than Grace ago and not yet
// finished: completed tasks mark it done, archived ones failed, and tasks
// Redis no longer knows go back to pending.
func (r *Relay) Reconcile(ctx context.Context) (ReconcileStats, error) {
	var st ReconcileStats
	msgs, err := r.db.UnfinishedOutbox(ctx, r.cfg.Now().Add(-r.cfg.Grace), 1000)
	if err != nil {
		return st, fmt.Errorf("list unfinished outbox: %w", err)
	}
	for _, m := range msgs {
		st.Checked++
		info, err := r.inspector.GetTaskInfo(m.Queue, m.ID)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound):
			r.cfg.Logger.Warn("outbox task missing from Redis; enqueueing it again", "outbox_id", m.ID, "queue", m.Queue)
			if err := r.db.RequeueOutbox(ctx, m.ID); err != nil {
				return st, err
			}
			st.Requeued++
		case err != nil:
			return st, fmt.Errorf("inspect task %s: %w", m.ID, err)
		case info.State == asynq.TaskStateCompleted:
			if err := r.db.FinishOutbox(ctx, m.ID, storage.OutboxDone, r.cfg.Now()); err != nil {
				return st, err
			}
			st.Done++
		case info.State == asynq.TaskStateArchived:
			if err := r.db.FinishOutbox(ctx, m.ID, storage.OutboxFailed, r.cfg.Now()); err != nil {
				return st, err
			}
			st.Failed++
		}
	}
	if st.Requeued > 0 {
		r.Notify()
	}
	return st, nil
}

// Run flushes on every poll tick and Notify until ctx is done.
func (r *Relay) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := r.Flush(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("outbox flush failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}
