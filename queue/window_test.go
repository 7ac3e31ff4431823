package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/proofgrid/proofgrid/internal/logtest"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/queue/queuetest"
)

// Periodic runs that keep failing once their window is over end without
// reaching asynq's archived state when a later window's run covers them,
// and are retried as before when it does not (pool:window_rewards).
func TestPassedWindowRunsAreNotArchived(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	start := time.Unix(1_800_000_000, 0) // a multiple of every window below
	var clock atomic.Int64
	clock.Store(start.Unix())
	now := func() time.Time { return time.Unix(clock.Load(), 0) }

	var logs logtest.Buffer
	failures := queue.NewFailures(slog.New(slog.NewJSONHandler(&logs, nil)))
	srv := asynq.NewServer(r.ConnOpt(), asynq.Config{
		Queues:         map[string]int{queue.QueueMaintenance: 1},
		Concurrency:    4,
		ErrorHandler:   failures,
		RetryDelayFunc: queue.RetryDelay,
		LogLevel:       asynq.FatalLevel,
	})
	var mu sync.Mutex
	runs := map[string]int{}
	mux := asynq.NewServeMux()
	mux.Use(queue.DropPassedWindows(now), queue.Classified)
	fail := func(ctx context.Context, _ *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		mu.Lock()
		runs[id]++
		mu.Unlock()
		return errors.New("database is down")
	}
	mux.HandleFunc(queue.TypeMetricsRetention, fail)  // MaxRetry 3: retried in its window
	mux.HandleFunc(queue.TypeHeartbeatSweep, fail)    // MaxRetry 1
	mux.HandleFunc(queue.TypeTPSBroadcast, fail)      // MaxRetry 0: its first failure is its last
	mux.HandleFunc(queue.TypePoolWindowRewards, fail) // not superseded
	mux.HandleFunc(queue.TypeOutboxReconcile, func(ctx context.Context, _ *asynq.Task) error {
		<-ctx.Done() // overruns its timeout
		return ctx.Err()
	})
	sched, err := queue.NewScheduler(r.Client(), queue.SchedulerConfig{Now: now, Entries: []queue.Periodic{
		{Type: queue.TypeMetricsRetention, Every: time.Hour},
		{Type: queue.TypeHeartbeatSweep, Every: 10 * time.Second},
		{Type: queue.TypeTPSBroadcast, Every: time.Hour},
		{Type: queue.TypePoolWindowRewards, Every: 10 * time.Second},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// The heartbeat sweep's and the Pool's windows are over by the time
	// the worker runs them; the others are in their window.
	if n, err := sched.Tick(context.Background()); err != nil || n != 4 {
		t.Fatalf("tick: %d %v", n, err)
	}
	clock.Store(start.Unix() + 15)
	c := asynq.NewClient(r.ConnOpt())
	defer c.Close()
	// A run past its window that overruns its timeout, and one too stale
	// to start.
	overrun := queue.Periodic{Type: queue.TypeOutboxReconcile, Every: 10 * time.Second}.Run(start)
	stale := queue.Periodic{Type: queue.TypeHeartbeatSweep, Every: 5 * time.Second}.Run(start.Add(-5 * time.Second))
	for _, m := range []queue.Message{overrun, stale} {
		opts, _ := m.Options()
		if _, err := c.Enqueue(m.Task(), append(opts, asynq.Timeout(2*time.Second))...); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	deadline := time.Now().Add(20 * time.Second)
	for len(logs.Records(t)) < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("log lines %v, want 6", logs.Records(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
	ins := asynq.NewInspector(r.ConnOpt())
	defer ins.Close()
	archived, err := ins.ListArchivedTasks(queue.QueueMaintenance)
	if err != nil {
		t.Fatal(err)
	}
	if len(archived) != 0 {
		t.Fatalf("archived %v, want none", archived)
	}
	state := func(id string) string {
		info, err := ins.GetTaskInfo(queue.QueueMaintenance, id)
		if errors.Is(err, asynq.ErrTaskNotFound) {
			return "gone"
		} else if err != nil {
			t.Fatal(err)
		}
		return info.State.String()
	}
	for _, tc := range []struct {
		id, state, msg string
	}{
		{queue.WindowID(queue.TypeMetricsRetention, start), "retry", "task failed; it will be retried"},
		{queue.WindowID(queue.TypeHeartbeatSweep, start), "gone", "task failed; dropped, a later window's run covers it"},
		{queue.WindowID(queue.TypeTPSBroadcast, start), "gone", "task failed; dropped, a later window's run covers it"},
		{queue.WindowID(queue.TypePoolWindowRewards, start), "retry", "task failed; it will be retried"},
		{overrun.TaskID, "gone", "task failed; dropped, a later window's run covers it"},
		{stale.TaskID, "gone", "task failed; dropped, a later window's run covers it"},
	} {
		if got := state(tc.id); got != tc.state {
			t.Errorf("%s is %s, want %s", tc.id, got, tc.state)
		}
		var line map[string]any
		for _, l := range logs.Records(t) {
			if l["task_id"] == tc.id {
				line = l
			}
		}
		if line["msg"] != tc.msg {
			t.Errorf("%s logged %v, want %q", tc.id, line, tc.msg)
		}
	}
	mu.Lock()
	if runs[stale.TaskID] != 0 {
		t.Errorf("the stale run ran %d times", runs[stale.TaskID])
	}
	mu.Unlock()
	expected := `
# HELP proofgrid_task_failures_total Failed task attempts by task type, the retried ones included.
# TYPE proofgrid_task_failures_total counter
proofgrid_task_failures_total{type="maintenance:heartbeat_sweep"} 2
proofgrid_task_failures_total{type="maintenance:metrics_retention"} 1
proofgrid_task_failures_total{type="maintenance:outbox_reconcile"} 1
proofgrid_task_failures_total{type="maintenance:tps_broadcast"} 1
proofgrid_task_failures_total{type="pool:window_rewards"} 1
`
	if err := testutil.CollectAndCompare(failures, strings.NewReader(expected)); err != nil {
		t.Error(err)
	}
}
