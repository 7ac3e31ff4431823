package main

import (
	psyapi "github.com/proofgrid/proofgrid/coordinator/psy"
	"github.com/proofgrid/proofgrid/internal/envflag"
	"github.com/proofgrid/proofgrid/rewards"
)

// psyFlags binds the settings of the reward pipeline (the checkpoint rule,
// the reward pool and weights, the trusted ingest keys) and of the Psy
// surface (the rate limit). Zero values leave the defaults.
func psyFlags(s *envflag.Set, cfg *rewards.Config, api *psyapi.Config) {
	s.Duration(&cfg.CheckpointLength, "psy-checkpoint-length", 0,
		"length of a Psy checkpoint window, whole seconds; default 10m", "PROOFGRID_PSY_CHECKPOINT_LENGTH")
	s.Duration(&cfg.CheckpointGrace, "psy-checkpoint-grace", 0,
		"how long a checkpoint stays open for late events after its window; default 1m", "PROOFGRID_PSY_CHECKPOINT_GRACE")
	s.Int64(&cfg.RewardPool, "psy-reward-pool", 0, "reward units distributed per checkpoint; default 1000000", "PROOFGRID_PSY_REWARD_POOL")
	s.Func("psy-reward-weights", "circuit weights, e.g. UserRegistration=3,ContractExecution=2,*=1 (PROOFGRID_PSY_REWARD_WEIGHTS)",
		func(v string) error {
			w, err := rewards.ParseWeights(v)
			if err == nil {
				cfg.Weights = w
			}
			return err
		})
	s.Env("psy-reward-weights", "PROOFGRID_PSY_REWARD_WEIGHTS")
	s.Func("psy-trusted-ingest-keys", "Psy public keys (hex, comma-separated) whose self-reported worker events earn rewards; "+
		"events of other keys are stored and shown but earn nothing (PSY_TRUSTED_INGEST_KEYS)",
		func(v string) error {
			cfg.TrustedIngestKeys = rewards.ParseKeys(v)
			return nil
		})
	s.Env("psy-trusted-ingest-keys", "PROOFGRID_PSY_TRUSTED_INGEST_KEYS", "PSY_TRUSTED_INGEST_KEYS")
	s.Int(&api.RateLimit, "psy-rate-limit", 0,
		"requests per client per window on Psy routes; default 1000, -1 turns limiting off", "PROOFGRID_PSY_RATE_LIMIT")
	s.Duration(&api.RateWindow, "psy-rate-window", 0, "rate limit window; default 1m", "PROOFGRID_PSY_RATE_WINDOW")
}
