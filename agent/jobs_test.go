package agent

import (
	"context"
	"fmt"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/redis/go-redis/v9"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/internal/logtest"
)

// testRedis returns the Redis that job tests use, skipping without one
// except in CI, where a missing Redis must fail loudly rather than pass.
func testRedis(t *testing.T) (string, asynq.RedisConnOpt) {
	t.Helper()
	url := os.Getenv("PROOFGRID_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PROOFGRID_TEST_REDIS_URL is not set")
		}
		t.Skip("PROOFGRID_TEST_REDIS_URL is not set")
	}
	opt, err := asynq.ParseRedisURI(url)
	if err != nil {
		t.Fatalf("PROOFGRID_TEST_REDIS_URL: %v", err)
	}
	return url, opt
}

// handlerLog records the payloads a test handler saw, and lets a test hold
// a task inside its handler.
type handlerLog struct {
	mu        sync.Mutex
	payloads  []string
	cancelled []string
	release   chan struct{}
}

func (h *handlerLog) register(mux *asynq.ServeMux, a *Agent) {
	mux.HandleFunc("test:echo", func(ctx context.Context, t *asynq.Task) error {
		if string(t.Payload()) == "block" {
			select {
			case <-h.release:
			case <-ctx.Done():
				h.mu.Lock()
				h.cancelled = append(h.cancelled, "block")
				h.mu.Unlock()
				return ctx.Err()
			}
		}
		h.mu.Lock()
		h.payloads = append(h.payloads, string(t.Payload()))
		h.mu.Unlock()
		return nil
	})
}

func (h *handlerLog) saw(p string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, x := range h.payloads {
		if x == p {
			return true
		}
	}
	return false
}

func enqueue(t *testing.T, opt asynq.RedisConnOpt, queue, payload string) string {
	t.Helper()
	c := asynq.NewClient(opt)
	defer c.Close()
	info, err := c.Enqueue(asynq.NewTask("test:echo", []byte(payload)), asynq.Queue(queue), asynq.MaxRetry(0))
	if err != nil {
		t.Fatalf("enqueue into %s: %v", queue, err)
	}
	return info.ID
}

func dropQueues(t *testing.T, opt asynq.RedisConnOpt, queues ...string) {
	t.Cleanup(func() {
		in := asynq.NewInspector(opt)
		defer in.Close()
		for _, q := range queues {
			_ = in.DeleteQueue(q, true)
		}
	})
}

// avsJobAgent returns the configuration of an AVS agent whose jobs
// h handles, the fake coordinator it enrols with (handing out the test
// Redis) and that Redis.
func avsJobAgent(t *testing.T) (*coordinator, asynq.RedisConnOpt, Config, *handlerLog) {
	t.Helper()
	redisURL, opt := testRedis(t)
	coord, ts := newCoordinator(t)
	coord.redisURL = redisURL
	var logs logtest.Buffer
	h := &handlerLog{release: make(chan struct{})}
	cfg := testConfig(t, ts.URL, t.TempDir(), &logs)
	cfg.Role = proofgrid.RoleAVS
	cfg.Handlers = h.register
	return coord, opt, cfg, h
}

func TestJobsConsumeOnlyAssignedQueues(t *testing.T) {
	coord, opt, cfg, h := avsJobAgent(t)
	s := start(t, cfg)
	waitFor(t, "enrolment", func() bool { return s.a.MachineID() != "" })
	queue := "avs.machine-" + s.a.MachineID()
	other := "avs.machine-not-" + s.a.MachineID()
	dropQueues(t, opt, queue, other)

	otherID := enqueue(t, opt, other, "not mine")
	enqueue(t, opt, queue, "hello")
	waitFor(t, "handler to run the task", func() bool { return h.saw("hello") })

	enqueue(t, opt, queue, "block")
	waitFor(t, "a running job", func() bool { return s.a.RunningJobs() == 1 })
	waitFor(t, "heartbeat reporting it", func() bool {
		hb, _ := coord.lastHeartbeat()
		return hb.Status.RunningJobs == 1
	})

	in := asynq.NewInspector(opt)
	defer in.Close()
	info, err := in.GetTaskInfo(other, otherID)
	if err != nil || info.State != asynq.TaskStatePending {
		t.Errorf("task in an unassigned queue: %+v %v, want it pending", info, err)
	}

	// A job that finishes within the shutdown timeout completes.
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop(t) }()
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) while a job was running", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(h.release)
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
	h.mu.Lock()
	cancelled := len(h.cancelled)
	h.mu.Unlock()
	if !h.saw("block") || cancelled != 0 {
		t.Errorf("blocked job: done=%v, cancelled %d times", h.saw("block"), cancelled)
	}
	if s.a.RunningJobs() != 0 {
		t.Errorf("RunningJobs after shutdown = %d", s.a.RunningJobs())
	}
}

func TestShutdownTimeoutRequeuesJob(t *testing.T) {
	redisURL, opt := testRedis(t)
	coord, ts := newCoordinator(t)
	var logs logtest.Buffer
	h := &handlerLog{release: make(chan struct{})}
	defer close(h.release)
	cfg := testConfig(t, ts.URL, t.TempDir(), &logs)
	cfg.RedisURL = redisURL // the configured override wins over enrolment's none
	cfg.Handlers = h.register
	cfg.ShutdownTimeout = 300 * time.Millisecond
	cfg.ClusterID = "c" + randomHex(6)
	queue := "prove.cluster-" + cfg.ClusterID
	dropQueues(t, opt, queue)
	s := start(t, cfg)
	waitFor(t, "enrolment", func() bool { return s.a.MachineID() != "" })
	if coord.redisURL != "" {
		t.Fatal("coordinator should not hand out Redis in this test")
	}

	id := enqueue(t, opt, queue, "block")
	waitFor(t, "a running job", func() bool { return s.a.RunningJobs() == 1 })
	began := time.Now()
	if err := s.stop(t); err != nil {
		t.Errorf("Run: %v", err)
	}
	if took := time.Since(began); took < 300*time.Millisecond {
		t.Errorf("shutdown took %v, less than the shutdown timeout", took)
	}
	in := asynq.NewInspector(opt)
	defer in.Close()
	info, err := in.GetTaskInfo(queue, id)
	if err != nil || info.State != asynq.TaskStatePending {
		t.Errorf("job cut off by shutdown: %+v %v, want it back in pending", info, err)
	}
}

// TestStoredEnrolmentWaitsForCoordinator: an agent restarted with its
// stored enrolment while the coordinator is down enrols nothing and takes
// no job until the coordinator answers, then takes it at once.
func TestStoredEnrolmentWaitsForCoordinator(t *testing.T) {
	coord, opt, cfg, h := avsJobAgent(t)

	first := start(t, cfg)
	waitFor(t, "enrolment", func() bool { return first.a.MachineID() != "" })
	queue := first.a.Queues()[0]
	dropQueues(t, opt, queue)
	if err := first.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}

	coord.mode.Store(modeDrop)
	second := start(t, cfg)
	enqueue(t, opt, queue, "while down")
	waitFor(t, "a refused heartbeat", func() bool { _, _, refused := coord.counts(); return refused > 0 })
	time.Sleep(2 * time.Second)
	if h.saw("while down") {
		t.Fatal("the agent took a job while its coordinator was unreachable")
	}
	in := asynq.NewInspector(opt)
	defer in.Close()
	if info, err := in.GetQueueInfo(queue); err != nil || info.Pending != 1 {
		t.Fatalf("queue while the coordinator is down: %+v %v; want the task pending", info, err)
	}
	coord.mode.Store(modeUp)
	waitFor(t, "the job once the coordinator answers", func() bool { return h.saw("while down") })
	// The second run enrols again (for fresh Redis credentials) once it can.
	if enrolls, _, _ := coord.counts(); enrolls != 2 {
		t.Errorf("%d enrolments, want one per run", enrolls)
	}
	if err := second.stop(t); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestUnreachableCoordinatorBurnsNoRetry: a job that fails because the
// coordinator cannot be reached goes back to retry with its retry count
// unchanged, and the agent stops taking jobs until a heartbeat succeeds.
func TestUnreachableCoordinatorBurnsNoRetry(t *testing.T) {
	redisURL, opt := testRedis(t)
	coord, ts := newCoordinator(t)
	coord.redisURL = redisURL
	var logs logtest.Buffer
	cfg := testConfig(t, ts.URL, t.TempDir(), &logs)
	cfg.Role = proofgrid.RoleAVS
	cfg.HeartbeatInterval = time.Hour // only the agent's retries after a failure
	var runs atomic.Int64
	cfg.Handlers = func(mux *asynq.ServeMux, a *Agent) {
		mux.HandleFunc("test:echo", func(ctx context.Context, _ *asynq.Task) error {
			runs.Add(1)
			return fmt.Errorf("look up the block: %w", client.ErrUnreachable)
		})
	}
	s := start(t, cfg)
	waitFor(t, "enrolment", func() bool { return s.a.MachineID() != "" })
	q := s.a.Queues()[0]
	dropQueues(t, opt, q)
	waitFor(t, "the first heartbeat", func() bool { return !s.a.coordinatorDown.Load() })

	c := asynq.NewClient(opt)
	defer c.Close()
	if _, err := c.Enqueue(asynq.NewTask("test:echo", nil), asynq.Queue(q), asynq.TaskID("outage"), asynq.MaxRetry(3)); err != nil {
		t.Fatal(err)
	}
	in := asynq.NewInspector(opt)
	defer in.Close()
	waitFor(t, "the failed attempt", func() bool {
		info, err := in.GetTaskInfo(q, "outage")
		return err == nil && info.State == asynq.TaskStateRetry
	})
	info, err := in.GetTaskInfo(q, "outage")
	if err != nil {
		t.Fatal(err)
	}
	if info.Retried != 0 {
		t.Errorf("retried %d after an outage; want 0", info.Retried)
	}
	if d := time.Until(info.NextProcessAt); d > 6*time.Second {
		t.Errorf("next attempt in %v; want about 5 s", d)
	}
	if !logs.Contains("coordinator unreachable; taking no jobs") {
		t.Error("no log line saying that the agent stopped taking jobs")
	}
	// It asks the coordinator at once instead of at the next interval
	// (an hour here), finds it up and takes jobs again: the retry runs.
	waitFor(t, "jobs taken again", func() bool { return !s.a.coordinatorDown.Load() })
	waitFor(t, "the retry", func() bool { return runs.Load() == 2 })
}

// TestJobServerConfigIdleCost checks the job server's background intervals:
// the janitor runs once a minute instead of asynq's 8 seconds, while the
// forwarder that moves retried tasks to pending keeps asynq's interval, and
// the idle sleep is the short one that follows a wait for a wake-up.
func TestJobServerConfigIdleCost(t *testing.T) {
	a, err := New(Config{CoordinatorURL: "http://127.0.0.1:1", Token: "t", Role: proofgrid.RoleProver, Name: "p", Sampler: &fakeSampler{}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := a.jobServerConfig(map[string]int{"prove.cluster-7": 1})
	if cfg.JanitorInterval != time.Minute {
		t.Errorf("JanitorInterval = %v, want 1m", cfg.JanitorInterval)
	}
	if cfg.TaskCheckInterval != wakeRecheck || cfg.DelayedTaskCheckInterval != 0 {
		t.Errorf("TaskCheckInterval = %v, DelayedTaskCheckInterval = %v, want %v and asynq's default (0)", cfg.TaskCheckInterval, cfg.DelayedTaskCheckInterval, wakeRecheck)
	}
	if cfg.Concurrency != DefaultConcurrency || cfg.Queues["prove.cluster-7"] != 1 || cfg.HealthCheckFunc == nil || cfg.ErrorHandler == nil {
		t.Errorf("config = %+v, want the agent's concurrency, queues and handlers", cfg)
	}
}

// serving reports whether an asynq server consumes queue.
func serving(t *testing.T, in *asynq.Inspector, queue string) bool {
	t.Helper()
	servers, err := in.Servers()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		if _, ok := s.Queues[queue]; ok && s.Status == "active" {
			return true
		}
	}
	return false
}

// startParked starts an agent with cfg, whose Redis is opt, and waits
// until its job server has run and, idle, parked. It returns the agent,
// its queue (emptied first) and an inspector of that Redis.
func startParked(t *testing.T, opt asynq.RedisConnOpt, cfg Config) (*started, string, *asynq.Inspector) {
	t.Helper()
	s := start(t, cfg)
	t.Cleanup(func() { s.stop(t) })
	waitFor(t, "enrolment", func() bool { return s.a.MachineID() != "" })
	q := "avs.machine-" + s.a.MachineID()
	dropQueues(t, opt, q)
	in := asynq.NewInspector(opt)
	t.Cleanup(func() { in.Close() })
	waitFor(t, "the server to run", func() bool { return serving(t, in, q) })
	waitFor(t, "the idle server to park", func() bool { return !serving(t, in, q) })
	return s, q, in
}

// TestIdleJobServerParks checks that a job server idle for ParkAfter stops
// its asynq server, that work of every kind starts it again (a task
// announced on the wake channel, one enqueued without an announcement, a
// scheduled one falling due), and that a running job keeps it from
// parking.
func TestIdleJobServerParks(t *testing.T) {
	_, opt, cfg, h := avsJobAgent(t)
	cfg.ParkAfter = 300 * time.Millisecond
	cfg.IdleCheck = 200 * time.Millisecond
	s, q, in := startParked(t, opt, cfg)
	rdb := redis.NewClient(&redis.Options{Addr: opt.(asynq.RedisClientOpt).Addr, DB: opt.(asynq.RedisClientOpt).DB})
	defer rdb.Close()

	// Announced: the wake-up starts it.
	enqueue(t, opt, q, "announced")
	if err := queue.Wake(context.Background(), rdb, q); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the announced task", func() bool { return h.saw("announced") })
	waitFor(t, "parking again", func() bool { return !serving(t, in, q) })

	// Not announced: the next look finds it.
	enqueue(t, opt, q, "unannounced")
	waitFor(t, "the unannounced task", func() bool { return h.saw("unannounced") })
	waitFor(t, "parking again", func() bool { return !serving(t, in, q) })

	// Scheduled: found once due, as a running server's forwarder would.
	c := asynq.NewClient(opt)
	defer c.Close()
	if _, err := c.Enqueue(asynq.NewTask("test:echo", []byte("scheduled")), asynq.Queue(q), asynq.ProcessIn(time.Second)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the scheduled task", func() bool { return h.saw("scheduled") })

	// A running job keeps the server up well past ParkAfter.
	enqueue(t, opt, q, "block")
	if err := queue.Wake(context.Background(), rdb, q); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a running job", func() bool { return s.a.RunningJobs() == 1 })
	time.Sleep(4 * cfg.ParkAfter)
	if !serving(t, in, q) {
		t.Fatal("the server parked while a job ran")
	}
	close(h.release)
	waitFor(t, "the blocked job", func() bool { return h.saw("block") })
	waitFor(t, "parking after it", func() bool { return !serving(t, in, q) })
}

// TestParkedLooksRideOnHeartbeats checks that a parked job server looks
// for unannounced work when a heartbeat woke the agent anyway, once
// parkedLooks IdleChecks have passed since its last look, and on its own
// only when no heartbeat came for twice that.
func TestParkedLooksRideOnHeartbeats(t *testing.T) {
	_, opt, cfg, h := avsJobAgent(t)
	cfg.ParkAfter = 300 * time.Millisecond
	cfg.IdleCheck = 300 * time.Millisecond
	cfg.HeartbeatInterval = time.Hour // the first heartbeat only: the test sends the beats
	every := parkedLooks * cfg.IdleCheck
	s, q, in := startParked(t, opt, cfg)
	parked := time.Now()
	beat := func() {
		select {
		case s.a.beats <- struct{}{}:
		default:
		}
	}
	enqueue(t, opt, q, "no heartbeat")
	beat() // too soon after the look that parked it
	time.Sleep(time.Until(parked.Add(every * 3 / 2)))
	if h.saw("no heartbeat") {
		t.Fatalf("a parked server looked within %s without a heartbeat", every*3/2)
	}
	waitFor(t, "the look of a parked server without heartbeats", func() bool { return h.saw("no heartbeat") })
	// parked is when the test saw the server gone, which can be a poll
	// later than the agent's own clock for the look started: allow a
	// quarter of every, still well past the 1.5 × every checked above.
	if took := time.Since(parked); took < 2*every-every/4 {
		t.Fatalf("found after %s, before the %s without heartbeats", took, 2*every)
	}
	waitFor(t, "parking again", func() bool { return !serving(t, in, q) })

	parked = time.Now()
	enqueue(t, opt, q, "heartbeat")
	time.Sleep(time.Until(parked.Add(every)))
	beat()
	waitFor(t, "the look on a heartbeat", func() bool { return h.saw("heartbeat") })
	if took := time.Since(parked); took >= 2*every {
		t.Fatalf("found after %s: by the look without heartbeats, not the heartbeat's", took)
	}
}
