package coordinator

import (
	"context"
	"fmt"

	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/rewards"
)

// wireRewards builds the reward pipeline, which the surfaces record jobs
// with, hands it to its task handlers and schedules its periodic tasks:
// event conversion and the reward sweep.
func (c *Coordinator) wireRewards(_ context.Context, w *wiring) error {
	cfg := c.cfg.Rewards
	if cfg.Now == nil {
		cfg.Now = c.cfg.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = c.cfg.Logger
	}
	if cfg.Ledger == nil && c.Ledger != nil {
		cfg.Ledger = c.Ledger
	}
	svc, err := rewards.New(c.DB, cfg, c.Outbox)
	if err != nil {
		return fmt.Errorf("rewards: %w", err)
	}
	cfg = svc.Config()
	w.rewards = svc
	w.tasks.rewards, w.tasks.rewardLog = svc, cfg.Logger.With("component", "rewards")
	w.periodic = append(w.periodic,
		queue.Periodic{Type: queue.TypeEventConversion, Every: wholeSeconds(cfg.EventConversionEvery)},
		queue.Periodic{Type: queue.TypeRewardSweep, Every: wholeSeconds(cfg.RewardSweepEvery)},
	)
	return nil
}
