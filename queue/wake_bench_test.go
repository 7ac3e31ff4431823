package queue_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/queue/queuetest"
)

// commandsProcessed reads Redis's total_commands_processed.
func commandsProcessed(b *testing.B, rdb *redis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "stats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no total_commands_processed in INFO stats")
	return 0
}

// BenchmarkIdleAgentRedisCost counts the Redis commands per second one
// idle agent's asynq server costs (everything it sends: dequeues, its
// heartbeater, recoverer, forwarder, janitor, health check), on a Redis of
// its own, over PROOFGRID_BENCH_IDLE_WINDOW (default 10s):
//
//   - poll_1s: asynq's default, a dequeue every TaskCheckInterval = 1 s
//     (dispatch waits 0.5 to 1.5 s);
//   - poll_40ms: the interval that polling would need for a median wait
//     near 40 ms;
//   - wake_1s: the agent's setting, a queue.WakeHook waiting up to 1 s for
//     a wake-up, TaskCheckInterval 20 ms.
//
// Each also reports how many such idle agents one Redis serves at half
// its capacity, the capacity being the rate of asynq dequeues of an empty
// queue that 32 concurrent clients get from the same Redis in the same
// run (the most expensive of the commands an idle agent sends).
//
//	scripts/testenv.sh go test -run '^$' -bench IdleAgentRedisCost -benchtime 1x ./queue/
func BenchmarkIdleAgentRedisCost(b *testing.B) {
	window := 10 * time.Second
	if s := os.Getenv("PROOFGRID_BENCH_IDLE_WINDOW"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		window = d
	}
	capacity := dequeueCapacity(b)
	for _, tc := range []struct {
		name    string
		check   time.Duration
		wakeFor time.Duration // 0: no hook
	}{
		{"poll_1s", time.Second, 0},
		{"poll_40ms", 40 * time.Millisecond, 0},
		{"wake_1s", 20 * time.Millisecond, time.Second},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := queuetest.StartRedis(b, queuetest.Options{})
			admin := r.Client()
			rdb := r.Client()
			const q = "prove.cluster-idle"
			if tc.wakeFor > 0 {
				hook := queue.NewWakeHook([]string{q}, tc.wakeFor)
				rdb.AddHook(hook)
				ctx, cancel := context.WithCancel(context.Background())
				go hook.Listen(ctx, rdb)
				defer cancel()
				defer hook.Close()
			}
			srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
				Queues: map[string]int{q: 1}, TaskCheckInterval: tc.check, Concurrency: 1, Logger: quietAsynq{},
			})
			if err := srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })); err != nil {
				b.Fatal(err)
			}
			defer srv.Shutdown()
			time.Sleep(2 * time.Second) // start-up registrations
			b.ResetTimer()
			for range b.N {
				before := commandsProcessed(b, admin)
				time.Sleep(window)
				after := commandsProcessed(b, admin)
				perSec := float64(after-before-1) / window.Seconds() // less our own INFO
				b.ReportMetric(perSec, "redis_cmds/s")
				b.ReportMetric(capacity, "redis_dequeues/s")
				b.ReportMetric(capacity/2/perSec, "idle_agents_at_half_redis")
			}
		})
	}
}

// dequeueCapacity returns how many dequeues of an empty asynq queue per
// second 32 concurrent clients get from a fresh Redis in 3 s.
func dequeueCapacity(b *testing.B) float64 {
	b.Helper()
	r := queuetest.StartRedis(b, queuetest.Options{})
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), PoolSize: 32})
	defer rdb.Close()
	// The same script and keys as asynq's dequeue.
	script := redis.NewScript(`
if redis.call("EXISTS", KEYS[2]) == 0 then
	local id = redis.call("RPOPLPUSH", KEYS[1], KEYS[3])
	if id then
		return id
	end
end
return nil`)
	keys := []string{"asynq:{q}:pending", "asynq:{q}:paused", "asynq:{q}:active", "asynq:{q}:lease"}
	var mu sync.Mutex
	total := 0
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for time.Now().Before(deadline) {
				if err := script.Run(context.Background(), rdb, keys, 0, "asynq:{q}:t:").Err(); err != nil && err != redis.Nil {
					b.Error(err)
					return
				}
				n++
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(total) / 3
}
