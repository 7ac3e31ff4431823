package main

import (
	"flag"
	"fmt"
	"os"

	psyapi "github.com/proofgrid/proofgrid/coordinator/psy"
	"github.com/proofgrid/proofgrid/rewards"
)

// psyFlags binds the settings of the reward pipeline (the checkpoint rule,
// the reward pool and weights, the trusted ingest keys) and of the Psy
// surface (the rate limit). Zero values leave the defaults.
func psyFlags(fs *flag.FlagSet, cfg *rewards.Config, api *psyapi.Config) {
	fs.DurationVar(&cfg.CheckpointLength, "psy-checkpoint-length", envDuration("PROOFGRID_PSY_CHECKPOINT_LENGTH", 0),
		"length of a Psy checkpoint window, whole seconds; default 10m (PROOFGRID_PSY_CHECKPOINT_LENGTH)")
	fs.DurationVar(&cfg.CheckpointGrace, "psy-checkpoint-grace", envDuration("PROOFGRID_PSY_CHECKPOINT_GRACE", 0),
		"how long a checkpoint stays open for late events after its window; default 1m (PROOFGRID_PSY_CHECKPOINT_GRACE)")
	fs.Int64Var(&cfg.RewardPool, "psy-reward-pool", int64(atoi(env("0", "PROOFGRID_PSY_REWARD_POOL"))),
		"reward units distributed per checkpoint; default 1000000 (PROOFGRID_PSY_REWARD_POOL)")
	if v := os.Getenv("PROOFGRID_PSY_REWARD_WEIGHTS"); v != "" {
		w, err := rewards.ParseWeights(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "coordinator: ignoring PROOFGRID_PSY_REWARD_WEIGHTS: %v\n", err)
		} else {
			cfg.Weights = w
		}
	}
	fs.Func("psy-reward-weights", "circuit weights, e.g. UserRegistration=3,ContractExecution=2,*=1 (PROOFGRID_PSY_REWARD_WEIGHTS)",
		func(s string) error {
			w, err := rewards.ParseWeights(s)
			if err == nil {
				cfg.Weights = w
			}
			return err
		})
	cfg.TrustedIngestKeys = rewards.ParseKeys(env("", "PROOFGRID_PSY_TRUSTED_INGEST_KEYS", "PSY_TRUSTED_INGEST_KEYS"))
	fs.Func("psy-trusted-ingest-keys", "Psy public keys (hex, comma-separated) whose self-reported worker events earn rewards; "+
		"events of other keys are stored and shown but earn nothing (PSY_TRUSTED_INGEST_KEYS)",
		func(s string) error {
			cfg.TrustedIngestKeys = rewards.ParseKeys(s)
			return nil
		})
	fs.IntVar(&api.RateLimit, "psy-rate-limit", atoi(env("0", "PROOFGRID_PSY_RATE_LIMIT")),
		"requests per client per window on Psy routes; default 1000, -1 turns limiting off (PROOFGRID_PSY_RATE_LIMIT)")
	fs.DurationVar(&api.RateWindow, "psy-rate-window", envDuration("PROOFGRID_PSY_RATE_WINDOW", 0),
		"rate limit window; default 1m (PROOFGRID_PSY_RATE_WINDOW)")
}
