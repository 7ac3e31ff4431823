package queue_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/queue/queuetest"
)

// Two replicas ticking over the same windows enqueue each window once.
func TestTwoSchedulersEnqueueEachWindowOnce(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	now := time.Unix(1_800_000_000, 0) // a multiple of 10 s and of 30 s
	clock := func() time.Time { return now }
	entries := []queue.Periodic{{Type: queue.TypeHeartbeatSweep, Every: 10 * time.Second}, {Type: queue.TypeOutboxReconcile, Every: 30 * time.Second}}

	var scheds []*queue.Scheduler
	for i := 0; i < 2; i++ {
		s, err := queue.NewScheduler(r.Client(), queue.SchedulerConfig{Entries: entries, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		scheds = append(scheds, s)
	}
	total := 0
	// 65 s of ticks, one second apart, both replicas each second.
	for step := 0; step < 65; step++ {
		for _, s := range scheds {
			n, err := s.Tick(context.Background())
			if err != nil {
				t.Fatalf("tick at %v: %v", now, err)
			}
			total += n
		}
		now = now.Add(time.Second)
	}
	// Windows touched: heartbeat sweep 0,10,...,60 s = 7; reconcile 0,30,60 s = 3.
	if total != 10 {
		t.Fatalf("enqueued %d tasks, want 10", total)
	}
	ins := asynq.NewInspector(r.ConnOpt())
	defer ins.Close()
	tasks, err := ins.ListPendingTasks(queue.QueueMaintenance, asynq.PageSize(100))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ti := range tasks {
		ids = append(ids, ti.ID)
	}
	sort.Strings(ids)
	want := []string{
		"maintenance:heartbeat_sweep:1800000000", "maintenance:heartbeat_sweep:1800000010", "maintenance:heartbeat_sweep:1800000020",
		"maintenance:heartbeat_sweep:1800000030", "maintenance:heartbeat_sweep:1800000040", "maintenance:heartbeat_sweep:1800000050",
		"maintenance:heartbeat_sweep:1800000060",
		"maintenance:outbox_reconcile:1800000000", "maintenance:outbox_reconcile:1800000030", "maintenance:outbox_reconcile:1800000060",
	}
	if len(ids) != len(want) {
		t.Fatalf("pending ids %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("pending ids %v, want %v", ids, want)
		}
	}
}

// A window whose task already ran (and was kept by Retention) is not run
// again by a replica that starts late in the same window.
func TestLateReplicaDoesNotRerunFinishedWindow(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	now := time.Unix(1_800_000_003, 0)
	entries := []queue.Periodic{{Type: queue.TypeMetricsRetention, Every: time.Minute}}
	ran := make(chan string, 10)
	srv := asynq.NewServer(r.ConnOpt(), asynq.Config{Queues: map[string]int{queue.QueueMaintenance: 1}, LogLevel: asynq.ErrorLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(queue.TypeMetricsRetention, func(ctx context.Context, t *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		ran <- id
		return nil
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	first, _ := queue.NewScheduler(r.Client(), queue.SchedulerConfig{Entries: entries, Now: func() time.Time { return now }})
	if n, err := first.Tick(context.Background()); err != nil || n != 1 {
		t.Fatalf("first replica: n=%d err=%v", n, err)
	}
	select {
	case id := <-ran:
		if id != "maintenance:metrics_retention:1800000000" {
			t.Fatalf("ran %q", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("task did not run")
	}
	now = now.Add(30 * time.Second)
	late, _ := queue.NewScheduler(r.Client(), queue.SchedulerConfig{Entries: entries, Now: func() time.Time { return now }})
	if n, err := late.Tick(context.Background()); err != nil || n != 0 {
		t.Fatalf("late replica re-enqueued a finished window: n=%d err=%v", n, err)
	}
}

func TestOptionsAndLookup(t *testing.T) {
	if _, err := queue.Options(queue.TypeProveBlock, "x", ""); err == nil {
		t.Fatal("prove:block without a queue accepted")
	}
	if _, err := queue.Options("nope:nope", "", ""); err == nil {
		t.Fatal("unknown type accepted")
	}
	k, ok := queue.Lookup("avs:restart")
	if !ok || k.Type != "avs:restart" || k.MaxRetry != 3 {
		t.Fatalf("avs lookup: %+v %v", k, ok)
	}
	if got := queue.ProveBlockID(42, 7); got != "prove:block:42:7" {
		t.Fatalf("ProveBlockID = %q", got)
	}
	if got := queue.Window(time.Unix(1_800_000_017, 0), 12*time.Second).Unix(); got != 1_800_000_012 {
		t.Fatalf("Window = %d", got)
	}
	_, err := queue.Decode[queue.ProofVerifyPayload](asynq.NewTask(queue.TypeProofVerify, []byte("{")))
	if err == nil || !isSkipRetry(err) {
		t.Fatalf("bad payload error %v does not skip retries", err)
	}
	m := queue.WindowRun(queue.TypeRewardSweep, time.Unix(1_800_000_060, 0))
	w, err := queue.Decode[queue.WindowPayload](m.Task())
	if err != nil || w.Window != 1_800_000_060 || m.TaskID != "maintenance:reward_sweep:1800000060" || m.Queue != queue.QueueMaintenance {
		t.Fatalf("WindowRun = %+v (payload %+v, %v)", m, w, err)
	}
}

// After Redis lost its data the scheduler's next run registers its queue
// again, so asynqmon and the inspector see it.
func TestSchedulerQueueVisibleAfterRedisDataLoss(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	now := time.Unix(1_800_000_000, 0)
	s, err := queue.NewScheduler(r.Client(), queue.SchedulerConfig{
		Entries: []queue.Periodic{{Type: queue.TypeHeartbeatSweep, Every: 10 * time.Second}},
		Now:     func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Tick(context.Background())
	r.Kill()
	r.Start()
	now = now.Add(10 * time.Second)
	if n, err := s.Tick(context.Background()); err != nil || n != 1 {
		t.Fatalf("tick after data loss: n=%d err=%v", n, err)
	}
	ins := asynq.NewInspector(r.ConnOpt())
	defer ins.Close()
	qs, err := ins.Queues()
	if err != nil || len(qs) != 1 || qs[0] != queue.QueueMaintenance {
		t.Fatalf("queues after data loss: %v %v; want [maintenance]", qs, err)
	}
}
