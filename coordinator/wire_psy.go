package coordinator

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/proofgrid/proofgrid/activity"
	"github.com/proofgrid/proofgrid/auth"
	psyapi "github.com/proofgrid/proofgrid/coordinator/psy"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/ratelimit"
	"github.com/proofgrid/proofgrid/registry"
)

// wirePsy mounts the Psy surface at the root paths and its WebSocket, hands
// the activity service to its task handlers and schedules its periodic
// tasks: job status refresh (the rollups) and the TPS broadcast. The
// surface reads checkpoints and rewards from the reward pipeline.
func (c *Coordinator) wirePsy(ctx context.Context, w *wiring) error {
	cfg := c.cfg.Psy
	if cfg.Activity.Now == nil {
		cfg.Activity.Now = c.cfg.Now
	}
	if cfg.Activity.Logger == nil {
		cfg.Activity.Logger = c.cfg.Logger
	}
	cfg.Resolve()
	log := cfg.Activity.Logger.With("surface", "psy")
	reg, err := registry.New(c.DB, w.rewards.Rule(), c.cfg.Now)
	if err != nil {
		return fmt.Errorf("psy: %w", err)
	}
	act, err := activity.New(c.DB, w.rewards, cfg.Activity)
	if err != nil {
		return fmt.Errorf("psy: %w", err)
	}

	api := &psyapi.API{Registry: reg, Activity: act, Rewards: w.rewards, Auth: c.Auth,
		Nonces: auth.NewReplayCache(c.Redis, "proofgrid:psy:nonce:"), Now: c.cfg.Now}
	if cfg.RateLimit > 0 {
		api.Limiter = ratelimit.New(c.Redis, ratelimit.Config{Limit: cfg.RateLimit, Window: cfg.RateWindow, Prefix: "proofgrid:psy:ratelimit:"})
	}
	if c.cfg.Has(RoleAPI) {
		api.Hub = psyapi.NewHub(log, psyapi.HubConfig{})
		subCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); api.Hub.Subscribe(subCtx, c.Redis) }()
		c.closers = append(c.closers, func() error {
			cancel()
			api.Hub.Close()
			wg.Wait()
			return nil
		})
	}
	api.Mount(w.app)
	for _, p := range psyapi.Prefixes {
		w.styles.Add(p, web.StylePsy)
	}
	// Psy owns the root: an unknown path outside every surface's prefix
	// is most likely a Psy client's, so it answers in Psy's shape.
	w.styles.Fallback(web.StylePsy)

	w.tasks.activity, w.tasks.psyLog, w.tasks.psyRefreshEvery = act, log, cfg.JobStatusRefreshEvery
	w.periodic = append(w.periodic,
		queue.Periodic{Type: queue.TypeJobStatusRefresh, Every: wholeSeconds(cfg.JobStatusRefreshEvery)},
		queue.Periodic{Type: queue.TypeTPSBroadcast, Every: wholeSeconds(cfg.TPSBroadcastEvery)},
	)
	return nil
}

// wholeSeconds rounds an interval to the scheduler's whole seconds, at
// least one.
func wholeSeconds(d time.Duration) time.Duration { return max(d.Round(time.Second), time.Second) }
