package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/proofgrid/proofgrid/coordinator/ivynet"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/queue"
)

// Heartbeats are swept once per heartbeat interval, within these bounds.
// The lower one leaves each run time to be picked up before the deadline
// the scheduler gives it (its window and a half), as asynq's worker looks
// for new tasks only once a second when idle.
const (
	minSweepInterval = 5 * time.Second
	maxSweepInterval = 15 * time.Second
)

// wireIvynet mounts the Ivynet fleet-monitoring surface at /v1, loads the
// built-in AVS catalogue and schedules the heartbeat sweep.
func (c *Coordinator) wireIvynet(ctx context.Context, w *wiring) error {
	// Agents older than the release of this coordinator are behind; a
	// "dev" build has no release and adds nothing.
	rules := c.cfg.Health
	rules.AgentLatestVersion = fleet.LatestVersion(rules.AgentLatestVersion, Version)
	mon := fleet.NewMonitor(c.DB, fleet.MonitorConfig{
		Rules:             rules,
		HeartbeatInterval: c.cfg.HeartbeatInterval,
		Now:               c.cfg.Now,
	})
	// Every replica loads it; entries a later import dated newer are kept.
	if _, err := mon.LoadCatalogue(ctx, fleet.EmbeddedCatalogue(), "embedded", false); err != nil {
		return fmt.Errorf("load the AVS catalogue: %w", err)
	}

	// Heartbeats keep each machine's conditions current, so that fleet
	// reads judge only the machines that may not be healthy.
	c.DB.SetConditionFunc(mon.Condition)

	(&ivynet.API{Monitor: mon, Auth: c.Auth}).Mount(w.app)
	w.styles.Add(ivynet.Prefix, web.StyleIvynet)

	w.tasks.monitor, c.Monitor = mon, mon
	every := min(max(c.cfg.HeartbeatInterval.Truncate(time.Second), minSweepInterval), maxSweepInterval)
	w.periodic = append(w.periodic, queue.Periodic{Type: queue.TypeHeartbeatSweep, Every: every})
	return nil
}
