package main

import (
	"strconv"

	"github.com/proofgrid/proofgrid/internal/envflag"
	"github.com/proofgrid/proofgrid/pool"
)

// poolFlags binds the mining Pool's settings. Zero values leave pool's
// defaults.
func poolFlags(s *envflag.Set, cfg *pool.Config) {
	s.Duration(&cfg.WindowLength, "pool-window-length", 0,
		"length of a Pool reward window, whole seconds; default 1h", "PROOFGRID_POOL_WINDOW_LENGTH")
	s.String(&cfg.WindowPool, "pool-window-pool", "",
		"reward of one window in base units, decimal; default 1000000000", "PROOFGRID_POOL_WINDOW_POOL")
	s.Int64(&cfg.MinActivity, "pool-min-activity", 0,
		"agreeing evaluations + evolutions a miner needs in a window to be paid; default 3", "PROOFGRID_POOL_MIN_ACTIVITY")
	s.Duration(&cfg.LeaseTTL, "pool-lease-ttl", 0, "how long a lease or batch stays open; default 10m", "PROOFGRID_POOL_LEASE_TTL")
	s.Int(&cfg.K, "pool-consensus-k", 0, "agreeing evaluations that verify a result; default 2", "PROOFGRID_POOL_CONSENSUS_K")
	s.Int(&cfg.N, "pool-consensus-n", 0, "evaluations considered per result; default 3", "PROOFGRID_POOL_CONSENSUS_N")
	s.Func("pool-consensus-tolerance", "ratio within which scores agree; default 0.05 (PROOFGRID_POOL_CONSENSUS_TOLERANCE)",
		func(v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return err
			}
			cfg.Tolerance = f
			return nil
		})
	s.Env("pool-consensus-tolerance", "PROOFGRID_POOL_CONSENSUS_TOLERANCE")
	s.Int(&cfg.EvolveBudget, "pool-evolve-budget", 0,
		"evolutions a lease allows: 1, or -1 for none; default 1", "PROOFGRID_POOL_EVOLVE_BUDGET")
	s.Bool(&cfg.Development, "pool-development", false, "allow sim_window_number on leases", "PROOFGRID_POOL_DEVELOPMENT")
}
