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

// newMux registers the handlers of the coordinator's own task types.
func (c *Coordinator) newMux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(queue.TypeOutboxReconcile, func(ctx context.Context, t *asynq.Task) error {
		st, err := c.Outbox.Reconcile(ctx)
		if err != nil {
			return err
		}
		if st.Requeued > 0 || st.Failed > 0 {
			c.cfg.Logger.Info("outbox reconciled", "checked", st.Checked, "done", st.Done, "failed", st.Failed, "requeued", st.Requeued)
		}
		return nil
	})
	mux.HandleFunc(queue.TypeMetricsRetention, func(ctx context.Context, t *asynq.Task) error {
		n, err := c.Fleet.PruneMetrics(ctx, c.cfg.MetricsRetention)
		if err != nil {
			return fmt.Errorf("prune metrics: %w", err)
		}
		if _, err := c.DB.DeleteFinishedOutbox(ctx, c.cfg.Now().Add(-c.cfg.MetricsRetention)); err != nil {
			return fmt.Errorf("prune outbox: %w", err)
		}
		c.cfg.Logger.Info("metrics retention", "deleted", n, "keep", c.cfg.MetricsRetention)
		return nil
	})
	return mux
}

// asynqLogger routes asynq's logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }

// HandleFunc registers a task handler on the coordinator's worker. Tests
// and surfaces use it for task types whose handlers live elsewhere.
func (c *Coordinator) HandleFunc(taskType string, h func(context.Context, *asynq.Task) error) {
	c.mux.HandleFunc(taskType, h)
}
