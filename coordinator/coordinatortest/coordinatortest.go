// Package coordinatortest starts a real coordinator in-process for tests:
// its own redis-server, a fresh SQLite file or PostgreSQL database, and
// the HTTP API on a loopback port.
package coordinatortest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/queue/queuetest"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// JWTSecret is the admin JWT secret of test coordinators.
const JWTSecret = "coordinatortest-secret-0123456789abcdef"

// Options tunes a test coordinator. Zero values mean defaults.
type Options struct {
	// Dialect is storage.DialectSQLite (default) or storage.DialectPostgres.
	Dialect string
	// Redis reuses a server (e.g. to restart it in the test); default: a
	// fresh one.
	Redis *queuetest.Redis
	// DatabaseURL reuses a database (e.g. to restart the coordinator).
	DatabaseURL string
	// Configure edits the configuration before the coordinator starts.
	Configure func(*coordinator.Config)
}

// Env is a running coordinator.
type Env struct {
	T           testing.TB
	Coordinator *coordinator.Coordinator
	Redis       *queuetest.Redis
	DatabaseURL string
	// URL is the API base URL, e.g. http://127.0.0.1:41234.
	URL string

	cancel context.CancelFunc
	done   chan error
}

// EachDialect runs f, in parallel subtests named after the dialect,
// against a coordinator on SQLite and one on PostgreSQL.
func EachDialect(t *testing.T, f func(t *testing.T, env *Env)) {
	for _, dialect := range []string{storage.DialectSQLite, storage.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			f(t, Start(t, Options{Dialect: dialect}))
		})
	}
}

// Start starts a coordinator with every role, stopped when tb ends.
func Start(tb testing.TB, opts Options) *Env {
	tb.Helper()
	if opts.Dialect == "" {
		opts.Dialect = storage.DialectSQLite
	}
	e := &Env{T: tb, Redis: opts.Redis, DatabaseURL: opts.DatabaseURL}
	if e.Redis == nil {
		e.Redis = queuetest.StartRedis(tb, queuetest.Options{})
	}
	if e.DatabaseURL == "" {
		e.DatabaseURL = storagetest.URL(tb, opts.Dialect)
	}
	cfg := coordinator.Config{
		HTTPAddr:          "127.0.0.1:0",
		DatabaseURL:       e.DatabaseURL,
		RedisURL:          e.Redis.URL(),
		JWTSecret:         JWTSecret,
		DataDir:           tb.TempDir(),
		ShutdownTimeout:   5 * time.Second,
		WorkerConcurrency: 4,
		Logger:            testLogger(),
	}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := coordinator.New(ctx, cfg)
	if err != nil {
		cancel()
		tb.Fatalf("coordinatortest: new coordinator: %v", err)
	}
	e.Coordinator, e.cancel, e.done = c, cancel, make(chan error, 1)
	go func() { e.done <- c.Run(ctx) }()
	select {
	case <-c.Ready():
	case err := <-e.done:
		tb.Fatalf("coordinatortest: coordinator stopped at start: %v", err)
	case <-time.After(30 * time.Second):
		tb.Fatal("coordinatortest: coordinator did not start")
	}
	e.URL = "http://" + c.Addr()
	tb.Cleanup(e.Stop)
	return e
}

// Stop shuts the coordinator down (idempotent).
func (e *Env) Stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil {
			e.T.Errorf("coordinatortest: run: %v", err)
		}
	case <-time.After(30 * time.Second):
		e.T.Error("coordinatortest: coordinator did not stop")
	}
	e.Coordinator.Close()
	e.cancel = nil
}

// Token creates a token of mode for team and returns it.
func (e *Env) Token(team, mode string) string {
	e.T.Helper()
	plain, _, err := e.Coordinator.Auth.CreateToken(context.Background(), team, mode, "test", auth.PrefixAPI)
	if err != nil {
		e.T.Fatalf("coordinatortest: create token: %v", err)
	}
	return plain
}

// OperatorToken creates an operator token (global rights) belonging to
// team and returns it.
func (e *Env) OperatorToken(team string) string {
	e.T.Helper()
	plain, _, err := e.Coordinator.Auth.CreateOperatorToken(context.Background(), team, "test")
	if err != nil {
		e.T.Fatalf("coordinatortest: create operator token: %v", err)
	}
	return plain
}

// AdminJWT returns an admin JWT the coordinator accepts.
func (e *Env) AdminJWT() string {
	e.T.Helper()
	tok, err := e.Coordinator.Auth.JWT().Issue("test-admin")
	if err != nil {
		e.T.Fatal(err)
	}
	return tok
}

// testLogger is quiet unless PROOFGRID_TEST_LOG=1.
func testLogger() *slog.Logger {
	if os.Getenv("PROOFGRID_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Request sends method to url with token as bearer (none when empty) and
// body as JSON (none when nil), and returns the status and the raw body.
func Request(tb testing.TB, method, url, token string, body any) (int, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	return resp.StatusCode, raw
}
