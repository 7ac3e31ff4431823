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

	claimsapi "github.com/proofgrid/proofgrid/coordinator/claims"
	"github.com/proofgrid/proofgrid/coordinator/ethproofs"
	golfapi "github.com/proofgrid/proofgrid/coordinator/golf"
	psyapi "github.com/proofgrid/proofgrid/coordinator/psy"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/pool"
	"github.com/proofgrid/proofgrid/rewards"
)

// Roles a coordinator process can play.
const (
	RoleAPI       = "api"
	RoleWorker    = "worker"
	RoleScheduler = "scheduler"
)

// Defaults of the settings that name places; cmd/coordinator shows them in
// its help.
const (
	DefaultHTTPAddr    = ":8080"
	DefaultDatabaseURL = "sqlite://./data/proofgrid.db"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultDataDir     = "./data"
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
	// AgentRedisACL is how agents get Redis credentials: "auto" (default)
	// gives each machine its own Redis user limited to its queues when
	// Redis allows it and falls back to AgentRedisURL with an error in the
	// log; "on" refuses to start without per-machine users; "off" hands
	// every agent AgentRedisURL (redisacl).
	AgentRedisACL string
	// Roles to run (default all three).
	Roles []string
	// JWTSecret enables admin JWTs (HS256). Required in production.
	JWTSecret string
	// JWTExpiration is the lifetime of issued JWTs (default 24 h).
	JWTExpiration time.Duration
	// Production refuses to start without secrets that have no safe default.
	Production bool
	// BodyLimit caps the body of every route but the uploads (default
	// 1 MiB), read before routing; endpoints may cap theirs lower. Upload
	// routes (Ethproofs proofs, benchmarks and keys, Psy ingestion) read
	// larger bodies with their own limits after authentication.
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
	// DataDir holds the blob store of BlobStoreDir (default "./data").
	DataDir string
	// BlobStore is where proofs, verification keys and benchmark files
	// are kept: BlobStoreDir (default; <DataDir>/blobs, one node only),
	// BlobStorePostgres (the database, which must be PostgreSQL) or
	// s3://bucket/prefix?endpoint=host:port&region=r with credentials from
	// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Replicas must share
	// one that is not BlobStoreDir.
	BlobStore string
	// Ethproofs configures the Ethproofs surface, the proving pipeline
	// and proof verification.
	Ethproofs ethproofs.Config
	// Rewards configures the reward pipeline: checkpoint window and
	// grace, reward pool and weights, the trusted ingest keys and its task
	// intervals. Zero fields mean the rewards package's defaults.
	Rewards rewards.Config
	// Psy configures the Psy surface: rate limit, rollups and its task
	// intervals. Zero fields mean the defaults.
	Psy psyapi.Config
	// Pool configures the mining Pool surface: reward windows and pool,
	// consensus (k of n within a tolerance), reputation, lease rules.
	// Zero fields mean pool's defaults.
	Pool pool.Config
	// Claims configures the reward ledger's Merkle claims: whether and
	// where the claim routes are mounted, claim simulation, epoch length.
	Claims claimsapi.Config
	// Golf configures zkGolf: submission limits, queue caps, log cap and
	// a challenge project to import at start.
	Golf golfapi.Config

	Logger *slog.Logger
	Now    func() time.Time
}

func (c *Config) resolve() error {
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = DefaultDatabaseURL
	}
	if c.RedisURL == "" {
		c.RedisURL = DefaultRedisURL
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
		c.BodyLimit = web.DefaultBodyLimit
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
		c.DataDir = DefaultDataDir
	}
	if c.BlobStore == "" {
		c.BlobStore = BlobStoreDir
	}
	if err := checkBlobStore(c.BlobStore); err != nil {
		return err
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Ethproofs.Resolve()
	c.Claims.Resolve()
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Has reports whether the configuration runs role.
func (c *Config) Has(role string) bool { return slices.Contains(c.Roles, role) }
