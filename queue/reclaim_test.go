package queue_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/queue/queuetest"
)

// A child process of TestReclaimerPutsBackDeadServersTask: an asynq
// server that takes one task and holds it until killed.
func init() {
	addr := os.Getenv("PROOFGRID_TEST_HOLDER_REDIS")
	if addr == "" {
		return
	}
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: addr}, asynq.Config{
		Queues: map[string]int{"prove.cluster-dead": 1}, Concurrency: 1, Logger: quietAsynq{},
	})
	_ = srv.Run(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	os.Exit(0)
}

func taskState(t *testing.T, ins *asynq.Inspector, q, id string) *asynq.TaskInfo {
	t.Helper()
	info, err := ins.GetTaskInfo(q, id)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// TestReclaimerPutsBackDeadServersTask kills (SIGKILL) a process whose
// asynq server holds a task; the reclaimer puts the task back in its
// queue, retry count unchanged, once the server has left asynq's registry,
// while the task a live server holds all along stays with it.
func TestReclaimerPutsBackDeadServersTask(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a dead server to leave asynq's registry (10 s)")
	}
	r := queuetest.StartRedis(t, queuetest.Options{})
	admin := r.Client()
	client := asynq.NewClientFromRedisClient(admin)
	ins := asynq.NewInspectorFromRedisClient(admin)
	ctx := context.Background()

	// A live server holding a task in another queue.
	live := asynq.NewServer(r.ConnOpt(), asynq.Config{Queues: map[string]int{"prove.cluster-live": 1}, Concurrency: 1, Logger: quietAsynq{}})
	release := make(chan struct{})
	if err := live.Start(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		<-release
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	defer live.Shutdown()
	defer close(release)
	for q, id := range map[string]string{"prove.cluster-live": "held", "prove.cluster-dead": "orphan"} {
		if _, err := client.Enqueue(asynq.NewTask("prove:block", nil), asynq.Queue(q), asynq.TaskID(id), asynq.MaxRetry(3)); err != nil {
			t.Fatal(err)
		}
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	holder := exec.Command(exe, "-test.run", "^$")
	holder.Env = append(os.Environ(), "PROOFGRID_TEST_HOLDER_REDIS="+r.Addr())
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()

	rec := queue.NewReclaimer(admin, queue.ReclaimerConfig{})
	waitUntil(t, 15*time.Second, "both tasks active", func() bool {
		return taskState(t, ins, "prove.cluster-dead", "orphan").State == asynq.TaskStateActive &&
			taskState(t, ins, "prove.cluster-live", "held").State == asynq.TaskStateActive
	})
	// While the holder lives, passes put nothing back: its heartbeat
	// keeps extending the lease and lists the task in the registry.
	for range 5 {
		if n, err := rec.Pass(ctx); err != nil || n != 0 {
			t.Fatalf("pass with every holder alive: %d, %v", n, err)
		}
		time.Sleep(2 * time.Second)
	}

	holder.Process.Kill()
	holder.Wait()
	killed := time.Now()
	waitUntil(t, 45*time.Second, "the dead server's task back in its queue", func() bool {
		if _, err := rec.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		return taskState(t, ins, "prove.cluster-dead", "orphan").State == asynq.TaskStatePending
	})
	t.Logf("put back %v after the kill", time.Since(killed).Round(100*time.Millisecond))
	if info := taskState(t, ins, "prove.cluster-dead", "orphan"); info.Retried != 0 {
		t.Errorf("retried %d; a dead worker must not use up the task's retries", info.Retried)
	}
	if info := taskState(t, ins, "prove.cluster-live", "held"); info.State != asynq.TaskStateActive {
		t.Errorf("the live server's task is %v; want still active", info.State)
	}
	// Another pass finds nothing more to do.
	if n, err := rec.Pass(ctx); err != nil || n != 0 {
		t.Errorf("pass after the put-back: %d, %v", n, err)
	}
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
