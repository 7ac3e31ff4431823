// Command coordinator runs the proofgrid coordinator and its admin tasks.
//
//	coordinator serve                 run the API, worker and scheduler
//	coordinator migrate               apply database migrations and exit
//	coordinator token create --team NAME --mode admin|read|write [--label L]
//	coordinator jwt issue --sub NAME  print an admin JWT (needs JWT_SECRET)
//	coordinator avs import FILE       validate and store an AVS catalogue file
//	coordinator challenges import DIR import a zk-golf-challenges project
//	coordinator golf token create --user NAME   print a new zkGolf cmp_ token
//
// Flags override environment variables; see docs/configuration.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/storage"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "coordinator:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  coordinator serve   [flags]     run the coordinator (roles api, worker, scheduler)
  coordinator migrate [flags]     apply database migrations and exit
  coordinator token create --team NAME --mode admin|read|write [--label TEXT]
  coordinator jwt issue --sub NAME
  coordinator avs import [--database-url URL] FILE
  coordinator challenges import [--database-url URL] DIR
  coordinator golf token create --user NAME [--label TEXT]
  coordinator version
run "coordinator serve -h" for the flags`

func run(args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:])
	case "migrate":
		return migrate(ctx, args[1:])
	case "token":
		if len(args) < 2 || args[1] != "create" {
			return errors.New("usage: coordinator token create --team NAME --mode admin|read|write")
		}
		return tokenCreate(ctx, args[2:])
	case "jwt":
		if len(args) < 2 || args[1] != "issue" {
			return errors.New("usage: coordinator jwt issue --sub NAME")
		}
		return jwtIssue(args[2:])
	case "avs":
		return avsCommand(ctx, args[1:])
	case "challenges":
		return challengesCommand(ctx, args[1:])
	case "golf":
		return golfCommand(ctx, args[1:])
	case "version":
		fmt.Println(coordinator.Version)
		return nil
	case "-h", "--help", "help":
		fmt.Println(usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

// env returns the first non-empty environment variable of names, or def.
func env(def string, names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		fmt.Fprintf(os.Stderr, "coordinator: ignoring %s=%q: not a duration\n", name, v)
	}
	return def
}

// configFlags binds the serve/migrate flags to cfg, with env defaults.
func configFlags(fs *flag.FlagSet, cfg *coordinator.Config) (roles, logLevel, logFormat *string) {
	addr := env(":8080", "PROOFGRID_HTTP_ADDR")
	if os.Getenv("PROOFGRID_HTTP_ADDR") == "" && os.Getenv("API_PORT") != "" {
		addr = ":" + os.Getenv("API_PORT")
	}
	fs.StringVar(&cfg.HTTPAddr, "http-addr", addr, "API listen address (PROOFGRID_HTTP_ADDR, or API_PORT)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", env("sqlite://./data/proofgrid.db", "PROOFGRID_DATABASE_URL"), "sqlite:///path or postgres://... (PROOFGRID_DATABASE_URL)")
	fs.StringVar(&cfg.RedisURL, "redis-url", env("redis://127.0.0.1:6379/0", "PROOFGRID_REDIS_URL"), "asynq Redis URL (PROOFGRID_REDIS_URL)")
	fs.StringVar(&cfg.AgentRedisURL, "agent-redis-url", env("", "PROOFGRID_AGENT_REDIS_URL"), "Redis URL handed to agents (PROOFGRID_AGENT_REDIS_URL; default: --redis-url)")
	fs.StringVar(&cfg.DataDir, "data-dir", env("./data", "PROOFGRID_DATA_DIR"), "blob store directory (PROOFGRID_DATA_DIR)")
	fs.BoolVar(&cfg.Production, "production", env("", "PROOFGRID_PRODUCTION") == "true", "refuse to start without secrets (PROOFGRID_PRODUCTION=true)")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", envDuration("PROOFGRID_HEARTBEAT_INTERVAL", 15*time.Second), "heartbeat interval told to agents (PROOFGRID_HEARTBEAT_INTERVAL)")
	fs.DurationVar(&cfg.MetricsRetention, "metrics-retention", envDuration("PROOFGRID_METRICS_RETENTION", 7*24*time.Hour), "metric history kept (PROOFGRID_METRICS_RETENTION)")
	fs.IntVar(&cfg.WorkerConcurrency, "worker-concurrency", atoi(env("10", "PROOFGRID_WORKER_CONCURRENCY")), "asynq workers (PROOFGRID_WORKER_CONCURRENCY)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", envDuration("PROOFGRID_SHUTDOWN_TIMEOUT", 20*time.Second), "bound of each shutdown step (PROOFGRID_SHUTDOWN_TIMEOUT)")
	roles = fs.String("roles", env("api,worker,scheduler", "PROOFGRID_ROLES"), "comma-separated roles (PROOFGRID_ROLES)")
	logLevel = fs.String("log-level", env("info", "PROOFGRID_LOG_LEVEL"), "debug|info|warn|error (PROOFGRID_LOG_LEVEL)")
	logFormat = fs.String("log-format", env("text", "PROOFGRID_LOG_FORMAT"), "text|json (PROOFGRID_LOG_FORMAT)")
	ethproofsFlags(fs, &cfg.Ethproofs)
	healthFlags(fs, &cfg.Health)
	psyFlags(fs, &cfg.Psy)
	golfFlags(fs, &cfg.Golf)
	cfg.JWTSecret = os.Getenv("JWT_SECRET")
	if h := os.Getenv("JWT_EXPIRATION_HOURS"); h != "" {
		cfg.JWTExpiration = time.Duration(atoi(h)) * time.Hour
	}
	return roles, logLevel, logFormat
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("log format must be text or json, got %q", format)
}

func serve(ctx context.Context, args []string) error {
	var cfg coordinator.Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	roles, level, format := configFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Roles = strings.Split(*roles, ",")
	logger, err := newLogger(*level, *format)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	slog.SetDefault(logger)
	c, err := coordinator.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Run(ctx)
}

func migrate(ctx context.Context, args []string) error {
	var cfg coordinator.Config
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	configFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := storage.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	fmt.Println("migrations applied to", db.Dialect(), "database")
	return nil
}

func tokenCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	dbURL := fs.String("database-url", env("sqlite://./data/proofgrid.db", "PROOFGRID_DATABASE_URL"), "database (PROOFGRID_DATABASE_URL)")
	team := fs.String("team", "", "team name (created when new)")
	mode := fs.String("mode", "", "admin, read or write")
	label := fs.String("label", "", "free text shown in listings")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *team == "" || !auth.ValidMode(*mode) {
		return errors.New("usage: coordinator token create --team NAME --mode admin|read|write [--label TEXT]")
	}
	db, err := storage.Open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	plain, tok, err := auth.NewService(db, nil, nil).CreateToken(ctx, *team, *mode, *label, auth.PrefixAPI)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "created %s token %d for team %q; it is shown once, store it now:\n", tok.Mode, tok.ID, *team)
	fmt.Println(plain)
	return nil
}

func jwtIssue(args []string) error {
	fs := flag.NewFlagSet("jwt issue", flag.ContinueOnError)
	sub := fs.String("sub", "", "subject (who the token is for)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sub == "" {
		return errors.New("usage: coordinator jwt issue --sub NAME")
	}
	ttl := 24 * time.Hour
	if h := atoi(os.Getenv("JWT_EXPIRATION_HOURS")); h > 0 {
		ttl = time.Duration(h) * time.Hour
	}
	issuer, err := auth.NewJWTIssuer([]byte(os.Getenv("JWT_SECRET")), ttl, nil)
	if err != nil {
		return fmt.Errorf("%w (set JWT_SECRET)", err)
	}
	tok, err := issuer.Issue(*sub)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
