package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Periodic is one task type the scheduler enqueues every Every.
type Periodic struct {
	Type  string
	Every time.Duration
}

// SchedulerConfig configures a Scheduler. Zero values mean defaults.
type SchedulerConfig struct {
	Entries []Periodic
	// Tick is how often the scheduler looks at the clock (default 1s).
	Tick   time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Scheduler enqueues periodic tasks once per time window across any number
// of coordinator replicas.
//
// asynq's own Scheduler enqueues on every replica that runs it. Here each
// run's TaskID names its window (type + window start), so when N replicas
// enqueue the same window, Redis keeps the first and the others get
// ErrTaskIDConflict, which counts as done. Retention keeps the ID taken
// until the window has passed even if the task finished at once.
type Scheduler struct {
	rdb     redis.UniversalClient
	entries []Periodic
	tick    time.Duration
	now     func() time.Time
	logger  *slog.Logger
	last    map[string]int64 // type -> last window handled by this replica
}

// NewScheduler returns a Scheduler that enqueues through the Redis
// connection rdb, which it shares and does not close.
func NewScheduler(rdb redis.UniversalClient, cfg SchedulerConfig) (*Scheduler, error) {
	s := &Scheduler{rdb: rdb, tick: cfg.Tick, now: cfg.Now, logger: cfg.Logger, last: map[string]int64{}}
	if s.tick <= 0 {
		s.tick = time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	for _, e := range cfg.Entries {
		if e.Every < time.Second || e.Every%time.Second != 0 {
			return nil, fmt.Errorf("queue: periodic %s: interval %v must be a whole number of seconds", e.Type, e.Every)
		}
		if _, ok := Lookup(e.Type); !ok {
			return nil, fmt.Errorf("queue: periodic %s: not in the task catalogue", e.Type)
		}
		s.entries = append(s.entries, e)
	}
	return s, nil
}

// Window returns the start of the window of length every that holds t,
// aligned to the Unix epoch so every replica computes the same windows.
func Window(t time.Time, every time.Duration) time.Time {
	secs := int64(every / time.Second)
	u := t.Unix()
	return time.Unix(u-u%secs, 0).UTC()
}

// Tick enqueues every entry whose current window this replica has not yet
// handled. It returns how many tasks this call added to Redis (windows
// already enqueued by another replica do not count).
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	now := s.now()
	// A fresh asynq client per tick: a client registers a queue name in
	// Redis only on its first enqueue, so a long-lived one would never
	// register it again after Redis lost its data, and the queue would be
	// missing from asynqmon while its tasks still ran.
	client := asynq.NewClientFromRedisClient(s.rdb)
	added := 0
	var errs []error
	for _, e := range s.entries {
		w := Window(now, e.Every)
		if s.last[e.Type] == w.Unix() {
			continue
		}
		msg := e.Run(w)
		opts, err := msg.Options()
		if err != nil {
			return added, err
		}
		// Keep the ID taken for the rest of the window, whatever happens
		// to the task. Runs that could not start in time are dropped by
		// DropPassedWindows, not by an asynq deadline: asynq fails a task
		// past its deadline without calling its handler, and archives it
		// once its retries are spent.
		opts = append(opts, asynq.Retention(e.Every+time.Minute))
		_, err = client.EnqueueContext(ctx, msg.Task(), opts...)
		switch {
		case err == nil:
			added++
		case errors.Is(err, asynq.ErrTaskIDConflict):
			// Another replica enqueued this window first.
		default:
			errs = append(errs, fmt.Errorf("enqueue %s: %w", e.Type, err))
			continue // try again next tick
		}
		s.last[e.Type] = w.Unix()
	}
	return added, errors.Join(errs...)
}

// Run ticks until ctx is done.
func (s *Scheduler) Run(ctx context.Context) error {
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("scheduler tick failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
