// Package queuetest starts throwaway redis-server instances for tests, so
// each test owns its Redis (asynq keys are global per queue name) and can
// restart or kill it.
package queuetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Options configures a throwaway Redis.
type Options struct {
	// AOF turns on the append-only file with the given fsync policy
	// ("always", "everysec"); empty means no persistence at all.
	AOF string
}

// Redis is a redis-server owned by one test.
type Redis struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	opts Options
	cmd  *exec.Cmd
}

// Required reports whether tests must fail, not skip, when a server binary
// is missing: in CI and under `make test`.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("PROOFGRID_REQUIRE_SERVICES") == "1"
}

// StartRedis starts a redis-server on a free loopback port, stopped when the
// test ends. The binary is PROOFGRID_TEST_REDIS_SERVER or redis-server on
// PATH; without one the test is skipped (failed when Required).
func StartRedis(t testing.TB, opts Options) *Redis {
	t.Helper()
	bin := os.Getenv("PROOFGRID_TEST_REDIS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			if Required() {
				t.Fatal("redis-server not found: install the redis-server package")
			}
			t.Skip("redis-server not found")
		}
	}
	r := &Redis{t: t, bin: bin, dir: t.TempDir(), port: freePort(t), opts: opts}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Addr is host:port of the server.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return "redis://" + r.Addr() + "/0" }

// ConnOpt is the asynq connection option of the server.
func (r *Redis) ConnOpt() asynq.RedisClientOpt { return asynq.RedisClientOpt{Addr: r.Addr()} }

// Client returns a go-redis client closed when the test ends.
func (r *Redis) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	r.t.Cleanup(func() { c.Close() })
	return c
}

// Start starts the server (again) on the same port and data directory.
func (r *Redis) Start() {
	r.t.Helper()
	args := []string{
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--maxmemory-policy", "noeviction", "--protected-mode", "yes",
	}
	if r.opts.AOF != "" {
		args = append(args, "--appendonly", "yes", "--appendfsync", r.opts.AOF)
	} else {
		args = append(args, "--appendonly", "no")
	}
	cmd := exec.Command(r.bin, args...)
	logf, err := os.OpenFile(filepath.Join(r.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.cmd = cmd
	// Wait for the port with plain dials: go-redis logs every refused dial.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if conn, err := net.DialTimeout("tcp", r.Addr(), time.Second); err == nil {
			conn.Close()
			c := redis.NewClient(&redis.Options{Addr: r.Addr()})
			err := c.Ping(context.Background()).Err()
			c.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.t.Fatalf("redis-server did not answer on %s:\n%s", r.Addr(), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down cleanly (AOF flushed), if it runs.
func (r *Redis) Stop() {
	if r.cmd == nil {
		return
	}
	// SIGTERM makes redis-server shut down cleanly (AOF flushed), like
	// SHUTDOWN, without a client that would retry its dropped connection.
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
}

// Kill stops the server with SIGKILL: whatever was not yet persisted is lost.
func (r *Redis) Kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

// Restart stops the server cleanly and starts it again.
func (r *Redis) Restart() {
	r.Stop()
	r.Start()
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(fmt.Errorf("find a free port: %w", err))
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
