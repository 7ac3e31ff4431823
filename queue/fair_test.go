package queue_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/queue/queuetest"
)

func TestVerifyQueue(t *testing.T) {
	if got := queue.ProofVerify(queue.ProofVerifyPayload{ProofID: 1}).Queue; got != queue.QueueVerify {
		t.Fatalf("work of no team goes to %q, want %q", got, queue.QueueVerify)
	}
	seen := map[string]bool{}
	for team := int64(1); team <= queue.VerifyShards; team++ {
		m := queue.ProofVerify(queue.ProofVerifyPayload{ProofID: 7, TeamID: team})
		if m.TaskID != "proof:verify:7" {
			t.Fatalf("team %d: TaskID %q depends on the team", team, m.TaskID)
		}
		if queue.CoordinatorQueues[m.Queue] != queue.CoordinatorQueues[queue.QueueVerify] {
			t.Fatalf("team %d: queue %q weighs %d, want %d like %q", team, m.Queue, queue.CoordinatorQueues[m.Queue],
				queue.CoordinatorQueues[queue.QueueVerify], queue.QueueVerify)
		}
		seen[m.Queue] = true
	}
	if len(seen) != queue.VerifyShards {
		t.Fatalf("%d teams use %d queues, want one each", queue.VerifyShards, len(seen))
	}
	if queue.VerifyQueue(3) != queue.VerifyQueue(3+queue.VerifyShards) || queue.VerifyQueue(-3) == "" {
		t.Fatal("teams are not spread by id modulo the shard count")
	}
	if len(queue.CoordinatorQueues) != 4+queue.VerifyShards {
		t.Fatalf("coordinator queues = %v", queue.CoordinatorQueues)
	}
}

// TestVerifyFairAcrossTeams: team A queues 12 slow verifications and one
// of them is running when team B queues a quick one. Served the way the
// coordinator serves its queues, B's verification is done before A's queue
// drains, where one shared FIFO queue would run it last.
//
// With one worker and A's shard and B's equally weighted, each pick takes
// B's task with probability 1/2, so B is still waiting when A's 11 others
// are all picked with probability 2^-11 (this test fails about once in
// 2000 runs); with the single verify queue it always was.
func TestVerifyFairAcrossTeams(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	const teamA, teamB, slow = 1, 2, 100 * time.Millisecond

	var mu sync.Mutex
	var done []int64 // team of each finished verification, in order
	started := make(chan struct{}, 13)
	mux := asynq.NewServeMux()
	mux.HandleFunc(queue.TypeProofVerify, func(ctx context.Context, task *asynq.Task) error {
		p, err := queue.Decode[queue.ProofVerifyPayload](task)
		if err != nil {
			return err
		}
		started <- struct{}{}
		if p.TeamID == teamA {
			select {
			case <-time.After(slow):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		mu.Lock()
		done = append(done, p.TeamID)
		mu.Unlock()
		return nil
	})

	c := asynq.NewClient(r.ConnOpt())
	defer c.Close()
	enqueue := func(id, team int64) {
		t.Helper()
		m := queue.ProofVerify(queue.ProofVerifyPayload{ProofID: id, TeamID: team})
		opts, err := m.Options()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Enqueue(m.Task(), opts...); err != nil {
			t.Fatal(err)
		}
	}
	for i := range int64(12) {
		enqueue(i+1, teamA)
	}
	srv := asynq.NewServer(r.ConnOpt(), asynq.Config{Concurrency: 1, Queues: queue.CoordinatorQueues, LogLevel: asynq.FatalLevel})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no verification started")
	}
	enqueue(100, teamB)

	deadline := time.Now().Add(12 * time.Second)
	for {
		mu.Lock()
		n := len(done)
		order := slices.Clone(done)
		mu.Unlock()
		if n == 13 {
			b := slices.Index(order, teamB)
			t.Logf("B finished after %d of A's 12 verifications", b)
			if b == 12 {
				t.Fatalf("B's verification waited for all of A's: order %v", order)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 13 verifications done: %v", n, order)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
