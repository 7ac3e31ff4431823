package ethproofs_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/agent/prover"
	"github.com/proofgrid/proofgrid/storage"
)

// BenchmarkDispatch measures how long a new block waits before an idle
// prover agent takes it: from just before POST /api/v0/blocks to the
// coordinator recording the agent's queued report, for b.N blocks spaced
// PROOFGRID_BENCH_BLOCK_GAP apart (default 500ms) so that the agent is idle
// each time, with one demo agent. It reports the median, p90 and worst
// wait. The path: the block's transaction writes the prove:block outbox
// row, the relay enqueues it and announces it on the queue's wake channel,
// the agent's dequeue returns it, and the agent reports queued. With
// PROOFGRID_BENCH_PARK_AFTER shorter than the gap (e.g. 200ms) the agent's
// job server is parked when each block comes, and starts to take it.
//
//	scripts/testenv.sh go test -run '^$' -bench Dispatch -benchtime 40x ./coordinator/ethproofs/
func BenchmarkDispatch(b *testing.B) {
	gap := 500 * time.Millisecond
	if s := os.Getenv("PROOFGRID_BENCH_BLOCK_GAP"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		gap = d
	}
	if s := os.Getenv("PROOFGRID_BENCH_PARK_AFTER"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		agentParkAfter = d
		defer func() { agentParkAfter = 0 }()
	}
	env, c := benchCoordinator(b)
	write := env.Token("bench", "write")
	admin := env.OperatorToken("ops")
	cl := createCluster(b, c, write, "bench")
	startAgent(b, env, write, "bench-dispatch", cl.UUID, prover.Demo{Steps: 1}, 1)
	recordBlock(b, c, admin, 1)
	waitFor(b, 60*time.Second, "the warm-up block", func() bool { return countProofs(b, env, false) == 1 })

	created := make(map[int64]time.Time, b.N)
	b.ResetTimer()
	for i := range b.N {
		time.Sleep(gap)
		n := int64(i + 2)
		created[n] = time.Now()
		recordBlock(b, c, admin, int(n))
	}
	waitFor(b, 5*time.Minute, "every block queued", func() bool {
		views, _, err := env.Coordinator.DB.ListProofs(context.Background(), storage.ProofFilter{Limit: 1000000})
		if err != nil {
			b.Fatal(err)
		}
		queued := 0
		for _, v := range views {
			if v.Proof.QueuedAt != nil {
				queued++
			}
		}
		return queued == b.N+1
	})
	b.StopTimer()

	views, _, err := env.Coordinator.DB.ListProofs(context.Background(), storage.ProofFilter{Limit: 1000000})
	if err != nil {
		b.Fatal(err)
	}
	var waits []time.Duration
	for _, v := range views {
		if t0, ok := created[v.Proof.BlockNumber]; ok {
			waits = append(waits, v.Proof.QueuedAt.Sub(t0))
		}
	}
	if len(waits) != b.N {
		b.Fatalf("%d waits for %d blocks", len(waits), b.N)
	}
	slices.Sort(waits)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(waits[len(waits)/2]), "median_ms")
	b.ReportMetric(ms(waits[len(waits)*9/10]), "p90_ms")
	b.ReportMetric(ms(waits[len(waits)-1]), "worst_ms")
	b.ReportMetric(0, "ns/op")
}
