// Package activity holds what happens on the Psy network, as the Psy
// surface shows it: worker events (listed, and ingested from registered
// keys through the reward pipeline), user events, contracts, the rollups
// behind the aggregation endpoints, statistics (jobs, realms, workers,
// rewards, the leaderboard) and the TPS figures broadcast to WebSocket
// clients.
//
// Who a user is belongs to package registry; how jobs become rewards to
// package rewards, which this package reads and feeds but does not decide.
// Methods return domain and storage values; the surface shapes them into
// response bodies. The package imports neither Fiber nor asynq.
package activity

import (
	"errors"
	"log/slog"
	"time"

	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/storage"
)

// Defaults of Config.
const (
	DefaultStaleAfter = time.Minute
	DefaultBatch      = 5000
)

// Config configures a Service. Zero values mean defaults.
type Config struct {
	// StaleAfter is how old the rollups may be and still count as healthy
	// (default 1 minute).
	StaleAfter time.Duration
	// Batch bounds the rows of one rollup transaction (default 5000).
	Batch int

	Now    func() time.Time
	Logger *slog.Logger
}

// Resolve fills defaults.
func (c *Config) Resolve() {
	if c.StaleAfter <= 0 {
		c.StaleAfter = DefaultStaleAfter
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Service applies the activity rules over storage.
type Service struct {
	db      *storage.DB
	rewards *rewards.Service
	cfg     Config
}

// New returns a Service over db that records ingested worker events with
// rw and places user events in rw's checkpoints.
func New(db *storage.DB, rw *rewards.Service, cfg Config) (*Service, error) {
	if db == nil || rw == nil {
		return nil, errors.New("activity: a database and the reward pipeline are required")
	}
	cfg.Resolve()
	return &Service{db: db, rewards: rw, cfg: cfg}, nil
}

// Config returns the resolved configuration.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
