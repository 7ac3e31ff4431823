package ethproofs_test

import (
	"context"
	"encoding/base64"
	"os"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/storage"
)

// TestProofVerifiedByOtherReplica runs two replicas on separate data
// directories that share Redis and PostgreSQL, with the blob store in
// PostgreSQL: a proof uploaded to the API replica is verified valid by the
// worker replica, which never saw the upload. With each replica on its own
// directory store the worker would find no bytes.
func TestProofVerifiedByOtherReplica(t *testing.T) {
	apiDir, workerDir := t.TempDir(), t.TempDir()
	api, c := startCoordinator(t, storage.DialectPostgres, func(cfg *coordinator.Config) {
		cfg.Roles = []string{coordinator.RoleAPI, coordinator.RoleScheduler}
		cfg.DataDir = apiDir
		cfg.BlobStore = coordinator.BlobStorePostgres
		cfg.Ethproofs.RateLimit = 100000
	})
	worker := coordinatortest.Start(t, coordinatortest.Options{Redis: api.Redis, DatabaseURL: api.DatabaseURL, Configure: func(cfg *coordinator.Config) {
		cfg.Roles = []string{coordinator.RoleWorker}
		cfg.DataDir = workerDir
		cfg.BlobStore = coordinator.BlobStorePostgres
	}})
	write := api.Token("alpha", "write")
	admin := api.OperatorToken("operators")
	cl := createCluster(t, c, write, "demo")
	hash := blockHash(500)
	wantStatus(t, c.postJSON("/api/v0/blocks", admin, map[string]any{"block_number": 500, "hash": hash}), 201)
	r := c.postJSON("/api/v0/proofs/proved", write, map[string]any{"block_number": 500, "cluster_id": cl.Index, "proving_time": 1,
		"proof": base64.StdEncoding.EncodeToString(demoProof(t, 500, hash))})
	wantStatus(t, r, 200)
	var pid struct {
		ProofID int64 `json:"proof_id"`
	}
	r.json(t, &pid)

	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := worker.Coordinator.DB.ProofView(ctx, pid.ProofID)
		if err != nil {
			t.Fatal(err)
		}
		if p := v.Proof; p.Verification != nil {
			if *p.Verification != "valid" {
				t.Fatalf("proof verified %s (%s), want valid", *p.Verification, p.VerificationReason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("proof not verified within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The bytes are in the shared store, in neither replica's directory.
	for _, dir := range []string{apiDir, workerDir} {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("data directory %s holds %d entries, want none", dir, len(entries))
		}
	}
}
