package ethproofs_test

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/proofgrid/proofgrid/coordinator"
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
	admin := env.Token("operators", "admin")
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
