package proofs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/blob"
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

// failingStore is a blob store whose Open fails, as a store that is down
// does, for keys under prefix.
type failingStore struct {
	blob.Store
	prefix string
}

func (s failingStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if strings.HasPrefix(key, s.prefix) {
		return nil, errors.New("blob: open: connection refused")
	}
	return s.Store.Open(ctx, key)
}

// TestVerificationKeyStoreErrorIsRetried: a blob store that fails while a
// verification key is read fails the attempt (retried), where it used to
// judge the proof cannot_verify for good.
func TestVerificationKeyStoreErrorIsRetried(t *testing.T) {
	db := storagetest.SQLite(t)
	ctx := context.Background()
	script := filepath.Join(t.TempDir(), "verify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncmp -s \"$1\" \"$2\" && exit 0\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	verifiers := map[string]zkvm.ExecVerifier{"sp1": {Command: []string{script, "{proof}", "{vk_path}"}}}
	f := newFixture(t, db, verifiers)
	c, _, err := f.svc.CreateCluster(ctx, f.teamID, proofs.NewCluster{Name: "sp1", ZKVMVersionID: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateCluster(ctx, f.teamID, c.Index, storage.ClusterUpdate{VKPath: ptr("key")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PutVerificationKey(ctx, f.teamID, "key", []byte("KEY")); err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Report(ctx, proofs.Reporter{TeamID: f.teamID}, proofs.Report{Status: "proved", BlockNumber: 1, ClusterIndex: c.Index, ProvingTimeMS: 1, Proof: []byte("KEY")})
	if err != nil {
		t.Fatal(err)
	}
	down, err := proofs.New(proofs.Config{DB: db, Blobs: failingStore{f.blobs, "vk/"}, Jobs: f.jobs, Verifiers: verifiers})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := down.Verify(ctx, p.ID); err == nil || queue.Permanent(err) {
		t.Fatalf("Verify with the store down = %v, want a retryable error", err)
	}
	if view, err := f.svc.ProofView(ctx, p.ID); err != nil || view.Proof.Verification != nil {
		t.Fatalf("verification after a failed attempt = %v %v, want none", view.Proof.Verification, err)
	}
	if v, err := f.svc.Verify(ctx, p.ID); err != nil || v.Outcome != zkvm.OutcomeValid {
		t.Fatalf("Verify with the store back = %+v %v, want valid", v, err)
	}
}
