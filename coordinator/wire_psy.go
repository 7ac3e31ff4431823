package coordinator

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/proofgrid/proofgrid/auth"
	psyapi "github.com/proofgrid/proofgrid/coordinator/psy"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/psy"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/ratelimit"
)

// wirePsy mounts the Psy surface at the root paths and its WebSocket, hands
// the Psy service to its task handlers and schedules its periodic tasks:
// event conversion, job status refresh (the rollups), the reward sweep and
// the TPS broadcast.
func (c *Coordinator) wirePsy(ctx context.Context, w *wiring) error {
	cfg := c.cfg.Psy
	if cfg.Now == nil {
		cfg.Now = c.cfg.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = c.cfg.Logger
	}
	svc, err := psy.New(c.DB, cfg, c.Outbox)
	if err != nil {
		return fmt.Errorf("psy: %w", err)
	}
	cfg = svc.Config()
	log := cfg.Logger.With("surface", "psy")

	api := &psyapi.API{Service: svc, Auth: c.Auth, Nonces: auth.NewReplayCache(c.Redis, "proofgrid:psy:nonce:"), Now: c.cfg.Now}
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

	w.tasks.psy, w.tasks.psyLog = svc, log
	w.periodic = append(w.periodic,
		queue.Periodic{Type: queue.TypeEventConversion, Every: wholeSeconds(cfg.EventConversionEvery)},
		queue.Periodic{Type: queue.TypeJobStatusRefresh, Every: wholeSeconds(cfg.JobStatusRefreshEvery)},
		queue.Periodic{Type: queue.TypeRewardSweep, Every: wholeSeconds(cfg.RewardSweepEvery)},
		queue.Periodic{Type: queue.TypeTPSBroadcast, Every: wholeSeconds(cfg.TPSBroadcastEvery)},
	)
	return nil
}

// wholeSeconds rounds an interval to the scheduler's whole seconds, at
// least one.
func wholeSeconds(d time.Duration) time.Duration { return max(d.Round(time.Second), time.Second) }
