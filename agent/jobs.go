package agent

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/redisacl"
)

// jobRunner owns the asynq server. Only Run's goroutine touches it, which
// is what lets a changed enrolment restart the server without locks.
type jobRunner struct {
	a       *Agent
	srv     *asynq.Server
	cur     machineState
	applied bool
}

// apply makes the job server consume what st says, restarting it when the
// machine, its queues or its Redis changed since the last call.
func (j *jobRunner) apply(st machineState) {
	if j.applied && j.cur.sameJobs(st) {
		return
	}
	if j.srv != nil {
		j.a.log.Info("job assignment changed; restarting the job server", "queues", st.Queues)
		j.srv.Stop()
		j.srv.Shutdown()
		j.srv = nil
	}
	j.cur, j.applied = st, true
	j.srv = j.a.startJobServer(st)
}

// stop makes the server fetch no new tasks; running ones go on.
func (j *jobRunner) stop() {
	if j.srv != nil {
		j.srv.Stop()
	}
}

// shutdown waits for running tasks up to the shutdown timeout, after which
// asynq cancels them and puts them back in their queues.
func (j *jobRunner) shutdown() {
	if j.srv != nil {
		j.srv.Shutdown()
		j.srv = nil
	}
}

// startJobServer starts an asynq server on exactly the queues in st, or
// returns nil, with the reason logged and reported, when there is nothing
// it could usefully consume.
func (a *Agent) startJobServer(st machineState) *asynq.Server {
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
	srv := asynq.NewServer(opt, a.jobServerConfig(queues))
	mux := asynq.NewServeMux()
	mux.Use(a.countRunning)
	a.cfg.Handlers(mux, a)
	if err := srv.Start(mux); err != nil {
		a.log.Error("cannot start the job server", "error", err)
		a.setCondition("jobs", "not consuming jobs: "+err.Error())
		return nil
	}
	a.setCondition("jobs", "")
	a.log.Info("consuming jobs", "queues", st.Queues, "redis_url", redactURL(redisURL), "concurrency", a.cfg.Concurrency)
	return srv
}

// jobJanitorInterval is how often the job server deletes completed tasks
// whose retention has passed, instead of asynq's 8 seconds: on an idle
// prover it was one of the Redis round trips that keep the agent awake, and
// expired results lingering a minute longer cost nothing. Every agent of a
// cluster runs a janitor on the same queue, so one of them is soon due.
const jobJanitorInterval = time.Minute

// jobServerConfig is the asynq configuration of the job server on queues.
// It leaves TaskCheckInterval and DelayedTaskCheckInterval, which bound how
// soon a new or retried task starts, at asynq's defaults.
func (a *Agent) jobServerConfig(queues map[string]int) asynq.Config {
	var redisDown atomic.Bool
	return asynq.Config{
		Concurrency:     a.cfg.Concurrency,
		Queues:          queues,
		JanitorInterval: jobJanitorInterval,
		ShutdownTimeout: a.cfg.ShutdownTimeout,
		RetryDelayFunc:  queue.RetryDelay,
		Logger:          asynqLogger{a.log.With("component", "asynq")},
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

// countRunning is middleware keeping RunningJobs and the last job's end
// current for heartbeats.
func (a *Agent) countRunning(h asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		a.running.Add(1)
		defer func() {
			a.lastJob.Store(a.cfg.Now().UnixNano())
			a.running.Add(-1)
		}()
		return h.ProcessTask(ctx, t)
	})
}

// asynqLogger sends asynq's logs to slog. Fatal does not exit: asynq never
// calls it, and ending the process is for main alone.
type asynqLogger struct{ l *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.l.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.l.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.l.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.l.Error(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.l.Error(fmt.Sprint(args...)) }
