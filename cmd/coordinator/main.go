// Command coordinator runs the proofgrid coordinator and its admin tasks.
//
//	coordinator serve                 run the API, worker and scheduler
//	coordinator migrate               apply database migrations and exit
//	coordinator token create --team NAME --mode admin|read|write [--label L]
//	coordinator token create --operator [--team NAME] [--label L]
//	coordinator jwt issue --sub NAME  print an admin (operator) JWT (needs JWT_SECRET)
//	coordinator avs import FILE       validate and store an AVS catalogue file
//	coordinator epoch close           close a Merkle claim epoch now and publish it
//	coordinator claims serve          serve the claim routes alone (no prefix, API_PORT)
//	coordinator challenges import DIR import a zk-golf-challenges project
//	coordinator golf token create --user NAME   print a new zkGolf cmp_ token
//
// Flags override environment variables; see docs/configuration.md.
package main

import (
	"context"
	"errors"
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
	"github.com/proofgrid/proofgrid/internal/envflag"
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
  coordinator token create --operator [--team NAME] [--label TEXT]
  coordinator jwt issue --sub NAME
  coordinator avs import [--database-url URL] FILE
  coordinator epoch close [--database-url URL]
  coordinator claims serve [--addr :8434] [--database-url URL]
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
			return errors.New("usage: coordinator token create --team NAME --mode admin|read|write | --operator")
		}
		return tokenCreate(ctx, args[2:])
	case "jwt":
		if len(args) < 2 || args[1] != "issue" {
			return errors.New("usage: coordinator jwt issue --sub NAME")
		}
		return jwtIssue(args[2:])
	case "avs":
		return avsCommand(ctx, args[1:])
	case "epoch":
		return epochCommand(ctx, args[1:])
	case "claims":
		return claimsServe(ctx, args[1:])
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

// serveFlags are the settings of serve and migrate besides the Config.
type serveFlags struct {
	roles, logLevel, logFormat string
}

// configFlags binds the serve/migrate flags to cfg and their environment
// variables.
func configFlags(s *envflag.Set, cfg *coordinator.Config) *serveFlags {
	var f serveFlags
	s.String(&cfg.HTTPAddr, "http-addr", coordinator.DefaultHTTPAddr, "API listen address", "PROOFGRID_HTTP_ADDR")
	s.EnvFunc("http-addr", "API_PORT", func(v string) error {
		if n, err := strconv.ParseUint(v, 10, 16); err != nil || n == 0 {
			return errors.New("want a port number")
		}
		cfg.HTTPAddr = ":" + v
		return nil
	})
	s.String(&cfg.DatabaseURL, "database-url", coordinator.DefaultDatabaseURL, "sqlite:///path or postgres://...", "PROOFGRID_DATABASE_URL")
	s.String(&cfg.RedisURL, "redis-url", coordinator.DefaultRedisURL, "asynq Redis URL", "PROOFGRID_REDIS_URL")
	s.String(&cfg.AgentRedisURL, "agent-redis-url", "", "Redis URL handed to agents; default: --redis-url", "PROOFGRID_AGENT_REDIS_URL")
	s.String(&cfg.AgentRedisACL, "agent-redis-acl", "auto", "per-agent Redis users: auto, on or off", "PROOFGRID_AGENT_REDIS_ACL")
	s.String(&cfg.DataDir, "data-dir", coordinator.DefaultDataDir, "directory of the dir blob store", "PROOFGRID_DATA_DIR")
	s.String(&cfg.BlobStore, "blob-store", coordinator.BlobStoreDir, "where proofs and keys are kept: dir, postgres or s3://bucket/prefix?endpoint=...&region=...", "PROOFGRID_BLOB_STORE")
	s.Bool(&cfg.Production, "production", false, "refuse to start without secrets", "PROOFGRID_PRODUCTION")
	s.Duration(&cfg.HeartbeatInterval, "heartbeat-interval", 15*time.Second, "heartbeat interval told to agents", "PROOFGRID_HEARTBEAT_INTERVAL")
	s.Duration(&cfg.MetricsRetention, "metrics-retention", 7*24*time.Hour, "metric history kept", "PROOFGRID_METRICS_RETENTION")
	s.Int(&cfg.WorkerConcurrency, "worker-concurrency", 10, "asynq workers", "PROOFGRID_WORKER_CONCURRENCY")
	s.Duration(&cfg.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "bound of each shutdown step", "PROOFGRID_SHUTDOWN_TIMEOUT")
	s.String(&f.roles, "roles", "api,worker,scheduler", "comma-separated roles", "PROOFGRID_ROLES")
	s.String(&f.logLevel, "log-level", "info", "debug|info|warn|error", "PROOFGRID_LOG_LEVEL")
	s.String(&f.logFormat, "log-format", "text", "text|json", "PROOFGRID_LOG_FORMAT")
	ethproofsFlags(s, &cfg.Ethproofs)
	healthFlags(s, &cfg.Health)
	psyFlags(s, &cfg.Rewards, &cfg.Psy)
	poolFlags(s, &cfg.Pool)
	claimsFlags(s, &cfg.Claims)
	golfFlags(s, &cfg.Golf)
	jwtFlags(s, &cfg.JWTSecret, &cfg.JWTExpiration)
	return &f
}

// jwtFlags binds the JWT settings. The secret has no flag, so that it
// never shows in a process listing.
func jwtFlags(s *envflag.Set, secret *string, ttl *time.Duration) {
	s.EnvFunc("", "JWT_SECRET", func(v string) error { *secret = v; return nil })
	s.Func("jwt-expiration-hours", "lifetime of admin JWTs in hours; default 24 (JWT_EXPIRATION_HOURS)", func(v string) error {
		h, err := strconv.Atoi(v)
		if err != nil || h <= 0 {
			return errors.New("want a positive number of hours")
		}
		*ttl = time.Duration(h) * time.Hour
		return nil
	})
	s.Env("jwt-expiration-hours", "JWT_EXPIRATION_HOURS")
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

// parseServe reads the settings of serve and migrate.
func parseServe(name string, args []string, getenv func(string) string) (coordinator.Config, *serveFlags, error) {
	var cfg coordinator.Config
	s := envflag.New(name)
	f := configFlags(s, &cfg)
	if err := s.Parse(args, getenv); err != nil {
		return cfg, nil, err
	}
	if s.NArg() > 0 {
		return cfg, nil, fmt.Errorf("unexpected arguments: %q", s.Args())
	}
	cfg.Roles = strings.Split(f.roles, ",")
	return cfg, f, nil
}

func serve(ctx context.Context, args []string) error {
	cfg, f, err := parseServe("serve", args, os.Getenv)
	if err != nil {
		return err
	}
	logger, err := newLogger(f.logLevel, f.logFormat)
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
	cfg, _, err := parseServe("migrate", args, os.Getenv)
	if err != nil {
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
	s := envflag.New("token create")
	var dbURL string
	s.String(&dbURL, "database-url", coordinator.DefaultDatabaseURL, "database", "PROOFGRID_DATABASE_URL")
	team := s.FlagSet.String("team", "", "team name (created when new); with --operator, default \""+auth.DefaultOperatorTeam+"\"")
	mode := s.FlagSet.String("mode", "", "admin, read or write")
	operator := s.FlagSet.Bool("operator", false, "an operator token: global rights on every surface and /monitor (mode admin)")
	label := s.FlagSet.String("label", "", "free text shown in listings")
	if err := s.Parse(args, os.Getenv); err != nil {
		return err
	}
	usage := errors.New("usage: coordinator token create --team NAME --mode admin|read|write [--label TEXT]\n" +
		"       coordinator token create --operator [--team NAME] [--label TEXT]")
	switch {
	case *operator && *mode != "" && *mode != auth.ModeAdmin:
		return fmt.Errorf("an operator token has mode admin, not %q\n%w", *mode, usage)
	case !*operator && (*team == "" || !auth.ValidMode(*mode)):
		return usage
	}
	db, err := storage.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	svc := auth.NewService(db, nil, nil)
	var (
		plain string
		tok   storage.APIToken
	)
	if *operator {
		plain, tok, err = svc.CreateOperatorToken(ctx, *team, *label)
	} else {
		plain, tok, err = svc.CreateToken(ctx, *team, *mode, *label, auth.PrefixAPI)
	}
	if err != nil {
		return err
	}
	if tok.Operator {
		name := *team
		if name == "" {
			name = auth.DefaultOperatorTeam
		}
		fmt.Fprintf(os.Stderr, "created operator token %d (global rights; team %q on team routes); it is shown once, store it now:\n", tok.ID, name)
	} else {
		fmt.Fprintf(os.Stderr, "created %s token %d for team %q; it is shown once, store it now:\n", tok.Mode, tok.ID, *team)
	}
	fmt.Println(plain)
	return nil
}

func jwtIssue(args []string) error {
	s := envflag.New("jwt issue")
	sub := s.FlagSet.String("sub", "", "subject (who the token is for)")
	var secret string
	ttl := 24 * time.Hour
	jwtFlags(s, &secret, &ttl)
	if err := s.Parse(args, os.Getenv); err != nil {
		return err
	}
	if *sub == "" {
		return errors.New("usage: coordinator jwt issue --sub NAME")
	}
	issuer, err := auth.NewJWTIssuer([]byte(secret), ttl, nil)
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
