// Command agent is the proofgrid agent for prover, AVS and zkGolf verifier
// machines.
//
//	agent run --coordinator URL --token TOKEN --role prover|avs [flags]
//	agent metrics [--once]
//	agent check lint DIR
//	agent sandbox [limits] -- PROGRAM ARGS   (the verifier's rlimit helper)
//	agent version
//
// Every flag of run also reads an environment variable (listed in its
// help), and a flag given on the command line wins over its variable.
// Pass the token through PROOFGRID_AGENT_TOKEN rather than --token where
// other users can list processes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/proofgrid/proofgrid/agent"
	"github.com/proofgrid/proofgrid/agent/collector"
	"github.com/proofgrid/proofgrid/agent/verifier"
	"github.com/proofgrid/proofgrid/internal/envflag"
)

// version is stamped at build time:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/agent
var version = "dev"

const usage = `usage:
  agent run --coordinator URL --token TOKEN --role prover|avs|verifier [--cluster ID] [--name NAME]
            [--prover-backend demo|exec] [--prover-command TEMPLATE] [--demo-steps N] [--rpc-url URL]
            [--avs ID --avs-chain NET --avs-version V --operator-address 0x..] [--avs-health-url URL]
            [--avs-process NAME] [--avs-pid-file PATH] [--avs-registered-command CMD] [--avs-config FILE]
            [--verifier-checker lint|exec] [--verifier-command TEMPLATE] [--verifier-timeout 20m]
            [--state-dir DIR] [--interval 15s] [--redis URL] [--concurrency N]
            [--shutdown-timeout 30s] [--idle-check 5s] [--log-level info]
  agent metrics [--once] [--interval 5s]
  agent check lint [--permitted-axioms a,b] DIR
  agent sandbox [--cpu-seconds N] [--memory-bytes N] [--file-bytes N] -- PROGRAM ARGS...
  agent version

Run "agent run -h" for the environment variables each flag falls back to.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the process exit code: 0 on
// success, 1 when the command failed, 2 for a usage error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runAgent(ctx, args[1:], getenv, stderr)
	case "metrics":
		return runMetrics(ctx, args[1:], stdout, stderr)
	case "sandbox":
		return verifier.SandboxMain(args[1:], stderr)
	case "check":
		return runCheck(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, version)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "agent: unknown command %q\n%s", args[0], usage)
		return 2
	}
}

// runConfig is what "agent run" reads from flags and environment.
type runConfig struct {
	agent    agent.Config
	logLevel slog.Level
	prover   proverFlags
	avs      avsFlags
	verifier verifierFlags
}

// parseRun reads "agent run" flags, falling back to environment variables
// for flags not given (envflag: malformed values are errors naming the
// variable, and -h never prints a token from the environment).
func parseRun(args []string, getenv func(string) string, stderr io.Writer) (runConfig, error) {
	var rc runConfig
	c := &rc.agent
	level := "info"
	s := envflag.New("agent run")
	s.SetOutput(stderr)
	s.String(&c.CoordinatorURL, "coordinator", "", "coordinator base URL", "PROOFGRID_COORDINATOR_URL")
	s.String(&c.Token, "token", "", "team API token used to enrol", "PROOFGRID_AGENT_TOKEN")
	s.String(&c.Role, "role", "", "machine role: prover, avs or verifier", "PROOFGRID_AGENT_ROLE")
	s.String(&c.ClusterID, "cluster", "", "prover cluster id", "PROOFGRID_AGENT_CLUSTER")
	s.String(&c.Name, "name", "", "machine name; default the hostname", "PROOFGRID_AGENT_NAME")
	s.String(&c.StateDir, "state-dir", "", "directory for the key and enrolment; default "+agent.DefaultStateDir, "PROOFGRID_AGENT_STATE_DIR")
	s.String(&c.RedisURL, "redis", "", "Redis URL overriding the one enrolment returns", "PROOFGRID_AGENT_REDIS_URL")
	s.String(&level, "log-level", level, "debug, info, warn or error", "PROOFGRID_AGENT_LOG_LEVEL")
	s.Duration(&c.HeartbeatInterval, "interval", 0, "heartbeat interval; default 15s, the coordinator may ask for another", "PROOFGRID_AGENT_INTERVAL")
	s.Int(&c.Concurrency, "concurrency", 0, "jobs run at once; default 1", "PROOFGRID_AGENT_CONCURRENCY")
	s.Duration(&c.ShutdownTimeout, "shutdown-timeout", 0,
		"how long shutdown waits for running jobs before requeueing them; default 30s", "PROOFGRID_AGENT_SHUTDOWN_TIMEOUT")
	s.Duration(&c.IdleCheck, "idle-check", 0,
		"longest an idle agent goes without looking at its queues; new tasks wake it at once; default 5s", "PROOFGRID_AGENT_IDLE_CHECK")
	s.Duration(&c.ParkAfter, "park-after", 0,
		"stop the idle job server after this long without a job, until work arrives; default 1m, negative never", "PROOFGRID_AGENT_PARK_AFTER")
	rc.prover.bind(s)
	rc.avs.bind(s)
	rc.verifier.bind(s)

	if err := s.Parse(args, getenv); err != nil {
		return rc, err
	}
	if s.NArg() > 0 {
		return rc, fmt.Errorf("unexpected arguments: %q", s.Args())
	}
	if err := rc.logLevel.UnmarshalText([]byte(level)); err != nil {
		return rc, fmt.Errorf("log level: %w", err)
	}
	c.Version = version
	return rc, nil
}

func runAgent(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	rc, err := parseRun(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		fmt.Fprintf(stderr, "agent run: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: rc.logLevel}))
	rc.agent.Logger = log
	tuneRuntime(getenv)
	if h, err := rc.prover.handlers(rc.agent, log); err != nil {
		fmt.Fprintf(stderr, "agent run: %v\n", err)
		return 2
	} else if h != nil {
		rc.agent.Handlers = h
	}
	if h, err := rc.verifier.handlers(&rc.agent, log); err != nil {
		fmt.Fprintf(stderr, "agent run: %v\n", err)
		return 2
	} else if h != nil {
		rc.agent.Handlers = h
	}
	if sf, err := rc.avs.statusFunc(rc.agent, log); err != nil {
		fmt.Fprintf(stderr, "agent run: %v\n", err)
		return 2
	} else if sf != nil {
		rc.agent.StatusFunc = sf
	}
	a, err := agent.New(rc.agent)
	if err != nil {
		fmt.Fprintf(stderr, "agent run: %v\n", err)
		return 2
	}
	log.Info("proofgrid agent starting", "version", version, "coordinator", rc.agent.CoordinatorURL, "role", rc.agent.Role)
	if err := a.Run(ctx); err != nil {
		log.Error("agent stopped", "error", err)
		return 1
	}
	return 0
}

// maxAgentProcs bounds the agent's GOMAXPROCS by default. Its own work is a
// few goroutines that wake briefly each heartbeat, sample and queue poll;
// provers, AVS tools and checkers run as processes of their own with the
// machine's cores. With a P per core of a large prover host, each garbage
// collection puts idle mark workers on many of them and every wakeup may
// spin threads: an idle prover agent measured 0.34 % of a core and 20.7 MiB
// with 32 Ps against 0.24 % and 19.5 MiB with 2 (scripts/agent-footprint.sh).
const maxAgentProcs = 2

// agentProcs returns the GOMAXPROCS "agent run" uses: current, as the
// runtime chose it, at most maxAgentProcs, unless the GOMAXPROCS variable
// (env) asks for a value of its own.
func agentProcs(current int, env string) int {
	if env != "" {
		return current
	}
	return min(current, maxAgentProcs)
}

// agentGCPercent is the agent's GOGC unless the GOGC variable sets one. Its
// live heap is a few MiB, so collecting at half the default growth costs
// little CPU and keeps RSS lower: at a 1 s interval an idle prover agent
// measured 18.0 MiB with GOGC=50 against 20.5 MiB with 100, at 0.30 % of a
// core against 0.23 % (one run each, scripts/agent-footprint.sh).
const agentGCPercent = 50

// tuneRuntime sets the Go runtime for a long-lived agent that is idle most
// of the time: GOMAXPROCS at most maxAgentProcs and GOGC agentGCPercent,
// each unless its environment variable is set.
func tuneRuntime(getenv func(string) string) {
	if n := agentProcs(runtime.GOMAXPROCS(0), getenv("GOMAXPROCS")); n != runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(n)
	}
	if getenv("GOGC") == "" {
		debug.SetGCPercent(agentGCPercent)
	}
}

// runMetrics prints samples from the real collectors. The first reading
// only primes the counters behind CPU usage and I/O rates, so one second
// passes before the reading that is printed.
func runMetrics(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent metrics", flag.ContinueOnError)
	fs.SetOutput(stderr)
	once := fs.Bool("once", false, "print one indented sample and exit; otherwise print one JSON line per interval until interrupted")
	interval := fs.Duration("interval", 5*time.Second, "time between samples without --once")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if fs.NArg() > 0 || *interval <= 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	set := collector.New(collector.Config{})
	defer set.Close()
	set.Collect(ctx)
	wait := time.Second
	enc := json.NewEncoder(stdout)
	if *once {
		enc.SetIndent("", "  ")
	}
	for {
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(wait):
		}
		if err := enc.Encode(set.Collect(ctx)); err != nil {
			fmt.Fprintf(stderr, "agent metrics: %v\n", err)
			return 1
		}
		if *once {
			return 0
		}
		wait = *interval
	}
}
