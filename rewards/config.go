package rewards

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid/storage"
)

// Defaults of Config.
const (
	DefaultCheckpointGrace = time.Minute
	DefaultRewardPool      = 1_000_000
	DefaultBatch           = 5000
	DefaultRewardSweep     = 30 * time.Second
	DefaultEventConversion = 5 * time.Second
)

// DefaultWeightKey is the key of Config.Weights that sets the weight of
// circuit types the table does not name.
const DefaultWeightKey = "*"

// Config configures a Service. Zero values mean defaults.
type Config struct {
	// CheckpointLength is the length of a checkpoint window (default 10
	// minutes); windows count from CheckpointOrigin (default the Unix
	// epoch), so checkpoint n covers [origin + n·length, origin +
	// (n+1)·length).
	CheckpointLength time.Duration
	CheckpointOrigin time.Time
	// CheckpointGrace is how long after its window a checkpoint stays open
	// for late events (default 1 minute).
	CheckpointGrace time.Duration
	// RewardPool is the number of reward units each checkpoint
	// distributes (default 1 000 000).
	RewardPool int64
	// Weights maps a circuit type to the points of one completed job;
	// the key "*" sets the weight of every other type (default 1).
	Weights map[string]int64
	// TrustedIngestKeys are the Psy public keys (hex, as registered)
	// whose self-reported worker events may earn. Events that other keys
	// ingest are stored and shown but draw nothing: anyone can register a
	// key, so only the operator can vouch for what a key reports.
	TrustedIngestKeys []string
	// Batch bounds the worker events of one conversion transaction
	// (default 5000).
	Batch int
	// Intervals of the periodic tasks.
	EventConversionEvery time.Duration // default 5 s
	RewardSweepEvery     time.Duration // default 30 s

	// Ledger, when set, receives each computed distribution in the
	// computation's transaction, so a checkpoint's rewards reach the one
	// reward ledger (and its Merkle claims) exactly when they are stored.
	Ledger CheckpointLedger

	Now    func() time.Time
	Logger *slog.Logger
}

// Resolve fills defaults and validates c.
func (c *Config) Resolve() error {
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.CheckpointGrace, DefaultCheckpointGrace}, {&c.EventConversionEvery, DefaultEventConversion}, {&c.RewardSweepEvery, DefaultRewardSweep}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if c.RewardPool == 0 {
		c.RewardPool = DefaultRewardPool
	}
	if c.RewardPool < 0 {
		return fmt.Errorf("rewards: reward pool %d is negative", c.RewardPool)
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if err := c.weights().Validate(); err != nil {
		return err
	}
	for _, k := range c.TrustedIngestKeys {
		if ingestKey(k) == "0x" {
			return fmt.Errorf("rewards: trusted ingest key %q is empty", k)
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

func (c *Config) weights() Weights {
	w := Weights{ByCircuit: map[string]int64{}, Default: 1}
	for k, v := range c.Weights {
		if k == DefaultWeightKey {
			w.Default = v
		} else {
			w.ByCircuit[k] = v
		}
	}
	return w
}

// ingestKey is the stored form of a Psy key: 0x and lower-case hex, as
// registration stores it, so that a trusted key matches however the
// operator spelled it.
func ingestKey(k string) string {
	k = strings.ToLower(strings.TrimSpace(k))
	return "0x" + strings.TrimPrefix(k, "0x")
}

// ParseWeights parses "Type=weight,Type=weight,*=weight", the form the
// PSY_REWARD_WEIGHTS environment variable takes.
func ParseWeights(s string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		var n int64
		if _, err := fmt.Sscan(strings.TrimSpace(v), &n); !ok || err != nil || strings.TrimSpace(k) == "" || n < 0 {
			return nil, fmt.Errorf("rewards: weight %q: want circuit_type=non-negative integer", part)
		}
		out[strings.TrimSpace(k)] = n
	}
	return out, nil
}

// ParseKeys splits a comma- or space-separated list of keys, the form the
// PSY_TRUSTED_INGEST_KEYS environment variable takes.
func ParseKeys(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}

// CheckpointLedger credits a checkpoint's distribution to the reward
// ledger inside the transaction that stores it. It returns the workers it
// could not credit (no account to pay, such as team keys); crediting the
// same checkpoint again changes nothing.
type CheckpointLedger interface {
	CreditPsyTx(ctx context.Context, tx *storage.Tx, checkpointID int64, rows []storage.PsyDistribution) (skipped []string, err error)
}
