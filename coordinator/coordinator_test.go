package coordinator_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/queue"
)

func get(t *testing.T, url string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if header != nil {
		req.Header = header
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func basic(password string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("ops:"+password)))
	return h
}

func TestHealthAndReadiness(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	status, _, body := get(t, env.URL+"/health", nil)
	var h map[string]any
	json.Unmarshal([]byte(body), &h)
	if status != 200 || h["status"] != "ok" {
		t.Fatalf("/health: %d %s", status, body)
	}
	status, _, body = get(t, env.URL+"/readyz", nil)
	if status != 200 || !strings.Contains(body, `"redis":"ok"`) || !strings.Contains(body, `"database":"ok"`) {
		t.Fatalf("/readyz: %d %s", status, body)
	}
	env.Redis.Kill()
	status, _, body = get(t, env.URL+"/readyz", nil)
	if status != 503 || strings.Contains(body, `"redis":"ok"`) {
		t.Fatalf("/readyz with Redis down: %d %s", status, body)
	}
	env.Redis.Start()
	// Once as many dials as the pool holds have failed, go-redis answers
	// with the last dial error and re-probes the server once a second, so
	// readiness comes back within about a second, as a probe sees it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, _, body = get(t, env.URL+"/readyz", nil)
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz 5 s after Redis came back: %d %s", status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestMonitorNeedsCredentials(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	status, hdr, _ := get(t, env.URL+"/monitor/", nil)
	if status != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("anonymous /monitor: %d %q", status, hdr.Get("WWW-Authenticate"))
	}
	if status, _, _ := get(t, env.URL+"/monitor/", basic("pg_wrong")); status != 401 {
		t.Fatalf("bad password: %d", status)
	}
}

// TestMonitorIsForOperators checks that only operator credentials open
// /monitor: asynqmon shows every team's queues, payloads, agent hosts
// and Redis INFO, and a team admin could pause another team's queue.
func TestMonitorIsForOperators(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	// A queue of another team, with a task in it.
	c := asynq.NewClient(env.Redis.ConnOpt())
	defer c.Close()
	other := queue.ProveQueue("8a0e4f58-77a1-4b8e-9d2c-3f4e5a6b7c8d")
	if _, err := c.Enqueue(asynq.NewTask(queue.TypeProveBlock, []byte(`{}`)), asynq.Queue(other)); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{auth.ModeRead, auth.ModeWrite, auth.ModeAdmin} {
		tok := env.Token("team-"+mode, mode)
		for _, path := range []string{"/monitor/", "/monitor/api/queues", "/monitor/api/redis_info"} {
			if status, _, body := get(t, env.URL+path, basic(tok)); status != 403 {
				t.Errorf("%s token on %s: %d %.200s", mode, path, status, body)
			}
		}
		req, _ := http.NewRequest("POST", env.URL+"/monitor/api/queues/"+other+":pause", nil)
		req.Header = basic(tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("%s token pausing another team's queue: %d", mode, resp.StatusCode)
		}
	}
	ins := asynq.NewInspector(env.Redis.ConnOpt())
	defer ins.Close()
	if info, err := ins.GetQueueInfo(other); err != nil || info.Paused {
		t.Fatalf("queue %s after the team tokens: %+v %v", other, info, err)
	}
	// Operator credentials get the full UI.
	for name, tok := range map[string]string{"operator token": env.OperatorToken(""), "admin JWT": env.AdminJWT()} {
		status, _, body := get(t, env.URL+"/monitor/", basic(tok))
		if status != 200 || !strings.Contains(body, "<html") {
			t.Fatalf("%s on /monitor: %d %.200s", name, status, body)
		}
		// The asynqmon API answers under the same prefix.
		status, _, body = get(t, env.URL+"/monitor/api/queues", basic(tok))
		if status != 200 || !strings.Contains(body, other) {
			t.Fatalf("%s on /monitor/api/queues: %d %.200s", name, status, body)
		}
	}
	req, _ := http.NewRequest("POST", env.URL+"/monitor/api/queues/"+other+":pause", nil)
	req.Header = basic(env.OperatorToken(""))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if info, err := ins.GetQueueInfo(other); resp.StatusCode != 204 || err != nil || !info.Paused {
		t.Fatalf("operator pausing %s: %d, then %+v %v", other, resp.StatusCode, info, err)
	}
}

func TestMetricsExposeQueueSizes(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: func(c *coordinator.Config) {
		c.Roles = []string{coordinator.RoleAPI}
	}})
	c := asynq.NewClient(env.Redis.ConnOpt())
	defer c.Close()
	for i := 0; i < 3; i++ {
		m := queue.ProofVerify(queue.ProofVerifyPayload{ProofID: int64(i)})
		if _, err := c.Enqueue(m.Task(), asynq.Queue(m.Queue)); err != nil {
			t.Fatal(err)
		}
	}
	get(t, env.URL+"/health", nil)
	status, _, body := get(t, env.URL+"/metrics", nil)
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	for _, want := range []string{
		`proofgrid_queue_size{queue="verify"} 3`,
		`proofgrid_queue_tasks{queue="verify",state="pending"} 3`,
		`proofgrid_queue_redis_up 1`,
		`proofgrid_http_requests_total{method="GET",route="/health",status="200"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestErrorsAreJSON(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	status, _, body := get(t, env.URL+"/proofgrid/v1/no-such-route", nil)
	var e map[string]any
	if err := json.Unmarshal([]byte(body), &e); err != nil || status != 404 || e["code"] != "not_found" {
		t.Fatalf("unknown route: %d %s", status, body)
	}
	// A body above the global limit is refused before any handler.
	req, _ := http.NewRequest("POST", env.URL+"/proofgrid/v1/agents/heartbeat", strings.NewReader(strings.Repeat("x", 300<<10)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.Contains(string(b), "at most") {
		t.Fatalf("oversized heartbeat: %d %s", resp.StatusCode, b)
	}
}

// On shutdown a task still running past the shutdown timeout goes back
// to its queue instead of being lost.
func TestShutdownRequeuesRunningTasks(t *testing.T) {
	started := make(chan struct{})
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: func(c *coordinator.Config) {
		c.ShutdownTimeout = time.Second
	}})
	// A type no surface of the coordinator handles (AVS operations run on
	// agents), on one of the coordinator's queues.
	const taskType = queue.TypeAVSPrefix + "shutdown_test"
	env.Coordinator.HandleFunc(taskType, func(ctx context.Context, task *asynq.Task) error {
		close(started)
		<-ctx.Done() // runs until shutdown cancels it
		return ctx.Err()
	})
	c := asynq.NewClient(env.Redis.ConnOpt())
	defer c.Close()
	m := queue.Message{Type: taskType, Queue: queue.QueueVerify, TaskID: queue.ProofVerifyID(7)}
	opts, _ := m.Options()
	if _, err := c.Enqueue(m.Task(), opts...); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(15 * time.Second):
		t.Fatal("task did not start")
	}
	env.Stop()
	ins := asynq.NewInspector(env.Redis.ConnOpt())
	defer ins.Close()
	info, err := ins.GetTaskInfo(queue.QueueVerify, queue.ProofVerifyID(7))
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStatePending && info.State != asynq.TaskStateRetry {
		t.Fatalf("after shutdown the task is %v; want pending or retry", info.State)
	}
}

// Fiber's own refusals (body over the app-wide limit, unknown route) keep
// the shape of the surface whose prefix the path has.
func TestFiberErrorsKeepTheSurfaceShape(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: func(c *coordinator.Config) {
		c.BodyLimit = 1024
	}})
	resp, err := http.Post(env.URL+"/v1/client/status", "application/json", strings.NewReader(strings.Repeat("x", 4096)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.Contains(string(b), `"result":null`) {
		t.Fatalf("oversized body under /v1: %d %s", resp.StatusCode, b)
	}
	status, _, body := get(t, env.URL+"/api/v0/no-such-route", nil)
	if status != 404 || strings.Contains(body, `"code"`) || !strings.Contains(body, `"error"`) {
		t.Fatalf("unknown Ethproofs route: %d %s", status, body)
	}
}
