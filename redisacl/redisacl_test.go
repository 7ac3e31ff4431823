package redisacl_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/queue/queuetest"
	"github.com/proofgrid/proofgrid/redisacl"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// requireRedis7 skips (or fails, where services are required) when the
// redis-server lacks key selectors.
func requireRedis7(t *testing.T) {
	t.Helper()
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		t.Skip("redis-server not found")
	}
	m := regexp.MustCompile(`v=(\d+)\.`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("cannot read the redis-server version from %q", out)
	}
	if major, _ := strconv.Atoi(string(m[1])); major < 7 {
		if queuetest.Required() {
			t.Fatalf("redis-server %s: per-agent users need Redis 7 or later", m[1])
		}
		t.Skipf("redis-server %s: per-agent users need Redis 7 or later", m[1])
	}
}

// agentClient connects with the credentials in an agent URL.
func agentClient(t *testing.T, agentURL string) *redis.Client {
	t.Helper()
	opt, err := redisacl.ConnOpt(agentURL)
	if err != nil {
		t.Fatal(err)
	}
	c := opt.MakeRedisClient().(*redis.Client)
	t.Cleanup(func() { c.Close() })
	return c
}

// isDenied reports an ACL refusal: NOPERM for a command, or the error of
// a script whose command touched a key the user may not.
func isDenied(err error) bool {
	return err != nil && (strings.HasPrefix(err.Error(), "NOPERM") || strings.Contains(err.Error(), "can't access"))
}

// TestAgentUserRunsItsQueueAndNothingElse grants an agent a user for its
// cluster's queue and runs a real asynq Server with it: tasks the
// coordinator enqueues are processed, retried and completed, Redis logs no
// refused command on the way, and every key outside the queue (another
// cluster's queue, the coordinator's verify queue, nonces and rate limits,
// the server registry's contents) is refused. Revoking the user ends its
// access, connections already open included.
func TestAgentUserRunsItsQueueAndNothingElse(t *testing.T) {
	requireRedis7(t)
	r := queuetest.StartRedis(t, queuetest.Options{})
	admin := r.Client()
	defer admin.Close()
	ctx := context.Background()

	g, err := redisacl.New(ctx, admin, redisacl.Config{URL: r.URL(), Logger: quiet})
	if err != nil || !g.Enabled() {
		t.Fatalf("New: enabled %v, err %v", g != nil && g.Enabled(), err)
	}
	const machine = "0b9d7f6e-3c1a-4e2b-8d5f-6a7c8e9f0a1b"
	own, other := "prove.cluster-aaaa", "prove.cluster-bbbb"
	agentURL, err := g.Grant(ctx, machine, []string{own})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(agentURL)
	if pw, _ := u.User.Password(); u.User.Username() != "pg-agent-"+machine || len(pw) != 64 || u.Host != r.Addr() || u.Path != "/0" {
		t.Fatalf("agent URL %s: want user pg-agent-%s, a 64-character password, the server's host and database", u.Redacted(), machine)
	}

	// The coordinator (default user) enqueues into both clusters' queues
	// and its own verify queue.
	qc := asynq.NewClientFromRedisClient(admin)
	enqueue := func(id, queue string, opts ...asynq.Option) {
		t.Helper()
		opts = append(opts, asynq.TaskID(id), asynq.Queue(queue))
		if _, err := qc.Enqueue(asynq.NewTask("prove:block", []byte(`{"block_number":1}`)), opts...); err != nil {
			t.Fatal(err)
		}
	}
	enqueue("flaky", own, asynq.MaxRetry(3))
	enqueue("kept", own, asynq.Retention(time.Hour))
	enqueue("later", own, asynq.ProcessIn(time.Second))
	enqueue("foreign", other)
	enqueue("verify-1", "verify")

	var attempts atomic.Int32
	done := make(chan string, 10)
	mux := asynq.NewServeMux()
	mux.HandleFunc("prove:block", func(ctx context.Context, task *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		if id == "flaky" && attempts.Add(1) == 1 {
			return errors.New("first attempt fails")
		}
		if _, err := task.ResultWriter().Write([]byte("ok")); err != nil {
			return err
		}
		done <- id
		return nil
	})
	opt, err := redisacl.ConnOpt(agentURL)
	if err != nil {
		t.Fatal(err)
	}
	var healthErr atomic.Value
	srv := asynq.NewServer(opt, asynq.Config{
		Queues:                   map[string]int{own: 1},
		Concurrency:              2,
		RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return 10 * time.Millisecond },
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		JanitorInterval:          100 * time.Millisecond,
		HealthCheckInterval:      100 * time.Millisecond,
		Logger:                   asynqLog{},
		HealthCheckFunc: func(err error) {
			if err != nil {
				healthErr.Store(err.Error())
			}
		},
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	timeout := time.After(20 * time.Second)
	for len(got) < 3 {
		select {
		case id := <-done:
			got[id] = true
		case <-timeout:
			t.Fatalf("processed %v; want flaky, kept and later", got)
		}
	}
	time.Sleep(1500 * time.Millisecond) // a heartbeat, a janitor and a recoverer pass
	srv.Shutdown()

	ins := asynq.NewInspectorFromRedisClient(admin)
	if info, err := ins.GetTaskInfo(own, "kept"); err != nil || info.State != asynq.TaskStateCompleted || string(info.Result) != "ok" {
		t.Errorf("kept task: %+v %v; want completed with result ok", info, err)
	}
	if n := attempts.Load(); n != 2 {
		t.Errorf("flaky task ran %d times; want 2 (one retry)", n)
	}
	if info, err := ins.GetTaskInfo(other, "foreign"); err != nil || info.State != asynq.TaskStatePending {
		t.Errorf("other cluster's task: %+v %v; want still pending", info, err)
	}
	if s, _ := healthErr.Load().(string); s != "" {
		t.Errorf("asynq health check failed under the agent's user: %s", s)
	}
	// Redis logs every command the ACL refused: the asynq Server ran with
	// none refused.
	entries, err := admin.Do(ctx, "ACL", "LOG").Slice()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("Redis refused %d commands of the asynq Server: %v", len(entries), entries)
	}

	agent := agentClient(t, agentURL)
	denied := map[string][]any{
		"read another cluster's task":    {"HGET", "asynq:{" + other + "}:t:foreign", "msg"},
		"take another cluster's task":    {"RPOPLPUSH", "asynq:{" + other + "}:pending", "asynq:{" + own + "}:active"},
		"delete another cluster's queue": {"DEL", "asynq:{" + other + "}:pending"},
		"script on another cluster":      {"EVAL", "return redis.call('LLEN', KEYS[1])", 1, "asynq:{" + other + "}:pending"},
		"script reaching out":            {"EVAL", "return redis.call('GET', ARGV[1])", 0, "proofgrid:nonce:x"},
		"read the verify queue":          {"HGET", "asynq:{verify}:t:verify-1", "msg"},
		"delete the verify queue":        {"DEL", "asynq:{verify}:pending"},
		"read a nonce":                   {"GET", "proofgrid:nonce:abc"},
		"write a nonce":                  {"SET", "proofgrid:nonce:abc", "1"},
		"delete a rate limit":            {"DEL", "proofgrid:ratelimit:key"},
		"read the server registry":       {"ZRANGE", "asynq:servers", 0, -1},
		"read the queue list":            {"SMEMBERS", "asynq:queues"},
		"list keys":                      {"KEYS", "*"},
		"scan keys":                      {"SCAN", 0},
		"flush":                          {"FLUSHALL"},
		"publish a cancellation":         {"PUBLISH", "asynq:cancel", "foreign"},
		"read the configuration":         {"CONFIG", "GET", "*"},
		"change users":                   {"ACL", "SETUSER", "pg-agent-" + machine, "~*"},
		"list clients":                   {"CLIENT", "LIST"},
	}
	for name, cmd := range denied {
		if err := agent.Do(ctx, cmd...).Err(); !isDenied(err) {
			t.Errorf("%s: %v; want it refused", name, err)
		}
	}
	if err := agent.HGet(ctx, "asynq:{"+own+"}:t:kept", "state").Err(); err != nil {
		t.Errorf("read its own queue's task: %v", err)
	}
	// It hears of new tasks on its own queues only.
	for ch, allowed := range map[string]bool{queue.WakeChannel(own): true, queue.WakeChannel(other): false} {
		sub := agent.Subscribe(ctx, ch)
		_, err := sub.Receive(ctx)
		sub.Close()
		if allowed && err != nil {
			t.Errorf("subscribe to %s: %v", ch, err)
		} else if !allowed && !isDenied(err) {
			t.Errorf("subscribe to %s: %v; want it refused", ch, err)
		}
	}
	if n, err := admin.LLen(ctx, "asynq:{"+other+"}:pending").Result(); err != nil || n != 1 {
		t.Errorf("other cluster's pending list: %d %v; want 1", n, err)
	}

	// A new grant replaces the password: the old one stops working.
	again, err := g.Grant(ctx, machine, []string{own})
	if err != nil || again == agentURL {
		t.Fatalf("second grant: %v (same URL: %v)", err, again == agentURL)
	}
	if err := agentClient(t, agentURL).Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("old password after a new grant: %v; want WRONGPASS", err)
	}

	// Revoking closes open connections and refuses new ones.
	open := agentClient(t, again)
	if err := open.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := g.Revoke(ctx, machine); err != nil {
		t.Fatal(err)
	}
	if err := open.HGet(ctx, "asynq:{"+own+"}:t:kept", "state").Err(); err == nil {
		t.Error("an open connection still reads after revocation")
	}
	if err := agentClient(t, again).Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("new connection after revocation: %v; want WRONGPASS", err)
	}
	if err := g.Revoke(ctx, machine); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
}

// TestGrantKeepsSchemeHostAndDatabase checks that the URL handed out is
// the configured one with only the user and password swapped, TLS
// included.
func TestGrantKeepsSchemeHostAndDatabase(t *testing.T) {
	requireRedis7(t)
	r := queuetest.StartRedis(t, queuetest.Options{})
	admin := r.Client()
	defer admin.Close()
	g, err := redisacl.New(context.Background(), admin, redisacl.Config{URL: "rediss://coordinator:secret@redis.example:6380/2", Logger: quiet})
	if err != nil || !g.Enabled() {
		t.Fatalf("New: %v", err)
	}
	got, err := g.Grant(context.Background(), "0b9d7f6e-3c1a-4e2b-8d5f-6a7c8e9f0a1b", []string{"avs.machine-0b9d7f6e-3c1a-4e2b-8d5f-6a7c8e9f0a1b"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(got)
	pw, _ := u.User.Password()
	if u.Scheme != "rediss" || u.Host != "redis.example:6380" || u.Path != "/2" || u.User.Username() != "pg-agent-0b9d7f6e-3c1a-4e2b-8d5f-6a7c8e9f0a1b" || pw == "secret" {
		t.Fatalf("granted URL %s", u.Redacted())
	}
	opt, err := redisacl.ConnOpt(got)
	if err != nil {
		t.Fatal(err)
	}
	o := opt.(asynq.RedisClientOpt)
	if o.TLSConfig == nil || o.TLSConfig.ServerName != "redis.example" || o.Username != u.User.Username() || o.Password != pw || o.DB != 2 {
		t.Fatalf("ConnOpt(%s) = %+v", u.Redacted(), o)
	}
	for _, bad := range []string{"*", "a}:x", "a b"} {
		if _, err := g.Grant(context.Background(), "0b9d7f6e-3c1a-4e2b-8d5f-6a7c8e9f0a1b", []string{bad}); err == nil {
			t.Errorf("queue %q granted", bad)
		}
	}
}

// TestFallbackWithoutACLPermission checks the modes when the coordinator's
// own Redis user may not run ACL: auto falls back to the configured URL,
// on refuses to start, off never asks.
func TestFallbackWithoutACLPermission(t *testing.T) {
	requireRedis7(t)
	r := queuetest.StartRedis(t, queuetest.Options{})
	admin := r.Client()
	defer admin.Close()
	ctx := context.Background()
	if err := admin.Do(ctx, "ACL", "SETUSER", "coordinator", "on", ">pw", "~*", "&*", "+@all", "-acl").Err(); err != nil {
		t.Fatal(err)
	}
	limited := redis.NewClient(&redis.Options{Addr: r.Addr(), Username: "coordinator", Password: "pw"})
	defer limited.Close()
	base := "redis://coordinator:pw@" + r.Addr() + "/0"

	g, err := redisacl.New(ctx, limited, redisacl.Config{URL: base, Logger: quiet})
	if err != nil || g.Enabled() {
		t.Fatalf("auto without ACL permission: enabled %v, err %v; want the fallback", g != nil && g.Enabled(), err)
	}
	if got, err := g.Grant(ctx, "0b9d7f6e-3c1a-4e2b-8d5f-6a7c8e9f0a1b", []string{"q"}); err != nil || got != base {
		t.Fatalf("fallback grant = %q, %v; want the configured URL", got, err)
	}
	if _, err := redisacl.New(ctx, limited, redisacl.Config{URL: base, Mode: redisacl.ModeOn, Logger: quiet}); err == nil {
		t.Fatal("mode on without ACL permission started")
	}
	g, err = redisacl.New(ctx, admin, redisacl.Config{URL: base, Mode: redisacl.ModeOff, Logger: quiet})
	if err != nil || g.Enabled() {
		t.Fatalf("mode off: enabled %v, err %v", g.Enabled(), err)
	}
	if _, err := redisacl.New(ctx, admin, redisacl.Config{URL: "redis-socket:///tmp/redis.sock", Logger: quiet}); err != nil {
		t.Fatalf("a socket URL should fall back, not fail: %v", err)
	}
}

// asynqLog keeps asynq quiet in tests.
type asynqLog struct{}

func (asynqLog) Debug(...any) {}
func (asynqLog) Info(...any)  {}
func (asynqLog) Warn(...any)  {}
func (asynqLog) Error(...any) {}
func (asynqLog) Fatal(...any) {}
