package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	psyapi "github.com/proofgrid/proofgrid/coordinator/psy"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/psy"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/ratelimit"
)

// wirePsy mounts the Psy surface at the root paths, its WebSocket and its
// periodic tasks: event conversion, job status refresh (the rollups),
// the reward sweep with the reward:checkpoint handler, and the TPS
// broadcast.
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

	w.mux.HandleFunc(queue.TypeEventConversion, func(ctx context.Context, t *asynq.Task) error {
		n, err := svc.Convert(ctx)
		if err != nil {
			return fmt.Errorf("event conversion: %w", err)
		}
		if n > 0 {
			log.Debug("worker events converted", "count", n)
		}
		return nil
	})
	w.mux.HandleFunc(queue.TypeJobStatusRefresh, func(ctx context.Context, t *asynq.Task) error {
		// Stop in time to commit what was done before the task's 30 s
		// timeout; the next run goes on from there.
		caught, err := svc.Refresh(ctx, min(cfg.JobStatusRefreshEvery*2, 20*time.Second))
		if err != nil {
			return fmt.Errorf("job status refresh: %w", err)
		}
		if !caught {
			log.Info("job status refresh is behind; it goes on next run")
		}
		return nil
	})
	w.mux.HandleFunc(queue.TypeRewardSweep, func(ctx context.Context, t *asynq.Task) error {
		res, err := svc.Sweep(ctx)
		if err != nil {
			return fmt.Errorf("reward sweep: %w", err)
		}
		if len(res.Closed) > 0 || len(res.Pending) > 0 {
			log.Info("reward sweep", "converted", res.Converted, "closed", res.Closed, "pending", res.Pending)
		}
		return nil
	})
	w.mux.HandleFunc(queue.TypeRewardCheckpoint, func(ctx context.Context, t *asynq.Task) error {
		p, err := queue.Decode[queue.RewardCheckpointPayload](t)
		if err != nil {
			return err
		}
		ds, err := svc.Compute(ctx, p.CheckpointID)
		switch proofgrid.ErrorCode(err) {
		case "":
		case proofgrid.ENOTFOUND, proofgrid.ECONFLICT:
			// A checkpoint that does not exist or is open cannot become
			// computable by retrying this task; the sweep queues it again
			// once it is closed.
			return fmt.Errorf("reward checkpoint %d: %w: %w", p.CheckpointID, err, asynq.SkipRetry)
		default:
			return fmt.Errorf("reward checkpoint %d: %w", p.CheckpointID, err)
		}
		log.Info("checkpoint rewards computed", "checkpoint_id", p.CheckpointID, "rows", len(ds))
		return nil
	})
	w.mux.HandleFunc(queue.TypeTPSBroadcast, func(ctx context.Context, t *asynq.Task) error {
		tps, err := svc.CurrentTPS(ctx)
		if err != nil {
			return fmt.Errorf("tps: %w", err)
		}
		msg, err := json.Marshal(tps)
		if err != nil {
			return err
		}
		if err := psyapi.Publish(ctx, c.Redis, msg); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("publish tps: %w", err)
		}
		return nil
	})
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
