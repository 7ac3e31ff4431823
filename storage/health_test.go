package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

func TestRecordObservation(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "obs")
		m := mustMachine(t, db, team.ID, "11111111-1111-1111-1111-111111111111", "m1")
		yes := true

		active := base
		obs := storage.Observation{
			MachineID: m.ID, SeenAt: base, CPUPercent: 12.5, MemoryPercent: 40, DiskMaxPercent: 97, DiskMaxMount: "/data",
			GPUCount: 2, GPUXIDErrors: 3, RunningJobs: 1, Errors: []string{"boom"}, LastActiveAt: &active,
		}
		deps := []storage.AVSDeployment{
			{AVSID: "eigenda", Chain: "mainnet", Version: "0.8.6", OperatorAddress: "0xabc", Healthy: true, Registered: &yes},
			{AVSID: "witness_chain", Chain: "holesky", Version: "0.2.8", OperatorAddress: "0xabc", Error: "AVS_NODE_DOWN: x"},
		}
		if applied, err := db.RecordObservation(ctx, obs, deps); err != nil || !applied {
			t.Fatalf("RecordObservation = %v, %v", applied, err)
		}

		// A later heartbeat without a job keeps last_active_at and
		// replaces the deployments.
		later := obs
		later.SeenAt, later.RunningJobs, later.LastActiveAt, later.Errors = base.Add(time.Minute), 0, nil, nil
		if applied, err := db.RecordObservation(ctx, later, deps[:1]); err != nil || !applied {
			t.Fatalf("RecordObservation(later) = %v, %v", applied, err)
		}
		// A late retry of an older heartbeat changes nothing.
		old := obs
		old.SeenAt, old.MemoryPercent = base.Add(-time.Minute), 99
		if applied, err := db.RecordObservation(ctx, old, nil); err != nil || applied {
			t.Fatalf("RecordObservation(old) = %v, %v; want not applied", applied, err)
		}

		rows, err := db.FleetMachines(ctx, storage.FleetFilter{TeamID: team.ID})
		if err != nil || len(rows) != 1 {
			t.Fatalf("FleetMachines = %d rows, %v", len(rows), err)
		}
		got := rows[0].Observation
		if got == nil {
			t.Fatal("observation missing")
		}
		if got.MemoryPercent != 40 || got.DiskMaxPercent != 97 || got.DiskMaxMount != "/data" || got.GPUXIDErrors != 3 ||
			got.RunningJobs != 0 || len(got.Errors) != 0 || !got.SeenAt.Equal(stored(base.Add(time.Minute))) {
			t.Errorf("observation = %+v", got)
		}
		if got.LastActiveAt == nil || !got.LastActiveAt.Equal(stored(base)) {
			t.Errorf("last_active_at = %v, want %v", got.LastActiveAt, stored(base))
		}
		if rows[0].Sample != nil || rows[0].Status != nil {
			t.Error("a machine with an observation must not carry its JSON sample")
		}

		ds, err := db.AVSDeployments(ctx, storage.FleetFilter{MachineID: m.ID})
		if err != nil || len(ds) != 1 {
			t.Fatalf("AVSDeployments = %+v, %v", ds, err)
		}
		if d := ds[0]; d.AVSID != "eigenda" || d.Registered == nil || !*d.Registered || !d.Healthy || d.Recorded != nil {
			t.Errorf("deployment = %+v", d)
		}

		// An admin record joins the deployment it describes.
		if _, err := db.PutAVSRegistration(ctx, storage.AVSRegistration{
			AVSID: "eigenda", Chain: "mainnet", OperatorAddress: "0xabc", Registered: false, Source: "admin", AsOf: base,
		}); err != nil {
			t.Fatal(err)
		}
		ds, err = db.AVSDeployments(ctx, storage.FleetFilter{TeamID: team.ID})
		if err != nil || len(ds) != 1 || ds[0].Recorded == nil || ds[0].Recorded.Registered {
			t.Fatalf("AVSDeployments with record = %+v, %v", ds, err)
		}

		_, err = db.RecordObservation(ctx, storage.Observation{MachineID: "22222222-2222-2222-2222-222222222222", SeenAt: base}, nil)
		wantCode(t, err, proofgrid.ENOTFOUND)
	})
}

func TestFleetMachinesWithoutObservation(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "legacy")
		m := mustMachine(t, db, team.ID, "33333333-3333-3333-3333-333333333333", "m")
		never := mustMachine(t, db, team.ID, "44444444-4444-4444-4444-444444444444", "n")
		hb := proofgrid.Heartbeat{Sample: sample(7, base), Status: proofgrid.AgentStatus{Queues: []string{}, RunningJobs: 2}}
		if err := db.RecordHeartbeat(ctx, m.ID, base, hb); err != nil {
			t.Fatal(err)
		}
		rows, err := db.FleetMachines(ctx, storage.FleetFilter{})
		if err != nil || len(rows) != 2 {
			t.Fatalf("FleetMachines = %d rows, %v", len(rows), err)
		}
		if r := rows[0]; r.ID != m.ID || r.Observation != nil || r.Sample == nil || r.Status == nil || r.Status.RunningJobs != 2 {
			t.Errorf("legacy row = %+v", r)
		}
		if r := rows[1]; r.ID != never.ID || r.Sample != nil || r.LastSeenAt != nil {
			t.Errorf("silent row = %+v", r)
		}
	})
}

func TestApplyHealthChanges(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "health")
		m := mustMachine(t, db, team.ID, "55555555-5555-5555-5555-555555555555", "m")
		other := mustTeam(t, db, "other")
		o := mustMachine(t, db, other.ID, "66666666-6666-6666-6666-666666666666", "o")

		first := []storage.HealthChange{
			{MachineID: m.ID, From: "", To: "healthy", At: base, Reason: "all checks pass"},
			{MachineID: o.ID, From: "", To: "idle", At: base, Reason: "idle"},
		}
		for i := range 2 { // the second run must record nothing
			n, err := db.ApplyHealthChanges(ctx, first)
			if want := []int{2, 0}[i]; err != nil || n != want {
				t.Fatalf("run %d: ApplyHealthChanges = %d, %v; want %d", i, n, err, want)
			}
		}
		move := []storage.HealthChange{{MachineID: m.ID, From: "healthy", To: "offline", At: base.Add(time.Minute), Reason: "silent"}}
		if n, err := db.ApplyHealthChanges(ctx, move); err != nil || n != 1 {
			t.Fatalf("move = %d, %v", n, err)
		}
		if n, err := db.ApplyHealthChanges(ctx, move); err != nil || n != 0 {
			t.Fatalf("repeated move = %d, %v", n, err)
		}
		states, err := db.HealthStates(ctx)
		if err != nil || states[m.ID].State != "offline" || !states[m.ID].Since.Equal(stored(base.Add(time.Minute))) {
			t.Fatalf("states = %+v, %v", states, err)
		}

		ts, err := db.HealthTransitions(ctx, storage.TransitionFilter{TeamID: team.ID})
		if err != nil || len(ts) != 2 {
			t.Fatalf("transitions = %+v, %v", ts, err)
		}
		if ts[0].From != "healthy" || ts[0].To != "offline" || ts[1].From != "" || ts[1].To != "healthy" {
			t.Errorf("transitions newest first = %+v", ts)
		}
		ts, err = db.HealthTransitions(ctx, storage.TransitionFilter{MachineID: o.ID, Since: base.Add(time.Second)})
		if err != nil || len(ts) != 0 {
			t.Errorf("since filter = %+v, %v", ts, err)
		}
	})
}

func TestCatalogueUpsert(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		entry := func(name string, asOf time.Time) storage.CatalogueEntry {
			return storage.CatalogueEntry{AVSID: "eigenda", Name: name, Document: []byte(`{"avs_id":"eigenda"}`), Source: "test", AsOf: asOf}
		}
		setting := func(v string, asOf time.Time) storage.CatalogueSetting {
			return storage.CatalogueSetting{Name: "agent.latest_version", Value: v, Source: "test", AsOf: asOf}
		}
		steps := []struct {
			name    string
			entry   storage.CatalogueEntry
			setting storage.CatalogueSetting
			replace bool
			written int
			want    string
		}{
			{"first load", entry("A", base), setting("1.0.0", base), false, 2, "A"},
			{"same date again", entry("B", base), setting("1.1.0", base), false, 0, "A"},
			{"newer", entry("C", base.Add(time.Hour)), setting("1.2.0", base.Add(time.Hour)), false, 2, "C"},
			{"older", entry("D", base), setting("0.9.0", base), false, 0, "C"},
			{"older, replacing", entry("E", base), setting("0.9.0", base), true, 2, "E"},
		}
		for _, s := range steps {
			n, err := db.UpsertCatalogue(ctx, []storage.CatalogueEntry{s.entry}, []storage.CatalogueSetting{s.setting}, s.replace)
			if err != nil || n != s.written {
				t.Fatalf("%s: UpsertCatalogue = %d, %v; want %d", s.name, n, err, s.written)
			}
			es, err := db.CatalogueEntries(ctx)
			if err != nil || len(es) != 1 || es[0].Name != s.want {
				t.Fatalf("%s: entries = %+v, %v; want name %s", s.name, es, err, s.want)
			}
		}
		set, err := db.CatalogueSettings(ctx)
		if err != nil || set["agent.latest_version"].Value != "0.9.0" {
			t.Fatalf("settings = %+v, %v", set, err)
		}
	})
}

func TestOperatorStake(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		_, err := db.OperatorStake(ctx, "0xabc")
		wantCode(t, err, proofgrid.ENOTFOUND)
		s := storage.OperatorStake{
			OperatorAddress: "0xabc", Eigen: 5, Source: "admin", AsOf: base,
			Strategies: []storage.StakeStrategy{{Name: "Steth", Address: "0x93c4b944D05dfe6df7645A86cd2206016c51564D", DelegatedStake: 732}},
		}
		for i, want := range []bool{true, false} {
			created, err := db.PutOperatorStake(ctx, s)
			if err != nil || created != want {
				t.Fatalf("put %d: created = %v, %v; want %v", i, created, err, want)
			}
		}
		got, err := db.OperatorStake(ctx, "0xabc")
		if err != nil || got.Eigen != 5 || len(got.Strategies) != 1 || got.Strategies[0].DelegatedStake != 732 || !got.AsOf.Equal(stored(base)) {
			t.Fatalf("OperatorStake = %+v, %v", got, err)
		}
	})
}
