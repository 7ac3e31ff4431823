package fleet_test

import (
	"slices"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/storage"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *time.Time {
	t := now.Add(-d)
	return &t
}

func testCatalogue() *fleet.Catalogue {
	return &fleet.Catalogue{
		AsOf:  now,
		Agent: fleet.AgentRelease{LatestVersion: "1.2.0"},
		AVS: []fleet.AVS{{
			ID: "eigenda", Name: "EigenDA", LatestVersion: "0.8.6",
			Networks: []fleet.Network{{Name: "mainnet", ChainID: 1}, {Name: "holesky", ChainID: 17000, LatestVersion: "0.9.0-rc.2"}},
		}},
	}
}

func TestAssess(t *testing.T) {
	rules := fleet.Rules{HeartbeatTTL: 45 * time.Second, IdleWindow: 10 * time.Minute}
	obs := func(edit func(o *storage.Observation)) *storage.Observation {
		o := &storage.Observation{MemoryPercent: 40, DiskMaxPercent: 50, DiskMaxMount: "/"}
		if edit != nil {
			edit(o)
		}
		return o
	}
	eigenda := func(edit func(d *fleet.Deployment)) []fleet.Deployment {
		d := fleet.Deployment{AVSID: "eigenda", Chain: "mainnet", Version: "0.8.6", OperatorAddress: "0xabc", Healthy: true}
		if edit != nil {
			edit(&d)
		}
		return []fleet.Deployment{d}
	}
	no := false
	tests := []struct {
		name     string
		in       fleet.Input
		rules    *fleet.Rules
		state    string
		flags    [4]bool // offline, erroring, updateable, idle
		errors   []string
		warnings []string
	}{
		{name: "never heard from", in: fleet.Input{AgentVersion: "1.2.0"}, state: fleet.StateOffline, flags: [4]bool{true, false, false, false}},
		{name: "healthy AVS machine", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(10 * time.Second), Observation: obs(nil), Deployments: eigenda(nil)},
			state: fleet.StateHealthy},
		{name: "exactly at the TTL is still online", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(45 * time.Second), Observation: obs(nil), Deployments: eigenda(nil)},
			state: fleet.StateHealthy},
		{name: "silent past the TTL; stale errors ignored",
			in:    fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(46 * time.Second), Observation: obs(func(o *storage.Observation) { o.Errors = []string{"x"}; o.DiskMaxPercent = 99 })},
			state: fleet.StateOffline, flags: [4]bool{true, false, false, false}},
		{name: "offline and behind", in: fleet.Input{AgentVersion: "1.0.0", LastSeenAt: ago(time.Hour), Observation: obs(nil)},
			state: fleet.StateOffline, flags: [4]bool{true, false, true, false}},
		{name: "agent error", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(func(o *storage.Observation) { o.Errors = []string{"job failed"} }), Deployments: eigenda(nil)},
			state: fleet.StateErroring, flags: [4]bool{false, true, false, false}, errors: []string{"job failed"}},
		{name: "memory above 95", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(func(o *storage.Observation) { o.MemoryPercent = 95.1 }), Deployments: eigenda(nil)},
			state: fleet.StateErroring, flags: [4]bool{false, true, false, false}, errors: []string{fleet.CodeMemoryCritical}},
		{name: "memory above 90 warns", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(func(o *storage.Observation) { o.MemoryPercent = 91 }), Deployments: eigenda(nil)},
			state: fleet.StateHealthy, warnings: []string{fleet.CodeMemoryHigh}},
		{name: "disk at exactly 95 warns", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(func(o *storage.Observation) { o.DiskMaxPercent = 95 }), Deployments: eigenda(nil)},
			state: fleet.StateHealthy, warnings: []string{fleet.CodeDiskHigh}},
		{name: "disk above 95", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(func(o *storage.Observation) { o.DiskMaxPercent = 97; o.MemoryPercent = 92 }), Deployments: eigenda(nil)},
			state: fleet.StateErroring, flags: [4]bool{false, true, false, false}, errors: []string{fleet.CodeDiskCritical}, warnings: []string{fleet.CodeMemoryHigh}},
		{name: "GPU XID errors", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(func(o *storage.Observation) { o.GPUXIDErrors = 2; o.RunningJobs = 1 })},
			state: fleet.StateErroring, flags: [4]bool{false, true, false, false}, errors: []string{fleet.CodeGPUXIDErrors}},
		{name: "AVS error reported twice counts once",
			in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second),
				Observation: obs(func(o *storage.Observation) { o.Errors = []string{"AVS_NODE_DOWN: eigenda"} }),
				Deployments: eigenda(func(d *fleet.Deployment) { d.Healthy, d.Error = false, "AVS_NODE_DOWN: eigenda" })},
			state: fleet.StateErroring, flags: [4]bool{false, true, false, false}, errors: []string{"AVS_NODE_DOWN: eigenda"}},
		{name: "AVS unhealthy without a message", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(nil), Deployments: eigenda(func(d *fleet.Deployment) { d.Healthy = false })},
			state: fleet.StateErroring, flags: [4]bool{false, true, false, false}, errors: []string{fleet.CodeAVSUnhealthy}},
		{name: "operator known unregistered",
			in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(nil),
				Deployments: eigenda(func(d *fleet.Deployment) {
					d.Registration = fleet.Registration{Registered: &no, Source: fleet.SourceAdmin}
				})},
			state: fleet.StateErroring, flags: [4]bool{false, true, false, false}, errors: []string{fleet.CodeUnregisteredOperator}},
		{name: "agent behind", in: fleet.Input{AgentVersion: "v1.1.9", LastSeenAt: ago(time.Second), Observation: obs(nil), Deployments: eigenda(nil)},
			state: fleet.StateUpdateable, flags: [4]bool{false, false, true, false}},
		{name: "agent ahead", in: fleet.Input{AgentVersion: "1.3.0", LastSeenAt: ago(time.Second), Observation: obs(nil), Deployments: eigenda(nil)},
			state: fleet.StateHealthy},
		{name: "development agent is never behind", in: fleet.Input{AgentVersion: "dev", LastSeenAt: ago(time.Second), Observation: obs(nil), Deployments: eigenda(nil)},
			state: fleet.StateHealthy},
		{name: "configured latest agent wins over the catalogue", rules: &fleet.Rules{AgentLatestVersion: "2.0.0"},
			in:    fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(nil), Deployments: eigenda(nil)},
			state: fleet.StateUpdateable, flags: [4]bool{false, false, true, false}},
		{name: "AVS behind", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(nil), Deployments: eigenda(func(d *fleet.Deployment) { d.Version = "0.8.5" })},
			state: fleet.StateUpdateable, flags: [4]bool{false, false, true, false}},
		{name: "AVS behind on its network's own latest",
			in:    fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(nil), Deployments: eigenda(func(d *fleet.Deployment) { d.Chain, d.Version = "holesky", "0.9.0-rc.1" })},
			state: fleet.StateUpdateable, flags: [4]bool{false, false, true, false}},
		{name: "AVS the catalogue lacks is never behind",
			in:    fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(nil), Deployments: eigenda(func(d *fleet.Deployment) { d.AVSID, d.Version = "mystery", "0.0.1" })},
			state: fleet.StateHealthy},
		{name: "no AVS and never a job", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(nil)},
			state: fleet.StateIdle, flags: [4]bool{false, false, false, true}},
		{name: "running a job", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(func(o *storage.Observation) { o.RunningJobs = 1 })},
			state: fleet.StateHealthy},
		{name: "a job within the window", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(func(o *storage.Observation) { o.LastActiveAt = ago(9 * time.Minute) })},
			state: fleet.StateHealthy},
		{name: "last job before the window", in: fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Second), Observation: obs(func(o *storage.Observation) { o.LastActiveAt = ago(11 * time.Minute) })},
			state: fleet.StateIdle, flags: [4]bool{false, false, false, true}},
		{name: "worst state wins, every flag kept",
			in:    fleet.Input{AgentVersion: "1.0.0", LastSeenAt: ago(time.Second), Observation: obs(func(o *storage.Observation) { o.MemoryPercent = 99 })},
			state: fleet.StateErroring, flags: [4]bool{false, true, true, true}, errors: []string{fleet.CodeMemoryCritical}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rules
			if tt.rules != nil {
				r = *tt.rules
			}
			h := fleet.Assess(tt.in, now, r, testCatalogue())
			if h.State != tt.state {
				t.Errorf("state = %s, want %s (reasons %q)", h.State, tt.state, h.Reasons)
			}
			if got := [4]bool{h.Offline, h.Erroring, h.Updateable, h.Idle}; got != tt.flags {
				t.Errorf("offline, erroring, updateable, idle = %v, want %v (reasons %q)", got, tt.flags, h.Reasons)
			}
			if tt.errors == nil {
				tt.errors = []string{}
			}
			if tt.warnings == nil {
				tt.warnings = []string{}
			}
			if !slices.Equal(h.Errors, tt.errors) || !slices.Equal(h.Warnings, tt.warnings) {
				t.Errorf("errors %q warnings %q, want %q %q", h.Errors, h.Warnings, tt.errors, tt.warnings)
			}
			if (h.State == fleet.StateHealthy) != (len(h.Reasons) == 0) {
				t.Errorf("state %s with reasons %q", h.State, h.Reasons)
			}
			if h.Unhealthy() != ((h.Offline && len(tt.in.Deployments) > 0) || h.Erroring || h.Updateable) || h.Healthy() != (h.State == fleet.StateHealthy) {
				t.Errorf("Unhealthy/Healthy disagree with the flags: %+v", h)
			}
		})
	}
}

func TestAssessWithoutCatalogue(t *testing.T) {
	h := fleet.Assess(fleet.Input{AgentVersion: "0.0.1", LastSeenAt: ago(0), Observation: &storage.Observation{RunningJobs: 1},
		Deployments: []fleet.Deployment{{AVSID: "eigenda", Chain: "mainnet", Version: "0.0.1", Healthy: true}}}, now, fleet.Rules{}, nil)
	if h.State != fleet.StateHealthy {
		t.Fatalf("state = %s (%q); without a catalogue nothing is behind", h.State, h.Reasons)
	}
}

func TestDefaultRules(t *testing.T) {
	r := fleet.DefaultRules(10 * time.Second)
	if r.HeartbeatTTL != 30*time.Second || r.IdleWindow != fleet.DefaultIdleWindow || r.WarnPercent != 90 || r.CriticalPercent != 95 {
		t.Fatalf("DefaultRules = %+v", r)
	}
	if r := fleet.DefaultRules(0); r.HeartbeatTTL != 45*time.Second {
		t.Fatalf("DefaultRules(0).HeartbeatTTL = %v, want 45s", r.HeartbeatTTL)
	}
}

func TestResolveRegistration(t *testing.T) {
	yes, no := true, false
	rec := func(v bool, at time.Time) *storage.AVSRegistration {
		return &storage.AVSRegistration{Registered: v, Source: fleet.SourceAdmin, AsOf: at}
	}
	tests := []struct {
		name   string
		dep    storage.AVSDeployment
		want   *bool
		source string
	}{
		{"nobody said", storage.AVSDeployment{ReportedAt: now}, nil, fleet.SourceNone},
		{"agent only", storage.AVSDeployment{Registered: &yes, ReportedAt: now}, &yes, fleet.SourceAgent},
		{"admin only", storage.AVSDeployment{ReportedAt: now, Recorded: rec(false, now.Add(-time.Hour))}, &no, fleet.SourceAdmin},
		{"agent newer", storage.AVSDeployment{Registered: &yes, ReportedAt: now, Recorded: rec(false, now.Add(-time.Hour))}, &yes, fleet.SourceAgent},
		{"admin newer", storage.AVSDeployment{Registered: &yes, ReportedAt: now, Recorded: rec(false, now.Add(time.Second))}, &no, fleet.SourceAdmin},
		{"tie goes to the agent", storage.AVSDeployment{Registered: &no, ReportedAt: now, Recorded: rec(true, now)}, &no, fleet.SourceAgent},
	}
	for _, tt := range tests {
		r := fleet.ResolveRegistration(tt.dep)
		if (r.Registered == nil) != (tt.want == nil) || (r.Registered != nil && *r.Registered != *tt.want) || r.Source != tt.source {
			t.Errorf("%s: got %v from %s, want %v from %s", tt.name, r.Registered, r.Source, tt.want, tt.source)
		}
	}
}

// TestAssessSaysWhatIsBehind checks that health tells a client update
// (the agent behind) from an AVS update, and compares builds that carry
// "VERSION+commit" by their version.
func TestAssessSaysWhatIsBehind(t *testing.T) {
	in := func(agent, avs string) fleet.Input {
		return fleet.Input{AgentVersion: agent, LastSeenAt: ago(time.Second), Observation: &storage.Observation{},
			Deployments: []fleet.Deployment{{AVSID: "eigenda", Chain: "mainnet", Version: avs, Healthy: true}}}
	}
	for _, tt := range []struct {
		name       string
		in         fleet.Input
		agent, avs bool
	}{
		{"agent build behind", in("1.1.0+6cebdf9", "0.8.6"), true, false},
		{"agent build current", in("1.2.0+6cebdf9", "0.8.6"), false, false},
		{"AVS behind", in("1.2.0+6cebdf9", "0.8.5"), false, true},
		{"both", in("1.1.0", "0.8.5"), true, true},
	} {
		h := fleet.Assess(tt.in, now, fleet.Rules{}, testCatalogue())
		if h.AgentUpdateable != tt.agent || h.AVSUpdateable != tt.avs || h.Updateable != (tt.agent || tt.avs) {
			t.Errorf("%s: agent %v avs %v updateable %v, want %v %v", tt.name, h.AgentUpdateable, h.AVSUpdateable, h.Updateable, tt.agent, tt.avs)
		}
	}
	if got := fleet.LatestVersion("0.1.0", "0.4.0+abc", "dev", "", "0.3.9"); got != "0.4.0+abc" {
		t.Errorf("LatestVersion = %q", got)
	}
}

// TestAssessOfflineUnhealthyOnlyWithAVS checks the draft's rule that the
// unhealthy list holds offline machines with an AVS, not every offline
// machine.
func TestAssessOfflineUnhealthyOnlyWithAVS(t *testing.T) {
	prover := fleet.Assess(fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Hour)}, now, fleet.Rules{}, testCatalogue())
	avs := fleet.Assess(fleet.Input{AgentVersion: "1.2.0", LastSeenAt: ago(time.Hour),
		Deployments: []fleet.Deployment{{AVSID: "eigenda", Chain: "mainnet", Version: "0.8.6", Healthy: true}}}, now, fleet.Rules{}, testCatalogue())
	if !prover.Offline || prover.Unhealthy() {
		t.Errorf("offline prover: offline %v unhealthy %v, want true false", prover.Offline, prover.Unhealthy())
	}
	if !avs.Offline || !avs.Unhealthy() {
		t.Errorf("offline AVS machine: offline %v unhealthy %v, want true true", avs.Offline, avs.Unhealthy())
	}
}

// TestAssessIdleCountsFromEnrolment checks that a machine that has run no
// job yet becomes idle only an idle window after it enrolled.
func TestAssessIdleCountsFromEnrolment(t *testing.T) {
	rules := fleet.Rules{IdleWindow: 10 * time.Minute}
	for _, tt := range []struct {
		enrolled time.Duration
		idle     bool
	}{{time.Minute, false}, {10 * time.Minute, false}, {11 * time.Minute, true}} {
		h := fleet.Assess(fleet.Input{AgentVersion: "1.2.0", EnrolledAt: *ago(tt.enrolled), LastSeenAt: ago(time.Second),
			Observation: &storage.Observation{}}, now, rules, testCatalogue())
		if h.Idle != tt.idle {
			t.Errorf("enrolled %s ago: idle = %v, want %v (%q)", tt.enrolled, h.Idle, tt.idle, h.Reasons)
		}
	}
}
