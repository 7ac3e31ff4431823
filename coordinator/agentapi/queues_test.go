package agentapi_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator/agentapi"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/queue"
)

// TestTeamQueues checks that GET /proofgrid/v1/queues lists the caller's
// team's queues (its clusters' prove queues, its AVS machines' queues)
// with their counts per state, and nothing of other teams.
func TestTeamQueues(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	call := func(method, path, token string, body any, out any) int {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, env.URL+path, rd)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			raw, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
			}
		}
		return resp.StatusCode
	}
	// Each team has a cluster and an AVS machine; alpha has a second,
	// idle cluster.
	type team struct {
		token    string
		clusters []string
		machine  string
	}
	teams := map[string]*team{}
	for _, name := range []string{"alpha", "beta"} {
		tm := &team{token: env.Token(name, auth.ModeWrite)}
		n := 1
		if name == "alpha" {
			n = 2
		}
		for i := 0; i < n; i++ {
			if status := call("POST", "/api/v0/clusters", tm.token, map[string]any{"name": name + string(rune('a'+i)), "zkvm_version_id": 1}, nil); status != 200 {
				t.Fatalf("create cluster: %d", status)
			}
		}
		var clusters []struct {
			UUID string `json:"uuid"`
		}
		call("GET", "/api/v0/clusters", tm.token, nil, &clusters)
		for _, c := range clusters {
			tm.clusters = append(tm.clusters, c.UUID)
		}
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		tm.machine = enroll(t, env, tm.token, key, proofgrid.RoleAVS)
		teams[name] = tm
	}
	alpha, beta := teams["alpha"], teams["beta"]

	cl := asynq.NewClient(env.Redis.ConnOpt())
	defer cl.Close()
	enqueue := func(q string, opts ...asynq.Option) *asynq.TaskInfo {
		t.Helper()
		info, err := cl.Enqueue(asynq.NewTask("test:task", []byte(`{"secret":"payload"}`)), append(opts, asynq.Queue(q))...)
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	aProve, aAVS := queue.ProveQueue(alpha.clusters[0]), queue.AVSQueue(alpha.machine)
	enqueue(aProve)
	enqueue(aProve)
	enqueue(aProve, asynq.ProcessIn(time.Hour))
	archived := enqueue(aAVS)
	ins := asynq.NewInspector(env.Redis.ConnOpt())
	defer ins.Close()
	if err := ins.ArchiveTask(aAVS, archived.ID); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		enqueue(queue.ProveQueue(beta.clusters[0]))
	}
	enqueue(queue.AVSQueue(beta.machine))

	var got struct {
		Queues []agentapi.QueueCounts `json:"queues"`
	}
	if status := call("GET", "/proofgrid/v1/queues", env.Token("alpha", auth.ModeRead), nil, &got); status != 200 {
		t.Fatalf("GET /queues: %d", status)
	}
	want := []agentapi.QueueCounts{
		{Queue: aAVS, Kind: "avs", MachineID: alpha.machine, Archived: 1},
		{Queue: aProve, Kind: "prove", ClusterID: alpha.clusters[0], Pending: 2, Scheduled: 1},
		{Queue: queue.ProveQueue(alpha.clusters[1]), Kind: "prove", ClusterID: alpha.clusters[1]},
	}
	if queue.ProveQueue(alpha.clusters[1]) < aProve {
		want[1], want[2] = want[2], want[1]
	}
	if len(got.Queues) != len(want) {
		t.Fatalf("queues = %+v, want %+v", got.Queues, want)
	}
	for i := range want {
		if got.Queues[i] != want[i] {
			t.Errorf("queue %d = %+v, want %+v", i, got.Queues[i], want[i])
		}
	}
	// Beta sees its own queues only.
	call("GET", "/proofgrid/v1/queues", beta.token, nil, &got)
	if len(got.Queues) != 2 || got.Queues[1].Pending != 5 || got.Queues[0].Pending != 1 || got.Queues[0].MachineID != beta.machine {
		t.Fatalf("beta's queues = %+v", got.Queues)
	}
	if status := call("GET", "/proofgrid/v1/queues", "", nil, nil); status != 401 {
		t.Fatalf("anonymous GET /queues: %d", status)
	}
	// An operator reads every team's machines; a team its own.
	var ms struct {
		Machines []proofgrid.Machine `json:"machines"`
	}
	call("GET", "/proofgrid/v1/machines", env.OperatorToken("ops"), nil, &ms)
	if len(ms.Machines) != 2 {
		t.Fatalf("operator's machines = %+v", ms.Machines)
	}
	call("GET", "/proofgrid/v1/machines", beta.token, nil, &ms)
	if len(ms.Machines) != 1 || ms.Machines[0].ID != beta.machine {
		t.Fatalf("beta's machines = %+v", ms.Machines)
	}
	// An admin JWT belongs to no team; operators have /monitor.
	if status := call("GET", "/proofgrid/v1/queues", env.AdminJWT(), nil, nil); status != 403 {
		t.Fatalf("JWT GET /queues: %d", status)
	}
}
