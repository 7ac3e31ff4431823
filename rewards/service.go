package rewards

import (
	"encoding/json"
	"time"

	"github.com/proofgrid/proofgrid/storage"
)

// Notifier is told that outbox rows were committed; *outbox.Relay is one.
type Notifier interface{ Notify() }

// Service is the reward pipeline: the one place where a finished job
// becomes a worker event (RecordJob), then a job event in a checkpoint
// (Convert), a closed checkpoint (Sweep, CalculateNow) and a distribution
// of the checkpoint's pool (Compute).
type Service struct {
	db      *storage.DB
	cfg     Config
	rule    Window
	weights string // JSON of the weight table, fixed into each checkpoint at close
	trusted map[string]bool
	outbox  Notifier
}

// New returns a Service; outbox may be nil.
func New(db *storage.DB, cfg Config, outbox Notifier) (*Service, error) {
	if err := cfg.Resolve(); err != nil {
		return nil, err
	}
	rule, err := NewWindow(cfg.CheckpointLength, cfg.CheckpointOrigin)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(cfg.weights())
	if err != nil {
		return nil, err
	}
	trusted := make(map[string]bool, len(cfg.TrustedIngestKeys))
	for _, k := range cfg.TrustedIngestKeys {
		trusted[ingestKey(k)] = true
	}
	return &Service{db: db, cfg: cfg, rule: rule, weights: string(b), trusted: trusted, outbox: outbox}, nil
}

// Config returns the resolved configuration.
func (s *Service) Config() Config { return s.cfg }

// Rule returns the checkpoint rule.
func (s *Service) Rule() Window { return s.rule }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
