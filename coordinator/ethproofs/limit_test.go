package ethproofs_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/zkvm"
)

// TestProofWorkCap: a 100-byte demo proof that declares more steps than
// --verify-max-steps is answered 422 with the limit, and never reaches the
// verifier; an honest proof within the limit is accepted.
func TestProofWorkCap(t *testing.T) {
	env, c := startCoordinator(t, storage.DialectSQLite, func(cfg *coordinator.Config) {
		cfg.Ethproofs.VerifyMaxSteps = 5000
		cfg.Ethproofs.RateLimit = 100000
	})
	write := env.Token("alpha", "write")
	admin := env.OperatorToken("operators")
	cl := createCluster(t, c, write, "demo")
	hash := blockHash(300)
	wantStatus(t, c.postJSON("/api/v0/blocks", admin, map[string]any{"block_number": 300, "hash": hash}), 201)

	forged := zkvm.DemoProof{BlockNumber: 300, Steps: zkvm.MaxDemoSteps, CheckpointEvery: zkvm.MaxDemoSteps}
	b, _ := hex.DecodeString(hash[2:])
	copy(forged.BlockHash[:], b)
	proof, err := forged.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r := c.postJSON("/api/v0/proofs/proved", write, map[string]any{"block_number": 300, "cluster_id": cl.Index, "proving_time": 1,
		"proof": base64.StdEncoding.EncodeToString(proof)})
	wantStatus(t, r, 422)
	if msg := r.errorMessage(t); !strings.Contains(msg, "declares 100000000 demo steps; this coordinator verifies at most 5000") {
		t.Fatalf("message = %q", msg)
	}
	r = c.postJSON("/api/v0/proofs/proved", write, map[string]any{"block_number": 300, "cluster_id": cl.Index, "proving_time": 1,
		"proof": base64.StdEncoding.EncodeToString(demoProof(t, 300, hash))})
	wantStatus(t, r, 200)
}

// TestVerificationFairAcrossTeams runs the whole path, report to outbox to
// the coordinator's worker: team alpha reports 12 proofs whose verifier
// takes 200 ms each, and once the first is verified team beta reports one
// demo proof. With one worker, beta's proof is verified before alpha's
// backlog drains (it would be last on one shared queue). Each free worker
// picks beta's shard with probability 1/2, so this fails about once in
// 2000 runs.
func TestVerificationFairAcrossTeams(t *testing.T) {
	env, c := startCoordinator(t, storage.DialectSQLite, func(cfg *coordinator.Config) {
		cfg.WorkerConcurrency = 1
		cfg.Ethproofs.RateLimit = 100000
		cfg.Ethproofs.Verifiers = map[string][]string{"sp1": {"sleep", "0.2"}}
	})
	alpha, beta := env.Token("alpha", "write"), env.Token("beta", "write")
	admin := env.OperatorToken("operators")
	r := c.postJSON("/api/v0/clusters", alpha, map[string]any{"name": "slow", "zkvm_version_id": 3}) // sp1
	wantStatus(t, r, 200)
	quick := createCluster(t, c, beta, "quick")
	for n := 1; n <= 13; n++ {
		wantStatus(t, c.postJSON("/api/v0/blocks", admin, map[string]any{"block_number": n, "hash": blockHash(n)}), 201)
	}
	ctx := context.Background()
	db := env.Coordinator.DB
	verified := func() []storage.WorkerEvent {
		t.Helper()
		evs, err := db.WorkerEvents(ctx, storage.WorkerEventFilter{Topic: queue.TypeProofVerify, Ascending: true, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	waitFor := func(n int) []storage.WorkerEvent {
		t.Helper()
		deadline := time.Now().Add(12 * time.Second)
		for {
			evs := verified()
			if len(evs) >= n {
				return evs
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d verifications done", len(evs), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for n := 1; n <= 12; n++ {
		wantStatus(t, c.postJSON("/api/v0/proofs/proved", alpha, map[string]any{"block_number": n, "cluster_id": 1, "proving_time": 1,
			"proof": base64.StdEncoding.EncodeToString([]byte("slow"))}), 200)
	}
	waitFor(1)
	wantStatus(t, c.postJSON("/api/v0/proofs/proved", beta, map[string]any{"block_number": 13, "cluster_id": quick.Index, "proving_time": 1,
		"proof": base64.StdEncoding.EncodeToString(demoProof(t, 13, blockHash(13)))}), 200)

	evs := waitFor(13)
	var order []string
	for _, ev := range evs {
		if ev.Result != "valid" {
			t.Fatalf("verification %+v", ev)
		}
		order = append(order, ev.CircuitType)
	}
	b := slices.Index(order, "proofgrid-demo/v1")
	t.Logf("beta's proof verified after %d of alpha's 12", b)
	if b == 12 {
		t.Fatalf("beta's verification waited for all of alpha's: %v", order)
	}
}
