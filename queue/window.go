package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// superseded are the periodic task types whose every run does the whole
// job (refresh, sweep, prune, reconcile, convert, broadcast), so the next
// window's run covers a run that failed. pool:window_rewards and
// merkle:epoch are not among them: each of their runs settles or closes a
// window of its own, which no later run does.
var superseded = map[string]bool{
	TypeJobStatusRefresh: true,
	TypeTPSBroadcast:     true,
	TypeHeartbeatSweep:   true,
	TypeMetricsRetention: true,
	TypeOutboxReconcile:  true,
	TypeRewardSweep:      true,
	TypeEventConversion:  true,
}

// Superseded reports whether a later window's run of taskType does the
// work of an earlier run that failed.
func Superseded(taskType string) bool { return superseded[taskType] }

// ErrWindowOver marks the failure of a periodic run that a later window's
// run covers. It wraps asynq.RevokeTask, so asynq neither retries nor
// archives the task, and Failures logs and counts it as a dropped run.
var ErrWindowOver = fmt.Errorf("queue: a later window's run covers this run: %w", asynq.RevokeTask)

// staleSlack is how long past the end of the window after its own a run
// may still start: it leaves room for asynq's one-second fetch poll on
// short windows. After an outage, a backlog of older runs is useless.
const staleSlack = 10 * time.Second

// DropPassedWindows is asynq middleware that keeps the periodic runs of
// Superseded types out of the archived state, where operators look for
// work that needs them: a later window's run does their work.
//
//   - A run that fails once its window is over, or on its last attempt,
//     ends with ErrWindowOver instead of being retried or archived.
//   - A run that starts more than one window after its window ended is
//     dropped the same way without running.
//   - The handler's context ends a second before asynq's, so that a run
//     that overruns its timeout returns through this rule: asynq itself
//     fails a task whose context ended with the context's error, without
//     asking the handler, and would archive it.
//
// Runs without a window end in their payload (WindowRun's; the scheduler
// uses Periodic.Run) and other task types pass through unchanged. now is
// the clock (time.Now when nil).
func DropPassedWindows(now func() time.Time) func(asynq.Handler) asynq.Handler {
	if now == nil {
		now = time.Now
	}
	return func(h asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			if !superseded[t.Type()] {
				return h.ProcessTask(ctx, t)
			}
			w, err := Decode[WindowPayload](t)
			if err != nil || w.End <= w.Window {
				return h.ProcessTask(ctx, t)
			}
			end := time.Unix(w.End, 0)
			every := end.Sub(time.Unix(w.Window, 0))
			if !now().Before(end.Add(every + staleSlack)) {
				return fmt.Errorf("run of the window ended at %s did not start in time: %w", end.UTC().Format(time.RFC3339), ErrWindowOver)
			}
			if dl, ok := ctx.Deadline(); ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, dl.Add(-time.Second))
				defer cancel()
			}
			err = h.ProcessTask(ctx, t)
			if err == nil || errors.Is(err, asynq.RevokeTask) {
				return err
			}
			retried, _ := asynq.GetRetryCount(ctx)
			maxRetry, _ := asynq.GetMaxRetry(ctx)
			if !now().Before(end) || retried >= maxRetry || errors.Is(err, asynq.SkipRetry) {
				return fmt.Errorf("%w: %w", err, ErrWindowOver)
			}
			return err
		})
	}
}
