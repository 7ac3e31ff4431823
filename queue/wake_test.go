package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/queue/queuetest"
)

// wakeServer starts an asynq server on q whose Redis client carries a
// WakeHook waiting up to maxWait, with asynq's own idle sleep set to
// recheck. Handled task ids arrive on the returned channel.
func wakeServer(t *testing.T, r *queuetest.Redis, q string, maxWait, recheck time.Duration) (*queue.WakeHook, *asynq.Server, chan string) {
	t.Helper()
	rdb := r.Client()
	hook := queue.NewWakeHook([]string{q}, maxWait)
	rdb.AddHook(hook)
	ctx, cancel := context.WithCancel(context.Background())
	go hook.Listen(ctx, rdb)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Queues: map[string]int{q: 1}, TaskCheckInterval: recheck, Concurrency: 1,
		Logger: quietAsynq{},
	})
	done := make(chan string, 16)
	if err := srv.Start(asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		done <- id
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		hook.Close()
		srv.Shutdown()
		cancel()
		rdb.Close()
	})
	return hook, srv, done
}

// waitSubscribed waits until someone listens on q's wake channel.
func waitSubscribed(t *testing.T, admin *redis.Client, q string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n, err := admin.PubSubNumSub(context.Background(), queue.WakeChannel(q)).Result()
		if err == nil && n[queue.WakeChannel(q)] > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no subscriber on the wake channel")
}

// TestWakeHookTakesAnnouncedTaskAtOnce: an idle server that would look
// again only after ten seconds takes an announced task within a fraction
// of that.
func TestWakeHookTakesAnnouncedTaskAtOnce(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	admin := r.Client()
	defer admin.Close()
	const q = "prove.cluster-wake"
	_, _, done := wakeServer(t, r, q, 10*time.Second, 10*time.Second)
	waitSubscribed(t, admin, q)
	time.Sleep(200 * time.Millisecond) // the server's first look found nothing and waits

	client := asynq.NewClientFromRedisClient(admin)
	for i, id := range []string{"first", "second"} {
		start := time.Now()
		if _, err := client.Enqueue(asynq.NewTask("t", nil), asynq.Queue(q), asynq.TaskID(id)); err != nil {
			t.Fatal(err)
		}
		if err := queue.Wake(context.Background(), admin, q); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-done:
			if got != id {
				t.Fatalf("task %d: handled %s, want %s", i, got, id)
			}
			// Without the hook the server would sleep 5 to 15 s first.
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("task %s handled %v after its enqueue; want far below the 10 s idle look", id, d)
			}
		case <-time.After(8 * time.Second):
			t.Fatalf("task %s not handled 8 s after its announcement", id)
		}
	}
}

// TestWakeHookFindsUnannouncedTask: a task nobody announced (a retry
// moved to pending by asynq, a lost message) is found by the next look,
// at most the hook's wait later.
func TestWakeHookFindsUnannouncedTask(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	admin := r.Client()
	defer admin.Close()
	const q = "avs.machine-quiet"
	_, _, done := wakeServer(t, r, q, 300*time.Millisecond, 10*time.Millisecond)
	client := asynq.NewClientFromRedisClient(admin)
	if _, err := client.Enqueue(asynq.NewTask("t", nil), asynq.Queue(q), asynq.TaskID("quiet")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got != "quiet" {
			t.Fatalf("handled %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an unannounced task was never taken")
	}
}

// TestWakeHookCloseReleasesWaitingDequeue: asynq's Stop waits for the
// dequeue in progress; Close lets it return instead of after the wait.
func TestWakeHookCloseReleasesWaitingDequeue(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	hook, srv, _ := wakeServer(t, r, "verify.golf", time.Minute, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	hook.Close()
	srv.Stop()
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Stop took %v; want it to return without waiting out the one-minute wait", d)
	}
}

type quietAsynq struct{}

func (quietAsynq) Debug(...any) {}
func (quietAsynq) Info(...any)  {}
func (quietAsynq) Warn(...any)  {}
func (quietAsynq) Error(...any) {}
func (quietAsynq) Fatal(...any) {}
