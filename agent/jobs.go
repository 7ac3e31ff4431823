package agent

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/redisacl"
)

// jobRunner owns the asynq server. Only Run's goroutine touches it, which
// is what lets a changed enrolment restart the server without locks.
type jobRunner struct {
	a       *Agent
	srv     *jobServer
	cur     machineState
	applied bool
}

// jobServer is the asynq server of an assignment, with the Redis client it
// owns and the hook that wakes it when tasks arrive (queue.WakeHook). While
// parked (see Config.ParkAfter) it has no asynq server: the wake
// subscription and a look every six IdleCheck (runParker) start one again.
type jobServer struct {
	a      *Agent
	rdb    redis.UniversalClient
	wake   *queue.WakeHook
	listen context.CancelFunc
	queues []string
	newSrv func() *asynq.Server
	mux    *asynq.ServeMux

	mu  sync.Mutex
	srv *asynq.Server // nil while parked

	stopParker chan struct{}
	stopOnce   sync.Once
	parkerDone chan struct{}
}

// stop makes the server fetch no new tasks. The hook lets go of a dequeue
// waiting for a wake-up first: asynq's Stop waits for it.
func (s *jobServer) stop() {
	s.stopOnce.Do(func() { close(s.stopParker) })
	<-s.parkerDone
	s.wake.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Stop()
	}
}

// shutdown waits for running tasks (see jobRunner.shutdown) and closes
// the connection.
func (s *jobServer) shutdown() {
	s.mu.Lock()
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv = nil
	}
	s.mu.Unlock()
	s.listen()
	_ = s.rdb.Close()
}

// parked reports whether the server is parked.
func (s *jobServer) parked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv == nil
}

// runParker parks the server once it has gone ParkAfter without a job and
// starts it again when work arrives, until stop.
func (s *jobServer) runParker() {
	defer close(s.parkerDone)
	a := s.a
	if a.cfg.ParkAfter < 0 {
		// Never parked: only the wake subscription's check.
		t := time.NewTicker(parkedLooks * a.cfg.IdleCheck)
		defer t.Stop()
		for {
			select {
			case <-s.stopParker:
				return
			case <-t.C:
				_ = s.wake.Ping(context.Background())
			}
		}
	}
	check := min(max(a.cfg.ParkAfter/4, 100*time.Millisecond), 5*time.Second)
	idleSince, lastJob := time.Now(), a.lastJob.Load()
	lookEvery := parkedLooks * a.cfg.IdleCheck
	lastLook := time.Now()
	// A parked server looks on its own only when no heartbeat came for
	// twice that (heartbeats never stop for long).
	stalled := time.NewTimer(2 * lookEvery)
	defer stalled.Stop()
	looked := func() {
		lastLook = time.Now()
		stalled.Reset(2 * lookEvery)
	}
	// look checks the wake subscription's connection and reports whether
	// work is due. The PING goes with the look rather than on go-redis's
	// own schedule: each command leaves its socket deadline armed, and its
	// expiry (the client's read timeout later) wakes an idle agent; done
	// together, the look's and the ping's expire together.
	look := func() bool {
		looked()
		_ = s.wake.Ping(context.Background())
		return s.due()
	}
	for {
		if s.parked() {
			select {
			case <-s.stopParker:
				return
			case <-s.wake.Woken():
			case <-a.beats:
				// A parked agent looks only when a heartbeat woke it
				// anyway: on an idle machine each wake-up of its own
				// costs more than the look.
				if time.Since(lastLook) < lookEvery*9/10 || !look() {
					continue
				}
			case <-stalled.C:
				if !look() {
					continue
				}
			}
			s.unpark()
			idleSince, lastJob = time.Now(), a.lastJob.Load()
			continue
		}
		select {
		case <-s.stopParker:
			return
		case <-time.After(check):
		}
		if time.Since(lastLook) >= lookEvery {
			// A running server's subscription is checked at the same pace.
			lastLook = time.Now()
			_ = s.wake.Ping(context.Background())
		}
		if a.running.Load() > 0 || a.lastJob.Load() != lastJob {
			idleSince, lastJob = time.Now(), a.lastJob.Load()
			continue
		}
		if time.Since(idleSince) >= a.cfg.ParkAfter {
			// Work due but not yet pending (a retry, a scheduled task)
			// is the forwarder's to move: a parked server has none.
			if !s.due() {
				s.park()
				looked() // parking looked: the next look is lookEvery away
			}
			idleSince, lastJob = time.Now(), a.lastJob.Load()
		}
	}
}

// parkedLooks is how many IdleCheck a parked server waits between looks
// at its queues (30 s by default, on the first heartbeat after that).
// Announced tasks start it at once; the look finds only what no
// announcement reached it for (a retry or a scheduled task falling due, a
// wake-up lost while the subscription reconnected), and costs an idle
// agent a Redis round trip: looking every IdleCheck was a sixth of a
// parked agent's CPU.
const parkedLooks = 6

// park stops the asynq server. A task taken meanwhile finishes first: the
// server stops taking tasks, and is shut down once none runs.
func (s *jobServer) park() {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return
	}
	// A dequeue waiting for a wake-up looks once more and returns, so
	// that Stop need not wait for IdleCheck.
	s.wake.Notify()
	srv.Stop()
	for s.a.running.Load() > 0 {
		select {
		case <-s.stopParker:
		case <-time.After(100 * time.Millisecond):
			continue
		}
		break
	}
	srv.Shutdown()
	s.mu.Lock()
	s.srv = nil
	s.mu.Unlock()
	// The wake-up sent above may be unused; one a dequeue used while the
	// server stopped may have announced a task it then did not take:
	// look instead.
	select {
	case <-s.wake.Woken():
	default:
	}
	s.a.log.Info("job server parked: idle", "queues", s.queues, "idle_for", s.a.cfg.ParkAfter)
	if s.due() {
		s.unpark()
	}
}

// unpark starts an asynq server again; on failure it stays parked and the
// next look tries again.
func (s *jobServer) unpark() {
	srv := s.newSrv()
	if err := srv.Start(s.mux); err != nil {
		s.a.log.Warn("cannot start the job server", "error", err)
		return
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	s.a.log.Info("job server started: work arrived", "queues", s.queues)
}

// due reports whether there is work for the server: a pending task, or a
// scheduled or retried one due to run, which a running server's forwarder
// moves to pending (within asynq's DelayedTaskCheckInterval), so a server
// does not park while one is due. An error counts as work: the server then
// runs and reports what is wrong through its health check.
func (s *jobServer) due() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := strconv.FormatInt(time.Now().Unix(), 10)
	var checks []*redis.IntCmd
	var due []*redis.StringSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, q := range s.queues {
			checks = append(checks, p.Exists(ctx, "asynq:{"+q+"}:pending"))
			for _, set := range []string{"scheduled", "retry"} {
				due = append(due, p.ZRangeByScore(ctx, "asynq:{"+q+"}:"+set, &redis.ZRangeBy{Min: "-inf", Max: now, Count: 1}))
			}
		}
		return nil
	})
	if err != nil {
		return true
	}
	for _, c := range checks {
		if c.Val() > 0 {
			return true
		}
	}
	for _, d := range due {
		if len(d.Val()) > 0 {
			return true
		}
	}
	return false
}

// apply makes the job server consume what st says, restarting it when the
// machine, its queues or its Redis changed since the last call.
func (j *jobRunner) apply(st machineState) {
	if j.applied && j.cur.sameJobs(st) {
		return
	}
	if j.srv != nil {
		j.a.log.Info("job assignment changed; restarting the job server", "queues", st.Queues)
		j.srv.stop()
		j.srv.shutdown()
		j.srv = nil
	}
	j.cur, j.applied = st, true
	j.srv = j.a.startJobServer(st)
}

// stop makes the server fetch no new tasks; running ones go on.
func (j *jobRunner) stop() {
	if j.srv != nil {
		j.srv.stop()
	}
}

// shutdown waits for running tasks up to the shutdown timeout, after which
// asynq cancels them and puts them back in their queues.
func (j *jobRunner) shutdown() {
	if j.srv != nil {
		j.srv.shutdown()
		j.srv = nil
	}
}

// startJobServer starts an asynq server on exactly the queues in st, or
// returns nil, with the reason logged and reported, when there is nothing
// it could usefully consume.
func (a *Agent) startJobServer(st machineState) *jobServer {
	if a.cfg.Handlers == nil {
		a.log.Info("no job handlers registered; sending heartbeats only")
		return nil
	}
	// asynq falls back to its "default" queue when given none, which would
	// take tasks meant for someone else.
	if len(st.Queues) == 0 {
		a.log.Warn("the coordinator assigned no job queues; sending heartbeats only")
		a.setCondition("jobs", "not consuming jobs: no queues assigned")
		return nil
	}
	redisURL := a.redisURL(st)
	if redisURL == "" {
		a.log.Warn("no Redis URL from enrolment or configuration; sending heartbeats only")
		a.setCondition("jobs", "not consuming jobs: no Redis URL")
		return nil
	}
	opt := a.redis
	if opt == nil {
		var err error
		if opt, err = redisacl.ConnOpt(redisURL); err != nil {
			a.log.Error("unusable Redis URL from enrolment; sending heartbeats only", "error", err)
			a.setCondition("jobs", "not consuming jobs: "+err.Error())
			return nil
		}
	}

	queues := make(map[string]int, len(st.Queues))
	for _, q := range st.Queues {
		queues[q] = 1
	}
	rdb, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		a.log.Error("unusable Redis connection options; sending heartbeats only")
		a.setCondition("jobs", "not consuming jobs: unusable Redis connection options")
		return nil
	}
	// Idle, the server waits in the hook for a wake-up of its queues (up
	// to IdleCheck) instead of polling Redis every TaskCheckInterval; the
	// short interval only follows a wake-up that found nothing.
	wake := queue.NewWakeHook(st.Queues, a.cfg.IdleCheck)
	wake.HoldWhile(a.coordinatorDown.Load)
	rdb.AddHook(wake)
	cfg := a.jobServerConfig(queues)
	newSrv := func() *asynq.Server { return asynq.NewServerFromRedisClient(rdb, cfg) }
	srv := newSrv()
	mux := asynq.NewServeMux()
	mux.Use(a.countRunning)
	a.cfg.Handlers(mux, a)
	if err := srv.Start(mux); err != nil {
		a.log.Error("cannot start the job server", "error", err)
		a.setCondition("jobs", "not consuming jobs: "+err.Error())
		_ = rdb.Close()
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	go wake.Listen(ctx, rdb)
	a.jobWake.Store(wake)
	a.setCondition("jobs", "")
	a.log.Info("consuming jobs", "queues", st.Queues, "redis_url", redactURL(redisURL), "concurrency", a.cfg.Concurrency)
	s := &jobServer{a: a, srv: srv, rdb: rdb, wake: wake, listen: cancel, queues: st.Queues, newSrv: newSrv, mux: mux,
		stopParker: make(chan struct{}), parkerDone: make(chan struct{})}
	go s.runParker()
	return s
}

// jobJanitorInterval is how often the job server deletes completed tasks
// whose retention has passed, instead of asynq's 8 seconds: on an idle
// prover it was one of the Redis round trips that keep the agent awake, and
// expired results lingering a minute longer cost nothing. Every agent of a
// cluster runs a janitor on the same queue, so one of them is soon due.
const jobJanitorInterval = time.Minute

// jobServerConfig is the asynq configuration of the job server on queues.
// TaskCheckInterval is short because, with the wake hook, it only follows
// a wait for a wake-up (see wakeRecheck).
func (a *Agent) jobServerConfig(queues map[string]int) asynq.Config {
	var redisDown atomic.Bool
	return asynq.Config{
		Concurrency:       a.cfg.Concurrency,
		Queues:            queues,
		TaskCheckInterval: wakeRecheck,
		JanitorInterval:   jobJanitorInterval,
		ShutdownTimeout:   a.cfg.ShutdownTimeout,
		RetryDelayFunc:    retryDelay,
		// A job that could not reach the coordinator did not fail: the
		// outage must not use up the task's retries.
		IsFailure: func(err error) bool { return !client.Unreachable(err) },
		Logger:    asynqLogger{a.log.With("component", "asynq")},
		// asynq's start and shutdown lines at info would repeat with
		// every park; the agent logs those itself.
		LogLevel: asynq.WarnLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			id, _ := asynq.GetTaskID(ctx)
			a.log.Warn("job failed", "type", t.Type(), "task_id", id, "error", err)
			a.recordError(fmt.Sprintf("job %s (%s): %v", t.Type(), id, err))
		}),
		HealthCheckFunc: func(err error) {
			// WRONGPASS is how Redis refuses an unknown user or password
			// (the error carries no type of its own). Only credentials from
			// enrolment can be renewed by enrolling again.
			if err != nil && a.redis == nil && strings.HasPrefix(err.Error(), "WRONGPASS") {
				a.redisRefused.Store(true)
			}
			if err != nil {
				if !redisDown.Swap(true) {
					a.log.Warn("Redis unreachable; jobs wait until it returns", "error", err)
				}
				a.setCondition("redis", "Redis unreachable: "+err.Error())
			} else if redisDown.Swap(false) {
				a.log.Info("Redis reachable again")
				a.setCondition("redis", "")
			}
		},
	}
}

// wakeRecheck is the asynq TaskCheckInterval of agents: how long the
// processor sleeps (half to one and a half times) after a dequeue found
// nothing, which with the wake hook follows a wait for a wake-up.
const wakeRecheck = 20 * time.Millisecond

// countRunning is middleware keeping RunningJobs and the last job's end
// current for heartbeats.
func (a *Agent) countRunning(h asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		a.running.Add(1)
		defer func() {
			a.lastJob.Store(a.cfg.Now().UnixNano())
			a.running.Add(-1)
		}()
		err := h.ProcessTask(ctx, t)
		if client.Unreachable(err) {
			a.setCoordinatorDown(true, err)
		}
		return err
	})
}

// setCoordinatorDown records whether the coordinator can be reached. While
// it cannot, the job server takes no task; when it can again, a waiting
// dequeue is woken at once.
func (a *Agent) setCoordinatorDown(down bool, err error) {
	if a.coordinatorDown.Swap(down) == down {
		return
	}
	if down {
		a.log.Warn("coordinator unreachable; taking no jobs until it answers", "error", err)
		a.setCondition("coordinator", "not taking jobs: coordinator unreachable")
		select {
		case a.heartbeatNow <- struct{}{}:
		default:
		}
		return
	}
	a.log.Info("coordinator answers; taking jobs")
	a.setCondition("coordinator", "")
	if w := a.jobWake.Load(); w != nil {
		w.Notify()
	}
}

// retryDelay retries a job that found the coordinator unreachable after
// five seconds, which its retry count does not grow by (IsFailure), and
// every other failure as every proofgrid server does.
func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if client.Unreachable(err) {
		return 5 * time.Second
	}
	return queue.RetryDelay(n, err, t)
}

// asynqLogger sends asynq's logs to slog. Fatal does not exit: asynq never
// calls it, and ending the process is for main alone.
type asynqLogger struct{ l *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.l.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.l.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.l.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.l.Error(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.l.Error(fmt.Sprint(args...)) }
