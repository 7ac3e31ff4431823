package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseRunEnvAndFlags(t *testing.T) {
	e := env(map[string]string{
		"PROOFGRID_COORDINATOR_URL":   "https://c.example",
		"PROOFGRID_AGENT_TOKEN":       "pg_env",
		"PROOFGRID_AGENT_ROLE":        "avs",
		"PROOFGRID_AGENT_CLUSTER":     "c1",
		"PROOFGRID_AGENT_STATE_DIR":   "/tmp/state",
		"PROOFGRID_AGENT_INTERVAL":    "30s",
		"PROOFGRID_AGENT_REDIS_URL":   "redis://r:6379",
		"PROOFGRID_AGENT_CONCURRENCY": "3",
		"PROOFGRID_AGENT_LOG_LEVEL":   "debug",
	})
	rc, err := parseRun(nil, e, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("parseRun: %v", err)
	}
	c := rc.agent
	if c.CoordinatorURL != "https://c.example" || c.Token != "pg_env" || c.Role != "avs" || c.ClusterID != "c1" ||
		c.StateDir != "/tmp/state" || c.HeartbeatInterval != 30*time.Second || c.RedisURL != "redis://r:6379" ||
		c.Concurrency != 3 || rc.logLevel != slog.LevelDebug || c.Version != version {
		t.Errorf("from environment: %+v level %v", c, rc.logLevel)
	}

	rc, err = parseRun([]string{"--coordinator", "http://other", "--token", "pg_flag", "--role", "prover", "--interval", "5s", "--concurrency", "2", "--name", "box"}, e, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("parseRun: %v", err)
	}
	c = rc.agent
	if c.CoordinatorURL != "http://other" || c.Token != "pg_flag" || c.Role != proofgrid.RoleProver || c.HeartbeatInterval != 5*time.Second ||
		c.Concurrency != 2 || c.Name != "box" || c.ClusterID != "c1" {
		t.Errorf("flags over environment: %+v", c)
	}
}

func TestParseRunErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string // named in the error
	}{
		"bad env interval": {nil, map[string]string{"PROOFGRID_AGENT_INTERVAL": "soon"}, "PROOFGRID_AGENT_INTERVAL"},
		"bad env workers":  {nil, map[string]string{"PROOFGRID_AGENT_CONCURRENCY": "many"}, "PROOFGRID_AGENT_CONCURRENCY"},
		"bad env steps":    {nil, map[string]string{"PROOFGRID_AGENT_DEMO_STEPS": "-1"}, "PROOFGRID_AGENT_DEMO_STEPS"},
		"bad flag value":   {[]string{"--concurrency", "ten"}, nil, "-concurrency"},
		"bad flag":         {[]string{"--nope"}, nil, "-nope"},
		"stray argument":   {[]string{"extra"}, nil, "extra"},
		"bad log level":    {[]string{"--log-level", "loud"}, nil, "log level"},
	} {
		_, err := parseRun(tc.args, env(tc.env), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %s", name, err, tc.want)
		}
	}
}

func TestCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, env(nil), &out, &errb); code != 0 || strings.TrimSpace(out.String()) != version {
		t.Errorf("version: code %d, output %q", code, out.String())
	}
	if code := run(context.Background(), nil, env(nil), &out, &errb); code != 2 {
		t.Errorf("no command: code %d", code)
	}
	if code := run(context.Background(), []string{"frobnicate"}, env(nil), &out, &errb); code != 2 {
		t.Errorf("unknown command: code %d", code)
	}
	errb.Reset()
	if code := run(context.Background(), []string{"run", "--role", "miner", "--coordinator", "http://x", "--token", "t"}, env(nil), &out, &errb); code != 2 || !strings.Contains(errb.String(), "role") {
		t.Errorf("bad role: code %d, stderr %q", code, errb.String())
	}
}

func TestMetricsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a second of real sampling")
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"metrics", "--once"}, env(nil), &out, &errb); code != 0 {
		t.Fatalf("metrics --once: code %d, stderr %s", code, errb.String())
	}
	var s proofgrid.Sample
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("output is not one JSON sample: %v\n%s", err, out.String())
	}
	if s.CollectedAt.IsZero() || s.GPUs == nil || !strings.Contains(out.String(), "\n  \"") {
		t.Errorf("sample %+v (want indented JSON with a timestamp and a GPU list)", s)
	}
}

func TestHelpHidesEnvironmentToken(t *testing.T) {
	var errb bytes.Buffer
	code := run(context.Background(), []string{"run", "-h"}, env(map[string]string{"PROOFGRID_AGENT_TOKEN": "pg_secret"}), &bytes.Buffer{}, &errb)
	if code != 0 || strings.Contains(errb.String(), "pg_secret") || !strings.Contains(errb.String(), "PROOFGRID_AGENT_TOKEN") {
		t.Errorf("run -h: code %d, output %s", code, errb.String())
	}
}

func TestAgentProcs(t *testing.T) {
	tests := []struct {
		current int
		env     string
		want    int
	}{
		{1, "", 1},
		{2, "", 2},
		{192, "", maxAgentProcs},
		{192, "64", 192}, // the runtime already applied the variable
	}
	for _, tt := range tests {
		if got := agentProcs(tt.current, tt.env); got != tt.want {
			t.Errorf("agentProcs(%d, %q) = %d, want %d", tt.current, tt.env, got, tt.want)
		}
	}
}

func TestTuneRuntime(t *testing.T) {
	procs, gc := runtime.GOMAXPROCS(0), debug.SetGCPercent(100)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs); debug.SetGCPercent(gc) })

	runtime.GOMAXPROCS(4)
	tuneRuntime(func(string) string { return "" })
	if got, gcGot := runtime.GOMAXPROCS(0), debug.SetGCPercent(100); got != maxAgentProcs || gcGot != agentGCPercent {
		t.Errorf("without variables: GOMAXPROCS %d, GOGC %d; want %d and %d", got, gcGot, maxAgentProcs, agentGCPercent)
	}

	runtime.GOMAXPROCS(4)
	env := map[string]string{"GOMAXPROCS": "4", "GOGC": "100"}
	tuneRuntime(func(k string) string { return env[k] })
	if got, gcGot := runtime.GOMAXPROCS(0), debug.SetGCPercent(100); got != 4 || gcGot != 100 {
		t.Errorf("with GOMAXPROCS=4 GOGC=100: GOMAXPROCS %d, GOGC %d; want both left alone", got, gcGot)
	}
}
