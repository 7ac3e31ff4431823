package ethproofs_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/queue"
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

// TestVerifyRetriesUntilProofBytesAppear runs the soak finding on purpose:
// two replicas each on its own directory store, so the worker replica's
// first proof:verify finds no bytes. The task is retried, not judged; once
// the bytes reach the worker's store the retry verifies the proof valid.
// An attempt that is the task's last judges a proof whose bytes never
// came cannot_verify.
func TestVerifyRetriesUntilProofBytesAppear(t *testing.T) {
	apiDir, workerDir := t.TempDir(), t.TempDir()
	api, c := startCoordinator(t, storage.DialectSQLite, func(cfg *coordinator.Config) {
		cfg.Roles = []string{coordinator.RoleAPI, coordinator.RoleScheduler}
		cfg.DataDir = apiDir
		cfg.Ethproofs.RateLimit = 100000
	})
	worker := coordinatortest.Start(t, coordinatortest.Options{Redis: api.Redis, DatabaseURL: api.DatabaseURL, Configure: func(cfg *coordinator.Config) {
		cfg.Roles = []string{coordinator.RoleWorker}
		cfg.DataDir = workerDir
	}})
	write := api.Token("alpha", "write")
	admin := api.OperatorToken("operators")
	cl := createCluster(t, c, write, "demo")
	ctx := context.Background()
	db := worker.Coordinator.DB
	ins := asynq.NewInspector(api.Redis.ConnOpt())
	defer ins.Close()

	// upload reports a proved proof of block n and waits for the worker's
	// first attempt to fail; it returns the proof and its task.
	upload := func(n int) (storage.Proof, queue.Message) {
		t.Helper()
		hash := blockHash(n)
		wantStatus(t, c.postJSON("/api/v0/blocks", admin, map[string]any{"block_number": n, "hash": hash}), 201)
		r := c.postJSON("/api/v0/proofs/proved", write, map[string]any{"block_number": n, "cluster_id": cl.Index, "proving_time": 1,
			"proof": base64.StdEncoding.EncodeToString(demoProof(t, n, hash))})
		wantStatus(t, r, 200)
		var pid struct {
			ProofID int64 `json:"proof_id"`
		}
		r.json(t, &pid)
		v, err := db.ProofView(ctx, pid.ProofID)
		if err != nil {
			t.Fatal(err)
		}
		m := queue.ProofVerify(queue.ProofVerifyPayload{ProofID: v.Proof.ID, TeamID: v.Proof.TeamID})
		deadline := time.Now().Add(20 * time.Second)
		for {
			info, err := ins.GetTaskInfo(m.Queue, m.TaskID)
			if err == nil && info.State == asynq.TaskStateRetry {
				if !strings.Contains(info.LastErr, "no bytes under key") {
					t.Fatalf("first attempt failed with %q", info.LastErr)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %s: %+v (%v); want it waiting for a retry", m.TaskID, info, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if v, _ := db.ProofView(ctx, v.Proof.ID); v.Proof.Verification != nil {
			t.Fatalf("proof judged %s after a missing-bytes attempt, want pending", *v.Proof.Verification)
		}
		return v.Proof, m
	}
	verdict := func(id int64) (string, string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			v, err := db.ProofView(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if v.Proof.Verification != nil {
				return *v.Proof.Verification, v.Proof.VerificationReason
			}
			if time.Now().After(deadline) {
				t.Fatalf("proof %d not verified", id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	p, m := upload(600)
	b, err := os.ReadFile(filepath.Join(apiDir, "blobs", filepath.FromSlash(*p.BlobKey)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := worker.Coordinator.Blobs.Put(ctx, *p.BlobKey, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	// Run the retry now rather than after asynq's backoff.
	if err := ins.RunTask(m.Queue, m.TaskID); err != nil {
		t.Fatal(err)
	}
	if got, reason := verdict(p.ID); got != "valid" {
		t.Fatalf("after the bytes appeared: %s (%s), want valid", got, reason)
	}

	q, m := upload(601)
	// The task's last attempt (no retries left).
	task := asynq.NewTask(m.Type, m.Payload)
	if _, err := asynq.NewClientFromRedisClient(worker.Coordinator.Redis).Enqueue(task, asynq.Queue(m.Queue), asynq.MaxRetry(0)); err != nil {
		t.Fatal(err)
	}
	if got, reason := verdict(q.ID); got != "cannot_verify" || !strings.Contains(reason, "missing from the blob store") {
		t.Fatalf("last attempt: %s (%s), want cannot_verify", got, reason)
	}
}
