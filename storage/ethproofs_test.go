package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

func ptr[T any](v T) *T { return &v }

func importCatalogue(t *testing.T, db *storage.DB) {
	t.Helper()
	err := db.ImportZKVMs(context.Background(),
		[]storage.ZKVM{{ID: 1, Slug: "demo", Name: "Demo", ISA: "keccak", TeamUUID: "00000000-0000-0000-0000-000000000001"},
			{ID: 2, Slug: "sp1", Name: "SP1", ISA: "risc-v", TeamUUID: "00000000-0000-0000-0000-000000000002"}},
		[]storage.ZKVMVersion{{ID: 10, ZKVMID: 1, Version: "v1"}, {ID: 20, ZKVMID: 2, Version: "v5.0.0"}},
		base)
	if err != nil {
		t.Fatalf("ImportZKVMs: %v", err)
	}
}

func TestZKVMCatalogue(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		importCatalogue(t, db)
		// Importing again is a no-op that keeps creation times.
		err := db.ImportZKVMs(ctx, []storage.ZKVM{{ID: 2, Slug: "sp1", Name: "SP1 Hypercube", ISA: "risc-v", TeamUUID: "00000000-0000-0000-0000-000000000002"}},
			nil, base.Add(time.Hour))
		if err != nil {
			t.Fatalf("re-import: %v", err)
		}
		zs, err := db.ZKVMs(ctx)
		if err != nil || len(zs) != 2 || zs[1].Name != "SP1 Hypercube" || !zs[1].CreatedAt.Equal(stored(base)) {
			t.Fatalf("ZKVMs = %+v, %v", zs, err)
		}
		v, z, err := db.ZKVMVersionByID(ctx, 20)
		if err != nil || v.Version != "v5.0.0" || z.Slug != "sp1" {
			t.Fatalf("ZKVMVersionByID(20) = %+v %+v %v", v, z, err)
		}
		_, _, err = db.ZKVMVersionByID(ctx, 99)
		wantCode(t, err, proofgrid.ENOTFOUND)
		// Seeding adds what is missing and never undoes an import.
		err = db.SeedZKVMs(ctx, []storage.ZKVM{
			{ID: 2, Slug: "sp1", Name: "built-in name", ISA: "risc-v"},
			{ID: 9, Slug: "seeded", Name: "Seeded", ISA: "risc-v"},
		}, []storage.ZKVMVersion{{ID: 20, ZKVMID: 2, Version: "v0-built-in"}, {ID: 90, ZKVMID: 9, Version: "v1"}}, base)
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
		zs, err = db.ZKVMs(ctx)
		if err != nil || len(zs) != 3 || zs[1].Name != "SP1 Hypercube" || zs[2].Slug != "seeded" {
			t.Fatalf("after seed ZKVMs = %+v, %v", zs, err)
		}
		if v, _, err := db.ZKVMVersionByID(ctx, 20); err != nil || v.Version != "v5.0.0" {
			t.Fatalf("seed replaced version 20: %+v %v", v, err)
		}
		err = db.ImportZKVMs(ctx, []storage.ZKVM{{ID: 3, Slug: "sp1", Name: "dup"}}, nil, base)
		wantCode(t, err, proofgrid.ECONFLICT)
		err = db.ImportZKVMs(ctx, nil, []storage.ZKVMVersion{{ID: 30, ZKVMID: 77, Version: "x"}}, base)
		wantCode(t, err, proofgrid.ENOTFOUND)
	})
}

func TestClusters(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		importCatalogue(t, db)
		team := mustTeam(t, db, "alpha")
		other := mustTeam(t, db, "beta")
		c1, v1, err := db.CreateCluster(ctx, storage.Cluster{ID: "11111111-1111-1111-1111-111111111111", TeamID: team.ID, Name: "one",
			NumGPUs: 8, DeploymentType: storage.DeploymentCloudHosted, IsActive: true}, 10, nil, base)
		if err != nil || c1.Index != 1 || v1.Index != 1 || !v1.IsActive || v1.ZKVMVersionID != 10 {
			t.Fatalf("CreateCluster = %+v %+v %v", c1, v1, err)
		}
		c2, _, err := db.CreateCluster(ctx, storage.Cluster{ID: "22222222-2222-2222-2222-222222222222", TeamID: team.ID, Name: "two",
			NumGPUs: 1, HardwareDescription: ptr("1x H100"), DeploymentType: storage.DeploymentOnPrem, IsActive: true}, 20, ptr("/vk"), base)
		if err != nil || c2.Index != 2 || *c2.HardwareDescription != "1x H100" {
			t.Fatalf("second cluster = %+v %v", c2, err)
		}
		c3, _, err := db.CreateCluster(ctx, storage.Cluster{ID: "33333333-3333-3333-3333-333333333333", TeamID: other.ID, Name: "x",
			NumGPUs: 1, DeploymentType: storage.DeploymentOnPrem, IsActive: false}, 20, nil, base)
		if err != nil || c3.Index != 1 {
			t.Fatalf("other team's first cluster = %+v %v", c3, err)
		}
		_, _, err = db.CreateCluster(ctx, storage.Cluster{ID: "44444444-4444-4444-4444-444444444444", TeamID: team.ID, Name: "bad",
			NumGPUs: 1, DeploymentType: storage.DeploymentOnPrem}, 99, nil, base)
		wantCode(t, err, proofgrid.ENOTFOUND)

		// Metadata only: same version.
		c, v, newVersion, err := db.UpdateCluster(ctx, team.ID, 1, storage.ClusterUpdate{Name: ptr("renamed"), IsActive: ptr(false)}, base.Add(time.Minute))
		if err != nil || newVersion || c.Name != "renamed" || c.IsActive || v.ID != v1.ID {
			t.Fatalf("UpdateCluster(metadata) = %+v %+v %v %v", c, v, newVersion, err)
		}
		// Same values as the active version: no new version.
		_, _, newVersion, err = db.UpdateCluster(ctx, team.ID, 1, storage.ClusterUpdate{ZKVMVersionID: ptr(int64(10))}, base)
		if err != nil || newVersion {
			t.Fatalf("UpdateCluster(same zkvm) new=%v err=%v", newVersion, err)
		}
		_, v2, newVersion, err := db.UpdateCluster(ctx, team.ID, 1, storage.ClusterUpdate{VKPath: ptr("vk.bin")}, base.Add(2*time.Minute))
		if err != nil || !newVersion || v2.Index != 2 || v2.ZKVMVersionID != 10 || *v2.VKPath != "vk.bin" || !v2.IsActive {
			t.Fatalf("UpdateCluster(vk) = %+v %v %v", v2, newVersion, err)
		}
		old, err := db.ClusterVersionByID(ctx, v1.ID)
		if err != nil || old.IsActive {
			t.Fatalf("old version = %+v %v, want inactive", old, err)
		}
		_, _, _, err = db.UpdateCluster(ctx, team.ID, 9, storage.ClusterUpdate{Name: ptr("x")}, base)
		wantCode(t, err, proofgrid.ENOTFOUND)
		_, _, _, err = db.UpdateCluster(ctx, team.ID, 1, storage.ClusterUpdate{ZKVMVersionID: ptr(int64(99))}, base)
		wantCode(t, err, proofgrid.ENOTFOUND)

		list, err := db.ListClusters(ctx, team.ID)
		if err != nil || len(list) != 2 || list[0].Version.ID != v2.ID || list[1].Cluster.ID != c2.ID {
			t.Fatalf("ListClusters = %+v %v", list, err)
		}
		if _, err := db.ClusterByIndex(ctx, other.ID, 2); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			t.Fatalf("ClusterByIndex of another team's index: %v", err)
		}
		// Cluster 1 is inactive now and cluster 3 was created inactive.
		var active []storage.ActiveProver
		err = db.InTx(ctx, func(tx *storage.Tx) error {
			active, err = tx.ActiveProvers(ctx)
			return err
		})
		if err != nil || len(active) != 1 || active[0].ClusterID != c2.ID {
			t.Fatalf("ActiveProvers = %+v %v", active, err)
		}
		keys, err := db.ActiveVerificationKeys(ctx)
		if err != nil || len(keys) != 1 || keys[0].VKPath != "/vk" || keys[0].ZKVMSlug != "sp1" || keys[0].TeamName != "alpha" {
			t.Fatalf("ActiveVerificationKeys = %+v %v", keys, err)
		}
	})
}

func TestBlocks(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		var b storage.Block
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			var created bool
			var err error
			b, created, err = tx.RecordBlock(ctx, storage.BlockInfo{Number: 100}, base)
			if err != nil || !created || b.Hash != nil {
				t.Errorf("first RecordBlock = %+v %v %v", b, created, err)
			}
			first, err := tx.MarkBlockScheduled(ctx, 100, base)
			if err != nil || !first {
				t.Errorf("MarkBlockScheduled = %v %v", first, err)
			}
			again, err := tx.MarkBlockScheduled(ctx, 100, base)
			if err != nil || again {
				t.Errorf("second MarkBlockScheduled = %v %v", again, err)
			}
			b, created, err = tx.RecordBlock(ctx, storage.BlockInfo{Number: 100, Hash: ptr("0xABCD"), GasUsed: ptr(int64(5)),
				Timestamp: ptr(base), TransactionCount: ptr(int64(3))}, base.Add(time.Second))
			if err != nil || created || *b.Hash != "0xabcd" || *b.GasUsed != 5 || b.ScheduledAt == nil {
				t.Errorf("metadata RecordBlock = %+v %v %v", b, created, err)
			}
			// Unknown fields keep what is stored.
			b, _, err = tx.RecordBlock(ctx, storage.BlockInfo{Number: 100, GasUsed: ptr(int64(6))}, base.Add(2*time.Second))
			if err != nil || *b.Hash != "0xabcd" || *b.GasUsed != 6 || *b.TransactionCount != 3 {
				t.Errorf("partial RecordBlock = %+v %v", b, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.InTx(ctx, func(tx *storage.Tx) error {
			_, _, err := tx.RecordBlock(ctx, storage.BlockInfo{Number: 101, Hash: ptr("0xabcd")}, base)
			return err
		})
		wantCode(t, err, proofgrid.ECONFLICT)
		got, err := db.BlockByHash(ctx, "0xABCD")
		if err != nil || got.Number != 100 || !got.Timestamp.Equal(stored(base)) {
			t.Fatalf("BlockByHash = %+v %v", got, err)
		}
		_, err = db.BlockByNumber(ctx, 7)
		wantCode(t, err, proofgrid.ENOTFOUND)
		n, ok, err := db.LatestScheduledBlock(ctx)
		if err != nil || !ok || n != 100 {
			t.Fatalf("LatestScheduledBlock = %d %v %v", n, ok, err)
		}
	})
}

func TestProofUpsert(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		importCatalogue(t, db)
		team := mustTeam(t, db, "alpha")
		c, v, err := db.CreateCluster(ctx, storage.Cluster{ID: "11111111-1111-1111-1111-111111111111", TeamID: team.ID, Name: "one",
			NumGPUs: 1, DeploymentType: storage.DeploymentCloudHosted, IsActive: true}, 10, nil, base)
		if err != nil {
			t.Fatal(err)
		}
		report := func(status string, at time.Time, extra func(*storage.ProofReport)) (storage.Proof, error) {
			rep := storage.ProofReport{BlockNumber: 5, ClusterVersionID: v.ID, ClusterID: c.ID, TeamID: team.ID, Status: status, SubmittedBy: "m1", WorkerKey: "k1"}
			if extra != nil {
				extra(&rep)
			}
			var p storage.Proof
			err := db.InTx(ctx, func(tx *storage.Tx) error {
				var err error
				p, err = tx.UpsertProof(ctx, rep, at)
				return err
			})
			return p, err
		}
		q, err := report(storage.ProofQueued, base, nil)
		if err != nil || q.Status != storage.ProofQueued || q.QueuedAt == nil || q.ProvingAt != nil {
			t.Fatalf("queued = %+v %v", q, err)
		}
		// Any state may follow any state before proved, backwards included.
		p, err := report(storage.ProofProving, base.Add(time.Second), nil)
		if err != nil || p.ID != q.ID || p.Status != storage.ProofProving || !p.QueuedAt.Equal(stored(base)) {
			t.Fatalf("proving = %+v %v", p, err)
		}
		p, err = report(storage.ProofQueued, base.Add(2*time.Second), nil)
		if err != nil || p.Status != storage.ProofQueued || p.ProvingAt != nil || !p.QueuedAt.Equal(stored(base.Add(2*time.Second))) { // a new attempt: proving_timestamp cleared
			t.Fatalf("back to queued = %+v %v", p, err)
		}
		p, err = report(storage.ProofProved, base.Add(3*time.Second), func(r *storage.ProofReport) {
			r.ProvingTimeMS, r.ProvingCycles, r.SizeBytes = ptr(int64(1500)), ptr(int64(99)), ptr(int64(12))
			r.VerifierID, r.BlobKey, r.SHA256 = ptr("vk-1"), ptr("proofs/x"), ptr("ab")
		})
		if err != nil || p.ID != q.ID || p.Status != storage.ProofProved || *p.SizeBytes != 12 || p.ProgramID == nil ||
			!p.CreatedAt.Equal(stored(base)) || !p.ProvedAt.Equal(stored(base.Add(3*time.Second))) {
			t.Fatalf("proved = %+v %v", p, err)
		}
		for _, s := range []string{storage.ProofQueued, storage.ProofProving, storage.ProofProved} {
			_, err = report(s, base.Add(4*time.Second), nil)
			wantCode(t, err, proofgrid.ECONFLICT)
		}
		got, err := db.ProofAt(ctx, 5, v.ID)
		if err != nil || got.Status != storage.ProofProved || *got.BlobKey != "proofs/x" {
			t.Fatalf("ProofAt = %+v %v", got, err)
		}
		if err := db.InTx(ctx, func(tx *storage.Tx) error {
			return tx.SetProofVerification(ctx, p.ID, "invalid", "bad segment", 12.5, base)
		}); err != nil {
			t.Fatal(err)
		}
		view, err := db.ProofView(ctx, p.ID)
		if err != nil || *view.Proof.Verification != "invalid" || view.ZKVM.Slug != "demo" || view.Team.Name != "alpha" ||
			view.Cluster.ID != c.ID || view.Block.Number != 5 || *view.Proof.VerificationMS != 12.5 {
			t.Fatalf("ProofView = %+v %v", view, err)
		}

		// A second block, still queued, to exercise filters.
		if err := db.InTx(ctx, func(tx *storage.Tx) error {
			_, err := tx.UpsertProof(ctx, storage.ProofReport{BlockNumber: 6, ClusterVersionID: v.ID, ClusterID: c.ID, TeamID: team.ID, Status: storage.ProofQueued}, base)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		all, total, err := db.ListProofs(ctx, storage.ProofFilter{Limit: 10})
		if err != nil || total != 2 || len(all) != 2 || all[0].Proof.BlockNumber != 6 {
			t.Fatalf("ListProofs = %d %d %v", len(all), total, err)
		}
		page, total, err := db.ListProofs(ctx, storage.ProofFilter{Limit: 1, Offset: 1})
		if err != nil || total != 2 || len(page) != 1 || page[0].Proof.BlockNumber != 5 {
			t.Fatalf("ListProofs page 2 = %+v %d %v", page, total, err)
		}
		five := int64(5)
		byBlock, total, err := db.ListProofs(ctx, storage.ProofFilter{BlockNumber: &five, ClusterIDs: []string{c.ID, "other"}})
		if err != nil || total != 1 || len(byBlock) != 1 {
			t.Fatalf("ListProofs(block 5) = %d %v", total, err)
		}
		none, total, err := db.ListProofs(ctx, storage.ProofFilter{ClusterIDs: []string{"22222222-2222-2222-2222-222222222222"}})
		if err != nil || total != 0 || len(none) != 0 {
			t.Fatalf("ListProofs(other cluster) = %d %v", total, err)
		}
		proved, err := db.ProvedProofsOfBlock(ctx, 5)
		if err != nil || len(proved) != 1 {
			t.Fatalf("ProvedProofsOfBlock = %d %v", len(proved), err)
		}
		latest, err := db.LatestProvedProofsOfCluster(ctx, c.ID, 25)
		if err != nil || len(latest) != 1 || latest[0].Proof.ID != p.ID {
			t.Fatalf("LatestProvedProofsOfCluster = %d %v", len(latest), err)
		}
	})
}

func TestWorkerEvents(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		ev := storage.WorkerEvent{Key: "prove:block:1:1:completed", WorkerPublicKey: "key", Topic: "prove:block", CircuitType: "demo/v1",
			JobID: "prove:block:1:1", Status: storage.WorkerEventCompleted, StartTime: base, EndTime: base.Add(time.Second), DurationMS: 1000, CheckpointID: 7}
		for i, want := range []bool{true, false} {
			var inserted bool
			err := db.InTx(ctx, func(tx *storage.Tx) error {
				var err error
				inserted, err = tx.InsertWorkerEvent(ctx, ev)
				return err
			})
			if err != nil || inserted != want {
				t.Fatalf("InsertWorkerEvent #%d = %v %v, want %v", i, inserted, err, want)
			}
		}
		bad := ev
		bad.Key, bad.Status = "x", "Done"
		err := db.InTx(ctx, func(tx *storage.Tx) error { _, err := tx.InsertWorkerEvent(ctx, bad); return err })
		wantCode(t, err, proofgrid.EINVALID)
		evs, err := db.WorkerEvents(ctx, storage.WorkerEventFilter{WorkerPublicKey: "key", FromCheckpoint: ptr(int64(7)), ToCheckpoint: ptr(int64(7))})
		if err != nil || len(evs) != 1 || evs[0].DurationMS != 1000 || !evs[0].EndTime.Equal(stored(base.Add(time.Second))) {
			t.Fatalf("WorkerEvents = %+v %v", evs, err)
		}
		evs, err = db.WorkerEvents(ctx, storage.WorkerEventFilter{Status: storage.WorkerEventFailed})
		if err != nil || len(evs) != 0 {
			t.Fatalf("WorkerEvents(failed) = %+v %v", evs, err)
		}
	})
}

func TestCSPBenchmarks(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		b, err := db.PutCSPBenchmark(ctx, storage.CSPBenchmark{Name: "a.json", BlobKey: "k1", SizeBytes: 3, SHA256: "x"}, base)
		if err != nil || b.ID == 0 {
			t.Fatalf("PutCSPBenchmark = %+v %v", b, err)
		}
		b2, err := db.PutCSPBenchmark(ctx, storage.CSPBenchmark{Name: "a.json", BlobKey: "k2", SizeBytes: 4, SHA256: "y"}, base.Add(time.Hour))
		if err != nil || b2.ID != b.ID || b2.BlobKey != "k2" || !b2.CreatedAt.Equal(stored(base)) {
			t.Fatalf("replace = %+v %v", b2, err)
		}
		list, err := db.CSPBenchmarks(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("CSPBenchmarks = %+v %v", list, err)
		}
		_, err = db.CSPBenchmarkByName(ctx, "b.json")
		wantCode(t, err, proofgrid.ENOTFOUND)
	})
}
