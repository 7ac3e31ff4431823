package queue

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// Failures logs and counts failed task attempts. It is an asynq
// ErrorHandler (asynq.Config.ErrorHandler), which asynq calls after every
// attempt that returned an error, retried or not, and a Prometheus
// collector of proofgrid_task_failures_total{type}.
//
// asynq logs only the attempt that exhausts the retries, without the
// error; this is where every failure becomes visible.
type Failures struct {
	logger *slog.Logger
	total  *prometheus.CounterVec
}

var (
	_ asynq.ErrorHandler   = (*Failures)(nil)
	_ prometheus.Collector = (*Failures)(nil)
)

// NewFailures returns a Failures that logs to logger (slog.Default when
// nil).
func NewFailures(logger *slog.Logger) *Failures {
	if logger == nil {
		logger = slog.Default()
	}
	return &Failures{
		logger: logger,
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "proofgrid_task_failures_total",
			Help: "Failed task attempts by task type, the retried ones included.",
		}, []string{"type"}),
	}
}

// HandleError implements asynq.ErrorHandler. Every line carries the task's
// type, id and queue, the attempt (asynq's retry count: 0 for the first
// run, max_retry for the last) and the error. An attempt that will be
// retried logs at Warn with when it runs again (retry_at, retry_in_s, from
// RetryDelay, which every proofgrid server retries with); the last one
// (retries exhausted, or an error that skips retries) logs at Error, as
// the task is archived.
func (f *Failures) HandleError(ctx context.Context, task *asynq.Task, err error) {
	id, _ := asynq.GetTaskID(ctx)
	queueName, _ := asynq.GetQueueName(ctx)
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	attrs := []any{"task_type", task.Type(), "task_id", id, "queue", queueName,
		"attempt", retried, "max_retry", maxRetry, "error", err}
	level, msg := slog.LevelWarn, "task failed; it will be retried"
	switch {
	case errors.Is(err, ErrWindowOver):
		msg = "task failed; dropped, a later window's run covers it"
	case errors.Is(err, asynq.RevokeTask):
		msg = "task revoked"
	case retried >= maxRetry || errors.Is(err, asynq.SkipRetry):
		level, msg = slog.LevelError, "task failed; archived"
	default:
		d := RetryDelay(retried, err, task)
		attrs = append(attrs, "retry_at", time.Now().Add(d).UTC(), "retry_in_s", int64(d/time.Second))
	}
	// ctx may have ended (a timeout, shutdown); the line is still written.
	f.logger.Log(context.WithoutCancel(ctx), level, msg, attrs...)
	f.total.WithLabelValues(task.Type()).Inc()
}

// Describe implements prometheus.Collector.
func (f *Failures) Describe(ch chan<- *prometheus.Desc) { f.total.Describe(ch) }

// Collect implements prometheus.Collector.
func (f *Failures) Collect(ch chan<- prometheus.Metric) { f.total.Collect(ch) }
