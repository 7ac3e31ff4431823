package storage_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

func TestMachineConditions(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "conditions")
		m1 := mustMachine(t, db, team.ID, "55555555-5555-5555-5555-555555555555", "m1")
		m2 := mustMachine(t, db, team.ID, "66666666-6666-6666-6666-666666666666", "m2")
		staleIDs := func(basis string) []string {
			t.Helper()
			stale, err := db.StaleConditions(ctx, team.ID, basis)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range stale {
				ids = append(ids, s.MachineID)
			}
			slices.Sort(ids)
			return ids
		}
		suspects := func(basis string, offlineBefore time.Time) []string {
			t.Helper()
			rows, err := db.FleetMachines(ctx, storage.FleetFilter{TeamID: team.ID, Suspects: &storage.Suspects{Basis: basis, OfflineBefore: offlineBefore}})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range rows {
				ids = append(ids, r.ID)
			}
			return ids
		}
		both := []string{m1.ID, m2.ID}
		if got := staleIDs("b1"); !slices.Equal(got, both) {
			t.Fatalf("stale after enrolment = %v, want both", got)
		}

		// Heartbeats judge their machine in their own transaction.
		db.SetConditionFunc(func(_ context.Context, m storage.FleetMachine) (bool, string) {
			return m.Name == "m1" && m.Observation != nil, "b1"
		})
		for _, m := range []proofgrid.Machine{m1, m2} {
			hb := proofgrid.Heartbeat{Sample: sample(1, base), Status: proofgrid.AgentStatus{Queues: []string{}}}
			if err := db.RecordObservedHeartbeat(ctx, m.ID, base, hb, storage.Observation{MachineID: m.ID, SeenAt: base}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if got := staleIDs("b1"); len(got) != 0 {
			t.Fatalf("stale after heartbeats = %v, want none", got)
		}
		if got := suspects("b1", base); !slices.Equal(got, []string{m1.ID}) {
			t.Errorf("suspects while both are seen = %v, want m1 (notable)", got)
		}
		if got := suspects("b1", base.Add(time.Second)); !slices.Equal(got, both) {
			t.Errorf("suspects once both are past the TTL = %v, want both", got)
		}
		if got := suspects("b2", base); !slices.Equal(got, both) {
			t.Errorf("suspects under another basis = %v, want both", got)
		}

		// A judgement is stored only while its row is at the version read.
		stale, err := db.StaleConditions(ctx, team.ID, "b2")
		if err != nil || len(stale) != 2 {
			t.Fatalf("StaleConditions = %v, %v", stale, err)
		}
		var conds []storage.Condition
		for _, s := range stale {
			v := s.Version
			if s.MachineID == m2.ID {
				v-- // another write came between
			}
			conds = append(conds, storage.Condition{MachineID: s.MachineID, Basis: "b2", Version: v})
		}
		if err := db.SetConditions(ctx, conds); err != nil {
			t.Fatal(err)
		}
		if got := staleIDs("b2"); !slices.Equal(got, []string{m2.ID}) {
			t.Errorf("stale after judging = %v, want m2", got)
		}

		// Enrolling again and a heartbeat without a ConditionFunc leave the
		// conditions stale.
		if _, _, err := db.UpsertMachine(ctx, newMachine(team.ID, m1.ID, "m1", "key-"+m1.ID)); err != nil {
			t.Fatal(err)
		}
		if got := staleIDs("b2"); !slices.Equal(got, both) {
			t.Errorf("stale after enrolling again = %v, want both", got)
		}

		// A machine without a conditions row gets one.
		err = db.InTx(ctx, func(tx *storage.Tx) error {
			_, err := storage.SQLTx(tx).ExecContext(ctx, db.Rebind(`DELETE FROM machine_conditions WHERE machine_id = ?`), m1.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := staleIDs("b1"); !slices.Equal(got, []string{m1.ID}) {
			t.Errorf("stale after losing a row = %v, want m1", got)
		}

		// Recording a registration moves its generation.
		g0, err := db.HealthGeneration(ctx, storage.GenerationRegistrations)
		if err != nil || g0 != "" {
			t.Fatalf("generation before any registration = %q, %v", g0, err)
		}
		gens := map[string]bool{}
		for _, registered := range []bool{true, false} {
			if _, err := db.PutAVSRegistration(ctx, storage.AVSRegistration{
				AVSID: "eigenda", Chain: "mainnet", OperatorAddress: "0xabc", Registered: registered, Source: "admin", AsOf: base,
			}); err != nil {
				t.Fatal(err)
			}
			g, err := db.HealthGeneration(ctx, storage.GenerationRegistrations)
			if err != nil || g == "" || gens[g] {
				t.Fatalf("generation after a registration = %q, %v (seen %v)", g, err, gens)
			}
			gens[g] = true
		}
	})
}
