package ivynet_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
)

// enrollOnly stores an enrolled machine of team, as enrolment does,
// without running an agent, and returns its id.
func enrollOnly(t *testing.T, env *coordinatortest.Env, team, name, role, version string) string {
	t.Helper()
	ctx := context.Background()
	tm, err := env.Coordinator.DB.TeamByName(ctx, team)
	if err != nil {
		if tm, err = env.Coordinator.DB.CreateTeam(ctx, team); err != nil {
			t.Fatal(err)
		}
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := env.Coordinator.DB.UpsertMachine(ctx, proofgrid.Machine{
		ID: uuid.NewString(), TeamID: tm.ID, Name: name, Role: role, PublicKey: base64.StdEncoding.EncodeToString(pub),
		AgentVersion: version, EnrolledAt: time.Now().UTC(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// TestClientUpdateableFollowsTheAgentVersion checks that
// /v1/client/updateable lists machines whose agent is behind the newest
// release any agent of the fleet runs, comparing "VERSION+commit" builds
// by their version, even when the catalogue's agent release is older.
func TestClientUpdateableFollowsTheAgentVersion(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: func(cfg *coordinator.Config) {
		cfg.Health.AgentLatestVersion = "0.4.1"
	}})
	read := env.Token("team-a", auth.ModeRead)
	current := enrollOnly(t, env, "team-a", "current", proofgrid.RoleProver, "0.4.0+6cebdf9")
	old := enrollOnly(t, env, "team-a", "old", proofgrid.RoleProver, "0.3.1+d130e3c")
	enrollOnly(t, env, "team-a", "dev", proofgrid.RoleProver, "dev")
	latest := enrollOnly(t, env, "team-a", "latest", proofgrid.RoleProver, "0.4.1+bbbbbbb")
	// Another team's agent reporting a far newer release moves nothing:
	// versions agents report are never the latest.
	other := enrollOnly(t, env, "team-b", "other", proofgrid.RoleProver, "999.0.0")

	var list struct {
		UpdateableMachines []string `json:"updateable_machines"`
	}
	get(t, env.URL, "/v1/client/updateable", read, &list)
	if want := []string{current, old}; !slices.Equal(sorted(list.UpdateableMachines), sorted(want)) {
		t.Fatalf("updateable = %v, want %v (behind 0.4.1; dev is never behind; %s runs 0.4.1)", list.UpdateableMachines, want, latest)
	}
	var status struct {
		UpdateableMachines []string `json:"updateable_machines"`
	}
	get(t, env.URL, "/v1/client/status", read, &status)
	if !slices.Equal(status.UpdateableMachines, list.UpdateableMachines) {
		t.Fatalf("status updateable = %v, list %v", status.UpdateableMachines, list.UpdateableMachines)
	}
	get(t, env.URL, "/v1/client/updateable", env.Token("team-b", auth.ModeRead), &list)
	if len(list.UpdateableMachines) != 0 {
		t.Fatalf("team B updateable = %v, want none (%s runs a newer release than the latest)", list.UpdateableMachines, other)
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// TestUnhealthyLeavesOutOfflineMachinesWithoutAVS checks the draft's
// "offline machines with AVS registered status": an offline prover is
// offline but not unhealthy.
func TestUnhealthyLeavesOutOfflineMachinesWithoutAVS(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	write := env.Token("team-a", auth.ModeRead)
	prover := enrollOnly(t, env, "team-a", "prover", proofgrid.RoleProver, "0.4.0")
	var list struct {
		UnhealthyMachines []string `json:"unhealthy_machines"`
	}
	get(t, env.URL, "/v1/client/unhealthy", write, &list)
	if len(list.UnhealthyMachines) != 0 {
		t.Fatalf("unhealthy = %v, want none", list.UnhealthyMachines)
	}
	var status struct {
		OfflineMachines   []string `json:"offline_machines"`
		UnhealthyMachines []string `json:"unhealthy_machines"`
	}
	get(t, env.URL, "/v1/client/status", write, &status)
	if !slices.Equal(status.OfflineMachines, []string{prover}) || len(status.UnhealthyMachines) != 0 {
		t.Fatalf("status = %+v", status)
	}
}

// TestNodeClassSpelling checks that node classes are spelled as the
// draft's "4XL".
func TestNodeClassSpelling(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	var req struct {
		Physical struct {
			NodeClass string `json:"node_class"`
		} `json:"physical"`
	}
	get(t, env.URL, "/v1/avs/requirements/lagrange_zk&0x1111111111111111111111111111111111111111", env.Token("team-a", auth.ModeRead), &req)
	if req.Physical.NodeClass != "4XL" {
		t.Fatalf("node_class = %q, want 4XL", req.Physical.NodeClass)
	}
}

// TestRegisteredListsAdminRecords checks that /v1/avs/registered/ lists
// an admin-recorded registration no deployment covers, as
// /v1/avs/registered/{avs_id}?operator= counts it.
func TestRegisteredListsAdminRecords(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	read := env.Token("team-a", auth.ModeRead)
	const operator = "0x2222222222222222222222222222222222222222"
	wantStatus(t, "POST", env.URL+"/v1/admin/avs/registered", env.AdminJWT(),
		map[string]any{"avs_id": "eigenda", "network": "mainnet", "operator": operator, "registered": true}, http.StatusCreated)
	var yes bool
	get(t, env.URL, "/v1/avs/registered/eigenda?operator="+operator, read, &yes)
	if !yes {
		t.Fatal("registered/eigenda?operator= = false after the admin record")
	}
	var regs struct {
		RegisteredAVS []struct {
			AVSName    string `json:"avs_name"`
			AVSID      string `json:"avs_id"`
			Network    string `json:"network"`
			MachineID  string `json:"machine_id"`
			Operator   string `json:"operator"`
			Registered bool   `json:"registered"`
			Source     string `json:"source"`
		} `json:"registered_avs"`
	}
	get(t, env.URL, "/v1/avs/registered/", read, &regs)
	if len(regs.RegisteredAVS) != 1 {
		t.Fatalf("registered list = %+v, want the admin record", regs)
	}
	r := regs.RegisteredAVS[0]
	if r.AVSID != "eigenda" || r.AVSName != "EigenDA" || r.Network != "mainnet" || r.MachineID != "" || r.Operator != operator || !r.Registered || r.Source != "admin" {
		t.Fatalf("registered entry = %+v", r)
	}
}
