package coordinator

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/proofgrid/proofgrid/queue"
)

// periodic lists the coordinator's periodic tasks.
func (c *Coordinator) periodic() []queue.Periodic {
	return append([]queue.Periodic{
		{Type: queue.TypeOutboxReconcile, Every: 30 * time.Second},
		{Type: queue.TypeMetricsRetention, Every: time.Hour},
	}, c.extraPeriodic...)
}

// asynqLogger routes asynq's logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }

// HandleFunc registers a task handler on the coordinator's worker, for
// tests. Its errors go through the same retry rule as the coordinator's
// own handlers (tasks.go).
func (c *Coordinator) HandleFunc(taskType string, h func(context.Context, *asynq.Task) error) {
	c.mux.HandleFunc(taskType, h)
}
