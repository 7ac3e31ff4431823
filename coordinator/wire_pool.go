package coordinator

import (
	"context"
	"fmt"

	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/auth/minerauth"
	"github.com/proofgrid/proofgrid/claims"
	poolapi "github.com/proofgrid/proofgrid/coordinator/pool"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/pool"
	"github.com/proofgrid/proofgrid/queue"
)

// wirePool mounts the mining Pool surface at /api/v1 and its root
// compatibility routes, stores the seed algorithms, adds the Pool's window
// to /health, hands the Pool service to the result:verify handler and
// schedules the per-window reward settlement.
func (c *Coordinator) wirePool(ctx context.Context, w *wiring) error {
	cfg := c.cfg.Pool
	if cfg.Now == nil {
		cfg.Now = c.cfg.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = c.cfg.Logger
	}
	if cfg.Ledger == nil && c.Ledger != nil {
		cfg.Ledger = poolLedger{c.Ledger}
	}
	svc, err := pool.New(c.DB, cfg, c.Outbox)
	if err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	// Every replica does it; seeds stored already are left alone.
	if _, err := svc.Bootstrap(ctx); err != nil {
		return err
	}
	verifier := &minerauth.Verifier{Now: c.cfg.Now, Replay: auth.NewReplayCache(c.Redis, "proofgrid:miner:nonce:")}
	(&poolapi.API{Service: svc, Verifier: verifier}).Mount(w.app)
	for _, p := range poolapi.Prefixes {
		w.styles.Add(p, web.StyleDetail)
	}
	if c.healthFields == nil {
		c.healthFields = map[string]func() any{}
	}
	c.healthFields["pool"] = func() any { return poolapi.HealthFields(svc) }

	// Epochs pay each miner to the recipient coldkey it set.
	w.recipients = svc.Recipients
	w.tasks.pool, w.tasks.poolLog = svc, svc.Config().Logger.With("surface", "pool")
	w.periodic = append(w.periodic, queue.Periodic{Type: queue.TypePoolWindowRewards, Every: svc.Config().WindowLength})
	return nil
}

// poolLedger hands the Pool's window credits to the one reward ledger.
type poolLedger struct{ l *claims.Ledger }

func (p poolLedger) Credit(ctx context.Context, credits []pool.Credit) error {
	out := make([]claims.Credit, len(credits))
	for i, c := range credits {
		out[i] = claims.Credit(c)
	}
	return p.l.Credit(ctx, out)
}
