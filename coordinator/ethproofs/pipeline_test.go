package ethproofs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent"
	"github.com/proofgrid/proofgrid/agent/prover"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
)

// staticSampler stands in for the hardware collectors, which the pipeline
// does not need.
type staticSampler struct{}

func (staticSampler) Collect(context.Context) proofgrid.Sample {
	return proofgrid.Sample{CollectedAt: time.Now(), GPUs: []proofgrid.GPU{}}
}

func quietLogger() *slog.Logger {
	if os.Getenv("PROOFGRID_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// runningAgent is an in-process prover agent.
type runningAgent struct {
	agent  *agent.Agent
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned, with err set
	err    error
}

// stop cancels the agent and waits for it: its running job is cut short
// and asynq puts the task back in the queue.
func (r *runningAgent) stop(tb testing.TB) {
	tb.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			tb.Errorf("agent stopped with %v", r.err)
		}
	case <-time.After(30 * time.Second):
		tb.Error("agent did not stop")
	}
}

// agentParkAfter is the agents' Config.ParkAfter (0: the default);
// BenchmarkDispatch sets it from PROOFGRID_BENCH_PARK_AFTER.
var agentParkAfter time.Duration

func startAgent(tb testing.TB, env *coordinatortest.Env, token, name, clusterUUID string, backend prover.Backend, concurrency int) *runningAgent {
	tb.Helper()
	a, err := agent.New(agent.Config{
		CoordinatorURL:  env.URL,
		Token:           token,
		Role:            proofgrid.RoleProver,
		ClusterID:       clusterUUID,
		Name:            name,
		StateDir:        tb.TempDir(),
		Concurrency:     concurrency,
		ShutdownTimeout: 200 * time.Millisecond,
		ParkAfter:       agentParkAfter,
		Sampler:         staticSampler{},
		Handlers:        prover.Register(prover.Config{ClusterID: clusterUUID, Backend: backend, Logger: quietLogger()}),
		Logger:          quietLogger(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAgent{agent: a, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = a.Run(ctx)
		close(r.done)
	}()
	tb.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// hangOnce proves normally except for its nth job, where it signals and
// then works until its context ends, as a prover busy with a long proof.
type hangOnce struct {
	prover.Backend
	n       int64
	jobs    atomic.Int64
	started chan uint64
}

func (h *hangOnce) Prove(ctx context.Context, job prover.Job) (prover.Result, error) {
	if h.jobs.Add(1) == h.n {
		h.started <- job.BlockNumber
		<-ctx.Done()
		return prover.Result{}, ctx.Err()
	}
	return h.Backend.Prove(ctx, job)
}

type clusterRef struct {
	Index   int64
	UUID    string
	Version int64
}

func createCluster(t testing.TB, c *client, token, name string) clusterRef {
	t.Helper()
	r := c.postJSON("/api/v0/clusters", token, map[string]any{"name": name, "zkvm_version_id": 1})
	if r.status != 200 {
		t.Fatalf("create cluster: %d %s", r.status, r.body)
	}
	var list []struct {
		ID             int64  `json:"id"`
		Name           string `json:"name"`
		UUID           string `json:"uuid"`
		ClusterVersion struct {
			ID int64 `json:"id"`
		} `json:"cluster_version"`
	}
	c.getJSON("/api/v0/clusters", token).json(t, &list)
	for _, cl := range list {
		if cl.Name == name {
			return clusterRef{Index: cl.ID, UUID: cl.UUID, Version: cl.ClusterVersion.ID}
		}
	}
	t.Fatalf("cluster %s not listed", name)
	return clusterRef{}
}

func recordBlock(t testing.TB, c *client, admin string, n int) {
	t.Helper()
	r := c.postJSON("/api/v0/blocks", admin, map[string]any{"block_number": n, "hash": blockHash(n), "gas_used": 1000 * n, "transaction_count": n})
	if r.status != 201 && r.status != 200 {
		t.Fatalf("record block %d: %d %s", n, r.status, r.body)
	}
}

type listedProof struct {
	ProofID        int64  `json:"proof_id"`
	BlockNumber    int64  `json:"block_number"`
	ProofStatus    string `json:"proof_status"`
	ClusterVersion struct {
		ID        int64  `json:"id"`
		ClusterID string `json:"cluster_id"`
	} `json:"cluster_version"`
	Verification struct {
		Status string `json:"status"`
	} `json:"proofgrid_verification"`
}

func listProofs(t testing.TB, c *client, token string, q string) []listedProof {
	t.Helper()
	var out struct {
		Proofs []listedProof `json:"proofs"`
	}
	r := c.getJSON("/api/v0/proofs"+q, token)
	if r.status != 200 {
		t.Fatalf("list proofs: %d %s", r.status, r.body)
	}
	r.json(t, &out)
	return out.Proofs
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPipeline proves ten blocks with two agents of one cluster and one
// of another, kills an agent in the middle of a proof and checks that
// every block ends with exactly one proof per cluster version, all
// verified, and that the jobs left worker events.
func TestPipeline(t *testing.T) {
	env, c := startCoordinator(t, storage.DialectSQLite, func(cfg *coordinator.Config) { cfg.Ethproofs.RateLimit = 100000 })
	write := env.Token("alpha", "write")
	admin := env.OperatorToken("operators")
	a := createCluster(t, c, write, "cluster-a")
	b := createCluster(t, c, write, "cluster-b")

	demo := prover.Demo{Steps: 20000}
	a1Backend := &hangOnce{Backend: demo, n: 2, started: make(chan uint64, 1)}
	a1 := startAgent(t, env, write, "a1", a.UUID, a1Backend, 1)
	startAgent(t, env, write, "b1", b.UUID, demo, 1)

	provedFor := func(block int, cl clusterRef) bool {
		for _, p := range listProofs(t, c, write, query("block", fmt.Sprint(block), "clusters", cl.UUID)) {
			if p.ProofStatus == "proved" {
				return true
			}
		}
		return false
	}
	recordBlock(t, c, admin, 1)
	waitFor(t, 60*time.Second, "block 1 proved by both clusters", func() bool { return provedFor(1, a) && provedFor(1, b) })

	// a1 takes block 2 and hangs in the middle of the proof.
	recordBlock(t, c, admin, 2)
	var hung uint64
	select {
	case hung = <-a1Backend.started:
	case <-time.After(60 * time.Second):
		t.Fatal("a1 never started its second job")
	}
	if hung != 2 {
		t.Fatalf("a1 hung on block %d, want 2", hung)
	}
	waitFor(t, 10*time.Second, "block 2 reported proving", func() bool {
		ps := listProofs(t, c, write, query("block", "2", "clusters", a.UUID))
		return len(ps) == 1 && ps[0].ProofStatus == "proving"
	})
	a2 := startAgent(t, env, write, "a2", a.UUID, demo, 1)
	a1.stop(t)

	for n := 3; n <= 10; n++ {
		recordBlock(t, c, admin, n)
	}
	waitFor(t, 120*time.Second, "ten blocks proved and verified for both clusters", func() bool {
		ps := listProofs(t, c, write, query("limit", "1000"))
		done := 0
		for _, p := range ps {
			if p.ProofStatus == "proved" && p.Verification.Status != "pending" {
				done++
			}
		}
		return done == 20
	})

	all := listProofs(t, c, write, query("limit", "1000"))
	if len(all) != 20 {
		t.Fatalf("%d proofs, want exactly 20 (10 blocks x 2 cluster versions)", len(all))
	}
	seen := map[string]bool{}
	for _, p := range all {
		key := fmt.Sprintf("%d/%d", p.BlockNumber, p.ClusterVersion.ID)
		if seen[key] {
			t.Fatalf("block %d has two proofs for cluster version %d", p.BlockNumber, p.ClusterVersion.ID)
		}
		seen[key] = true
		if p.Verification.Status != "valid" {
			t.Errorf("proof %d of block %d: verification %s, want valid", p.ProofID, p.BlockNumber, p.Verification.Status)
		}
	}

	ctx := context.Background()
	db := env.Coordinator.DB
	completed, err := db.WorkerEvents(ctx, storage.WorkerEventFilter{Topic: queue.TypeProveBlock, Status: storage.WorkerEventCompleted, Limit: 1000})
	if err != nil || len(completed) != 20 {
		t.Fatalf("%d completed prove events (%v), want 20", len(completed), err)
	}
	byMachine := map[string]int{}
	for _, ev := range completed {
		byMachine[ev.MachineID]++
		if ev.WorkerPublicKey == "" || ev.CircuitType != "proofgrid-demo/v1" || ev.DurationMS < 0 {
			t.Errorf("completed event %+v", ev)
		}
	}
	if byMachine[a1.agent.MachineID()] != 1 || byMachine[a2.agent.MachineID()] != 9 {
		t.Errorf("completed jobs by machine = %v; want a1 (%s) 1 and a2 (%s) 9", byMachine, a1.agent.MachineID(), a2.agent.MachineID())
	}
	blockTwo, err := db.WorkerEvents(ctx, storage.WorkerEventFilter{JobID: queue.ProveBlockID(2, a.Version), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var cancelled, done bool
	for _, ev := range blockTwo {
		switch {
		case ev.Status == storage.WorkerEventCancelled && ev.MachineID == a1.agent.MachineID():
			cancelled = true
		case ev.Status == storage.WorkerEventCompleted && ev.MachineID == a2.agent.MachineID():
			done = true
		}
	}
	if !cancelled || !done {
		t.Errorf("block 2 events = %+v; want a1's cancellation and a2's completion", blockTwo)
	}
	verified, err := db.WorkerEvents(ctx, storage.WorkerEventFilter{Topic: queue.TypeProofVerify, Limit: 1000})
	if err != nil || len(verified) != 20 {
		t.Fatalf("%d verification events (%v), want 20", len(verified), err)
	}
	// The prove task of block 2 ran again after the kill: one task, not a
	// second one.
	info, err := env.Coordinator.Inspector.GetTaskInfo(queue.ProveQueue(a.UUID), queue.ProveBlockID(2, a.Version))
	if err != nil || info.State.String() != "completed" {
		t.Fatalf("block 2's task = %+v %v", info, err)
	}
}
