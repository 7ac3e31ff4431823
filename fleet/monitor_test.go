package fleet_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/internal/clocktest"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

type fixture struct {
	db    *storage.DB
	clk   *clocktest.Clock
	svc   *fleet.Service
	mon   *fleet.Monitor
	teamA int64
	teamB int64
}

func newFixture(t *testing.T, db *storage.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := clocktest.New(now)
	f := &fixture{db: db, clk: clk}
	f.svc = fleet.NewService(db, fleet.Config{HeartbeatInterval: 10 * time.Second, Now: clk.Now})
	f.mon = fleet.NewMonitor(db, fleet.MonitorConfig{HeartbeatInterval: 10 * time.Second, Now: clk.Now,
		Rules: fleet.Rules{AgentLatestVersion: "1.2.0"}})
	if _, err := f.mon.LoadCatalogue(ctx, fleet.EmbeddedCatalogue(), "embedded", false); err != nil {
		t.Fatal(err)
	}
	for _, team := range []struct {
		name string
		id   *int64
	}{{"team-a", &f.teamA}, {"team-b", &f.teamB}} {
		created, err := db.CreateTeam(ctx, team.name)
		if err != nil {
			t.Fatal(err)
		}
		*team.id = created.ID
	}
	return f
}

func (f *fixture) enroll(t *testing.T, team int64, name, role string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.svc.Enroll(context.Background(), fleet.Enrolment{TeamID: team}, proofgrid.EnrollRequest{
		Name: name, Role: role, PublicKey: base64.StdEncoding.EncodeToString(pub), AgentVersion: "1.2.0",
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp.MachineID
}

func (f *fixture) beat(t *testing.T, id string, hb proofgrid.Heartbeat) {
	t.Helper()
	if hb.AgentVersion == "" {
		hb.AgentVersion = "1.2.0"
	}
	if hb.Sample.CollectedAt.IsZero() {
		hb.Sample.CollectedAt = f.clk.Now()
	}
	if _, err := f.svc.Heartbeat(context.Background(), id, hb); err != nil {
		t.Fatalf("heartbeat %s: %v", id, err)
	}
}

func avsStatus(version string) proofgrid.AgentStatus {
	return proofgrid.AgentStatus{Queues: []string{}, AVS: []proofgrid.AVSReport{{
		AVS: "EigenDA", Chain: "Mainnet", Version: version, OperatorAddress: "0x0A3E3D83C99B27CA7540720B54105C79CD58DBDD", Healthy: true,
	}}}
}

func states(t *testing.T, f *fixture, team int64) map[string]string {
	t.Helper()
	ms, _, err := f.mon.Fleet(context.Background(), team)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range ms {
		out[m.ID] = m.Health.State
	}
	return out
}

func TestMonitorSweep(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		latest := fleet.EmbeddedCatalogue().AVS[0].LatestVersion
		avsM := f.enroll(t, f.teamA, "avs-1", proofgrid.RoleAVS)
		prover := f.enroll(t, f.teamA, "prover-1", proofgrid.RoleProver)
		silent := f.enroll(t, f.teamB, "silent", proofgrid.RoleAVS)

		f.beat(t, avsM, proofgrid.Heartbeat{Sample: proofgrid.Sample{Memory: proofgrid.Memory{UsedPercent: 30}}, Status: avsStatus(latest)})
		f.beat(t, prover, proofgrid.Heartbeat{Sample: proofgrid.Sample{Disks: []proofgrid.Disk{{Mountpoint: "/data", UsedPercent: 96}}}})

		want := map[string]string{avsM: fleet.StateHealthy, prover: fleet.StateErroring}
		if got := states(t, f, f.teamA); len(got) != 2 || got[avsM] != want[avsM] || got[prover] != want[prover] {
			t.Fatalf("team A states = %v, want %v", got, want)
		}
		if got := states(t, f, f.teamB); len(got) != 1 || got[silent] != fleet.StateOffline {
			t.Fatalf("team B states = %v", got)
		}
		if got := states(t, f, 0); len(got) != 3 {
			t.Fatalf("all teams = %v", got)
		}

		// Stored lower case, as every address is.
		ms, _, _ := f.mon.Fleet(ctx, f.teamA)
		for _, m := range ms {
			if m.ID == avsM && (len(m.Deployments) != 1 || m.Deployments[0].AVSID != "eigenda" || m.Deployments[0].Chain != "mainnet" ||
				m.Deployments[0].OperatorAddress != "0x0a3e3d83c99b27ca7540720b54105c79cd58dbdd") {
				t.Errorf("deployments = %+v", m.Deployments)
			}
		}

		for i, wantN := range []int{3, 0} { // the second sweep finds nothing new
			res, err := f.mon.Sweep(ctx, f.clk.Now())
			if err != nil || res.Machines != 3 || res.Transitions != wantN {
				t.Fatalf("sweep %d = %+v, %v; want %d transitions", i, res, err, wantN)
			}
		}

		// Past the TTL (3 × 10 s) the AVS machine goes offline.
		f.clk.Set(now.Add(31 * time.Second))
		f.beat(t, prover, proofgrid.Heartbeat{Sample: proofgrid.Sample{Disks: []proofgrid.Disk{{Mountpoint: "/data", UsedPercent: 50}}}})
		res, err := f.mon.Sweep(ctx, f.clk.Now())
		if err != nil || res.Transitions != 2 {
			t.Fatalf("sweep after TTL = %+v, %v", res, err)
		}
		ts, err := f.mon.Transitions(ctx, f.teamA, avsM, time.Time{}, 10)
		if err != nil || len(ts) != 2 {
			t.Fatalf("transitions = %+v, %v", ts, err)
		}
		if ts[0].From != fleet.StateHealthy || ts[0].To != fleet.StateOffline || !ts[0].At.Equal(now.Add(31*time.Second)) ||
			ts[1].From != fleet.StateUnknown || ts[1].To != fleet.StateHealthy {
			t.Errorf("transitions = %+v", ts)
		}
		ts, err = f.mon.Transitions(ctx, f.teamA, prover, time.Time{}, 10)
		if err != nil || len(ts) != 2 || ts[0].To != fleet.StateHealthy || ts[0].From != fleet.StateErroring { // idle only after the idle window since enrolment
			t.Errorf("prover transitions = %+v, %v", ts, err)
		}
		if _, err := f.mon.Transitions(ctx, f.teamB, avsM, time.Time{}, 10); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			t.Errorf("another team's transitions: err = %v, want not found", err)
		}
		if _, err := f.mon.Machine(ctx, f.teamB, avsM); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			t.Errorf("another team's machine: err = %v, want not found", err)
		}
	})
}

func TestMonitorCatalogueLoad(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		imported := fleet.EmbeddedCatalogue()
		imported.AsOf = imported.AsOf.Add(24 * time.Hour)
		imported.AVS = imported.AVS[:1]
		imported.AVS[0].LatestVersion = "9.9.9"
		imported.Agent.LatestVersion = "3.0.0"
		if n, err := f.mon.LoadCatalogue(ctx, imported, "import:test.json", true); err != nil || n != 4 {
			t.Fatalf("import = %d, %v", n, err)
		}
		// A coordinator restarting with its built-in catalogue keeps the
		// newer import.
		if _, err := f.mon.LoadCatalogue(ctx, fleet.EmbeddedCatalogue(), "embedded", false); err != nil {
			t.Fatal(err)
		}
		cat, err := f.mon.Catalogue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a, ok := cat.Lookup(imported.AVS[0].ID)
		if !ok || a.LatestVersion != "9.9.9" || a.Source != "import:test.json" || cat.Agent.LatestVersion != "3.0.0" {
			t.Fatalf("after reload: %+v, agent %s", a, cat.Agent.LatestVersion)
		}
		if len(cat.AVS) != len(fleet.EmbeddedCatalogue().AVS) {
			t.Errorf("catalogue has %d AVSs, want %d", len(cat.AVS), len(fleet.EmbeddedCatalogue().AVS))
		}
		bad := imported
		bad.AVS = nil
		if _, err := f.mon.LoadCatalogue(ctx, bad, "import:bad.json", true); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("invalid catalogue: err = %v", err)
		}
	})
}

func TestMonitorOperatorFacts(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		const op = "0x0a3e3d83c99b27ca7540720b54105c79cd58dbdd"
		m := f.enroll(t, f.teamA, "avs", proofgrid.RoleAVS)
		f.beat(t, m, proofgrid.Heartbeat{Status: avsStatus("0.8.6")})

		yes, err := f.mon.Registered(ctx, fleet.RegistrationQuery{TeamID: f.teamA, AVSID: "eigenda"})
		if err != nil || yes {
			t.Fatalf("Registered before any statement = %v, %v", yes, err)
		}
		if _, err := f.mon.Registered(ctx, fleet.RegistrationQuery{TeamID: f.teamA, AVSID: "nope"}); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			t.Errorf("unknown AVS: %v", err)
		}
		if _, err := f.mon.Registered(ctx, fleet.RegistrationQuery{TeamID: f.teamA, AVSID: "eigenda", Network: "moon"}); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("unknown network: %v", err)
		}
		_, created, err := f.mon.RecordRegistration(ctx, storage.AVSRegistration{AVSID: "eigenda", Chain: "mainnet", OperatorAddress: op, Registered: true})
		if err != nil || !created {
			t.Fatalf("RecordRegistration = %v, %v", created, err)
		}
		for _, q := range []fleet.RegistrationQuery{
			{TeamID: f.teamA, AVSID: "eigenda"},
			{TeamID: f.teamA, AVSID: "eigenda", Network: "mainnet", Operator: op},
			{TeamID: f.teamB, AVSID: "eigenda", Operator: op}, // an on-chain fact, asked about by address
		} {
			if yes, err := f.mon.Registered(ctx, q); err != nil || !yes {
				t.Errorf("Registered(%+v) = %v, %v", q, yes, err)
			}
		}
		if yes, _ := f.mon.Registered(ctx, fleet.RegistrationQuery{TeamID: f.teamB, AVSID: "eigenda"}); yes {
			t.Error("team B has no deployment but is registered")
		}
		if _, _, err := f.mon.RecordRegistration(ctx, storage.AVSRegistration{AVSID: "eigenda", Chain: "mainnet", OperatorAddress: op, AsOf: now.Add(time.Hour)}); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("registration dated in the future: %v", err)
		}

		req, err := f.mon.Requirements(ctx, "eigenda", op)
		if err != nil || req.Stake.Source != fleet.SourceNone || req.NodeClass.Name != req.AVS.NodeClasses[0].Name || req.MeetsMinimum {
			t.Fatalf("Requirements without stake = %+v, %v", req, err)
		}
		if _, _, err := f.mon.RecordStake(ctx, storage.OperatorStake{OperatorAddress: op, Strategies: []storage.StakeStrategy{
			{Name: "Steth", Address: "0x93c4b944D05dfe6df7645A86cd2206016c51564D", DelegatedStake: 20000},
		}}); err != nil {
			t.Fatal(err)
		}
		req, err = f.mon.Requirements(ctx, "eigenda", op)
		if err != nil || req.Stake.Source != fleet.SourceAdmin || req.Stake.ETH != 20000 || req.NodeClass.Name != "4xl" || !req.MeetsMinimum {
			t.Fatalf("Requirements with stake = %+v, %v", req, err)
		}
		r, err := f.mon.Rewards(ctx, "eigenda", op)
		cat := fleet.EmbeddedCatalogue()
		a, _ := cat.Lookup("eigenda")
		wantETH := 20000 * a.Rewards.AnnualRate / 12
		if err != nil || r.Ethereum < wantETH-1e-6 || r.Ethereum > wantETH+1e-6 || r.Dollar < wantETH*cat.Prices.ETHUSD-0.01 {
			t.Fatalf("Rewards = %+v, %v; want %v ETH", r, err, wantETH)
		}
		if _, _, err := f.mon.RecordStake(ctx, storage.OperatorStake{OperatorAddress: "0x12"}); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("bad address: %v", err)
		}
		if _, err := f.mon.Stake(ctx, "0x1111111111111111111111111111111111111111"); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			t.Errorf("no stake recorded: %v", err)
		}
	})
}

// TestStakeTotalsStayFinite checks that stakes whose sum overflows a
// float64 are refused at input, and that a stored record that sums to
// +Inf anyway (written before the limit) still gives finite answers:
// +Inf cannot be encoded as JSON, so every reader would get a 500.
func TestStakeTotalsStayFinite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		op := "0x2222222222222222222222222222222222222222"
		huge := []storage.StakeStrategy{
			{Name: "a", Address: "0x93c4b944D05dfe6df7645A86cd2206016c51564D", DelegatedStake: 1e308},
			{Name: "b", Address: "0x93c4b944D05dfe6df7645A86cd2206016c51564E", DelegatedStake: 1e308},
		}
		_, _, err := f.mon.RecordStake(ctx, storage.OperatorStake{OperatorAddress: op, Strategies: huge})
		if proofgrid.ErrorCode(err) != proofgrid.EINVALID || !strings.Contains(proofgrid.ErrorMessage(err), "ethereum[0].delegated_stake") {
			t.Fatalf("two stakes of 1e308: %v, want invalid", err)
		}
		_, _, err = f.mon.RecordStake(ctx, storage.OperatorStake{OperatorAddress: op, Eigen: 1e308})
		if proofgrid.ErrorCode(err) != proofgrid.EINVALID || !strings.Contains(proofgrid.ErrorMessage(err), "eigen") {
			t.Fatalf("eigen 1e308: %v, want invalid", err)
		}

		if _, err := db.PutOperatorStake(ctx, storage.OperatorStake{OperatorAddress: op, Strategies: huge, Source: fleet.SourceAdmin, AsOf: now}); err != nil {
			t.Fatal(err)
		}
		req, err := f.mon.Requirements(ctx, "eigenda", op)
		if err != nil || math.IsInf(req.Stake.ETH, 0) || req.Stake.ETH != fleet.MaxStake || !req.MeetsMinimum {
			t.Fatalf("Requirements over a stored overflowing stake = %+v, %v", req.Stake, err)
		}
		r, err := f.mon.Rewards(ctx, "eigenda", op)
		for name, v := range map[string]float64{"ethereum": r.Ethereum, "dollar": r.Dollar, "eigen": r.Eigen} {
			if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				t.Fatalf("Rewards %s = %v, %v; want a finite figure", name, v, err)
			}
		}
	})
}

// TestSweepRecordsWhatAFullJudgementFinds checks the sweep, which judges
// in full only the machines whose state may have changed, against the
// judgement of every machine: after each sweep the recorded state of every
// machine must be its state as Fleet derives it, through heartbeats, the
// TTL and idle window passing, and a catalogue change.
func TestSweepRecordsWhatAFullJudgementFinds(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		latest := fleet.EmbeddedCatalogue().AVS[0].LatestVersion
		var ids []string
		for i := range 12 {
			role, team := proofgrid.RoleAVS, f.teamA
			if i%3 == 0 {
				role = proofgrid.RoleProver
			}
			if i%4 == 0 {
				team = f.teamB
			}
			ids = append(ids, f.enroll(t, team, fmt.Sprintf("m-%02d", i), role))
		}
		// beat sends machine i's heartbeat of step s: machines fall silent,
		// fill their disks, run jobs or fall behind in turn.
		beat := func(s int) {
			for i, id := range ids {
				if (i+s)%5 == 0 {
					continue // silent this step
				}
				hb := proofgrid.Heartbeat{Sample: proofgrid.Sample{Disks: []proofgrid.Disk{{Mountpoint: "/", UsedPercent: float64(40 + 60*((i*s)%2))}}}}
				if i%3 != 0 {
					hb.Status = avsStatus(latest)
				}
				if (i+s)%4 == 1 {
					hb.Status.RunningJobs = 1
				}
				if (i+s)%7 == 3 {
					hb.AgentVersion = "1.0.0"
				}
				f.beat(t, id, hb)
			}
		}
		check := func(step string) {
			t.Helper()
			if _, err := f.mon.Sweep(ctx, f.clk.Now()); err != nil {
				t.Fatal(err)
			}
			recorded, err := db.HealthStates(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := states(t, f, 0)
			if len(recorded) != len(want) {
				t.Fatalf("%s: %d states recorded, want %d", step, len(recorded), len(want))
			}
			for id, state := range want {
				if recorded[id].State != state {
					t.Errorf("%s: machine %s recorded %q, judged %q", step, id, recorded[id].State, state)
				}
			}
		}
		check("before any heartbeat")
		for s := 1; s <= 8; s++ {
			f.clk.Set(now.Add(time.Duration(s) * 25 * time.Second))
			beat(s)
			check(fmt.Sprintf("step %d", s))
			if s == 4 {
				// Past the idle window since enrolment, and silent
				// machines past the TTL, without heartbeats.
				f.clk.Set(now.Add(time.Duration(s)*25*time.Second + 5*time.Minute))
				check("after the idle window")
			}
			if s == 6 {
				newer := fleet.EmbeddedCatalogue()
				newer.AVS[0].LatestVersion = "99.0.0"
				for j := range newer.AVS[0].Networks {
					newer.AVS[0].Networks[j].LatestVersion = ""
				}
				newer.AsOf = f.clk.Now()
				if _, err := f.mon.LoadCatalogue(ctx, newer, "test", true); err != nil {
					t.Fatal(err)
				}
				check("after a catalogue change")
			}
		}
		ts, err := f.mon.Transitions(ctx, 0, "", time.Time{}, 1000)
		if err != nil || len(ts) < 2*len(ids) {
			t.Fatalf("%d transitions, %v: want at least two per machine", len(ts), err)
		}
	})
}
