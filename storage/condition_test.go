package storage_test

import (
	"context"
	"fmt"
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
		// due returns the ids DueConditions finds, and the ones among them
		// not judged under basis.
		due := func(basis string, before time.Time) (ids, stale []string) {
			t.Helper()
			rows, err := db.DueConditions(ctx, team.ID, basis, before)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				ids = append(ids, r.MachineID)
				if r.Basis != basis {
					stale = append(stale, r.MachineID)
				}
			}
			slices.Sort(ids)
			slices.Sort(stale)
			return ids, stale
		}
		staleIDs := func(basis string) []string {
			t.Helper()
			_, stale := due(basis, time.Unix(0, 0))
			return stale
		}
		both := []string{m1.ID, m2.ID}
		if got := staleIDs("b1"); !slices.Equal(got, both) {
			t.Fatalf("stale after enrolment = %v, want both", got)
		}

		// Heartbeats judge their machine in their own transaction: m1 is
		// due at once, m2 a minute after its heartbeat.
		db.SetConditionFunc(func(_ context.Context, m storage.FleetMachine) storage.Judgement {
			j := storage.Judgement{Flags: 3, Basis: "b1", DueAt: base}
			if m.Name == "m2" && m.Observation != nil {
				offline := m.LastSeenAt.Add(time.Minute)
				j = storage.Judgement{Flags: 0, OfflineAt: &offline, DueAt: offline, Basis: "b1"}
			}
			return j
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
		if got, _ := due("b1", base.Add(time.Microsecond)); !slices.Equal(got, []string{m1.ID}) {
			t.Errorf("due just after the heartbeats = %v, want m1", got)
		}
		if got, _ := due("b1", base.Add(time.Minute)); !slices.Equal(got, []string{m1.ID}) {
			t.Errorf("due before m2's bound = %v, want m1", got)
		}
		if got, _ := due("b1", base.Add(time.Minute+time.Microsecond)); !slices.Equal(got, both) {
			t.Errorf("due past m2's bound = %v, want both", got)
		}
		if got, stale := due("b2", base); !slices.Equal(got, both) || !slices.Equal(stale, both) {
			t.Errorf("due under another basis = %v (stale %v), want both", got, stale)
		}
		rows, err := db.DueConditions(ctx, team.ID, "b1", base.Add(time.Hour))
		if err != nil || len(rows) != 2 {
			t.Fatalf("DueConditions = %v, %v", rows, err)
		}
		us := base.Truncate(time.Microsecond) // as stored
		for _, r := range rows {
			want := storage.ConditionRow{MachineID: m1.ID, Name: "m1", Judgement: storage.Judgement{Flags: 3, Basis: "b1", DueAt: us}}
			if r.MachineID == m2.ID {
				offline := us.Add(time.Minute)
				want = storage.ConditionRow{MachineID: m2.ID, Name: "m2", Judgement: storage.Judgement{OfflineAt: &offline, DueAt: offline, Basis: "b1"}}
			}
			if r.Name != want.Name || r.Flags != want.Flags || !r.DueAt.Equal(want.DueAt) || r.IdleAt != nil ||
				(r.OfflineAt == nil) != (want.OfflineAt == nil) || (r.OfflineAt != nil && !r.OfflineAt.Equal(*want.OfflineAt)) {
				t.Errorf("row %+v, want %+v", r, want)
			}
		}

		// A judgement is stored only while its row is at the version read.
		rows, err = db.DueConditions(ctx, team.ID, "b2", base)
		if err != nil || len(rows) != 2 {
			t.Fatalf("DueConditions = %v, %v", rows, err)
		}
		var conds []storage.Condition
		for _, r := range rows {
			v := r.Version
			if r.MachineID == m2.ID {
				v-- // another write came between
			}
			conds = append(conds, storage.Condition{MachineID: r.MachineID, Name: r.Name,
				Judgement: storage.Judgement{Basis: "b2", DueAt: base.Add(time.Hour)}, Version: v})
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
		if got := staleIDs("b1"); len(got) != 0 {
			t.Errorf("stale with a row lost = %v, want none before a repair", got)
		}
		if repaired, err := db.RepairFleetCounts(ctx); err != nil || !repaired {
			t.Fatalf("RepairFleetCounts = %v, %v; want a repair", repaired, err)
		}
		if got := staleIDs("b1"); !slices.Equal(got, []string{m1.ID}) {
			t.Errorf("stale after losing a row = %v, want m1", got)
		}
		if repaired, err := db.RepairFleetCounts(ctx); err != nil || repaired {
			t.Fatalf("RepairFleetCounts again = %v, %v; want nothing to repair", repaired, err)
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

// TestFleetCounts checks the machine counts that enrolment keeps, and their
// repair after machines are written around it.
func TestFleetCounts(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		a, b := mustTeam(t, db, "count-a"), mustTeam(t, db, "count-b")
		for i, team := range []int64{a.ID, a.ID, b.ID} {
			mustMachine(t, db, team, fmt.Sprintf("77777777-0000-4000-8000-00000000000%d", i), fmt.Sprintf("m%d", i))
		}
		// Enrolling a machine again does not count it twice.
		if _, created, err := db.UpsertMachine(ctx, newMachine(a.ID, "77777777-0000-4000-8000-000000000000", "m0", "key-77777777-0000-4000-8000-000000000000")); err != nil || created {
			t.Fatalf("enrol again: created %v, %v", created, err)
		}
		counts := func() [3]int {
			t.Helper()
			var out [3]int
			for i, team := range []int64{a.ID, b.ID, 0} {
				n, err := db.CountFleet(ctx, team)
				if err != nil {
					t.Fatal(err)
				}
				out[i] = n.Machines
			}
			return out
		}
		if got := counts(); got != [3]int{2, 1, 3} {
			t.Fatalf("counts (a, b, all) = %v, want [2 1 3]", got)
		}
		if repaired, err := db.RepairFleetCounts(ctx); err != nil || repaired {
			t.Fatalf("RepairFleetCounts = %v, %v; want nothing to repair", repaired, err)
		}
		// A machine of team b written by hand is counted after a repair,
		// and gets its conditions row.
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			_, err := storage.SQLTx(tx).ExecContext(ctx, db.Rebind(
				`INSERT INTO machines (id, team_id, name, role, public_key, enrolled_at) VALUES (?, ?, 'by-hand', 'avs', 'key-by-hand', ?)`),
				"77777777-0000-4000-8000-000000000009", b.ID, base.Format(time.RFC3339Nano))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := counts(); got != [3]int{2, 1, 3} {
			t.Fatalf("counts before the repair = %v, want [2 1 3]", got)
		}
		if repaired, err := db.RepairFleetCounts(ctx); err != nil || !repaired {
			t.Fatalf("RepairFleetCounts = %v, %v; want a repair", repaired, err)
		}
		if got := counts(); got != [3]int{2, 2, 4} {
			t.Fatalf("counts after the repair = %v, want [2 2 4]", got)
		}
		rows, err := db.DueConditions(ctx, b.ID, "any", base)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(rows, func(r storage.ConditionRow) bool { return r.Name == "by-hand" }) {
			t.Errorf("the machine written by hand has no conditions row: %+v", rows)
		}
	})
}
