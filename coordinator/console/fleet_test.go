package console_test

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/fleet"
)

// observedMachine enrols a machine of team and records one heartbeat at
// seenAt (none when seenAt is zero) with the given status and GPU count.
func observedMachine(t testing.TB, env *coordinatortest.Env, team int64, name, role string, seenAt time.Time, status proofgrid.AgentStatus, gpus int) string {
	t.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	if _, _, err := env.Coordinator.DB.UpsertMachine(ctx, proofgrid.Machine{
		ID: id, TeamID: team, Name: name, Role: role, PublicKey: "key-" + id, AgentVersion: "1.0.0",
		EnrolledAt: time.Now().UTC().Add(-2 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	if seenAt.IsZero() {
		return id
	}
	hb := proofgrid.Heartbeat{AgentVersion: "1.0.0", Status: status, Sample: proofgrid.Sample{
		CollectedAt: seenAt, CPU: proofgrid.CPU{UsagePercent: 20}, Memory: proofgrid.Memory{UsedPercent: 40},
		Disks: []proofgrid.Disk{{Mountpoint: "/", UsedPercent: 50}},
	}}
	for i := range gpus {
		hb.Sample.GPUs = append(hb.Sample.GPUs, proofgrid.GPU{Index: i, Name: "H100"})
	}
	obs, deps := fleet.Observe(id, seenAt, hb)
	if err := env.Coordinator.DB.RecordObservedHeartbeat(ctx, id, seenAt, hb, obs, deps); err != nil {
		t.Fatal(err)
	}
	return id
}

var (
	rowRE   = regexp.MustCompile(`<td><a href="/ui/machines/[^"]+">([^<]+)</a></td>\s*<td><span class="badge state-(\w+)"`)
	countRE = regexp.MustCompile(`class="state-(\w+)" href="[^"]*"[^>]*>\w+ <span class="count">(\d+)</span>`)
	cardsRE = regexp.MustCompile(`<span class="n">(\d+)</span> unhealthy</div>\s*<div class="card"><span class="n">(\d+) / (\d+)</span> GPUs busy`)
)

// The fleet page lists and counts from the stored judgements and judges
// only the machines it shows; what it shows must be what judging every
// machine (Monitor.Fleet) gives: counts, cards, the rows of each filter in
// order, and each row's state.
func TestFleetPageAgreesWithJudgingEveryMachine(t *testing.T) {
	coordinatortest.EachDialect(t, func(t *testing.T, env *coordinatortest.Env) {
		ctx := context.Background()
		tok := env.Token("alpha", "read")
		team := teamID(t, env, "alpha")
		now := time.Now().UTC()
		recent := now.Add(-10 * time.Second)
		busy := proofgrid.AgentStatus{RunningJobs: 1}
		observedMachine(t, env, team, "a-never-seen", proofgrid.RoleProver, time.Time{}, proofgrid.AgentStatus{}, 0)
		observedMachine(t, env, team, "b-busy", proofgrid.RoleProver, recent, busy, 4)
		observedMachine(t, env, team, "c-erroring", proofgrid.RoleProver, recent, proofgrid.AgentStatus{Errors: []string{"gpu 1 fell off the bus"}}, 2)
		observedMachine(t, env, team, "d-quiet", proofgrid.RoleProver, recent, proofgrid.AgentStatus{}, 8)
		observedMachine(t, env, team, "e-gone", proofgrid.RoleProver, now.Add(-time.Hour), busy, 1)
		observedMachine(t, env, team, "f-avs", proofgrid.RoleAVS, recent, proofgrid.AgentStatus{}, 0)
		observedMachine(t, env, team, "g-avs-gone", proofgrid.RoleAVS, now.Add(-time.Hour), proofgrid.AgentStatus{
			AVS: []proofgrid.AVSReport{{AVS: "eigenda", Chain: "holesky", Version: "0.8.0", OperatorAddress: "0x" + fmt.Sprintf("%040d", 7), Healthy: true}},
		}, 0)
		// Another team's machines count nowhere on alpha's page.
		env.Token("beta", "read")
		observedMachine(t, env, teamID(t, env, "beta"), "b-other-team", proofgrid.RoleProver, recent, busy, 16)
		cl, _ := cluster(t, env, team, "zeta-cluster")
		addMachine(t, env, team, "h-in-cluster", cl.ID, 1)

		all, _, err := env.Coordinator.Monitor.Fleet(ctx, team)
		if err != nil {
			t.Fatal(err)
		}
		wantCounts := map[string]int{}
		wantUnhealthy, wantGPUs, wantBusy := 0, 0, 0
		for _, m := range all {
			wantCounts[m.Health.State]++
			if m.Health.Unhealthy() {
				wantUnhealthy++
			}
			if o := m.Observation; o != nil {
				wantGPUs += o.GPUCount
				if o.RunningJobs > 0 {
					wantBusy += o.GPUCount
				}
			}
		}
		if len(wantCounts) < 3 || wantUnhealthy == 0 || wantBusy == 0 {
			t.Fatalf("the fleet is too uniform to test anything: states %v, %d unhealthy, %d busy GPUs", wantCounts, wantUnhealthy, wantBusy)
		}

		b := newBrowser(t, env)
		b.signIn(tok)
		p := b.get("/ui/machines")
		cards := cardsRE.FindStringSubmatch(p.body)
		if cards == nil {
			t.Fatalf("no summary cards on the page:\n%s", p.body)
		}
		if got := fmt.Sprintf("%s unhealthy, %s / %s GPUs busy", cards[1], cards[2], cards[3]); got != fmt.Sprintf("%d unhealthy, %d / %d GPUs busy", wantUnhealthy, wantBusy, wantGPUs) {
			t.Errorf("cards: %s, want %d unhealthy, %d / %d GPUs busy", got, wantUnhealthy, wantBusy, wantGPUs)
		}
		gotCounts := map[string]int{}
		for _, m := range countRE.FindAllStringSubmatch(p.body, -1) {
			n, _ := strconv.Atoi(m[2])
			if n > 0 {
				gotCounts[m[1]] = n
			}
		}
		if fmt.Sprint(gotCounts) != fmt.Sprint(wantCounts) {
			t.Errorf("state counts %v, want %v", gotCounts, wantCounts)
		}

		// Without a search only the page's machines are looked up for
		// their clusters; a search matches every machine's cluster.
		mustContain(t, p, `<a href="/ui/clusters/`+cl.ID+`">zeta-cluster</a>`)
		var found []string
		for _, r := range rowRE.FindAllStringSubmatch(b.get("/ui/machines?q=zeta").body, -1) {
			found = append(found, r[1])
		}
		if !slices.Equal(found, []string{"h-in-cluster"}) {
			t.Errorf("search by cluster name finds %v, want [h-in-cluster]", found)
		}

		for _, state := range append([]string{""}, slices.Sorted(maps.Keys(wantCounts))...) {
			var want []string
			for _, m := range all {
				if state == "" || m.Health.State == state {
					want = append(want, m.Name+":"+m.Health.State)
				}
			}
			var got []string
			for _, r := range rowRE.FindAllStringSubmatch(b.get("/ui/machines?state="+state).body, -1) {
				got = append(got, r[1]+":"+r[2])
			}
			if !slices.Equal(got, want) {
				t.Errorf("state %q: rows %v, want %v", state, got, want)
			}
		}
	})
}
