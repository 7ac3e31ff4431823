package coordinator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/blob"
	"github.com/proofgrid/proofgrid/claims"
	"github.com/proofgrid/proofgrid/coordinator/web"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/golf/contest"
	"github.com/proofgrid/proofgrid/outbox"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/redisacl"
	"github.com/proofgrid/proofgrid/storage"
)

// Version is the coordinator's version, set at build time.
var Version = "dev"

// Coordinator is one coordinator process.
type Coordinator struct {
	cfg Config

	DB        *storage.DB
	Redis     redis.UniversalClient
	RedisOpt  asynq.RedisConnOpt
	Queue     *asynq.Client
	Inspector *asynq.Inspector
	Auth      *auth.Service
	Fleet     *fleet.Service
	// Monitor judges fleet health (Ivynet's surface and the heartbeat
	// sweep).
	Monitor *fleet.Monitor
	Outbox  *outbox.Relay
	// Ledger is the one reward ledger every reward source credits.
	Ledger *claims.Ledger
	// Golf is the zkGolf service (challenges, tokens, submissions).
	Golf *contest.Service
	// Blobs keeps proofs, verification keys and benchmark files
	// (Config.BlobStore).
	Blobs blob.Store

	registry      *prometheus.Registry
	app           *fiber.App
	mux           *asynq.ServeMux
	failures      *queue.Failures
	verifier      web.SignatureVerifier
	extraPeriodic []queue.Periodic
	background    []func(context.Context)
	closers       []func() error // released by Close, before Redis
	// healthFields are the fields surfaces add to /health, by name.
	healthFields map[string]func() any

	ready    chan struct{}
	addrOnce sync.Once
	addr     string
}

// New opens the database (applying migrations) and Redis, and builds every
// component; Run starts the configured roles.
func New(ctx context.Context, cfg Config) (*Coordinator, error) {
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	c := &Coordinator{cfg: cfg, ready: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()

	db, err := storage.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	c.DB = db
	if err := db.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	if c.Blobs, err = openBlobs(ctx, cfg, db); err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}

	// redisacl.ConnOpt keeps a user name in the URL, which asynq's own
	// parser drops.
	c.RedisOpt, err = redisacl.ConnOpt(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	rdb, ok2 := c.RedisOpt.MakeRedisClient().(redis.UniversalClient)
	if !ok2 {
		return nil, errors.New("redis url: unsupported connection type")
	}
	c.Redis = rdb
	c.Queue = asynq.NewClientFromRedisClient(rdb)
	c.Inspector = asynq.NewInspectorFromRedisClient(rdb)

	var issuer *auth.JWTIssuer
	if cfg.JWTSecret != "" {
		if issuer, err = auth.NewJWTIssuer([]byte(cfg.JWTSecret), cfg.JWTExpiration, cfg.Now); err != nil {
			return nil, err
		}
	}
	c.Auth = auth.NewService(db, issuer, cfg.Now)
	access, err := redisacl.New(ctx, rdb, redisacl.Config{URL: cfg.AgentRedisURL, Mode: cfg.AgentRedisACL, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	c.Fleet = fleet.NewService(db, fleet.Config{HeartbeatInterval: cfg.HeartbeatInterval, AgentRedisURL: cfg.AgentRedisURL, Access: access, Now: cfg.Now})
	c.Outbox = outbox.New(db, rdb, outbox.Config{Now: cfg.Now, Logger: cfg.Logger})
	c.Ledger = claims.NewLedger(db, cfg.Now)

	c.registry = prometheus.NewRegistry()
	c.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		queue.NewMetricsCollector(c.Inspector),
	)
	c.failures = queue.NewFailures(cfg.Logger)
	c.registry.MustRegister(c.failures)
	styles := &web.Styles{}
	c.app = c.newApp(styles)
	w := &wiring{app: c.app, styles: styles, tasks: &tasks{c: c}}
	for _, wire := range []func(context.Context, *wiring) error{c.wireIvynet, c.wireRewards, c.wireEthproofs, c.wirePsy, c.wirePool, c.wireClaims, c.wireGolf, c.wireConsole} {
		if err := wire(ctx, w); err != nil {
			return nil, err
		}
	}
	c.mux = asynq.NewServeMux()
	registerTasks(c.mux, w.tasks)
	c.extraPeriodic = w.periodic
	c.background = w.background
	ok = true
	return c, nil
}

// App returns the Fiber app (for in-process tests with app.Test).
func (c *Coordinator) App() *fiber.App { return c.app }

// Ready is closed once the HTTP listener accepts connections.
func (c *Coordinator) Ready() <-chan struct{} { return c.ready }

// Addr is the address the API listens on, valid after Ready.
func (c *Coordinator) Addr() string { return c.addr }

// Run runs the configured roles until ctx is done, then shuts down in
// this order:
//
//  1. the scheduler and outbox relay stop: no new work is produced;
//  2. the asynq worker stops fetching tasks;
//  3. HTTP stops accepting and drains in-flight requests;
//  4. the worker waits for active tasks (ShutdownTimeout); asynq puts any
//     still running back in their queue, so none is lost;
//
// and Close releases Redis and the database afterwards.
func (c *Coordinator) Run(ctx context.Context) error {
	log := c.cfg.Logger
	errc := make(chan error, 3)
	var bg sync.WaitGroup
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()

	var srv *asynq.Server
	if c.cfg.Has(RoleWorker) {
		srv = asynq.NewServerFromRedisClient(c.Redis, asynq.Config{
			Concurrency:     c.cfg.WorkerConcurrency,
			Queues:          queue.CoordinatorQueues,
			ShutdownTimeout: c.cfg.ShutdownTimeout,
			RetryDelayFunc:  queue.RetryDelay,
			ErrorHandler:    c.failures,
			Logger:          asynqLogger{log},
			LogLevel:        asynq.WarnLevel,
		})
		if err := srv.Start(c.mux); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		log.Info("worker started", "queues", queue.CoordinatorQueues)
	}
	if c.cfg.Has(RoleScheduler) {
		sched, err := queue.NewScheduler(c.Redis, queue.SchedulerConfig{Entries: c.periodic(), Now: c.cfg.Now, Logger: log})
		if err != nil {
			return err
		}
		reclaimer := queue.NewReclaimer(c.Redis, queue.ReclaimerConfig{Logger: log})
		bg.Add(3 + len(c.background))
		go func() { defer bg.Done(); sched.Run(bgCtx) }()
		go func() { defer bg.Done(); c.Outbox.Run(bgCtx) }()
		go func() { defer bg.Done(); reclaimer.Run(bgCtx) }()
		for _, run := range c.background {
			go func() { defer bg.Done(); run(bgCtx) }()
		}
		log.Info("scheduler and outbox relay started")
	}
	if c.cfg.Has(RoleAPI) {
		ln, err := net.Listen("tcp", c.cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", c.cfg.HTTPAddr, err)
		}
		c.addr = ln.Addr().String()
		close(c.ready)
		log.Info("api listening", "addr", c.addr)
		go func() { errc <- c.app.Listener(ln) }()
	} else {
		close(c.ready)
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		log.Error("api server stopped", "error", runErr)
	}
	log.Info("shutting down")
	stopBackground()
	bg.Wait()
	if srv != nil {
		srv.Stop()
	}
	if c.cfg.Has(RoleAPI) {
		if err := c.app.ShutdownWithTimeout(c.cfg.ShutdownTimeout); err != nil {
			log.Warn("http shutdown", "error", err)
		}
	}
	if srv != nil {
		srv.Shutdown()
	}
	log.Info("stopped")
	return runErr
}

// Close releases Redis and the database.
func (c *Coordinator) Close() error {
	var errs []error
	for _, f := range c.closers {
		errs = append(errs, f())
	}
	c.closers = nil
	if c.Queue != nil {
		errs = append(errs, c.Queue.Close())
	}
	if c.Inspector != nil {
		errs = append(errs, c.Inspector.Close())
	}
	if c.Redis != nil {
		errs = append(errs, c.Redis.Close())
	}
	if c.Fleet != nil {
		// Heartbeats accepted before shutdown are committed first.
		c.Fleet.Close()
	}
	if c.DB != nil {
		errs = append(errs, c.DB.Close())
	}
	return errors.Join(errs...)
}

// Check reports whether Redis and the database answer (for /readyz).
func (c *Coordinator) Check(ctx context.Context) map[string]string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out := map[string]string{"database": "ok", "redis": "ok"}
	if err := c.DB.Ping(ctx); err != nil {
		out["database"] = err.Error()
	}
	if err := c.Redis.Ping(ctx).Err(); err != nil {
		out["redis"] = err.Error()
	}
	return out
}
