package ethproofs_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid/agent/prover"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/storage"
)

// Shape of the benchmarked fleet: agents of one cluster, each running
// this many jobs at once. The asynq baseline runs the same total
// concurrency.
const (
	benchAgents      = 4
	benchConcurrency = 4
)

func benchCoordinator(b *testing.B) (*coordinatortest.Env, *client) {
	b.Helper()
	return startCoordinator(b, storage.DialectSQLite, func(cfg *coordinator.Config) {
		cfg.Ethproofs.RateLimit = -1
		cfg.WorkerConcurrency = 16
		cfg.Logger = quietLogger()
	})
}

func countProofs(b *testing.B, env *coordinatortest.Env, verified bool) int {
	b.Helper()
	views, total, err := env.Coordinator.DB.ListProofs(context.Background(), storage.ProofFilter{Status: storage.ProofProved, Limit: 1000000})
	if err != nil {
		b.Fatal(err)
	}
	if !verified {
		return int(total)
	}
	n := 0
	for _, v := range views {
		if v.Proof.Verification != nil {
			n++
		}
	}
	return n
}

// BenchmarkPipeline measures blocks per second through the whole pipeline
// with the demo backend at its least work (1 hash): a block recorded
// through POST /api/v0/blocks, its prove:block task written through the
// outbox and taken by an agent, the agent's queued, proving and proved
// reports, and the proof stored. It reports that rate next to the rate of
// no-op asynq tasks measured on the same Redis in the same run, and their
// ratio.
func BenchmarkPipeline(b *testing.B) {
	env, c := benchCoordinator(b)
	write := env.Token("bench", "write")
	admin := env.OperatorToken("ops")
	cl := createCluster(b, c, write, "bench")
	for i := range benchAgents {
		startAgent(b, env, write, "bench-"+string(rune('a'+i)), cl.UUID, prover.Demo{Steps: 1}, benchConcurrency)
	}
	// One block first, so that every agent is enrolled and consuming
	// before the clock starts.
	recordBlock(b, c, admin, 1)
	waitFor(b, 60*time.Second, "the warm-up block", func() bool { return countProofs(b, env, false) == 1 })

	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		recordBlock(b, c, admin, i+2)
	}
	waitFor(b, 10*time.Minute, "every block proved", func() bool { return countProofs(b, env, false) == b.N+1 })
	elapsed := time.Since(start)
	b.StopTimer()

	blocksPerSec := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(blocksPerSec, "blocks/s")
	baseline := asynqNoopRate(b, env, max(b.N, 200))
	b.ReportMetric(baseline, "noop_tasks/s")
	b.ReportMetric(blocksPerSec/baseline, "ratio")
}

// asynqNoopRate returns how many no-op tasks per second an asynq server of
// the fleet's total concurrency drains from env's Redis: n tasks are
// enqueued first, then the clock runs from the server's start until all
// ran. It is the most any consumer of the same Redis can reach.
func asynqNoopRate(b *testing.B, env *coordinatortest.Env, n int) float64 {
	b.Helper()
	client := asynq.NewClient(env.Redis.ConnOpt())
	defer client.Close()
	for range n {
		if _, err := client.Enqueue(asynq.NewTask("bench:noop", nil), asynq.Queue("bench-noop")); err != nil {
			b.Fatal(err)
		}
	}
	var done atomic.Int64
	finished := make(chan time.Time, 1)
	srv := asynq.NewServer(env.Redis.ConnOpt(), asynq.Config{
		Concurrency: benchAgents * benchConcurrency,
		Queues:      map[string]int{"bench-noop": 1},
		LogLevel:    asynq.ErrorLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc("bench:noop", func(context.Context, *asynq.Task) error {
		if done.Add(1) == int64(n) {
			finished <- time.Now()
		}
		return nil
	})
	start := time.Now()
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	select {
	case end := <-finished:
		return float64(n) / end.Sub(start).Seconds()
	case <-time.After(5 * time.Minute):
		b.Fatalf("no-op tasks: %d of %d ran", done.Load(), n)
		return 0
	}
}

// BenchmarkVerify measures proof:verify tasks per second: b.N proved demo
// proofs are reported, and the clock runs until the coordinator's worker
// has verified all of them. The proofs are reported before the clock
// starts, while the worker already verifies, so the figure is a lower
// bound of the worker's rate.
func BenchmarkVerify(b *testing.B) {
	for _, steps := range []uint64{1, 1 << 16} {
		b.Run("steps="+strconv.FormatUint(steps, 10), func(b *testing.B) {
			env, c := benchCoordinator(b)
			write := env.Token("bench", "write")
			admin := env.OperatorToken("ops")
			createCluster(b, c, write, "bench")
			proofs := make([]string, b.N)
			for i := range b.N {
				recordBlock(b, c, admin, i+1)
				p, err := prover.Demo{Steps: steps}.Prove(context.Background(), prover.Job{BlockNumber: uint64(i + 1), BlockHash: hashBytes(blockHash(i + 1))})
				if err != nil {
					b.Fatal(err)
				}
				proofs[i] = base64.StdEncoding.EncodeToString(p.Proof)
			}
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				r := c.postJSON("/api/v0/proofs/proved", write, map[string]any{"block_number": i + 1, "cluster_id": 1, "proving_time": 1, "proof": proofs[i]})
				if r.status != 200 {
					b.Fatalf("proved: %d %s", r.status, r.body)
				}
			}
			waitFor(b, 10*time.Minute, "every proof verified", func() bool { return countProofs(b, env, true) == b.N })
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "verifications/s")
		})
	}
}

func hashBytes(h string) [32]byte {
	var out [32]byte
	b, _ := hex.DecodeString(h[2:])
	copy(out[:], b)
	return out
}
