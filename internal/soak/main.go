// Command soak runs the whole system under faults for a few minutes and
// then checks from the database that no work was lost or done twice.
//
//	go run ./internal/soak [--duration 3m] [--block-every 2s] [--bin bin]
//
// It starts PostgreSQL and Redis (AOF, appendfsync everysec) in a
// temporary directory, two coordinator replicas (bin/coordinator, each with
// its own data directory, the same database and Redis) and four demo
// prover agents (bin/agent) in two clusters, two agents per cluster, each
// agent talking to one replica. It feeds blocks through both replicas in
// turn and meanwhile kills one coordinator with SIGKILL (restarted after a
// few seconds), one agent in the middle of a proof (restarted later),
// Redis (SIGKILL, restarted on the same AOF), and restarts PostgreSQL
// (pg_ctl restart -m fast). Then it stops feeding, waits for the system to
// settle and prints what the database holds: blocks, proofs per block and
// cluster version, verdicts, worker events per job, reward sums per
// checkpoint, unfinished outbox rows, latencies, and the fault timeline.
// It exits 1 when anything was lost or doubled. Build the binaries first
// (make build); make soak does both. See docs/operations.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/proofgrid/proofgrid/internal/envflag"
)

// config is the soak's settings.
type config struct {
	bin         string
	pgBin       string
	duration    time.Duration
	blockEvery  time.Duration
	settle      time.Duration
	demoSteps   uint64
	checkpoint  time.Duration
	coordFlags  string
	agentFlags  string
	keep        bool
	firstBlock  int64
	redisServer string
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	s := envflag.New("soak")
	s.String(&c.bin, "bin", "bin", "directory holding the coordinator and agent binaries (make build)", "PROOFGRID_SOAK_BIN")
	s.String(&c.pgBin, "pg-bin", "/usr/lib/postgresql/15/bin", "directory of initdb and pg_ctl", "PG_BIN")
	s.String(&c.redisServer, "redis-server", "redis-server", "redis-server binary", "PROOFGRID_SOAK_REDIS_SERVER")
	s.Duration(&c.duration, "duration", 3*time.Minute, "how long blocks are fed and faults injected", "PROOFGRID_SOAK_DURATION")
	s.Duration(&c.blockEvery, "block-every", 2*time.Second, "time between two blocks", "PROOFGRID_SOAK_BLOCK_EVERY")
	s.Duration(&c.settle, "settle", 5*time.Minute,
		"how long to wait after the last block for every proof to be proved and verified and the outbox to drain", "PROOFGRID_SOAK_SETTLE")
	s.Uint64(&c.demoSteps, "demo-steps", 3_000_000, "hash-chain steps of one demo proof (about 1-3 s)", "PROOFGRID_SOAK_DEMO_STEPS")
	s.Duration(&c.checkpoint, "checkpoint", 20*time.Second, "reward checkpoint length given to the coordinators (whole seconds)",
		"PROOFGRID_SOAK_CHECKPOINT")
	s.String(&c.coordFlags, "coordinator-flags", "--blob-store postgres", "extra flags of both coordinators, space-separated; default: the shared PostgreSQL blob store",
		"PROOFGRID_SOAK_COORDINATOR_FLAGS")
	s.String(&c.agentFlags, "agent-flags", "", "extra flags of every agent, space-separated", "PROOFGRID_SOAK_AGENT_FLAGS")
	s.Bool(&c.keep, "keep", false, "keep the temporary directory (logs, databases) and print its path", "PROOFGRID_SOAK_KEEP")
	s.Int64(&c.firstBlock, "first-block", 1, "number of the first block fed", "PROOFGRID_SOAK_FIRST_BLOCK")
	if err := s.Parse(args, os.Getenv); err != nil {
		return c, err
	}
	if s.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", s.Args())
	}
	switch {
	case c.duration < 20*time.Second:
		return c, errors.New("--duration must be at least 20s: the faults are spread over it")
	case c.blockEvery <= 0:
		return c, errors.New("--block-every must be positive")
	case c.checkpoint < time.Second || c.checkpoint%time.Second != 0:
		return c, errors.New("--checkpoint must be a whole number of seconds")
	}
	return c, nil
}

// run starts the system, feeds it under faults, settles and reports. It
// returns whether the report found nothing lost or doubled.
func run(ctx context.Context, cfg config) (bool, error) {
	sys, err := startSystem(ctx, cfg)
	if sys != nil {
		defer sys.close()
	}
	if err != nil {
		return false, err
	}
	begin := time.Now()
	sys.timeline.add("feeding blocks every %v for %v through both replicas", cfg.blockEvery, cfg.duration)

	feedCtx, stopFeed := context.WithTimeout(ctx, cfg.duration)
	defer stopFeed()
	fed := make(chan feedResult, 1)
	go func() { fed <- sys.feed(feedCtx) }()
	faultsDone := make(chan []agentKill, 1)
	go func() { faultsDone <- sys.injectFaults(feedCtx, begin) }()
	feedRes := <-fed
	kills := <-faultsDone
	if ctx.Err() != nil {
		return false, errors.New("interrupted")
	}
	sys.timeline.add("stopped feeding: %d blocks fed, %d posts refused or failed", len(feedRes.blocks), feedRes.failures)
	// Every process must be up for the system to settle; a restart the
	// fault injector had not reached yet is done now.
	if err := sys.restartStopped(ctx); err != nil {
		return false, err
	}
	settled := sys.settle(ctx, feedRes, cfg.settle)
	if ctx.Err() != nil {
		return false, errors.New("interrupted")
	}
	if settled {
		sys.timeline.add("settled")
	} else {
		sys.timeline.add("did not settle within %v", cfg.settle)
	}
	rep, err := sys.report(ctx, feedRes, kills)
	if err != nil {
		return false, err
	}
	rep.settled = settled
	rep.print(os.Stdout, sys.timeline, cfg)
	if cfg.keep {
		fmt.Printf("\nlogs and data kept in %s\n", sys.dir)
	}
	return rep.ok(), nil
}

// fields splits a space-separated flag list.
func fields(s string) []string { return strings.Fields(s) }
