package main

import (
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/coordinator"
)

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseServe(t *testing.T) {
	cfg, f, err := parseServe("serve", nil, getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != coordinator.DefaultHTTPAddr || cfg.DatabaseURL != coordinator.DefaultDatabaseURL ||
		cfg.RedisURL != coordinator.DefaultRedisURL || cfg.WorkerConcurrency != 10 || f.logLevel != "info" || len(cfg.Roles) != 3 {
		t.Fatalf("defaults: %+v %+v", cfg, f)
	}
	e := getenv(map[string]string{
		"API_PORT":                       "9000",
		"PROOFGRID_WORKER_CONCURRENCY":   "4",
		"PROOFGRID_PRODUCTION":           "true",
		"JWT_SECRET":                     "s3cret",
		"JWT_EXPIRATION_HOURS":           "2",
		"PROOFGRID_ETHPROOFS_VERIFIERS":  `{"sp1":["sp1-verify","{proof}"]}`,
		"PROOFGRID_PSY_REWARD_WEIGHTS":   "A=3,*=1",
		"PROOFGRID_HEARTBEAT_TTL":        "1m",
		"PROOFGRID_ETHPROOFS_RATE_LIMIT": "-1",
	})
	cfg, _, err = parseServe("serve", []string{"--worker-concurrency", "6", "--roles", "api"}, e)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != ":9000" || cfg.WorkerConcurrency != 6 || !cfg.Production || cfg.JWTSecret != "s3cret" ||
		cfg.JWTExpiration != 2*time.Hour || len(cfg.Ethproofs.Verifiers["sp1"]) != 2 || cfg.Psy.Weights["A"] != 3 ||
		cfg.Health.HeartbeatTTL != time.Minute || cfg.Ethproofs.RateLimit != -1 || len(cfg.Roles) != 1 {
		t.Fatalf("from environment and flags: %+v", cfg)
	}
	// PROOFGRID_HTTP_ADDR wins over API_PORT, a flag over both.
	cfg, _, _ = parseServe("serve", nil, getenv(map[string]string{"API_PORT": "9000", "PROOFGRID_HTTP_ADDR": "127.0.0.1:1"}))
	if cfg.HTTPAddr != "127.0.0.1:1" {
		t.Fatalf("http addr = %q", cfg.HTTPAddr)
	}
	cfg, _, _ = parseServe("serve", []string{"--http-addr", ":2"}, getenv(map[string]string{"API_PORT": "9000"}))
	if cfg.HTTPAddr != ":2" {
		t.Fatalf("http addr = %q", cfg.HTTPAddr)
	}
}

// A malformed value stops the program with an error naming its source,
// instead of falling back to the default.
func TestParseServeRefusesMalformedValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"PROOFGRID_WORKER_CONCURRENCY": "ten"}, "PROOFGRID_WORKER_CONCURRENCY"},
		{nil, map[string]string{"PROOFGRID_SHUTDOWN_TIMEOUT": "soon"}, "PROOFGRID_SHUTDOWN_TIMEOUT"},
		{nil, map[string]string{"PROOFGRID_PRODUCTION": "yes please"}, "PROOFGRID_PRODUCTION"},
		{nil, map[string]string{"API_PORT": "http"}, "API_PORT"},
		{nil, map[string]string{"JWT_EXPIRATION_HOURS": "1d"}, "JWT_EXPIRATION_HOURS"},
		{nil, map[string]string{"PROOFGRID_ETHPROOFS_VERIFIERS": "sp1=verify"}, "PROOFGRID_ETHPROOFS_VERIFIERS"},
		{nil, map[string]string{"PROOFGRID_PSY_REWARD_WEIGHTS": "A=x"}, "PROOFGRID_PSY_REWARD_WEIGHTS"},
		{nil, map[string]string{"PROOFGRID_ETH_START_BLOCK": "latest"}, "PROOFGRID_ETH_START_BLOCK"},
		{[]string{"--worker-concurrency", "ten"}, nil, "-worker-concurrency"},
		{[]string{"--heartbeat-interval=15"}, nil, "-heartbeat-interval"},
		{[]string{"extra"}, nil, "extra"},
	} {
		_, _, err := parseServe("serve", tc.args, getenv(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want one naming %s", tc.args, tc.env, err, tc.want)
		}
	}
}
