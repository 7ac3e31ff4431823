package main

import (
	"flag"
	"strconv"

	"github.com/proofgrid/proofgrid/pool"
)

// poolFlags binds the mining Pool's settings. Zero values leave pool's
// defaults.
func poolFlags(fs *flag.FlagSet, cfg *pool.Config) {
	fs.DurationVar(&cfg.WindowLength, "pool-window-length", envDuration("PROOFGRID_POOL_WINDOW_LENGTH", 0),
		"length of a Pool reward window, whole seconds; default 1h (PROOFGRID_POOL_WINDOW_LENGTH)")
	fs.StringVar(&cfg.WindowPool, "pool-window-pool", env("", "PROOFGRID_POOL_WINDOW_POOL"),
		"reward of one window in base units, decimal; default 1000000000 (PROOFGRID_POOL_WINDOW_POOL)")
	fs.Int64Var(&cfg.MinActivity, "pool-min-activity", int64(atoi(env("0", "PROOFGRID_POOL_MIN_ACTIVITY"))),
		"agreeing evaluations + evolutions a miner needs in a window to be paid; default 3 (PROOFGRID_POOL_MIN_ACTIVITY)")
	fs.DurationVar(&cfg.LeaseTTL, "pool-lease-ttl", envDuration("PROOFGRID_POOL_LEASE_TTL", 0),
		"how long a lease or batch stays open; default 10m (PROOFGRID_POOL_LEASE_TTL)")
	fs.IntVar(&cfg.K, "pool-consensus-k", atoi(env("0", "PROOFGRID_POOL_CONSENSUS_K")),
		"agreeing evaluations that verify a result; default 2 (PROOFGRID_POOL_CONSENSUS_K)")
	fs.IntVar(&cfg.N, "pool-consensus-n", atoi(env("0", "PROOFGRID_POOL_CONSENSUS_N")),
		"evaluations considered per result; default 3 (PROOFGRID_POOL_CONSENSUS_N)")
	tol, _ := strconv.ParseFloat(env("0", "PROOFGRID_POOL_CONSENSUS_TOLERANCE"), 64)
	fs.Float64Var(&cfg.Tolerance, "pool-consensus-tolerance", tol,
		"ratio within which scores agree; default 0.05 (PROOFGRID_POOL_CONSENSUS_TOLERANCE)")
	fs.IntVar(&cfg.EvolveBudget, "pool-evolve-budget", atoi(env("0", "PROOFGRID_POOL_EVOLVE_BUDGET")),
		"evolutions a lease allows: 1, or -1 for none; default 1 (PROOFGRID_POOL_EVOLVE_BUDGET)")
	fs.BoolVar(&cfg.Development, "pool-development", env("", "PROOFGRID_POOL_DEVELOPMENT") == "true",
		"allow sim_window_number on leases (PROOFGRID_POOL_DEVELOPMENT=true)")
}
