// Package coordinator wires the coordinator process: the Fiber app with the
// API surfaces, asynqmon and /metrics (role api), the asynq server for the
// coordinator's own queues (role worker), and the periodic scheduler plus
// outbox relay (role scheduler). All roles run in one process by default;
// any number of replicas can share one Redis and one database.
package coordinator

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/proofgrid/proofgrid/coordinator/ethproofs"
	golfapi "github.com/proofgrid/proofgrid/coordinator/golf"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/psy"
)

// Roles a coordinator process can play.
const (
	RoleAPI       = "api"
	RoleWorker    = "worker"
	RoleScheduler = "scheduler"
)

// Config configures the coordinator. Zero values mean the embedded
// defaults; New resolves and validates them.
type Config struct {
	// HTTPAddr is the API listen address (default ":8080").
	HTTPAddr string
	// DatabaseURL is sqlite:///path, a bare path, or postgres://...
	// (default "sqlite://./data/proofgrid.db").
	DatabaseURL string
	// RedisURL is the asynq Redis (default "redis://127.0.0.1:6379/0");
	// redis-sentinel:// URLs as asynq.ParseRedisURI accepts them.
	RedisURL string
	// AgentRedisURL is the Redis URL handed to agents at enrolment
	// (default: RedisURL). Set it when agents reach Redis by another name.
	AgentRedisURL string
	// Roles to run (default all three).
	Roles []string
	// JWTSecret enables admin JWTs (HS256). Required in production.
	JWTSecret string
	// JWTExpiration is the lifetime of issued JWTs (default 24 h).
	JWTExpiration time.Duration
	// Production refuses to start without secrets that have no safe default.
	Production bool
	// BodyLimit caps any request body (default 64 MiB, the largest upload);
	// endpoints cap their own bodies lower.
	BodyLimit int
	// HeartbeatInterval is what agents are told (default 15 s).
	HeartbeatInterval time.Duration
	// MetricsRetention is how long metric history is kept (default 7 days).
	MetricsRetention time.Duration
	// Health tunes fleet health: heartbeat TTL (default three heartbeat
	// intervals), idle window, usage thresholds and the latest agent
	// version. Zero fields mean fleet's defaults.
	Health fleet.Rules
	// WorkerConcurrency is the asynq worker count (default 10).
	WorkerConcurrency int
	// ShutdownTimeout bounds each shutdown step (default 20 s).
	ShutdownTimeout time.Duration
	// DataDir holds the blob store (default "./data").
	DataDir string
	// Ethproofs configures the Ethproofs surface, the proving pipeline
	// and proof verification.
	Ethproofs ethproofs.Config
	// Psy configures the Psy surface: checkpoint window and grace, reward
	// pool and weights, task intervals and rate limit. Zero fields mean
	// psy's defaults.
	Psy psy.Config
	// Golf configures zkGolf: submission limits, queue caps, log cap and
	// a challenge project to import at start.
	Golf golfapi.Config

	Logger *slog.Logger
	Now    func() time.Time
}

func (c *Config) resolve() error {
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":8080"
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite://./data/proofgrid.db"
	}
	if c.RedisURL == "" {
		c.RedisURL = "redis://127.0.0.1:6379/0"
	}
	if c.AgentRedisURL == "" {
		c.AgentRedisURL = c.RedisURL
	}
	if len(c.Roles) == 0 {
		c.Roles = []string{RoleAPI, RoleWorker, RoleScheduler}
	}
	for _, r := range c.Roles {
		if r != RoleAPI && r != RoleWorker && r != RoleScheduler {
			return fmt.Errorf("unknown role %q: use api, worker and/or scheduler", r)
		}
	}
	if c.JWTExpiration <= 0 {
		c.JWTExpiration = 24 * time.Hour
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		return errors.New("JWT_SECRET must be at least 32 characters")
	}
	if c.Production && c.JWTSecret == "" {
		return errors.New("production mode needs JWT_SECRET (at least 32 characters)")
	}
	if c.BodyLimit <= 0 {
		c.BodyLimit = 64 << 20
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 15 * time.Second
	}
	if c.MetricsRetention <= 0 {
		c.MetricsRetention = 7 * 24 * time.Hour
	}
	if c.WorkerConcurrency <= 0 {
		c.WorkerConcurrency = 10
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 20 * time.Second
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Ethproofs.Resolve()
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Has reports whether the configuration runs role.
func (c *Config) Has(role string) bool { return slices.Contains(c.Roles, role) }
