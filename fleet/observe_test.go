package fleet_test

import (
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/fleet"
)

// Activity comes from a running job at heartbeat time, or from the end of
// the last job, clamped to the time the heartbeat arrived.
func TestObserveLastActive(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	earlier, later := at.Add(-40*time.Second), at.Add(time.Hour)
	for _, c := range []struct {
		name string
		st   proofgrid.AgentStatus
		want *time.Time
	}{
		{"no job ever", proofgrid.AgentStatus{}, nil},
		{"a job running", proofgrid.AgentStatus{RunningJobs: 1, LastJobAt: &earlier}, &at},
		{"a job ended between heartbeats", proofgrid.AgentStatus{LastJobAt: &earlier}, &earlier},
		{"agent clock ahead", proofgrid.AgentStatus{LastJobAt: &later}, &at},
	} {
		o, _ := fleet.Observe("m", at, proofgrid.Heartbeat{Status: c.st})
		switch {
		case c.want == nil && o.LastActiveAt != nil:
			t.Errorf("%s: last active %v, want none", c.name, o.LastActiveAt)
		case c.want != nil && (o.LastActiveAt == nil || !o.LastActiveAt.Equal(*c.want)):
			t.Errorf("%s: last active %v, want %v", c.name, o.LastActiveAt, *c.want)
		}
	}
}
