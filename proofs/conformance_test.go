package proofs_test

import (
	"context"
	"testing"

	"github.com/proofgrid/proofgrid/proofs"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
	"github.com/proofgrid/proofgrid/zkvm"
)

// TestVerifiedAgainWhenTheHashArrives checks that a proof reported before
// its block's hash was known, and so marked cannot_verify, is verified
// again once the hash arrives.
func TestVerifiedAgainWhenTheHashArrives(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, nil)
		if _, _, err := f.svc.CreateCluster(ctx, f.teamID, proofs.NewCluster{Name: "demo", ZKVMVersionID: 1}); err != nil {
			t.Fatal(err)
		}
		who := proofs.Reporter{TeamID: f.teamID}
		p, err := f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 20, ClusterIndex: 1, ProvingTimeMS: 10, Proof: demoProof(t, 20, hashOf(20))})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := f.svc.Verify(ctx, p.ID); err != nil || v.Outcome != zkvm.OutcomeCannotVerify {
			t.Fatalf("verify without the hash = %+v %v, want cannot_verify", v, err)
		}
		if _, err := f.svc.RecordBlock(ctx, storage.BlockInfo{Number: 20, Hash: ptr(hashOf(20))}); err != nil {
			t.Fatal(err)
		}
		view, err := f.svc.ProofView(ctx, p.ID)
		if err != nil || view.Proof.Verification != nil {
			t.Fatalf("verification after the hash arrived = %v %v, want none until verified again", view.Proof.Verification, err)
		}
		msg, err := db.OutboxMessage(ctx, queue.ProofVerifyID(p.ID)+":"+hashOf(20))
		if err != nil || msg.TaskType != queue.TypeProofVerify {
			t.Fatalf("second verify task = %+v %v", msg, err)
		}
		if v, err := f.svc.Verify(ctx, p.ID); err != nil || v.Outcome != zkvm.OutcomeValid {
			t.Fatalf("verify with the hash = %+v %v, want valid", v, err)
		}
		// Recording the block again changes nothing: the outcome stands.
		if _, err := f.svc.RecordBlock(ctx, storage.BlockInfo{Number: 20, Hash: ptr(hashOf(20))}); err != nil {
			t.Fatal(err)
		}
		if view, err := f.svc.ProofView(ctx, p.ID); err != nil || view.Proof.Verification == nil || *view.Proof.Verification != string(zkvm.OutcomeValid) {
			t.Fatalf("verification after recording the block again = %v %v", view.Proof.Verification, err)
		}
	})
}
