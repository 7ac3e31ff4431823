package ethproofs_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	pgclient "github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/storage"
)

// TestRateLimitAcrossReplicas runs two coordinators on one Redis and one
// database, as two replicas: a key's window is shared between them.
func TestRateLimitAcrossReplicas(t *testing.T) {
	limit := func(cfg *coordinator.Config) { cfg.Ethproofs.RateLimit = 3 }
	one, c1 := startCoordinator(t, storage.DialectSQLite, limit)
	two := coordinatortest.Start(t, coordinatortest.Options{Redis: one.Redis, DatabaseURL: one.DatabaseURL, Configure: limit})
	c2 := &client{t: t, base: two.URL, seed: loadSpec(t, "seed", readFile(t, "testdata/ethproofs-openapi.json"), two.URL), own: c1.own}
	c2.own = loadSpec(t, "own", readFile(t, "openapi.json"), two.URL)
	token := one.Token("alpha", "write")
	other := one.Token("alpha", "read")

	for i, c := range []*client{c1, c2, c1} {
		r := c.getJSON("/api/v0/proofs", token)
		wantStatus(t, r, 200)
		if got := r.header.Get("X-RateLimit-Remaining"); got != strconv.Itoa(2-i) {
			t.Fatalf("request %d: X-RateLimit-Remaining = %q, want %d", i, got, 2-i)
		}
		if r.header.Get("X-RateLimit-Limit") != "3" {
			t.Fatalf("X-RateLimit-Limit = %q", r.header.Get("X-RateLimit-Limit"))
		}
	}
	r := c2.getJSON("/api/v0/proofs", token)
	wantStatus(t, r, 429)
	if msg := r.errorMessage(t); msg == "" {
		t.Fatal("429 without a message")
	}
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 {
		t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	reset, err := time.Parse(time.RFC3339, r.header.Get("X-RateLimit-Reset"))
	if err != nil || reset.Before(time.Now().Add(-time.Second)) || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("X-RateLimit-Reset = %q, remaining %q", r.header.Get("X-RateLimit-Reset"), r.header.Get("X-RateLimit-Remaining"))
	}
	// Reports count against the same window; other keys and other routes
	// do not.
	wantStatus(t, c1.postJSON("/api/v0/proofs/queued", token, map[string]any{"block_number": 1, "cluster_id": 1}), 429)
	wantStatus(t, c1.getJSON("/api/v0/proofs", other), 200)
	wantStatus(t, c1.getJSON("/api/v0/clusters", token), 200)
}

// TestSignedAgents checks that an enrolled prover agent can report for its
// own cluster with a signed request and nothing else.
func TestSignedAgents(t *testing.T) {
	env, c := startCoordinator(t, storage.DialectSQLite, nil)
	write := env.Token("alpha", "write")
	admin := env.OperatorToken("ops")
	for _, name := range []string{"one", "two"} {
		wantStatus(t, c.postJSON("/api/v0/clusters", write, map[string]any{"name": name, "zkvm_version_id": 1}), 200)
	}
	var clusters []struct {
		ID   int64  `json:"id"`
		UUID string `json:"uuid"`
	}
	c.getJSON("/api/v0/clusters", write).json(t, &clusters)
	wantStatus(t, c.postJSON("/api/v0/blocks", admin, map[string]any{"block_number": 5, "hash": blockHash(5)}), 201)

	ctx := context.Background()
	api, err := pgclient.New(env.URL, pgclient.Options{HTTPClient: &http.Client{Transport: c.transport()}})
	if err != nil {
		t.Fatal(err)
	}
	enroll := func(role, cluster string) (string, ed25519.PrivateKey) {
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		resp, err := api.Enroll(ctx, write, key, proofgrid.EnrollRequest{Name: "m-" + role, Role: role, ClusterID: cluster, AgentVersion: "test"})
		if err != nil {
			t.Fatalf("enroll: %v", err)
		}
		return resp.MachineID, key
	}
	id, key := enroll(proofgrid.RoleProver, clusters[0].UUID)

	var out struct {
		ProofID int64 `json:"proof_id"`
	}
	if err := api.DoSigned(ctx, http.MethodPost, "/api/v0/proofs/queued", id, key, map[string]any{"block_number": 5, "cluster_id": clusters[0].ID}, &out); err != nil || out.ProofID == 0 {
		t.Fatalf("signed queued report = %+v %v", out, err)
	}
	err = api.DoSigned(ctx, http.MethodPost, "/api/v0/proofs/queued", id, key, map[string]any{"block_number": 5, "cluster_id": clusters[1].ID}, &out)
	if proofgrid.ErrorCode(err) != proofgrid.EFORBIDDEN {
		t.Fatalf("report for another cluster: %v", err)
	}
	var listed []map[string]any
	if err := api.DoSigned(ctx, http.MethodGet, "/api/v0/clusters", id, key, nil, &listed); err != nil || len(listed) != 2 {
		t.Fatalf("signed cluster list = %v %v", listed, err)
	}
	err = api.DoSigned(ctx, http.MethodPost, "/api/v0/clusters", id, key, map[string]any{"name": "x", "zkvm_version_id": 1}, nil)
	if proofgrid.ErrorCode(err) != proofgrid.EUNAUTHORIZED {
		t.Fatalf("agent creating a cluster: %v", err)
	}
	var rec struct {
		Recorded bool `json:"recorded"`
	}
	failure := map[string]any{"block_number": 5, "cluster_id": clusters[0].ID, "status": "Cancelled", "attempt": 0,
		"started_at": time.Now().Add(-time.Second).Format(time.RFC3339Nano), "error": "shutting down"}
	for i, want := range []bool{true, false} {
		if err := api.DoSigned(ctx, http.MethodPost, "/api/v0/worker-events", id, key, failure, &rec); err != nil || rec.Recorded != want {
			t.Fatalf("failure report %d = %+v %v", i, rec, err)
		}
	}
	failure["status"] = "Completed"
	if err := api.DoSigned(ctx, http.MethodPost, "/api/v0/worker-events", id, key, failure, &rec); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
		t.Fatalf("completed via the failure endpoint: %v", err)
	}
	evs, err := env.Coordinator.DB.WorkerEvents(ctx, storage.WorkerEventFilter{Status: storage.WorkerEventCancelled})
	if err != nil || len(evs) != 1 || evs[0].MachineID != id || evs[0].Error != "shutting down" || evs[0].Topic != "prove:block" {
		t.Fatalf("worker events = %+v %v", evs, err)
	}

	if !c.own.covered["POST /worker-events"] {
		t.Error("POST /worker-events was not checked against proofgrid's document")
	}

	avsID, avsKey := enroll(proofgrid.RoleAVS, "")
	err = api.DoSigned(ctx, http.MethodGet, "/api/v0/clusters", avsID, avsKey, nil, &listed)
	if proofgrid.ErrorCode(err) != proofgrid.EFORBIDDEN {
		t.Fatalf("AVS agent on the Ethproofs API: %v", err)
	}
	// A forged signature is refused.
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	err = api.DoSigned(ctx, http.MethodGet, "/api/v0/clusters", id, stranger, nil, &listed)
	if proofgrid.ErrorCode(err) != proofgrid.EUNAUTHORIZED {
		t.Fatalf("forged signature: %v", err)
	}
}
