package proofs_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/blob"
	"github.com/proofgrid/proofgrid/proofs"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
	"github.com/proofgrid/proofgrid/zkvm"
)

type counter struct{ n atomic.Int64 }

func (c *counter) Notify() { c.n.Add(1) }

type fixture struct {
	svc    *proofs.Service
	db     *storage.DB
	blobs  *blob.Dir
	notes  *counter
	jobs   *rewards.Service
	teamID int64
}

func newFixture(t *testing.T, db *storage.DB, verifiers map[string]zkvm.ExecVerifier) *fixture {
	t.Helper()
	blobs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	notes := &counter{}
	jobs, err := rewards.New(db, rewards.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := proofs.New(proofs.Config{DB: db, Blobs: blobs, Outbox: notes, Jobs: jobs, MaxProofBytes: 1 << 20, Verifiers: verifiers})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.ImportCatalogue(context.Background(), proofs.DefaultCatalogue()); err != nil {
		t.Fatal(err)
	}
	team, err := db.EnsureTeam(context.Background(), "Alpha Provers")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, db: db, blobs: blobs, notes: notes, jobs: jobs, teamID: team.ID}
}

func ptr[T any](v T) *T { return &v }

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := proofgrid.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func hashOf(n int) string {
	var b [32]byte
	b[0], b[31] = byte(n), 0xaa
	return "0x" + hex.EncodeToString(b[:])
}

func demoProof(t *testing.T, n int64, hash string) []byte {
	t.Helper()
	var h [32]byte
	b, _ := hex.DecodeString(hash[2:])
	copy(h[:], b)
	proof, _, err := zkvm.ProveDemo(context.Background(), zkvm.DemoInput{BlockNumber: uint64(n), BlockHash: h, Steps: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return proof
}

func TestCatalogue(t *testing.T) {
	if _, err := proofs.ParseCatalogue([]byte(`{"zkvms":[{"id":1,"slug":"a","name":"A","team_id":"nope"}]}`)); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
		t.Fatalf("bad team id: %v", err)
	}
	if _, err := proofs.ParseCatalogue([]byte(`{"zkvms":[{"id":1,"slug":"a","name":"A","team_id":"43a58812-0bc4-4c38-b28d-fe4a4a459557","versions":[{"id":1,"version":"v1"},{"id":1,"version":"v2"}]}]}`)); err == nil {
		t.Fatal("duplicate version ids accepted")
	}
	c := proofs.DefaultCatalogue()
	if len(c.ZKVMs) < 5 || c.ZKVMs[0].Slug != proofs.DemoZKVM {
		t.Fatalf("default catalogue = %+v", c)
	}
	if proofs.TeamUUID(1) != proofs.TeamUUID(1) || proofs.TeamUUID(1) == proofs.TeamUUID(2) {
		t.Fatal("team UUIDs are not stable and distinct")
	}
	if got := proofs.TeamSlug(3, "  ZK Night!! Labs "); got != "zk-night-labs" {
		t.Fatalf("TeamSlug = %q", got)
	}
	if got := proofs.TeamSlug(3, "!!!"); got != "team-3" {
		t.Fatalf("TeamSlug of symbols = %q", got)
	}
}

func TestReportsAndVerification(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, nil)
		c, v, err := f.svc.CreateCluster(ctx, f.teamID, proofs.NewCluster{Name: "demo", ZKVMVersionID: 1})
		if err != nil || c.Index != 1 || c.NumGPUs != 1 || c.DeploymentType != storage.DeploymentCloudHosted {
			t.Fatalf("CreateCluster = %+v %v", c, err)
		}
		if _, _, err := f.svc.CreateCluster(ctx, f.teamID, proofs.NewCluster{Name: "x", ZKVMVersionID: 999}); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Fatalf("unknown zkVM version: %v", err)
		}

		// A block from a feed schedules one task per active cluster version.
		res, err := f.svc.RecordBlock(ctx, storage.BlockInfo{Number: 10, Hash: ptr(hashOf(10))})
		if err != nil || !res.Created || res.Scheduled != 1 {
			t.Fatalf("RecordBlock = %+v %v", res, err)
		}
		msg, err := db.OutboxMessage(ctx, queue.ProveBlockID(10, v.ID))
		if err != nil || msg.Queue != queue.ProveQueue(c.ID) || msg.TaskType != queue.TypeProveBlock {
			t.Fatalf("prove task = %+v %v", msg, err)
		}
		again, err := f.svc.RecordBlock(ctx, storage.BlockInfo{Number: 10, GasUsed: ptr(int64(7))})
		if err != nil || again.Created || again.Scheduled != 0 || *again.Block.GasUsed != 7 {
			t.Fatalf("RecordBlock again = %+v %v", again, err)
		}

		who := proofs.Reporter{TeamID: f.teamID}
		if _, err := f.svc.Report(ctx, who, proofs.Report{Status: "queued", BlockNumber: 10, ClusterIndex: 2}); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			t.Fatalf("unknown cluster index: %v", err)
		}
		q, err := f.svc.Report(ctx, who, proofs.Report{Status: "queued", BlockNumber: 10, ClusterIndex: 1})
		if err != nil || q.Status != "queued" {
			t.Fatalf("queued = %+v %v", q, err)
		}
		if _, err := f.svc.Report(ctx, who, proofs.Report{Status: "done", BlockNumber: 10, ClusterIndex: 1}); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Fatalf("unknown status: %v", err)
		}
		if _, err := f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 10, ClusterIndex: 1, ProvingTimeMS: 5, Proof: make([]byte, 2<<20)}); proofgrid.ErrorCode(err) != proofgrid.ETOOLARGE {
			t.Fatalf("oversized proof: %v", err)
		}
		proof := demoProof(t, 10, hashOf(10))
		p, err := f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 10, ClusterIndex: 1, ProvingTimeMS: 1500, ProvingCycles: ptr(int64(1000)), Proof: proof})
		if err != nil || p.ID != q.ID || *p.SizeBytes != int64(len(proof)) || *p.ProvingTimeMS != 1500 {
			t.Fatalf("proved = %+v %v", p, err)
		}
		_, err = f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 10, ClusterIndex: 1, ProvingTimeMS: 1, Proof: []byte("other")})
		wantCode(t, err, proofgrid.ECONFLICT)
		_, err = f.svc.Report(ctx, who, proofs.Report{Status: "queued", BlockNumber: 10, ClusterIndex: 1})
		wantCode(t, err, proofgrid.ECONFLICT)

		view, err := f.svc.ProvedProof(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := f.svc.OpenProof(ctx, view)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		_, _ = got.ReadFrom(rc)
		rc.Close()
		if !bytes.Equal(got.Bytes(), proof) {
			t.Fatal("stored proof bytes differ")
		}
		if _, err := db.OutboxMessage(ctx, queue.ProofVerifyID(p.ID)); err != nil {
			t.Fatalf("verify task: %v", err)
		}
		evs, err := f.svc.WorkerEvents(ctx, storage.WorkerEventFilter{Topic: queue.TypeProveBlock})
		if err != nil || len(evs) != 1 || evs[0].Status != storage.WorkerEventCompleted || evs[0].DurationMS != 1500 ||
			evs[0].WorkerPublicKey != "team:"+proofs.TeamUUID(f.teamID) || evs[0].CircuitType != "proofgrid-demo/v1" {
			t.Fatalf("worker events = %+v %v", evs, err)
		}
		// A report made with a team API key has no enrolled agent behind
		// it: recorded, not rewarded.
		if evs[0].Eligible {
			t.Fatalf("a team key's proved report is eligible for rewards: %+v", evs[0])
		}
		if f.notes.n.Load() < 2 {
			t.Fatalf("outbox notified %d times, want a notification per commit with tasks", f.notes.n.Load())
		}

		verdict, err := f.svc.Verify(ctx, p.ID)
		if err != nil || verdict.Outcome != zkvm.OutcomeValid {
			t.Fatalf("Verify = %+v %v", verdict, err)
		}
		// Verified once: a second delivery returns the stored verdict.
		again2, err := f.svc.Verify(ctx, p.ID)
		if err != nil || again2.Outcome != zkvm.OutcomeValid {
			t.Fatalf("second Verify = %+v %v", again2, err)
		}
		evs, _ = f.svc.WorkerEvents(ctx, storage.WorkerEventFilter{Topic: queue.TypeProofVerify})
		if len(evs) != 1 || evs[0].Result != "valid" || evs[0].WorkerPublicKey != rewards.CoordinatorWorker || evs[0].Eligible {
			t.Fatalf("verify events = %+v (the coordinator's verification must not be eligible)", evs)
		}

		// A proof of the wrong block is flagged invalid, not deleted.
		bad, err := f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 11, ClusterIndex: 1, ProvingTimeMS: 3, Proof: demoProof(t, 10, hashOf(10))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.RecordBlock(ctx, storage.BlockInfo{Number: 11, Hash: ptr(hashOf(11))}); err != nil {
			t.Fatal(err)
		}
		verdict, err = f.svc.Verify(ctx, bad.ID)
		if err != nil || verdict.Outcome != zkvm.OutcomeInvalid || verdict.Reason == "" {
			t.Fatalf("Verify(bad) = %+v %v", verdict, err)
		}
		if v, err := f.svc.ProvedProof(ctx, bad.ID); err != nil || *v.Proof.Verification != "invalid" {
			t.Fatalf("flagged proof = %+v %v", v.Proof, err)
		}
		// Block 12 has no known hash: the demo verifier cannot check it.
		nohash, err := f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 12, ClusterIndex: 1, ProvingTimeMS: 3, Proof: proof})
		if err != nil {
			t.Fatal(err)
		}
		if verdict, err := f.svc.Verify(ctx, nohash.ID); err != nil || verdict.Outcome != zkvm.OutcomeCannotVerify {
			t.Fatalf("Verify(no hash) = %+v %v", verdict, err)
		}

		// A deactivated cluster receives no proofs and gets no new tasks.
		if _, err := f.svc.UpdateCluster(ctx, f.teamID, 1, storage.ClusterUpdate{IsActive: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Report(ctx, who, proofs.Report{Status: "queued", BlockNumber: 13, ClusterIndex: 1})
		wantCode(t, err, proofgrid.EINVALID)
		if res, err := f.svc.RecordBlock(ctx, storage.BlockInfo{Number: 13}); err != nil || res.Scheduled != 0 {
			t.Fatalf("RecordBlock with no active cluster = %+v %v", res, err)
		}
		if _, err := f.svc.UpdateCluster(ctx, f.teamID, 1, storage.ClusterUpdate{}); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Fatalf("empty update: %v", err)
		}
	})
}

func TestAgentReports(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db, nil)
		c, v, err := f.svc.CreateCluster(ctx, f.teamID, proofs.NewCluster{Name: "demo", ZKVMVersionID: 1})
		if err != nil {
			t.Fatal(err)
		}
		m := &proofgrid.Machine{ID: "m-1", TeamID: f.teamID, Role: proofgrid.RoleProver, ClusterID: c.ID, PublicKey: "agent-key"}
		who := proofs.Reporter{TeamID: f.teamID, Machine: m}
		p, err := f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 1, ClusterIndex: 1, ProvingTimeMS: 9, Proof: []byte("p")})
		if err != nil || p.SubmittedBy != "m-1" || p.WorkerKey != "agent-key" {
			t.Fatalf("agent report = %+v %v", p, err)
		}
		proved, err := f.svc.WorkerEvents(ctx, storage.WorkerEventFilter{JobID: queue.ProveBlockID(1, v.ID)})
		if err != nil || len(proved) != 1 || !proved[0].Eligible {
			t.Fatalf("an enrolled agent's proved report is not eligible for rewards: %+v %v", proved, err)
		}
		other := &proofgrid.Machine{ID: "m-2", TeamID: f.teamID, Role: proofgrid.RoleProver, ClusterID: "another-cluster", PublicKey: "k2"}
		_, err = f.svc.Report(ctx, proofs.Reporter{TeamID: f.teamID, Machine: other}, proofs.Report{Status: "queued", BlockNumber: 2, ClusterIndex: 1})
		wantCode(t, err, proofgrid.EFORBIDDEN)

		fail := proofs.Failure{BlockNumber: 2, ClusterIndex: 1, Status: storage.WorkerEventCancelled, Attempt: 0,
			StartedAt: time.Now().Add(-time.Second), EndedAt: time.Now(), Error: "agent stopped"}
		for i, want := range []bool{true, false} {
			ok, err := f.svc.ReportFailure(ctx, who, fail)
			if err != nil || ok != want {
				t.Fatalf("ReportFailure #%d = %v %v", i, ok, err)
			}
		}
		fail.Attempt = 1
		fail.Status = storage.WorkerEventFailed
		if ok, err := f.svc.ReportFailure(ctx, who, fail); err != nil || !ok {
			t.Fatalf("second attempt's failure = %v %v", ok, err)
		}
		evs, err := f.svc.WorkerEvents(ctx, storage.WorkerEventFilter{JobID: queue.ProveBlockID(2, v.ID)})
		if err != nil || len(evs) != 2 || evs[0].MachineID != "m-1" || evs[1].Error != "agent stopped" {
			t.Fatalf("failure events = %+v %v", evs, err)
		}
		fail.Status = storage.WorkerEventCompleted
		_, err = f.svc.ReportFailure(ctx, who, fail)
		wantCode(t, err, proofgrid.EINVALID)
		_, err = f.svc.ReportFailure(ctx, proofs.Reporter{TeamID: f.teamID}, fail)
		wantCode(t, err, proofgrid.EFORBIDDEN)
	})
}

func TestExecVerifierAndKeys(t *testing.T) {
	db := storagetest.SQLite(t)
	ctx := context.Background()
	dir := t.TempDir()
	script := filepath.Join(dir, "verify.sh")
	// Valid when the proof file equals the key file, invalid otherwise.
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncmp -s \"$1\" \"$2\" && exit 0\necho mismatch >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, db, map[string]zkvm.ExecVerifier{"sp1": {Command: []string{script, "{proof}", "{vk_path}"}}})
	c, _, err := f.svc.CreateCluster(ctx, f.teamID, proofs.NewCluster{Name: "sp1", ZKVMVersionID: 3})
	if err != nil {
		t.Fatal(err)
	}
	who := proofs.Reporter{TeamID: f.teamID}
	// No key yet: cannot verify.
	p1, err := f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 1, ClusterIndex: c.Index, ProvingTimeMS: 1, Proof: []byte("KEY")})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.svc.Verify(ctx, p1.ID); err != nil || v.Outcome != zkvm.OutcomeCannotVerify {
		t.Fatalf("Verify without key = %+v %v", v, err)
	}
	// Another team's key of the same name is not this team's.
	if _, err := f.svc.PutVerificationKey(ctx, f.teamID+1000, "alpha_sp1", []byte("OTHER")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PutVerificationKey(ctx, 0, "alpha_sp1", []byte("KEY")); proofgrid.ErrorCode(err) != proofgrid.EFORBIDDEN {
		t.Fatalf("PutVerificationKey without a team = %v", err)
	}
	name, err := f.svc.PutVerificationKey(ctx, f.teamID, "alpha_sp1", []byte("KEY"))
	if err != nil || name != "alpha_sp1.bin" {
		t.Fatalf("PutVerificationKey = %q %v", name, err)
	}
	newVersion, err := f.svc.UpdateCluster(ctx, f.teamID, c.Index, storage.ClusterUpdate{VKPath: &name})
	if err != nil || !newVersion {
		t.Fatalf("UpdateCluster(vk) = %v %v", newVersion, err)
	}
	// A cluster proves a block once, whatever its version.
	_, err = f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 1, ClusterIndex: c.Index, ProvingTimeMS: 1, Proof: []byte("KEY")})
	wantCode(t, err, proofgrid.ECONFLICT)
	p2, err := f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 4, ClusterIndex: c.Index, ProvingTimeMS: 1, Proof: []byte("KEY")})
	if err != nil || p2.ID == p1.ID {
		t.Fatalf("proof for the new version = %+v %v (first %d)", p2, err, p1.ID)
	}
	if v, err := f.svc.Verify(ctx, p2.ID); err != nil || v.Outcome != zkvm.OutcomeValid {
		t.Fatalf("Verify with key = %+v %v", v, err)
	}
	p3, err := f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 2, ClusterIndex: c.Index, ProvingTimeMS: 1, Proof: []byte("FORGED")})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.svc.Verify(ctx, p3.ID); err != nil || v.Outcome != zkvm.OutcomeInvalid {
		t.Fatalf("Verify forged = %+v %v", v, err)
	}
	keys, err := f.svc.ActiveVerificationKeys(ctx)
	if err != nil || len(keys) != 1 || string(keys[0].Data) != "KEY" || keys[0].Ref.ZKVMSlug != "sp1" {
		t.Fatalf("ActiveVerificationKeys = %+v %v", keys, err)
	}
	kn, kb, err := f.svc.VerificationKeyOfProof(ctx, p2.ID)
	if err != nil || kn != name || string(kb) != "KEY" {
		t.Fatalf("VerificationKeyOfProof = %q %q %v", kn, kb, err)
	}
	// A path on the coordinator's disk is neither read nor served.
	abs := filepath.Join(dir, "local.vk")
	os.WriteFile(abs, []byte("LOCAL"), 0o600)
	if _, err := f.svc.UpdateCluster(ctx, f.teamID, c.Index, storage.ClusterUpdate{VKPath: &abs}); err != nil {
		t.Fatal(err)
	}
	if keys, _ := f.svc.ActiveVerificationKeys(ctx); len(keys) != 0 {
		t.Fatalf("a local key file is served: %+v", keys)
	}
	p4, _ := f.svc.Report(ctx, who, proofs.Report{Status: "proved", BlockNumber: 5, ClusterIndex: c.Index, ProvingTimeMS: 1, Proof: []byte("LOCAL")})
	if v, err := f.svc.Verify(ctx, p4.ID); err != nil || v.Outcome != zkvm.OutcomeCannotVerify {
		t.Fatalf("Verify with a local key path = %+v %v", v, err)
	}

	if _, err := f.svc.PutBenchmark(ctx, f.teamID, "bad name", []byte("{}")); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
		t.Fatalf("bad benchmark name: %v", err)
	}
	if _, err := f.svc.PutBenchmark(ctx, f.teamID, "b-1", []byte("not json")); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
		t.Fatalf("non-JSON benchmark: %v", err)
	}
	b, err := f.svc.PutBenchmark(ctx, f.teamID, "b-1", []byte(`{"x":1}`))
	if err != nil || b.Name != "b-1.json" {
		t.Fatalf("PutBenchmark = %+v %v", b, err)
	}
	_, rc, err := f.svc.OpenBenchmark(ctx, "b-1")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, _, err := f.svc.OpenBenchmark(ctx, "../etc"); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
		t.Fatalf("OpenBenchmark(bad id): %v", err)
	}
}
