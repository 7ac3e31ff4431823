package queue

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Waking idle consumers.
//
// An asynq server whose queues are empty sleeps TaskCheckInterval (with
// jitter, half to one and a half times it) before it looks again, so a task
// enqueued on an idle agent's queue waited on average a second. Polling
// faster costs every idle agent that many more Redis calls. Instead the
// producer publishes on the queue's wake channel after each enqueue, and
// the consumer's Redis client carries a WakeHook: when asynq's dequeue
// finds every queue empty, the hook holds the call until a wake-up arrives
// (or MaxWait passes) and then looks once more, so the task is taken
// within a Redis round trip of being enqueued, and an idle agent costs one
// dequeue per MaxWait. Nothing depends on the wake-up arriving: a missed
// one (a reconnecting subscriber, a task moved by asynq's forwarder from
// retry or scheduled) is found by the next look, at most MaxWait later, as
// before.

// WakeChannel is the Redis channel that announces tasks on queue q.
func WakeChannel(q string) string { return "proofgrid:wake:" + q }

// Wake announces new tasks on the queues. It is best effort: an error only
// means consumers find the tasks at their next look.
func Wake(ctx context.Context, rdb redis.UniversalClient, queues ...string) error {
	var errs []error
	for _, q := range queues {
		errs = append(errs, rdb.Publish(ctx, WakeChannel(q), "1").Err())
	}
	return errors.Join(errs...)
}

// WakeHook is a go-redis hook for the Redis client of an asynq server that
// consumes Queues. Install it with redis.Client.AddHook before creating the
// server with asynq.NewServerFromRedisClient, run Listen, and Close it
// before shutting the server down.
type WakeHook struct {
	queues  map[string]bool
	maxWait time.Duration
	wake    chan struct{}
	stop    chan struct{}
	once    sync.Once

	hold func() bool // when it reports true, no task is taken

	mu    sync.Mutex
	empty map[string]bool // queues found empty since a task was last taken
	sub   *redis.PubSub   // the wake subscription while Listen runs
}

// HoldWhile makes dequeues answer "empty" without asking Redis while f
// reports true (e.g. while the agent cannot reach its coordinator, so that
// it takes no task it could not report on); Notify ends a hold's wait
// early. Call it before the server starts.
func (h *WakeHook) HoldWhile(f func() bool) { h.hold = f }

// NewWakeHook returns a hook for a server consuming queues that waits at
// most maxWait for a wake-up when they are all empty.
func NewWakeHook(queues []string, maxWait time.Duration) *WakeHook {
	h := &WakeHook{queues: map[string]bool{}, maxWait: maxWait, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), empty: map[string]bool{}}
	for _, q := range queues {
		h.queues[q] = true
	}
	return h
}

// Listen subscribes to the queues' wake channels on rdb (which needs no
// hook of its own) and delivers wake-ups until ctx ends or the hook is
// closed. go-redis resubscribes by itself after a lost connection.
//
// go-redis's own check of an idle subscription (a PING every 3 s by
// default) is off: each PING, and the expiry of the socket deadline it
// left armed, woke an idle agent on its own. The owner calls Ping instead,
// when it is awake for other work anyway; a wake-up lost meanwhile only
// waits for the owner's next look at its queues.
func (h *WakeHook) Listen(ctx context.Context, rdb redis.UniversalClient) {
	channels := make([]string, 0, len(h.queues))
	for q := range h.queues {
		channels = append(channels, WakeChannel(q))
	}
	sub := rdb.Subscribe(ctx, channels...)
	h.mu.Lock()
	h.sub = sub
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.sub = nil
		h.mu.Unlock()
		sub.Close()
	}()
	ch := sub.Channel(redis.WithChannelHealthCheckInterval(0))
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.stop:
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			h.Notify()
		}
	}
}

// Ping writes a PING on the wake subscription's connection; go-redis
// reconnects and subscribes again when that fails. It is a no-op while
// Listen does not run.
func (h *WakeHook) Ping(ctx context.Context) error {
	h.mu.Lock()
	sub := h.sub
	h.mu.Unlock()
	if sub == nil {
		return nil
	}
	return sub.Ping(ctx)
}

// Notify wakes a waiting dequeue, or the next one to wait. It never blocks.
func (h *WakeHook) Notify() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Woken delivers the wake-ups no dequeue is waiting for: a parked server
// (one stopped while idle) waits here to start again.
func (h *WakeHook) Woken() <-chan struct{} { return h.wake }

// Close stops waiting: dequeues return at once from then on, so the server
// can shut down without waiting for MaxWait.
func (h *WakeHook) Close() { h.once.Do(func() { close(h.stop) }) }

// DialHook implements redis.Hook.
func (h *WakeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessPipelineHook implements redis.Hook.
func (h *WakeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// ProcessHook implements redis.Hook: it recognises asynq's dequeue of one
// of the queues and, once all of them answered "empty", waits for a
// wake-up and looks again.
func (h *WakeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		q, ok := dequeuedQueue(cmd)
		if !ok || !h.queues[q] {
			return next(ctx, cmd)
		}
		if h.hold != nil && h.hold() {
			h.wait(ctx)
			cmd.SetErr(redis.Nil)
			return redis.Nil
		}
		err := next(ctx, cmd)
		if err != redis.Nil {
			h.mu.Lock()
			clear(h.empty)
			h.mu.Unlock()
			return err
		}
		if !h.allEmpty(q) {
			return err
		}
		timer := time.NewTimer(h.maxWait)
		defer timer.Stop()
		select {
		case <-h.wake:
			// Look once more; asynq goes on to its other queues (or
			// sleeps its short TaskCheckInterval) when this one is still
			// empty.
			return next(ctx, cmd)
		case <-timer.C:
			// asynq looks again after its short sleep.
		case <-h.stop:
		case <-ctx.Done():
		}
		return err
	}
}

// wait waits for a wake-up, MaxWait, Close or the end of ctx.
func (h *WakeHook) wait(ctx context.Context) {
	timer := time.NewTimer(h.maxWait)
	defer timer.Stop()
	select {
	case <-h.wake:
	case <-timer.C:
	case <-h.stop:
	case <-ctx.Done():
	}
}

// allEmpty records that q was found empty and reports whether every queue
// has been since the last task, starting a new round when so.
func (h *WakeHook) allEmpty(q string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.empty[q] = true
	if len(h.empty) < len(h.queues) {
		return false
	}
	clear(h.empty)
	return true
}

// dequeuedQueue returns the queue of asynq's dequeue script call: EVALSHA
// (or EVAL) with four keys, asynq:{q}:pending, asynq:{q}:paused,
// asynq:{q}:active and asynq:{q}:lease (asynq v0.26, internal/rdb.Dequeue).
func dequeuedQueue(cmd redis.Cmder) (string, bool) {
	args := cmd.Args()
	if len(args) < 7 {
		return "", false
	}
	name, _ := args[0].(string)
	if !strings.EqualFold(name, "evalsha") && !strings.EqualFold(name, "eval") {
		return "", false
	}
	if n, _ := args[2].(int); n != 4 {
		return "", false
	}
	pending, _ := args[3].(string)
	paused, _ := args[4].(string)
	q, ok := strings.CutPrefix(pending, "asynq:{")
	if !ok {
		return "", false
	}
	q, ok = strings.CutSuffix(q, "}:pending")
	if !ok || paused != "asynq:{"+q+"}:paused" {
		return "", false
	}
	return q, true
}
