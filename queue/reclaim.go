package queue

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Reclaiming the tasks of dead workers.
//
// asynq gives a task back only when its lease has run out for 30 s and a
// server of the same queue runs its recoverer, once a minute: a block held
// by an agent killed mid-proof waited two minutes. Every asynq server also
// keeps an entry in asynq's server registry, rewritten every 5 s with the
// tasks its workers hold and gone 10 s after the last write. A task that
// sits in a queue's active list while no live server holds it belongs to
// a dead server. Reading the registry costs a round trip per server, so a
// pass reads it only when some task's lease has gone unextended for 10 s
// (one pipelined look at every queue's lease set); the Reclaimer then puts
// it back at the head of its pending
// list, as asynq itself does with the tasks of a server that shuts down
// (rdb.Requeue), and announces it (Wake). The retry count is untouched:
// the worker died, not the job. A live server's heartbeat extends its
// leases and rewrites its registry entry together, so a suspect that the
// registry still lacks is dead; two passes at least Confirm apart must
// agree all the same.

// leaseSuspect is the lease left below which a task is looked up in the
// server registry: ten seconds without an extension (asynq's
// rdb.LeaseDuration is 30 s, extended every 5 s).
const leaseSuspect = 20 * time.Second

// ReclaimerConfig configures a Reclaimer.
type ReclaimerConfig struct {
	// Interval between passes; default 2 s.
	Interval time.Duration
	// Confirm is how long a task must have been seen orphaned before it
	// is put back; default 4 s (two passes): a suspect has already gone
	// 10 s without a lease extension, and putting back a live worker's
	// task would run the job twice.
	Confirm time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
}

// Reclaimer puts the tasks of dead asynq servers back in their queues.
// Several may run at once (one per coordinator): putting a task back is
// one script that succeeds only for the first.
type Reclaimer struct {
	rdb       redis.UniversalClient
	inspector *asynq.Inspector
	cfg       ReclaimerConfig
	orphans   map[taskRef]time.Time // first seen orphaned
}

type taskRef struct{ queue, id string }

// NewReclaimer returns a Reclaimer over rdb, which it shares and does not
// close.
func NewReclaimer(rdb redis.UniversalClient, cfg ReclaimerConfig) *Reclaimer {
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.Confirm <= 0 {
		cfg.Confirm = 4 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Reclaimer{rdb: rdb, inspector: asynq.NewInspectorFromRedisClient(rdb), cfg: cfg, orphans: map[taskRef]time.Time{}}
}

// Run makes a pass every Interval until ctx ends.
func (r *Reclaimer) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("reclaiming orphaned tasks failed", "error", err)
		}
	}
}

// requeue is asynq's own requeue script (internal/rdb requeueCmd, used
// when a server shuts down with tasks running), which also clears the
// lease, so the recoverer never sees the task.
//
// KEYS[1] asynq:{q}:active, KEYS[2] asynq:{q}:lease, KEYS[3]
// asynq:{q}:pending, KEYS[4] asynq:{q}:t:<id>; ARGV[1] the task id.
var requeue = redis.NewScript(`
if redis.call("LREM", KEYS[1], 0, ARGV[1]) == 0 then
  return 0
end
redis.call("ZREM", KEYS[2], ARGV[1])
redis.call("RPUSH", KEYS[3], ARGV[1])
redis.call("HSET", KEYS[4], "state", "pending")
return 1`)

// Pass looks for orphaned tasks once and puts back those confirmed; it
// returns how many it put back.
func (r *Reclaimer) Pass(ctx context.Context) (int, error) {
	queues, err := r.inspector.Queues()
	if err != nil {
		return 0, err
	}
	// First the cheap look, one round trip for every queue: a live
	// server's heartbeat pushes its tasks' leases LeaseDuration (30 s)
	// ahead every 5 s, so only a task whose lease has less than
	// leaseSuspect left can belong to a dead server. The scores come from
	// the workers' clocks, so a skewed clock only makes a suspect; the
	// server registry (expired by Redis itself) decides.
	suspectBefore := strconv.FormatInt(r.cfg.Now().Add(leaseSuspect).Unix(), 10)
	pipe := r.rdb.Pipeline()
	lists := make([]*redis.StringSliceCmd, len(queues))
	for i, q := range queues {
		lists[i] = pipe.ZRangeByScore(ctx, "asynq:{"+q+"}:lease", &redis.ZRangeBy{Min: "-inf", Max: suspectBefore})
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return 0, err
	}
	suspects := 0
	for _, l := range lists {
		suspects += len(l.Val())
	}
	if suspects == 0 {
		clear(r.orphans)
		return 0, nil
	}
	// Reading the registry costs a round trip per server: only now.
	servers, err := r.inspector.Servers()
	if err != nil {
		return 0, err
	}
	held := map[taskRef]bool{}
	for _, s := range servers {
		for _, w := range s.ActiveWorkers {
			held[taskRef{w.Queue, w.TaskID}] = true
		}
	}
	now := r.cfg.Now()
	seen := map[taskRef]bool{}
	put := 0
	for i, q := range queues {
		for _, id := range lists[i].Val() {
			ref := taskRef{q, id}
			if held[ref] {
				continue
			}
			seen[ref] = true
			first, ok := r.orphans[ref]
			if !ok {
				r.orphans[ref] = now
				continue
			}
			if now.Sub(first) < r.cfg.Confirm {
				continue
			}
			prefix := "asynq:{" + q + "}:"
			n, err := requeue.Run(ctx, r.rdb, []string{prefix + "active", prefix + "lease", prefix + "pending", prefix + "t:" + id}, id).Int()
			if err != nil {
				return put, err
			}
			delete(r.orphans, ref)
			if n == 1 {
				put++
				r.cfg.Logger.Warn("put back a task whose worker is gone", "queue", q, "task_id", id, "orphaned_for", now.Sub(first).Round(time.Second).String())
				_ = Wake(ctx, r.rdb, q)
			}
		}
	}
	for ref := range r.orphans {
		if !seen[ref] {
			delete(r.orphans, ref)
		}
	}
	return put, nil
}
