package outbox_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/proofgrid/proofgrid/outbox"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/queue/queuetest"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// writeRows commits n outbox rows for proof:verify tasks, ids 1..n.
func writeRows(t *testing.T, db *storage.DB, n int) {
	t.Helper()
	err := db.InTx(context.Background(), func(tx *storage.Tx) error {
		for i := 1; i <= n; i++ {
			if err := tx.Enqueue(context.Background(), queue.ProofVerify(queue.ProofVerifyPayload{ProofID: int64(i)})); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// worker runs an asynq server that records each proof id it handles.
type worker struct {
	mu   sync.Mutex
	seen map[int64]int
	srv  *asynq.Server
}

func startWorker(t *testing.T, r *queuetest.Redis) *worker {
	w := &worker{seen: map[int64]int{}}
	w.srv = asynq.NewServer(r.ConnOpt(), asynq.Config{Concurrency: 8, Queues: map[string]int{queue.QueueVerify: 1}, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(queue.TypeProofVerify, func(ctx context.Context, task *asynq.Task) error {
		p, err := queue.Decode[queue.ProofVerifyPayload](task)
		if err != nil {
			return err
		}
		w.mu.Lock()
		w.seen[p.ProofID]++
		w.mu.Unlock()
		return nil
	})
	if err := w.srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.srv.Shutdown)
	return w
}

func (w *worker) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		w.mu.Lock()
		got := len(w.seen)
		w.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker handled %d distinct tasks, want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newRelay(r *queuetest.Redis, db *storage.DB, now func() time.Time) *outbox.Relay {
	return outbox.New(db, r.Client(), outbox.Config{Now: now})
}

// Tasks handed to Redis survive a hard kill of a Redis running with
// appendfsync everysec once a second has passed.
func TestNoTaskLostWhenRedisRestartsWithAOF(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		r := queuetest.StartRedis(t, queuetest.Options{AOF: "everysec"})
		relay := newRelay(r, db, time.Now)
		writeRows(t, db, 200)
		if n, err := relay.Flush(context.Background()); err != nil || n != 200 {
			t.Fatalf("flush: n=%d err=%v", n, err)
		}
		time.Sleep(1500 * time.Millisecond) // one everysec fsync
		r.Kill()
		r.Start()
		ins := asynq.NewInspector(r.ConnOpt())
		defer ins.Close()
		info, err := ins.GetQueueInfo(queue.QueueVerify)
		if err != nil || info.Pending != 200 {
			t.Fatalf("after restart: %+v, err %v; want 200 pending", info, err)
		}
		w := startWorker(t, r)
		w.waitFor(t, 200)
	})
}

// Without persistence Redis forgets everything; the reconciler notices
// that enqueued rows have no task any more and enqueues them again.
func TestReconcilerRestoresTasksLostByRedis(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		r := queuetest.StartRedis(t, queuetest.Options{})
		now := time.Now()
		clock := func() time.Time { return now }
		relay := newRelay(r, db, clock)
		writeRows(t, db, 50)
		if n, err := relay.Flush(context.Background()); err != nil || n != 50 {
			t.Fatalf("flush: n=%d err=%v", n, err)
		}
		r.Kill()
		r.Start()

		now = now.Add(time.Minute) // past the reconciler's grace period
		st, err := relay.Reconcile(context.Background())
		if err != nil || st.Requeued != 50 {
			t.Fatalf("reconcile: %+v err %v; want 50 requeued", st, err)
		}
		if n, err := relay.Flush(context.Background()); err != nil || n != 50 {
			t.Fatalf("second flush: n=%d err=%v", n, err)
		}
		w := startWorker(t, r)
		w.waitFor(t, 50)

		now = now.Add(time.Minute)
		st, err = relay.Reconcile(context.Background())
		if err != nil || st.Done != 50 || st.Requeued != 0 {
			t.Fatalf("final reconcile: %+v err %v; want 50 done", st, err)
		}
		counts, err := db.OutboxCounts(context.Background())
		if err != nil || counts[storage.OutboxDone] != 50 {
			t.Fatalf("outbox counts %v err %v", counts, err)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		for id, n := range w.seen {
			if n != 1 {
				t.Errorf("proof %d handled %d times", id, n)
			}
		}
	})
}

// Flushing twice, or from two relays, enqueues each row once.
func TestFlushIsIdempotent(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		r := queuetest.StartRedis(t, queuetest.Options{})
		a, b := newRelay(r, db, time.Now), newRelay(r, db, time.Now)
		writeRows(t, db, 20)
		var wg sync.WaitGroup
		for _, rl := range []*outbox.Relay{a, b} {
			wg.Add(1)
			go func() { defer wg.Done(); rl.Flush(context.Background()) }()
		}
		wg.Wait()
		ins := asynq.NewInspector(r.ConnOpt())
		defer ins.Close()
		info, err := ins.GetQueueInfo(queue.QueueVerify)
		if err != nil || info.Pending != 20 {
			t.Fatalf("queue %+v err %v; want 20 pending", info, err)
		}
		counts, _ := db.OutboxCounts(context.Background())
		if counts[storage.OutboxEnqueued] != 20 {
			t.Fatalf("outbox counts %v", counts)
		}
	})
}

// TestFlushAnnouncesAgentTasks: each task the relay enqueues on an
// agent's queue is announced on that queue's wake channel; tasks on the
// coordinator's own queues are not.
func TestFlushAnnouncesAgentTasks(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		r := queuetest.StartRedis(t, queuetest.Options{})
		prove := queue.ProveBlock(queue.ProveBlockPayload{BlockNumber: 7, ClusterID: "c1", ClusterVersionID: 1})
		verify := queue.ProofVerify(queue.ProofVerifyPayload{ProofID: 1})
		sub := r.Client().PSubscribe(context.Background(), queue.WakeChannel("*"))
		defer sub.Close()
		if _, err := sub.Receive(context.Background()); err != nil {
			t.Fatal(err)
		}
		err := db.InTx(context.Background(), func(tx *storage.Tx) error {
			return errors.Join(tx.Enqueue(context.Background(), verify), tx.Enqueue(context.Background(), prove))
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := newRelay(r, db, time.Now).Flush(context.Background()); err != nil || n != 2 {
			t.Fatalf("flush: n=%d err=%v", n, err)
		}
		var got []string
		timeout := time.After(2 * time.Second)
		for done := false; !done; {
			select {
			case m := <-sub.Channel():
				got = append(got, m.Channel)
			case <-timeout:
				done = true
			}
		}
		if len(got) != 1 || got[0] != queue.WakeChannel(prove.Queue) {
			t.Errorf("announcements %v; want only %s", got, queue.WakeChannel(prove.Queue))
		}
	})
}
