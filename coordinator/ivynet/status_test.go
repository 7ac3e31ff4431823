package ivynet_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/coordinator/ivynet"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/internal/clocktest"
	"github.com/proofgrid/proofgrid/storage"
)

// TestStatusMatchesFullDerivation checks that /client/status, the id
// lists and /client/, which judge only the machines that may not be healthy, answer
// exactly what judging every machine answers (Monitor.Fleet, the oracle),
// for a fleet with machines in every state, as time passes, heartbeats
// come and go, an admin records a registration and the catalogue changes.
func TestStatusMatchesFullDerivation(t *testing.T) {
	for _, dialect := range []string{storage.DialectSQLite, storage.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			testStatusMatches(t, dialect)
		})
	}
}

func testStatusMatches(t *testing.T, dialect string) {
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second)
	clk := clocktest.New(t0)
	rules := fleet.Rules{HeartbeatTTL: 5 * time.Minute, IdleWindow: 2 * time.Minute, AgentLatestVersion: "1.2.0"}
	env := coordinatortest.Start(t, coordinatortest.Options{
		Dialect: dialect,
		Configure: func(cfg *coordinator.Config) {
			cfg.Now = clk.Now
			cfg.HeartbeatInterval = time.Minute
			cfg.Health = rules
		},
	})
	db, svc := env.Coordinator.DB, env.Coordinator.Fleet
	oracle := fleet.NewMonitor(db, fleet.MonitorConfig{Rules: rules, HeartbeatInterval: time.Minute, Now: clk.Now})
	readA, operator := env.Token("team-a", auth.ModeRead), env.OperatorToken("team-b")
	teamA, err := db.TeamByName(ctx, "team-a")
	if err != nil {
		t.Fatal(err)
	}
	teamB, err := db.TeamByName(ctx, "team-b")
	if err != nil {
		t.Fatal(err)
	}
	cat := fleet.EmbeddedCatalogue()
	eigenda, ok := cat.Lookup("eigenda")
	if !ok {
		t.Fatal("catalogue lacks eigenda")
	}

	type spec struct {
		team     int64
		role     string
		agent    string
		enrolled time.Time
		jobs     int
		disk     float64
		errors   []string
		avs      *proofgrid.AVSReport
		// silent machines send no heartbeat after the first; never sends
		// none at all.
		silent, never bool
	}
	avs := func(version string, healthy bool, op int) *proofgrid.AVSReport {
		return &proofgrid.AVSReport{AVS: "eigenda", Chain: "mainnet", Version: version, OperatorAddress: fmt.Sprintf("0x%040x", op), Healthy: healthy}
	}
	latest := eigenda.LatestVersionOn("mainnet")
	specs := map[string]*spec{
		"avs-healthy":      {team: teamA.ID, role: proofgrid.RoleAVS, avs: avs(latest, true, 1)},
		"avs-registered":   {team: teamA.ID, role: proofgrid.RoleAVS, avs: avs(latest, true, 2)},
		"avs-behind":       {team: teamA.ID, role: proofgrid.RoleAVS, avs: avs("0.0.1", true, 3)},
		"avs-down":         {team: teamA.ID, role: proofgrid.RoleAVS, avs: avs(latest, false, 4)},
		"avs-gone":         {team: teamA.ID, role: proofgrid.RoleAVS, avs: avs(latest, true, 5), silent: true},
		"agent-errors":     {team: teamA.ID, role: proofgrid.RoleProver, jobs: 1, errors: []string{"PROVER_CRASHED"}},
		"disk-full":        {team: teamA.ID, role: proofgrid.RoleProver, jobs: 1, disk: 99},
		"agent-behind":     {team: teamA.ID, role: proofgrid.RoleProver, jobs: 1, agent: "1.0.0"},
		"prover-busy":      {team: teamA.ID, role: proofgrid.RoleProver, jobs: 1},
		"prover-idle":      {team: teamA.ID, role: proofgrid.RoleProver, enrolled: t0.Add(-time.Hour)},
		"prover-new":       {team: teamA.ID, role: proofgrid.RoleProver},
		"prover-gone":      {team: teamA.ID, role: proofgrid.RoleProver, jobs: 1, silent: true},
		"never-seen":       {team: teamA.ID, role: proofgrid.RoleProver, never: true},
		"never-seen-avs":   {team: teamA.ID, role: proofgrid.RoleAVS, never: true, agent: "1.0.0"},
		"other-team-error": {team: teamB.ID, role: proofgrid.RoleProver, jobs: 1, disk: 99},
		"other-team-ok":    {team: teamB.ID, role: proofgrid.RoleProver, jobs: 1},
	}
	ids := map[string]string{}
	for name, s := range specs {
		agent := s.agent
		if agent == "" {
			agent = "1.2.0"
		}
		enrolled := s.enrolled
		if enrolled.IsZero() {
			enrolled = t0
		}
		m, _, err := db.UpsertMachine(ctx, proofgrid.Machine{
			ID: uuid.NewString(), TeamID: s.team, Name: name, Role: s.role,
			PublicKey: "key-" + name, AgentVersion: agent, EnrolledAt: enrolled,
		})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = m.ID
	}
	heartbeat := func(name string) {
		t.Helper()
		s := specs[name]
		agent := s.agent
		if agent == "" {
			agent = "1.2.0"
		}
		hb := proofgrid.Heartbeat{AgentVersion: agent, Sample: proofgrid.Sample{
			CollectedAt: clk.Now(),
			Memory:      proofgrid.Memory{TotalBytes: 100, UsedBytes: 20, AvailableBytes: 80, UsedPercent: 20},
			Disks:       []proofgrid.Disk{{Mountpoint: "/", TotalBytes: 100, UsedBytes: uint64(s.disk), UsedPercent: s.disk}},
			GPUs:        []proofgrid.GPU{},
		}, Status: proofgrid.AgentStatus{Queues: []string{}, RunningJobs: s.jobs, Errors: s.errors}}
		if s.avs != nil {
			hb.Status.AVS = []proofgrid.AVSReport{*s.avs}
		}
		if _, err := svc.Heartbeat(ctx, ids[name], hb); err != nil {
			t.Fatalf("heartbeat of %s: %v", name, err)
		}
	}
	beat := func(first bool) {
		for name, s := range specs {
			if !s.never && (first || !s.silent) {
				heartbeat(name)
			}
		}
	}
	names := map[string]string{}
	for n, id := range ids {
		names[id] = n
	}
	// check compares every answer with the oracle's for team A and for an
	// operator (every team), and returns team A's status.
	check := func(step string) statusResult {
		t.Helper()
		var out statusResult
		for _, view := range []struct {
			token string
			team  int64
		}{{readA, teamA.ID}, {operator, 0}} {
			ms, _, err := oracle.Fleet(ctx, view.team)
			if err != nil {
				t.Fatal(err)
			}
			want := oracleStatus(ms)
			var got statusResult
			get(t, env.URL, "/v1/client/status", view.token, &got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: team %d: status\n got %s\nwant %s", step, view.team, describe(got, names), describe(want, names))
			}
			for _, l := range []struct {
				path, key string
				want      []string
			}{
				{"/v1/client/idle", "idle_machines", want.IdleMachines},
				{"/v1/client/unhealthy", "unhealthy_machines", want.UnhealthyMachines},
				{"/v1/client/errors", "erroring_machines", want.ErroringMachines},
				{"/v1/client/updateable", "updateable_machines", want.UpdateableMachines},
			} {
				var list map[string][]string
				get(t, env.URL, l.path, view.token, &list)
				if !reflect.DeepEqual(list[l.key], l.want) {
					t.Errorf("%s: team %d: %s = %v, want %v", step, view.team, l.path, list[l.key], l.want)
				}
			}
			var machines struct {
				Machines []struct {
					MachineID   string     `json:"machine_id"`
					Status      string     `json:"status"`
					Name        string     `json:"name"`
					Role        string     `json:"role"`
					LastChecked *time.Time `json:"last_checked"`
				} `json:"machines"`
			}
			get(t, env.URL, "/v1/client/", view.token, &machines)
			if len(machines.Machines) != len(ms) {
				t.Errorf("%s: team %d: /v1/client/ lists %d machines, want %d", step, view.team, len(machines.Machines), len(ms))
			}
			for i, m := range machines.Machines {
				if i >= len(ms) {
					break
				}
				w := ms[i]
				if m.MachineID != w.ID || m.Status != ivynet.StatusName(w.Health.State) || m.Name != w.Name || m.Role != w.Role ||
					(m.LastChecked == nil) != (w.LastSeenAt == nil) || (m.LastChecked != nil && !m.LastChecked.Equal(*w.LastSeenAt)) {
					t.Errorf("%s: team %d: /v1/client/ machine %d = %+v, want %s %s", step, view.team, i, m, w.Name, w.Health.State)
				}
			}
			if view.team == teamA.ID {
				out = want
			}
		}
		return out
	}
	has := func(list []string, name string) bool {
		for _, id := range list {
			if id == ids[name] {
				return true
			}
		}
		return false
	}

	beat(true)
	st := check("first heartbeats")
	if !has(st.IdleMachines, "prover-idle") || has(st.IdleMachines, "prover-new") || !has(st.ErroringMachines, "avs-down") ||
		!has(st.UpdateableMachines, "agent-behind") || !has(st.UnhealthyMachines, "avs-behind") || !has(st.OfflineMachines, "never-seen") ||
		st.HealthyMachines == 0 {
		t.Fatalf("the fleet lacks a state: %s", describe(st, names))
	}

	// The idle window passes without a heartbeat: idle by time alone, just
	// after the window and not at its end.
	clk.Advance(2 * time.Minute)
	if st := check("idle window reached"); has(st.IdleMachines, "prover-new") {
		t.Fatalf("prover-new is idle at the end of the window: %s", describe(st, names))
	}
	clk.Advance(time.Microsecond)
	if st := check("idle window passed"); !has(st.IdleMachines, "prover-new") {
		t.Fatalf("prover-new is not idle: %s", describe(st, names))
	}

	// The TTL passes for the silent machines only: offline by time alone,
	// just after the TTL and not at its end.
	clk.Advance(2*time.Minute - time.Microsecond)
	beat(false)
	clk.Advance(time.Minute)
	if st := check("TTL reached"); has(st.OfflineMachines, "avs-gone") {
		t.Fatalf("avs-gone is offline at the end of the TTL: %s", describe(st, names))
	}
	clk.Advance(time.Microsecond)
	if st := check("TTL passed"); !has(st.OfflineMachines, "avs-gone") {
		t.Fatalf("avs-gone is not offline: %s", describe(st, names))
	}
	clk.Advance(time.Minute - time.Microsecond)
	beat(false)
	if st := check("silent machines past the TTL"); !has(st.OfflineMachines, "avs-gone") || !has(st.UnhealthyMachines, "avs-gone") ||
		!has(st.OfflineMachines, "prover-gone") {
		t.Fatalf("the silent machines are not offline: %s", describe(st, names))
	}

	// An admin records that an operator is not registered.
	if _, _, err := oracle.RecordRegistration(ctx, storage.AVSRegistration{
		AVSID: "eigenda", Chain: "mainnet", OperatorAddress: specs["avs-registered"].avs.OperatorAddress, Registered: false, AsOf: clk.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	if st := check("registration recorded"); !has(st.ErroringMachines, "avs-registered") {
		t.Fatalf("avs-registered is not erroring: %s", describe(st, names))
	}

	// A new release of eigenda makes every node of it updateable.
	newer := fleet.EmbeddedCatalogue()
	for i := range newer.AVS {
		if newer.AVS[i].ID == "eigenda" {
			newer.AVS[i].LatestVersion = "99.0.0"
			for j := range newer.AVS[i].Networks {
				newer.AVS[i].Networks[j].LatestVersion = ""
			}
		}
	}
	newer.AsOf = clk.Now()
	if _, err := oracle.LoadCatalogue(ctx, newer, "test", true); err != nil {
		t.Fatal(err)
	}
	if st := check("catalogue changed"); !has(st.UpdateableMachines, "avs-healthy") && !has(st.UnhealthyMachines, "avs-healthy") {
		t.Fatalf("avs-healthy is not updateable: %s", describe(st, names))
	}
	beat(false)
	check("heartbeats under the new catalogue")

	// A heartbeat stored without an observation, as before they were kept:
	// health reads the stored sample.
	clk.Advance(time.Minute)
	legacy, _, err := db.UpsertMachine(ctx, proofgrid.Machine{
		ID: uuid.NewString(), TeamID: teamA.ID, Name: "legacy", Role: proofgrid.RoleProver, PublicKey: "key-legacy", AgentVersion: "1.2.0",
	})
	if err != nil {
		t.Fatal(err)
	}
	ids["legacy"], names[legacy.ID] = legacy.ID, "legacy"
	if err := db.RecordHeartbeat(ctx, legacy.ID, clk.Now(), proofgrid.Heartbeat{Sample: proofgrid.Sample{
		CollectedAt: clk.Now(), Disks: []proofgrid.Disk{{Mountpoint: "/", UsedPercent: 99}},
	}, Status: proofgrid.AgentStatus{RunningJobs: 1}}); err != nil {
		t.Fatal(err)
	}
	if st := check("heartbeat without observation"); !has(st.ErroringMachines, "legacy") {
		t.Fatalf("legacy is not erroring: %s", describe(st, names))
	}
}

// oracleStatus is /client/status as it was derived from every machine.
func oracleStatus(ms []fleet.MachineHealth) statusResult {
	r := statusResult{
		TotalMachines: len(ms), UnhealthyMachines: []string{}, IdleMachines: []string{},
		UpdateableMachines: []string{}, ErroringMachines: []string{}, OfflineMachines: []string{},
	}
	for _, m := range ms {
		h := m.Health
		if h.Healthy() {
			r.HealthyMachines++
		}
		if h.Unhealthy() {
			r.UnhealthyMachines = append(r.UnhealthyMachines, m.ID)
		}
		if h.Idle {
			r.IdleMachines = append(r.IdleMachines, m.ID)
		}
		if h.AgentUpdateable {
			r.UpdateableMachines = append(r.UpdateableMachines, m.ID)
		}
		if h.Erroring {
			r.ErroringMachines = append(r.ErroringMachines, m.ID)
		}
		if h.Offline {
			r.OfflineMachines = append(r.OfflineMachines, m.ID)
		}
	}
	return r
}

// describe writes a status with machine names for failure messages.
func describe(s statusResult, names map[string]string) string {
	n := func(ids []string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = names[id]
		}
		return out
	}
	return fmt.Sprintf("total %d healthy %d unhealthy %v idle %v updateable %v erroring %v offline %v",
		s.TotalMachines, s.HealthyMachines, n(s.UnhealthyMachines), n(s.IdleMachines), n(s.UpdateableMachines),
		n(s.ErroringMachines), n(s.OfflineMachines))
}
