package pool

import (
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"time"
)

// Defaults of Config.
const (
	DefaultWindowLength     = time.Hour
	DefaultWindowPool       = "1000000000"
	DefaultMinActivity      = 3
	DefaultLeaseTTL         = 10 * time.Minute
	DefaultK                = 2
	DefaultN                = 3
	DefaultTolerance        = 0.05
	DefaultReputationGain   = 10
	DefaultReputationLoss   = 20
	DefaultEvalBatchSize    = 5
	DefaultSeedBatchSize    = 3
	DefaultGossipLimit      = 10
	DefaultEvolveBudget     = 1
	DefaultTaskType         = "cifar10_binary"
	MinBatchSize            = 2
	MaxBatchSize            = 50
	MaxGossipLimit          = 50
	MaxEvolveBudget         = 1
	MaxIterations           = 1_000_000
	MaxDSLBytes             = 64 << 10
	MaxParents              = 8
	MaxScore                = 1_000_000
	microsPerUnit           = 1_000_000
	tolerancePPMOfUnitRatio = 1_000_000
)

// Config holds the Pool's rules. Zero values mean the defaults above;
// Resolve fills them in and validates the rest.
type Config struct {
	// WindowLength is the length of a reward window, a whole number of
	// seconds (default 1 h). Windows are aligned to the Unix epoch, like
	// the scheduler's, so window w covers [w·length, (w+1)·length).
	WindowLength time.Duration
	// WindowPool is the reward of one window in base units, a decimal
	// string (default "1000000000").
	WindowPool string
	// MinActivity is the considered evaluations plus accepted evolutions a
	// miner needs in a window to share its pool (default 3).
	MinActivity int64
	// LeaseTTL is how long a lease or batch stays open (default 10 min).
	LeaseTTL time.Duration
	// K of N: a result is verified when K of its first N evaluations agree
	// within Tolerance (defaults 2 of 3 within 0.05, i.e. 5 %).
	K, N      int
	Tolerance float64
	// ReputationGain and ReputationLoss are what an agreeing evaluation
	// adds to its miner's reputation and an outlier takes away (defaults
	// 10 and 20).
	ReputationGain, ReputationLoss int64
	// Lease defaults when the request leaves them out.
	EvalBatchSize, SeedBatchSize, GossipLimit int
	// EvolveBudget is the evolutions a lease allows, 0 or 1 (default 1;
	// -1 means 0).
	EvolveBudget int
	// DefaultTaskType is the task type of requests that name none and of
	// the SOTA route (default "cifar10_binary").
	DefaultTaskType string
	// Development allows sim_window_number on leases.
	Development bool
	// Ledger receives each window's credits; nil keeps them in the
	// database only, to be handed over once a ledger is wired.
	Ledger Ledger

	Now    func() time.Time
	Logger *slog.Logger

	pool         *big.Int
	tolerancePPM int64
}

// Resolve fills the defaults and validates c.
func (c *Config) Resolve() error {
	if c.WindowLength == 0 {
		c.WindowLength = DefaultWindowLength
	}
	if c.WindowLength < time.Second || c.WindowLength%time.Second != 0 {
		return fmt.Errorf("pool: window length %v must be a whole number of seconds", c.WindowLength)
	}
	if c.WindowPool == "" {
		c.WindowPool = DefaultWindowPool
	}
	p, ok := new(big.Int).SetString(c.WindowPool, 10)
	if !ok || p.Sign() < 0 {
		return fmt.Errorf("pool: window pool %q is not a non-negative decimal integer", c.WindowPool)
	}
	c.pool = p
	if c.MinActivity == 0 {
		c.MinActivity = DefaultMinActivity
	}
	if c.MinActivity < 0 {
		return fmt.Errorf("pool: minimum activity %d is negative", c.MinActivity)
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.K == 0 {
		c.K = DefaultK
	}
	if c.N == 0 {
		c.N = max(DefaultN, c.K)
	}
	if c.K < 1 || c.N < c.K || c.N > 100 {
		return fmt.Errorf("pool: need 1 ≤ k ≤ n ≤ 100, got k=%d n=%d", c.K, c.N)
	}
	if c.Tolerance == 0 {
		c.Tolerance = DefaultTolerance
	}
	if c.Tolerance < 0 || c.Tolerance > 1 || math.IsNaN(c.Tolerance) {
		return fmt.Errorf("pool: tolerance %v must be a ratio between 0 and 1", c.Tolerance)
	}
	c.tolerancePPM = int64(math.Round(c.Tolerance * tolerancePPMOfUnitRatio))
	if c.ReputationGain == 0 {
		c.ReputationGain = DefaultReputationGain
	}
	if c.ReputationLoss == 0 {
		c.ReputationLoss = DefaultReputationLoss
	}
	if c.ReputationGain < 0 || c.ReputationLoss < 0 {
		return fmt.Errorf("pool: reputation gain and loss must not be negative")
	}
	def := func(v *int, d, lo, hi int, name string) error {
		if *v == 0 {
			*v = d
		}
		if *v < lo || *v > hi {
			return fmt.Errorf("pool: default %s %d is outside %d..%d", name, *v, lo, hi)
		}
		return nil
	}
	if err := def(&c.EvalBatchSize, DefaultEvalBatchSize, MinBatchSize, MaxBatchSize, "eval_batch_size"); err != nil {
		return err
	}
	if err := def(&c.SeedBatchSize, DefaultSeedBatchSize, MinBatchSize, MaxBatchSize, "seed_batch_size"); err != nil {
		return err
	}
	if err := def(&c.GossipLimit, DefaultGossipLimit, 0, MaxGossipLimit, "gossip_limit"); err != nil {
		return err
	}
	switch c.EvolveBudget {
	case 0:
		c.EvolveBudget = DefaultEvolveBudget
	case -1:
		c.EvolveBudget = 0
	case 1:
	default:
		return fmt.Errorf("pool: evolve budget %d must be 0 (-1) or 1", c.EvolveBudget)
	}
	if c.DefaultTaskType == "" {
		c.DefaultTaskType = DefaultTaskType
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Pool returns the resolved reward of one window (a copy).
func (c *Config) Pool() *big.Int {
	if c.pool == nil {
		p, _ := new(big.Int).SetString(c.WindowPool, 10)
		return p
	}
	return new(big.Int).Set(c.pool)
}

// TolerancePPM is Tolerance in parts per million.
func (c *Config) TolerancePPM() int64 {
	if c.tolerancePPM == 0 && c.Tolerance != 0 {
		return int64(math.Round(c.Tolerance * tolerancePPMOfUnitRatio))
	}
	return c.tolerancePPM
}

// Window returns the start of the reward window that holds t.
func (c *Config) Window(t time.Time) time.Time {
	secs := int64(c.WindowLength / time.Second)
	u := t.Unix()
	w := u - u%secs
	if u < 0 && u%secs != 0 {
		w -= secs
	}
	return time.Unix(w, 0).UTC()
}

// WindowNumber returns the index of the window that holds t.
func (c *Config) WindowNumber(t time.Time) int64 {
	return c.Window(t).Unix() / int64(c.WindowLength/time.Second)
}

// WindowStart returns the start of window number n.
func (c *Config) WindowStart(n int64) time.Time {
	return time.Unix(n*int64(c.WindowLength/time.Second), 0).UTC()
}
