package main

import (
	"github.com/proofgrid/proofgrid/internal/envflag"
	"github.com/proofgrid/proofgrid/psy"
)

// psyFlags binds the Psy surface's settings: the checkpoint rule, the
// reward pool and weights, and the rate limit. Zero values leave psy's
// defaults.
func psyFlags(s *envflag.Set, cfg *psy.Config) {
	s.Duration(&cfg.CheckpointLength, "psy-checkpoint-length", 0,
		"length of a Psy checkpoint window, whole seconds; default 10m", "PROOFGRID_PSY_CHECKPOINT_LENGTH")
	s.Duration(&cfg.CheckpointGrace, "psy-checkpoint-grace", 0,
		"how long a checkpoint stays open for late events after its window; default 1m", "PROOFGRID_PSY_CHECKPOINT_GRACE")
	s.Int64(&cfg.RewardPool, "psy-reward-pool", 0, "reward units distributed per checkpoint; default 1000000", "PROOFGRID_PSY_REWARD_POOL")
	s.Func("psy-reward-weights", "circuit weights, e.g. UserRegistration=3,ContractExecution=2,*=1 (PROOFGRID_PSY_REWARD_WEIGHTS)",
		func(v string) error {
			w, err := psy.ParseWeights(v)
			if err == nil {
				cfg.Weights = w
			}
			return err
		})
	s.Env("psy-reward-weights", "PROOFGRID_PSY_REWARD_WEIGHTS")
	s.Int(&cfg.RateLimit, "psy-rate-limit", 0,
		"requests per client per window on Psy routes; default 1000, -1 turns limiting off", "PROOFGRID_PSY_RATE_LIMIT")
	s.Duration(&cfg.RateWindow, "psy-rate-window", 0, "rate limit window; default 1m", "PROOFGRID_PSY_RATE_WINDOW")
}
