package proofs_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/proofs"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
	"github.com/proofgrid/proofgrid/zkvm"
)

// forgedDemo is a 100-byte demo proof of block n that declares steps
// hashes in one segment: cheap to send, steps hashes to check.
func forgedDemo(t *testing.T, n int64, hash string, steps uint64) []byte {
	t.Helper()
	p := zkvm.DemoProof{BlockNumber: uint64(n), Steps: steps, CheckpointEvery: steps}
	b, _ := hex.DecodeString(hash[2:])
	copy(p.BlockHash[:], b)
	out, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVerificationLimits: a demo proof that declares more work than the
// coordinator's cap is refused when reported, and a verification that runs
// past the timeout or above a cap lowered since ends with a final
// cannot_verify, before any retry.
func TestVerificationLimits(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, nil)
		strict, err := proofs.New(proofs.Config{DB: db, Blobs: f.blobs, Jobs: f.jobs, DemoVerifyMaxSteps: 5000, VerifyTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		// The fixture's service has a higher cap and a short timeout.
		loose, err := proofs.New(proofs.Config{DB: db, Blobs: f.blobs, Jobs: f.jobs, DemoVerifyMaxSteps: 4_000_000, VerifyTimeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, version, err := strict.CreateCluster(ctx, f.teamID, proofs.NewCluster{Name: "demo", ZKVMVersionID: 1})
		if err != nil {
			t.Fatal(err)
		}
		for n := int64(20); n <= 22; n++ {
			if _, err := strict.RecordBlock(ctx, storage.BlockInfo{Number: n, Hash: ptr(hashOf(int(n)))}); err != nil {
				t.Fatal(err)
			}
		}
		who := proofs.Reporter{TeamID: f.teamID}
		report := func(svc *proofs.Service, n int64, proof []byte) (storage.Proof, error) {
			return svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: n, ClusterIndex: 1, ProvingTimeMS: 1, Proof: proof})
		}

		// Refused at submission: nothing stored, no task.
		_, err = report(strict, 20, forgedDemo(t, 20, hashOf(20), zkvm.MaxDemoSteps))
		wantCode(t, err, proofgrid.EUNPROCESSABLE)
		if !strings.Contains(err.Error(), "declares 100000000 demo steps; this coordinator verifies at most 5000") {
			t.Fatalf("message = %q", err)
		}
		if _, err := db.ProofAt(ctx, 20, version.ID); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			t.Fatalf("refused proof stored: %v", err)
		}
		// An honest proof within the cap goes through.
		ok, err := report(strict, 20, demoProof(t, 20, hashOf(20)))
		if err != nil {
			t.Fatal(err)
		}
		if v, err := strict.Verify(ctx, ok.ID); err != nil || v.Outcome != zkvm.OutcomeValid {
			t.Fatalf("Verify(honest) = %+v %v", v, err)
		}

		// Within the loose cap but seconds of hashing: the 50 ms timeout
		// ends it with a final cannot_verify.
		slow, err := report(loose, 21, forgedDemo(t, 21, hashOf(21), 4_000_000))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		v, err := loose.Verify(ctx, slow.ID)
		if err != nil || v.Outcome != zkvm.OutcomeCannotVerify || v.Reason != "verification exceeded 0.05 s" {
			t.Fatalf("Verify(slow) = %+v %v", v, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("verification took %v with a 50ms timeout", d)
		}
		stored, err := db.ProofView(ctx, slow.ID)
		if err != nil || *stored.Proof.Verification != "cannot_verify" || stored.Proof.VerificationReason != v.Reason {
			t.Fatalf("stored verification = %+v %v", stored.Proof, err)
		}

		// Accepted under a higher cap, verified under a lower one.
		big, err := report(loose, 22, forgedDemo(t, 22, hashOf(22), 1_000_000))
		if err != nil {
			t.Fatal(err)
		}
		v, err = strict.Verify(ctx, big.ID)
		if err != nil || v.Outcome != zkvm.OutcomeCannotVerify || v.Reason != "proof declares 1000000 steps, above this verifier's limit of 5000" {
			t.Fatalf("Verify(over the cap) = %+v %v", v, err)
		}
		// Verifications go to the queue of the reporting team.
		if msg, err := db.OutboxMessage(ctx, queue.ProofVerifyID(big.ID)); err != nil || msg.Queue != queue.VerifyQueue(f.teamID) {
			t.Fatalf("verify task of the accepted proof = %+v %v, want queue %s", msg, err, queue.VerifyQueue(f.teamID))
		}
	})
}

// TestVerifyTimeoutLeavesTaskTime: a verification must end before the
// proof:verify task does, or asynq would retry it and a slow proof would
// cost its timeout again and again.
func TestVerifyTimeoutLeavesTaskTime(t *testing.T) {
	db := storagetest.SQLite(t)
	f := newFixture(t, db, nil)
	if _, err := proofs.New(proofs.Config{DB: db, Blobs: f.blobs, VerifyTimeout: 10 * time.Minute}); err == nil {
		t.Fatal("a verify timeout as long as the task's was accepted")
	}
	slow := map[string]zkvm.ExecVerifier{"sp1": {Command: []string{"true"}, Timeout: time.Hour}}
	if _, err := proofs.New(proofs.Config{DB: db, Blobs: f.blobs, Verifiers: slow}); err == nil {
		t.Fatal("an exec verifier timeout above the task's was accepted")
	}
}
