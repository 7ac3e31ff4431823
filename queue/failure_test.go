package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/proofgrid/proofgrid/internal/logtest"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/queue/queuetest"
)

// A task that fails once and then succeeds leaves one log line with its
// type, id and attempt, and counts one failure for its type.
func TestFailuresLogsAndCountsEachFailedAttempt(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	var logs logtest.Buffer
	failures := queue.NewFailures(slog.New(slog.NewJSONHandler(&logs, nil)))
	srv := asynq.NewServer(r.ConnOpt(), asynq.Config{
		Queues:         map[string]int{queue.QueueMaintenance: 1},
		ErrorHandler:   failures,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return 0 },
		LogLevel:       asynq.FatalLevel,
	})
	var mu sync.Mutex
	runs := 0
	done := make(chan struct{})
	mux := asynq.NewServeMux()
	mux.HandleFunc(queue.TypeMetricsRetention, func(context.Context, *asynq.Task) error {
		mu.Lock()
		defer mu.Unlock()
		runs++
		if runs == 1 {
			return errors.New("database is down")
		}
		close(done)
		return nil
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	msg := queue.WindowRun(queue.TypeMetricsRetention, time.Unix(1_800_000_000, 0))
	opts, err := msg.Options()
	if err != nil {
		t.Fatal(err)
	}
	c := asynq.NewClient(r.ConnOpt())
	defer c.Close()
	if _, err := c.Enqueue(msg.Task(), opts...); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the task did not succeed on its retry")
	}

	lines := logs.Records(t)
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1: %v", len(lines), lines)
	}
	l := lines[0]
	want := map[string]any{
		"level": "WARN", "msg": "task failed; it will be retried",
		"task_type": queue.TypeMetricsRetention, "task_id": "maintenance:metrics_retention:1800000000",
		"queue": queue.QueueMaintenance, "attempt": 0.0, "max_retry": 3.0, "error": "database is down",
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("log %s = %v, want %v (line %v)", k, l[k], v, l)
		}
	}
	expected := `
# HELP proofgrid_task_failures_total Failed task attempts by task type, the retried ones included.
# TYPE proofgrid_task_failures_total counter
proofgrid_task_failures_total{type="maintenance:metrics_retention"} 1
`
	if err := testutil.CollectAndCompare(failures, strings.NewReader(expected)); err != nil {
		t.Fatal(err)
	}
}

// The attempt that ends a task (here a payload that does not decode, which
// skips retries) logs at Error.
func TestFailuresLogsTheLastAttemptAsError(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	var logs logtest.Buffer
	failures := queue.NewFailures(slog.New(slog.NewJSONHandler(&logs, nil)))
	srv := asynq.NewServer(r.ConnOpt(), asynq.Config{
		Queues:       map[string]int{queue.QueueVerify: 1},
		ErrorHandler: failures,
		LogLevel:     asynq.FatalLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(queue.TypeProofVerify, func(_ context.Context, task *asynq.Task) error {
		_, err := queue.Decode[queue.ProofVerifyPayload](task)
		return err
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	msg := queue.ProofVerify(queue.ProofVerifyPayload{ProofID: 5})
	msg.Payload = []byte("{")
	opts, _ := msg.Options()
	c := asynq.NewClient(r.ConnOpt())
	defer c.Close()
	if _, err := c.Enqueue(msg.Task(), opts...); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(logs.Records(t)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no failure logged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	l := logs.Records(t)[0]
	if l["level"] != "ERROR" || l["msg"] != "task failed; archived" || l["task_id"] != "proof:verify:5" || l["max_retry"] != 10.0 {
		t.Fatalf("log line %v", l)
	}
	if got := testutil.ToFloat64(failures); got != 1 {
		t.Fatalf("failures = %v, want 1", got)
	}
}

// A retried attempt's line says when the task runs again, and says it
// right: retry_at is when asynq scheduled the retry. An attempt that
// exhausts the retries logs at Error, with no retry time.
func TestFailuresLogsWhenTheRetryRuns(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	var logs logtest.Buffer
	failures := queue.NewFailures(slog.New(slog.NewJSONHandler(&logs, nil)))
	srv := asynq.NewServer(r.ConnOpt(), asynq.Config{
		Queues:         map[string]int{queue.QueueMaintenance: 1},
		ErrorHandler:   failures,
		RetryDelayFunc: queue.RetryDelay,
		LogLevel:       asynq.FatalLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(queue.TypeMetricsRetention, func(context.Context, *asynq.Task) error {
		return errors.New("database is down")
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	c := asynq.NewClient(r.ConnOpt())
	defer c.Close()
	retried := queue.WindowRun(queue.TypeMetricsRetention, time.Unix(1_800_000_000, 0))
	last := queue.WindowRun(queue.TypeMetricsRetention, time.Unix(1_800_000_010, 0))
	for i, msg := range []queue.Message{retried, last} {
		opts, err := msg.Options()
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			opts = append(opts, asynq.MaxRetry(0))
		}
		if _, err := c.Enqueue(msg.Task(), opts...); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(logs.Records(t)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("log lines %v, want 2", logs.Records(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
	byID := map[string]map[string]any{}
	for _, l := range logs.Records(t) {
		byID[l["task_id"].(string)] = l
	}

	l := byID[retried.TaskID]
	if l["level"] != "WARN" || l["queue"] != queue.QueueMaintenance || l["attempt"] != 0.0 || l["max_retry"] != 3.0 || l["error"] != "database is down" {
		t.Fatalf("retried attempt's line %v", l)
	}
	in := l["retry_in_s"].(float64)
	if in < 15 || in > 44 {
		t.Fatalf("retry_in_s = %v, want asynq's first backoff, 15..44 s", in)
	}
	at, err := time.Parse(time.RFC3339Nano, l["retry_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	info, err := asynq.NewInspector(r.ConnOpt()).GetTaskInfo(queue.QueueMaintenance, retried.TaskID)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStateRetry || info.NextProcessAt.Sub(at).Abs() > time.Second {
		t.Fatalf("task %s next runs at %v; the log said %v", info.State, info.NextProcessAt, at)
	}

	l = byID[last.TaskID]
	if l["level"] != "ERROR" || l["msg"] != "task failed; archived" || l["attempt"] != 0.0 || l["max_retry"] != 0.0 || l["retry_at"] != nil {
		t.Fatalf("last attempt's line %v", l)
	}
}
