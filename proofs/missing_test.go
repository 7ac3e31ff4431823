package proofs_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/proofs"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
	"github.com/proofgrid/proofgrid/zkvm"
)

// TestMissingProofBytesAreRetried: a verification that finds no bytes in
// the blob store (a replica whose store does not show them yet) fails with
// a retryable error and leaves the proof pending; once the bytes appear
// the next attempt verifies it. VerifyFinal, the last attempt, judges a
// proof whose bytes never came cannot_verify.
func TestMissingProofBytesAreRetried(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, nil)
		if _, _, err := f.svc.CreateCluster(ctx, f.teamID, proofs.NewCluster{Name: "demo", ZKVMVersionID: 1}); err != nil {
			t.Fatal(err)
		}
		who := proofs.Reporter{TeamID: f.teamID}
		report := func(n int64) (storage.Proof, []byte) {
			t.Helper()
			if _, err := f.svc.RecordBlock(ctx, storage.BlockInfo{Number: n, Hash: ptr(hashOf(int(n)))}); err != nil {
				t.Fatal(err)
			}
			proof := demoProof(t, n, hashOf(int(n)))
			p, err := f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: n, ClusterIndex: 1, ProvingTimeMS: 1, Proof: proof})
			if err != nil {
				t.Fatal(err)
			}
			// The bytes are not where this replica looks.
			if err := f.blobs.Delete(ctx, *p.BlobKey); err != nil {
				t.Fatal(err)
			}
			return p, proof
		}

		p, proof := report(20)
		_, err := f.svc.Verify(ctx, p.ID)
		if !errors.Is(err, proofs.ErrProofBytesMissing) || proofgrid.ErrorCode(err) != proofgrid.EUNAVAILABLE || queue.Permanent(err) {
			t.Fatalf("Verify without bytes = %v; want a retryable EUNAVAILABLE", err)
		}
		if v, err := db.ProofView(ctx, p.ID); err != nil || v.Proof.Verification != nil {
			t.Fatalf("proof after a failed attempt: verification %v (%v), want none", v.Proof.Verification, err)
		}
		if _, err := f.blobs.Put(ctx, *p.BlobKey, bytes.NewReader(proof)); err != nil {
			t.Fatal(err)
		}
		if v, err := f.svc.Verify(ctx, p.ID); err != nil || v.Outcome != zkvm.OutcomeValid {
			t.Fatalf("Verify once the bytes are back = %+v %v, want valid", v, err)
		}

		q, _ := report(21)
		v, err := f.svc.VerifyFinal(ctx, q.ID)
		if err != nil || v.Outcome != zkvm.OutcomeCannotVerify || !strings.Contains(v.Reason, "missing from the blob store") {
			t.Fatalf("VerifyFinal without bytes = %+v %v, want cannot_verify", v, err)
		}
		stored, err := db.ProofView(ctx, q.ID)
		if err != nil || stored.Proof.Verification == nil || *stored.Proof.Verification != string(zkvm.OutcomeCannotVerify) {
			t.Fatalf("stored verdict = %+v %v", stored.Proof, err)
		}
	})
}
