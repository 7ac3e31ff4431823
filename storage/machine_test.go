package storage_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

func TestUpsertMachine(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		alpha := mustTeam(t, db, "alpha")
		beta := mustTeam(t, db, "beta")

		m := newMachine(alpha.ID, "11111111-1111-1111-1111-111111111111", "gpu-1", "key-1")
		m.EnrolledAt = base
		first, created, err := db.UpsertMachine(ctx, m)
		if err != nil || !created {
			t.Fatalf("UpsertMachine = created %v, %v", created, err)
		}
		want := m
		want.EnrolledAt = stored(base)
		if !reflect.DeepEqual(first, want) {
			t.Fatalf("inserted\n%+v\nwant\n%+v", first, want)
		}

		// The same key from the same team keeps the machine's id and
		// enrolment time and takes the new details.
		again := newMachine(alpha.ID, "22222222-2222-2222-2222-222222222222", "gpu-1-renamed", "key-1")
		again.Role, again.ClusterID, again.AgentVersion = proofgrid.RoleAVS, "", "v2.0.0"
		again.EnrolledAt = base.Add(time.Hour)
		second, created, err := db.UpsertMachine(ctx, again)
		if err != nil || created {
			t.Fatalf("re-enrol = created %v, %v", created, err)
		}
		want = first
		want.Name, want.Role, want.ClusterID, want.AgentVersion = "gpu-1-renamed", proofgrid.RoleAVS, "", "v2.0.0"
		if !reflect.DeepEqual(second, want) {
			t.Fatalf("re-enrolled\n%+v\nwant\n%+v", second, want)
		}
		if _, err := db.MachineByID(ctx, again.ID); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			t.Errorf("re-enrol created a machine under the new id: %v", err)
		}

		// The same key from another team is refused and changes nothing.
		stolen := newMachine(beta.ID, "33333333-3333-3333-3333-333333333333", "thief", "key-1")
		_, _, err = db.UpsertMachine(ctx, stolen)
		wantCode(t, err, proofgrid.ECONFLICT)
		got, err := db.MachineByID(ctx, first.ID)
		if err != nil || !reflect.DeepEqual(got, second) {
			t.Errorf("after conflict: %+v, %v; want %+v", got, err, second)
		}

		// A new key under an id that is taken is refused.
		_, _, err = db.UpsertMachine(ctx, newMachine(alpha.ID, first.ID, "dup", "key-2"))
		wantCode(t, err, proofgrid.ECONFLICT)

		_, _, err = db.UpsertMachine(ctx, newMachine(beta.ID+alpha.ID+100, "44444444", "orphan", "key-3"))
		wantCode(t, err, proofgrid.ENOTFOUND)

		bad := newMachine(alpha.ID, "55555555", "bad", "key-4")
		bad.Role = "miner"
		_, _, err = db.UpsertMachine(ctx, bad)
		wantCode(t, err, proofgrid.EINVALID)
		for _, f := range []func(*proofgrid.Machine){
			func(m *proofgrid.Machine) { m.ID = "" },
			func(m *proofgrid.Machine) { m.PublicKey = "" },
			func(m *proofgrid.Machine) { m.Name = "" },
		} {
			bad := newMachine(alpha.ID, "66666666", "bad", "key-5")
			f(&bad)
			_, _, err = db.UpsertMachine(ctx, bad)
			wantCode(t, err, proofgrid.EINVALID)
		}
	})
}

// TestUpsertMachineRace enrols one new key from many goroutines at once:
// exactly one creates the machine and all end up with its id.
func TestUpsertMachineRace(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		const n = 20
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
			ids     = map[string]int{}
		)
		for i := range n {
			wg.Go(func() {
				m := newMachine(team.ID, fmt.Sprintf("id-%02d", i), "gpu", "shared-key")
				got, c, err := db.UpsertMachine(ctx, m)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("UpsertMachine %d: %v", i, err)
					return
				}
				if c {
					created++
				}
				ids[got.ID]++
			})
		}
		wg.Wait()
		if created != 1 || len(ids) != 1 {
			t.Fatalf("created %d machines, ids %v; want 1 machine", created, ids)
		}
	})
}

func TestMachineByIDAndList(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		alpha := mustTeam(t, db, "alpha")
		beta := mustTeam(t, db, "beta")

		empty, err := db.ListMachines(ctx, alpha.ID)
		if err != nil || empty == nil || len(empty) != 0 {
			t.Fatalf("ListMachines on no machines = %#v, %v; want empty, non-nil", empty, err)
		}

		mustMachine(t, db, alpha.ID, "b-2", "bravo")
		mustMachine(t, db, alpha.ID, "b-1", "bravo")
		mustMachine(t, db, alpha.ID, "a-9", "alpha")
		mustMachine(t, db, beta.ID, "c-1", "charlie")
		mustMachine(t, db, beta.ID, "0-1", "aardvark")

		ids := func(ms []proofgrid.Machine) []string {
			var out []string
			for _, m := range ms {
				out = append(out, m.ID)
			}
			return out
		}
		for _, tt := range []struct {
			team int64
			want []string
		}{
			{alpha.ID, []string{"a-9", "b-1", "b-2"}},
			{beta.ID, []string{"0-1", "c-1"}},
			{0, []string{"0-1", "a-9", "b-1", "b-2", "c-1"}},
		} {
			ms, err := db.ListMachines(ctx, tt.team)
			if err != nil || !reflect.DeepEqual(ids(ms), tt.want) {
				t.Errorf("ListMachines(%d) = %v, %v; want %v", tt.team, ids(ms), err, tt.want)
			}
		}

		m, err := db.MachineByID(ctx, "c-1")
		if err != nil || m.TeamID != beta.ID || m.Name != "charlie" || m.Latest != nil || m.Status != nil || m.LastSeenAt != nil {
			t.Errorf("MachineByID = %+v, %v", m, err)
		}
		_, err = db.MachineByID(ctx, "nope")
		wantCode(t, err, proofgrid.ENOTFOUND)
	})
}

func TestRecordHeartbeat(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		m := mustMachine(t, db, team.ID, "m-1", "gpu-1")

		t1, t2 := base.Add(time.Minute), base.Add(2*time.Minute)
		hb1 := heartbeat(10, base)
		hb1.AgentVersion = "v1.1.0"
		if err := db.RecordHeartbeat(ctx, m.ID, t1, hb1); err != nil {
			t.Fatalf("RecordHeartbeat: %v", err)
		}
		// An empty version keeps the stored one; the memory figure is
		// derived from bytes when the percentage is missing.
		hb2 := heartbeat(20, base.Add(time.Minute))
		hb2.AgentVersion = ""
		hb2.Sample.Memory = proofgrid.Memory{TotalBytes: 1000, UsedBytes: 600}
		hb2.Sample.GPUs = []proofgrid.GPU{}
		if err := db.RecordHeartbeat(ctx, m.ID, t2, hb2); err != nil {
			t.Fatalf("RecordHeartbeat: %v", err)
		}

		got, err := db.MachineByID(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastSeenAt == nil || !got.LastSeenAt.Equal(stored(t2)) || got.AgentVersion != "v1.1.0" {
			t.Errorf("LastSeenAt %v, AgentVersion %q; want %v, v1.1.0", got.LastSeenAt, got.AgentVersion, stored(t2))
		}
		if got.Latest == nil || !reflect.DeepEqual(*got.Latest, hb2.Sample) {
			t.Errorf("Latest = %+v\nwant %+v", got.Latest, hb2.Sample)
		}
		if got.Status == nil || !reflect.DeepEqual(*got.Status, hb2.Status) {
			t.Errorf("Status = %+v, want %+v", got.Status, hb2.Status)
		}

		points, err := db.MachineMetrics(ctx, m.ID, time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []storage.MetricPoint{
			{MachineID: m.ID, CollectedAt: stored(hb2.Sample.CollectedAt), ReceivedAt: stored(t2),
				CPUPercent: 20, MemoryPercent: 60, DiskMaxPercent: 80, GPUCount: 0, Sample: hb2.Sample},
			{MachineID: m.ID, CollectedAt: stored(hb1.Sample.CollectedAt), ReceivedAt: stored(t1),
				CPUPercent: 10, MemoryPercent: 25, DiskMaxPercent: 80, GPUCount: 2, Sample: hb1.Sample},
		}
		if !reflect.DeepEqual(points, want) {
			t.Errorf("history\n%+v\nwant\n%+v", points, want)
		}

		// A late heartbeat joins the history but does not replace the
		// latest state.
		if err := db.RecordHeartbeat(ctx, m.ID, base, heartbeat(5, base)); err != nil {
			t.Fatal(err)
		}
		got, _ = db.MachineByID(ctx, m.ID)
		if !got.LastSeenAt.Equal(stored(t2)) || got.Latest.CPU.UsagePercent != 20 {
			t.Errorf("late heartbeat replaced latest: seen %v, cpu %v", got.LastSeenAt, got.Latest.CPU.UsagePercent)
		}
		points, _ = db.MachineMetrics(ctx, m.ID, time.Time{}, 0)
		if len(points) != 3 || points[2].CPUPercent != 5 {
			t.Errorf("history after late heartbeat = %d points", len(points))
		}

		err = db.RecordHeartbeat(ctx, "unknown", t2, heartbeat(1, t2))
		wantCode(t, err, proofgrid.ENOTFOUND)
		if points, _ := db.MachineMetrics(ctx, "unknown", time.Time{}, 0); len(points) != 0 {
			t.Errorf("unknown machine got %d points", len(points))
		}
	})
}

// TestTimestampsRoundTrip checks that a time in any zone, with
// nanoseconds, comes back in UTC with microseconds on both dialects.
func TestTimestampsRoundTrip(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		m := mustMachine(t, db, team.ID, "m-1", "gpu-1")
		at := time.Date(2030, 12, 31, 23, 59, 59, 999999999, time.FixedZone("X", -7*3600))
		if err := db.RecordHeartbeat(ctx, m.ID, at, heartbeat(1, base)); err != nil {
			t.Fatal(err)
		}
		got, err := db.MachineByID(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2031, 1, 1, 6, 59, 59, 999999000, time.UTC)
		if *got.LastSeenAt != want {
			t.Errorf("LastSeenAt = %v (%v), want %v", *got.LastSeenAt, got.LastSeenAt.Location(), want)
		}
	})
}

func TestMachineMetricsWindow(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		m := mustMachine(t, db, team.ID, "m-1", "gpu-1")
		other := mustMachine(t, db, team.ID, "m-2", "gpu-2")
		for i := range 5 {
			at := base.Add(time.Duration(i) * time.Minute)
			if err := db.RecordHeartbeat(ctx, m.ID, at, heartbeat(i, at)); err != nil {
				t.Fatal(err)
			}
			if err := db.RecordHeartbeat(ctx, other.ID, at, heartbeat(100+i, at)); err != nil {
				t.Fatal(err)
			}
		}
		cpus := func(ps []storage.MetricPoint) []float64 {
			var out []float64
			for _, p := range ps {
				out = append(out, p.CPUPercent)
			}
			return out
		}
		for _, tt := range []struct {
			since time.Time
			limit int
			want  []float64
		}{
			{time.Time{}, 0, []float64{4, 3, 2, 1, 0}},
			{base.Add(2 * time.Minute), 0, []float64{4, 3, 2}},
			{time.Time{}, 2, []float64{4, 3}},
			{base.Add(time.Hour), 0, nil},
		} {
			ps, err := db.MachineMetrics(ctx, m.ID, tt.since, tt.limit)
			if err != nil || !reflect.DeepEqual(cpus(ps), tt.want) {
				t.Errorf("MachineMetrics(since %v, limit %d) = %v, %v; want %v", tt.since, tt.limit, cpus(ps), err, tt.want)
			}
		}
	})
}

func TestDeleteMetricsBefore(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		ms := []proofgrid.Machine{
			mustMachine(t, db, team.ID, "m-1", "gpu-1"),
			mustMachine(t, db, team.ID, "m-2", "gpu-2"),
		}
		for _, m := range ms {
			for i := range 4 {
				at := base.Add(time.Duration(i) * time.Hour)
				if err := db.RecordHeartbeat(ctx, m.ID, at, heartbeat(i, at)); err != nil {
					t.Fatal(err)
				}
			}
		}
		// A machine silent since before all of them: its one point is its
		// newest, and the oldest of all.
		silent := mustMachine(t, db, team.ID, "m-0", "gpu-0")
		if err := db.RecordHeartbeat(ctx, silent.ID, base.Add(-time.Hour), heartbeat(9, base.Add(-time.Hour))); err != nil {
			t.Fatal(err)
		}
		// One point per DELETE: every purge below goes through its loop,
		// past the silent machine's point and points of equal times.
		storage.SetMetricsDeleteBatch(db, 1)

		n, err := db.DeleteMetricsBefore(ctx, base.Add(2*time.Hour))
		if err != nil || n != 4 {
			t.Fatalf("DeleteMetricsBefore = %d, %v; want 4", n, err)
		}
		for _, m := range ms {
			ps, err := db.MachineMetrics(ctx, m.ID, time.Time{}, 0)
			if err != nil || len(ps) != 2 || ps[0].CPUPercent != 3 || ps[1].CPUPercent != 2 {
				t.Errorf("%s kept %+v, %v; want the points of hours 3 and 2", m.ID, ps, err)
			}
			got, _ := db.MachineByID(ctx, m.ID)
			if got.Latest == nil || !got.LastSeenAt.Equal(stored(base.Add(3*time.Hour))) {
				t.Errorf("%s lost its latest state", m.ID)
			}
		}
		n, err = db.DeleteMetricsBefore(ctx, base.Add(2*time.Hour))
		if err != nil || n != 0 {
			t.Errorf("second DeleteMetricsBefore = %d, %v; want 0", n, err)
		}

		// A machine's newest point holds its latest sample: it stays when
		// the machine has been silent for longer than the retention.
		n, err = db.DeleteMetricsBefore(ctx, base.Add(5*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("DeleteMetricsBefore after the last heartbeats = %d, %v; want 2", n, err)
		}
		for _, m := range ms {
			ps, err := db.MachineMetrics(ctx, m.ID, time.Time{}, 0)
			if err != nil || len(ps) != 1 || ps[0].CPUPercent != 3 {
				t.Errorf("%s kept %+v, %v; want the point of hour 3 alone", m.ID, ps, err)
			}
			got, err := db.MachineByID(ctx, m.ID)
			if err != nil || got.Latest == nil || !reflect.DeepEqual(*got.Latest, sample(3, base.Add(3*time.Hour))) {
				t.Errorf("%s latest sample = %+v, %v; want hour 3's", m.ID, got.Latest, err)
			}
		}
		if ps, err := db.MachineMetrics(ctx, silent.ID, time.Time{}, 0); err != nil || len(ps) != 1 || ps[0].CPUPercent != 9 {
			t.Errorf("silent machine kept %+v, %v; want its one point", ps, err)
		}
	})
}

func TestMachineIDsWithRole(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		alpha, beta := mustTeam(t, db, "alpha"), mustTeam(t, db, "beta")
		mustMachine(t, db, alpha.ID, "prover-1", "p1")
		for _, m := range []proofgrid.Machine{
			newMachine(alpha.ID, "avs-2", "a2", "key-a2"),
			newMachine(alpha.ID, "avs-1", "a1", "key-a1"),
			newMachine(beta.ID, "avs-3", "b3", "key-b3"),
		} {
			m.Role = proofgrid.RoleAVS
			if _, _, err := db.UpsertMachine(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range []struct {
			team int64
			role string
			want []string
		}{
			{alpha.ID, proofgrid.RoleAVS, []string{"avs-1", "avs-2"}},
			{alpha.ID, proofgrid.RoleProver, []string{"prover-1"}},
			{beta.ID, proofgrid.RoleAVS, []string{"avs-3"}},
			{beta.ID, proofgrid.RoleProver, []string{}},
		} {
			got, err := db.MachineIDsWithRole(ctx, tt.team, tt.role)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("MachineIDsWithRole(%d, %s) = %v, %v; want %v", tt.team, tt.role, got, err, tt.want)
			}
		}
	})
}

// TestLatestSampleMigration checks migration 00910, which stops storing the
// latest sample on the machines row: Down puts each machine's newest sample
// back on its row, and Up first writes a history row for a machine whose
// latest sample is only on its row (its history deleted by the retention
// of before), so that no machine loses its latest sample.
func TestLatestSampleMigration(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		kept := mustMachine(t, db, team.ID, "m-kept", "gpu-1")
		pruned := mustMachine(t, db, team.ID, "m-pruned", "gpu-2")
		silent := mustMachine(t, db, team.ID, "m-silent", "gpu-3")
		for _, m := range []proofgrid.Machine{kept, pruned} {
			for i := range 2 {
				at := base.Add(time.Duration(i) * time.Hour)
				if err := db.RecordHeartbeat(ctx, m.ID, at, heartbeat(i+1, at)); err != nil {
					t.Fatal(err)
				}
			}
		}

		if err := storage.MigrateDownTo(ctx, db, 909); err != nil {
			t.Fatalf("down: %v", err)
		}
		onRow := func(id string) (s sql.NullString) {
			t.Helper()
			err := db.InTx(ctx, func(tx *storage.Tx) error {
				return storage.SQLTx(tx).GetContext(ctx, &s, db.Rebind(`SELECT latest_sample FROM machines WHERE id = ?`), id)
			})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		var want proofgrid.Sample
		if s := onRow(kept.ID); !s.Valid || json.Unmarshal([]byte(s.String), &want) != nil ||
			!reflect.DeepEqual(want, sample(2, base.Add(time.Hour))) {
			t.Fatalf("after down, the row's latest sample = %v; want the newest heartbeat's", s)
		}
		if s := onRow(silent.ID); s.Valid {
			t.Errorf("after down, a machine without heartbeats has latest sample %q", s.String)
		}
		// The retention of before deleted history regardless of age.
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			_, err := storage.SQLTx(tx).ExecContext(ctx, db.Rebind(`DELETE FROM machine_metrics WHERE machine_id = ?`), pruned.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("up: %v", err)
		}
		for _, m := range []proofgrid.Machine{kept, pruned} {
			got, err := db.MachineByID(ctx, m.ID)
			if err != nil || got.Latest == nil || !reflect.DeepEqual(*got.Latest, want) {
				t.Errorf("%s after up: latest sample %+v, %v; want %+v", m.Name, got.Latest, err, want)
			}
		}
		if ps, err := db.MachineMetrics(ctx, pruned.ID, time.Time{}, 0); err != nil || len(ps) != 1 ||
			!ps[0].ReceivedAt.Equal(stored(base.Add(time.Hour))) {
			t.Errorf("pruned machine's history after up = %+v, %v; want one point at its last heartbeat", ps, err)
		}
		if got, err := db.MachineByID(ctx, silent.ID); err != nil || got.Latest != nil {
			t.Errorf("machine without heartbeats after up: latest sample %+v, %v", got.Latest, err)
		}
	})
}

// TestConcurrentHeartbeats records heartbeats from many goroutines at once,
// several per machine. None may fail (on SQLite: no SQLITE_BUSY), none may
// be lost, and each machine's latest state must be its newest heartbeat.
func TestConcurrentHeartbeats(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		const machines, goroutines, each = 4, 20, 10
		var ms []proofgrid.Machine
		for i := range machines {
			ms = append(ms, mustMachine(t, db, team.ID, fmt.Sprintf("m-%d", i), fmt.Sprintf("gpu-%d", i)))
		}

		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				m := ms[g%machines]
				for i := range each {
					n := g*each + i
					at := base.Add(time.Duration(n) * time.Second)
					if err := db.RecordHeartbeat(ctx, m.ID, at, heartbeat(n, at)); err != nil {
						t.Errorf("goroutine %d heartbeat %d: %v", g, i, err)
						return
					}
					// Reads run beside the writes.
					if _, err := db.MachineByID(ctx, m.ID); err != nil {
						t.Errorf("goroutine %d read: %v", g, err)
						return
					}
				}
			})
		}
		wg.Wait()

		for mi, m := range ms {
			ps, err := db.MachineMetrics(ctx, m.ID, time.Time{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if want := goroutines / machines * each; len(ps) != want {
				t.Errorf("%s: %d points, want %d", m.ID, len(ps), want)
			}
			// The newest heartbeat of machine mi came from the last
			// goroutine that served it, in its last iteration.
			newest := ((goroutines-machines+mi)*each + each - 1)
			got, err := db.MachineByID(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantSeen := stored(base.Add(time.Duration(newest) * time.Second))
			if !got.LastSeenAt.Equal(wantSeen) || got.Latest.CPU.UsagePercent != float64(newest) {
				t.Errorf("%s: latest seen %v cpu %v; want %v cpu %d", m.ID, got.LastSeenAt, got.Latest.CPU.UsagePercent, wantSeen, newest)
			}
		}
	})
}

func TestMachineIdentitySkipsSample(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team, err := db.EnsureTeam(ctx, "identity")
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := db.UpsertMachine(ctx, proofgrid.Machine{ID: "5f0c6c1e-8f0e-4b0a-9d7e-2f1b4a7c9e21", TeamID: team.ID, Name: "n", Role: proofgrid.RoleProver,
			ClusterID: "c", PublicKey: "pk-identity", AgentVersion: "1", EnrolledAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.RecordHeartbeat(ctx, m.ID, time.Now(), proofgrid.Heartbeat{Sample: proofgrid.Sample{CPU: proofgrid.CPU{UsagePercent: 5}}}); err != nil {
			t.Fatal(err)
		}
		got, err := db.MachineIdentity(ctx, m.ID)
		if err != nil || got.PublicKey != "pk-identity" || got.TeamID != team.ID || got.ClusterID != "c" || got.LastSeenAt == nil {
			t.Fatalf("identity %+v err %v", got, err)
		}
		if got.Latest != nil || got.Status != nil {
			t.Fatalf("identity decoded the sample: %+v", got)
		}
		if _, err := db.MachineIdentity(ctx, "00000000-0000-4000-8000-000000000000"); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			t.Fatalf("unknown machine: %v", err)
		}
	})
}
