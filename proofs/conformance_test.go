package proofs_test

import (
	"context"
	"os"
	"path/filepath"
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

// TestOneProofPerClusterAcrossVersions checks the rule that a cluster
// proves a block once whatever its version: a block proved under an
// earlier version is a conflict, an unfinished proof moves to the active
// version, and going back to an earlier configuration reactivates its
// version instead of numbering a new one.
func TestOneProofPerClusterAcrossVersions(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, nil)
		c, v1, err := f.svc.CreateCluster(ctx, f.teamID, proofs.NewCluster{Name: "demo", ZKVMVersionID: 1})
		if err != nil {
			t.Fatal(err)
		}
		who := proofs.Reporter{TeamID: f.teamID}
		if _, err := f.svc.RecordBlock(ctx, storage.BlockInfo{Number: 30, Hash: ptr(hashOf(30))}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 30, ClusterIndex: 1, ProvingTimeMS: 10, Proof: demoProof(t, 30, hashOf(30))}); err != nil {
			t.Fatal(err)
		}
		q31, err := f.svc.Report(ctx, who, proofs.Report{Status: "queued", BlockNumber: 31, ClusterIndex: 1})
		if err != nil {
			t.Fatal(err)
		}

		if _, err := f.svc.UpdateCluster(ctx, f.teamID, 1, storage.ClusterUpdate{ZKVMVersionID: ptr(int64(2))}); err != nil {
			t.Fatal(err)
		}
		v2, err := db.ActiveClusterVersion(ctx, c.ID)
		if err != nil || v2.ID == v1.ID || v2.Index != 2 {
			t.Fatalf("version after the change = %+v %v", v2, err)
		}
		_, err = f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 30, ClusterIndex: 1, ProvingTimeMS: 10, Proof: demoProof(t, 30, hashOf(30))})
		wantCode(t, err, "conflict")
		p31, err := f.svc.Report(ctx, who, proofs.Report{Status: "proving", BlockNumber: 31, ClusterIndex: 1})
		if err != nil || p31.ID != q31.ID || p31.ClusterVersionID != v2.ID {
			t.Fatalf("proving 31 after the change = %+v %v, want proof %d moved to version %d", p31, err, q31.ID, v2.ID)
		}
		list, total, err := f.svc.ListProofs(ctx, storage.ProofFilter{ClusterIDs: []string{c.ID}, Limit: 10})
		if err != nil || total != 2 || len(list) != 2 {
			t.Fatalf("proofs of the cluster = %d %v, want 2", total, err)
		}

		// Back to the first configuration: version 1 again, not a third.
		if _, err := f.svc.UpdateCluster(ctx, f.teamID, 1, storage.ClusterUpdate{ZKVMVersionID: ptr(v1.ZKVMVersionID)}); err != nil {
			t.Fatal(err)
		}
		back, err := db.ActiveClusterVersion(ctx, c.ID)
		if err != nil || back.ID != v1.ID || back.Index != 1 || !back.IsActive {
			t.Fatalf("active version after switching back = %+v %v, want version %d (index 1)", back, err, v1.ID)
		}
	})
}

// TestRequeueClearsProvingTimestamp checks that going back from proving to
// queued clears proving_timestamp, which would otherwise precede
// queued_timestamp.
func TestRequeueClearsProvingTimestamp(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, nil)
		if _, _, err := f.svc.CreateCluster(ctx, f.teamID, proofs.NewCluster{Name: "demo", ZKVMVersionID: 1}); err != nil {
			t.Fatal(err)
		}
		who := proofs.Reporter{TeamID: f.teamID}
		if _, err := f.svc.Report(ctx, who, proofs.Report{Status: "proving", BlockNumber: 40, ClusterIndex: 1}); err != nil {
			t.Fatal(err)
		}
		q, err := f.svc.Report(ctx, who, proofs.Report{Status: "queued", BlockNumber: 40, ClusterIndex: 1})
		if err != nil || q.Status != "queued" || q.QueuedAt == nil || q.ProvingAt != nil {
			t.Fatalf("requeued = %+v %v, want queued without proving_timestamp", q, err)
		}
	})
}

// TestVerifiedAgainWhenTheKeyArrives checks that a proof that could not be
// verified because its vk_path named no uploaded key yet is verified again
// once the key is uploaded.
func TestVerifiedAgainWhenTheKeyArrives(t *testing.T) {
	db := storagetest.SQLite(t)
	ctx := context.Background()
	script := filepath.Join(t.TempDir(), "verify.sh")
	// Valid when the proof file equals the key file.
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncmp -s \"$1\" \"$2\" && exit 0\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, db, map[string]zkvm.ExecVerifier{"sp1": {Command: []string{script, "{proof}", "{vk_path}"}}})
	c, _, err := f.svc.CreateCluster(ctx, f.teamID, proofs.NewCluster{Name: "sp1", ZKVMVersionID: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateCluster(ctx, f.teamID, c.Index, storage.ClusterUpdate{VKPath: ptr("late_key")}); err != nil {
		t.Fatal(err)
	}
	who := proofs.Reporter{TeamID: f.teamID}
	p, err := f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 1, ClusterIndex: c.Index, ProvingTimeMS: 1, Proof: []byte("KEY")})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.svc.Verify(ctx, p.ID); err != nil || v.Outcome != zkvm.OutcomeCannotVerify {
		t.Fatalf("verify without the key = %+v %v", v, err)
	}
	if _, err := f.svc.PutVerificationKey(ctx, f.teamID, "late_key", []byte("KEY")); err != nil {
		t.Fatal(err)
	}
	if view, err := f.svc.ProofView(ctx, p.ID); err != nil || view.Proof.Verification != nil {
		t.Fatalf("verification after the upload = %v %v, want none until verified again", view.Proof.Verification, err)
	}
	if v, err := f.svc.Verify(ctx, p.ID); err != nil || v.Outcome != zkvm.OutcomeValid {
		t.Fatalf("verify with the key = %+v %v, want valid", v, err)
	}
}
