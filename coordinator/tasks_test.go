package coordinator_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/internal/logtest"
	"github.com/proofgrid/proofgrid/queue"
)

// waitForLog polls the records of logs until n have a msg starting with
// prefix, and returns them.
func waitForLog(t *testing.T, logs *logtest.Buffer, prefix string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got []map[string]any
		for _, r := range logs.Records(t) {
			if msg, _ := r["msg"].(string); strings.HasPrefix(msg, prefix) {
				got = append(got, r)
			}
		}
		if len(got) >= n {
			return got
		} else if time.Now().After(deadline) {
			t.Fatalf("%d %q log lines after 20 s, want %d", len(got), prefix, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startLogged(t *testing.T) (*coordinatortest.Env, *logtest.Buffer) {
	logs := &logtest.Buffer{}
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: func(c *coordinator.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	}})
	return env, logs
}

// A handler that fails once is logged with its type, task id and attempt,
// and counted under its type on /metrics.
func TestFailedAttemptIsLoggedAndCounted(t *testing.T) {
	env, logs := startLogged(t)
	// A type no surface of the coordinator handles, on one of its queues.
	const taskType = queue.TypeAVSPrefix + "fail_once"
	var runs atomic.Int32
	env.Coordinator.HandleFunc(taskType, func(context.Context, *asynq.Task) error {
		if runs.Add(1) == 1 {
			return errors.New("redis: connection refused")
		}
		return nil
	})
	m := queue.Message{Type: taskType, Queue: queue.QueueVerify, TaskID: "fail-once-1"}
	opts, _ := m.Options()
	c := asynq.NewClient(env.Redis.ConnOpt())
	defer c.Close()
	if _, err := c.Enqueue(m.Task(), opts...); err != nil {
		t.Fatal(err)
	}

	l := waitForLog(t, logs, "task failed", 1)[0]
	want := map[string]any{
		"level": "WARN", "msg": "task failed; it will be retried", "task_type": taskType, "task_id": "fail-once-1",
		"queue": queue.QueueVerify, "attempt": 0.0, "max_retry": 3.0, "error": "redis: connection refused",
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("log %s = %v, want %v (line %v)", k, l[k], v, l)
		}
	}
	expected := `
# HELP proofgrid_task_failures_total Failed task attempts by task type, the retried ones included.
# TYPE proofgrid_task_failures_total counter
proofgrid_task_failures_total{type="avs:fail_once"} 1
`
	if err := testutil.ScrapeAndCompare(env.URL+"/metrics", strings.NewReader(expected), "proofgrid_task_failures_total"); err != nil {
		t.Fatal(err)
	}
}

// proof:verify of a proof that does not exist fails with ENOTFOUND, which
// the retry rule archives at once instead of retrying ten times.
func TestVerifyOfUnknownProofIsNotRetried(t *testing.T) {
	env, logs := startLogged(t)
	m := queue.ProofVerify(queue.ProofVerifyPayload{ProofID: 4242})
	opts, _ := m.Options()
	c := asynq.NewClient(env.Redis.ConnOpt())
	defer c.Close()
	if _, err := c.Enqueue(m.Task(), opts...); err != nil {
		t.Fatal(err)
	}
	l := waitForLog(t, logs, "task failed", 1)[0]
	if l["level"] != "ERROR" || l["msg"] != "task failed; archived" || l["task_id"] != m.TaskID || l["attempt"] != 0.0 {
		t.Fatalf("log line %v", l)
	}
	ins := asynq.NewInspector(env.Redis.ConnOpt())
	defer ins.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := ins.GetTaskInfo(m.Queue, m.TaskID)
		if err == nil && info.State == asynq.TaskStateArchived {
			if info.Retried != 0 {
				t.Fatalf("archived after %d retries, want 0", info.Retried)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task state %v (%v); want archived", info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
