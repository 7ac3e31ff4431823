package ethproofs_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent/prover"
	pgclient "github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/zkvm"
)

// statusRecorder remembers the HTTP status of the last response.
type statusRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	last int
}

func (s *statusRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(r)
	if err == nil {
		s.mu.Lock()
		s.last = resp.StatusCode
		s.mu.Unlock()
	}
	return resp, err
}

func (s *statusRecorder) status() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// TestAgentReportTypes sends every report a prover agent makes, built
// with the client package's types, to the real handlers, reads the
// results back with the same types, and checks that a misspelled member
// in an agent's report is refused with 400 instead of being ignored.
func TestAgentReportTypes(t *testing.T) {
	for _, dialect := range []string{storage.DialectSQLite, storage.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) { testAgentReportTypes(t, dialect) })
	}
}

func testAgentReportTypes(t *testing.T, dialect string) {
	env, c := startCoordinator(t, dialect, func(cfg *coordinator.Config) { cfg.Ethproofs.RateLimit = 100000 })
	write := env.Token("alpha", "write")
	read := env.Token("alpha", "read")
	admin := env.OperatorToken("ops")
	cl := createCluster(t, c, write, "typed")
	recordBlock(t, c, admin, 5)

	ctx := context.Background()
	rec := &statusRecorder{next: c.transport()}
	api, err := pgclient.New(env.URL, pgclient.Options{HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	enrolled, err := api.Enroll(ctx, write, key, proofgrid.EnrollRequest{Name: "typed", Role: proofgrid.RoleProver, ClusterID: cl.UUID, AgentVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	id := enrolled.MachineID
	post := func(path string, in, out any) error {
		return api.DoSigned(ctx, http.MethodPost, path, id, key, in, out)
	}
	get := func(path string, out any) {
		t.Helper()
		if err := api.DoSigned(ctx, http.MethodGet, path, id, key, nil, out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}

	var clusters []pgclient.Cluster
	get(pgclient.PathClusters, &clusters)
	if len(clusters) != 1 || clusters[0].UUID != cl.UUID || clusters[0].ID != cl.Index || clusters[0].ClusterVersion == nil || clusters[0].ClusterVersion.ID != cl.Version {
		t.Fatalf("clusters = %+v, want %+v", clusters, cl)
	}
	var block pgclient.Block
	get(pgclient.PathBlocks+"5", &block)
	if block.BlockNumber != 5 || block.Hash != blockHash(5) {
		t.Fatalf("block = %+v", block)
	}

	var first pgclient.ReportResponse
	for _, path := range []string{pgclient.PathProofsQueued, pgclient.PathProofsProving} {
		var out pgclient.ReportResponse
		if err := post(path, pgclient.ProofReport{BlockNumber: 5, ClusterID: cl.Index}, &out); err != nil || out.ProofID == 0 {
			t.Fatalf("POST %s = %+v %v", path, out, err)
		}
		if first.ProofID != 0 && out.ProofID != first.ProofID {
			t.Fatalf("POST %s made proof %d, want %d", path, out.ProofID, first.ProofID)
		}
		first = out
	}

	// A misspelled member of an agent's report is refused, whatever the
	// report, and changes nothing.
	misspelled := []struct {
		path string
		body map[string]any
		bad  string
	}{
		{pgclient.PathProofsQueued, map[string]any{"block_number": 5, "cluster_id": cl.Index, "clusterid": cl.Index}, "clusterid"},
		{pgclient.PathProofsProved, map[string]any{"block_number": 5, "cluster_id": cl.Index, "proving_time": 12,
			"proof": "cHJvb2Y=", "verifer_id": "vk"}, "verifer_id"},
		{pgclient.PathWorkerEvents, map[string]any{"block_number": 5, "cluster_id": cl.Index, "status": pgclient.JobFailed, "eror": "x"}, "eror"},
	}
	for _, m := range misspelled {
		err := post(m.path, m.body, nil)
		if proofgrid.ErrorCode(err) != proofgrid.EINVALID || rec.status() != http.StatusBadRequest || !strings.Contains(err.Error(), m.bad) {
			t.Errorf("POST %s with %q = %d %v; want 400 naming the member", m.path, m.bad, rec.status(), err)
		}
	}
	// Clients written for Ethproofs, with an API key, keep the Ethproofs
	// rule: unknown members are ignored.
	wantStatus(t, c.postJSON(pgclient.PathProofsQueued, write, map[string]any{"block_number": 6, "cluster_id": cl.Index, "extra": true}), 200)

	proof := []byte("a proof with \x00 binary \xff bytes")
	proved := pgclient.ProvedReport{BlockNumber: 5, ClusterID: cl.Index, ProvingTime: 1234.4, ProvingCycles: 987654321, Proof: proof, VerifierID: "vk-typed"}
	var out pgclient.ReportResponse
	if err := post(pgclient.PathProofsProved, proved, &out); err != nil || out.ProofID != first.ProofID {
		t.Fatalf("proved report = %+v %v; want proof %d", out, err, first.ProofID)
	}
	var list pgclient.ProofList
	get(pgclient.PathProofs+query("block", "5", "clusters", cl.UUID), &list)
	if len(list.Proofs) != 1 || list.TotalCount != 1 {
		t.Fatalf("proofs = %+v", list)
	}
	p := list.Proofs[0]
	if p.ProofID != out.ProofID || p.ProofStatus != "proved" || p.ClusterID != cl.Index || p.ClusterVersion.ID != cl.Version ||
		p.ClusterVersion.ClusterID != cl.UUID || p.ProvingCycles == nil || *p.ProvingCycles != 987654321 ||
		p.ProvingTime == nil || *p.ProvingTime != 1234 || p.VerifierID == nil || *p.VerifierID != "vk-typed" ||
		p.SizeBytes == nil || *p.SizeBytes != int64(len(proof)) || p.Block.Hash != blockHash(5) {
		t.Fatalf("proof = %+v", p)
	}
	r := c.getJSON(fmt.Sprintf("/api/v0/proofs/download/%d", p.ProofID), read)
	if r.status != 200 || !bytes.Equal(r.body, proof) {
		t.Fatalf("downloaded proof = %d %q, want %q", r.status, r.body, proof)
	}

	failure := pgclient.FailureReport{BlockNumber: 6, ClusterID: cl.Index, Status: pgclient.JobFailed, Attempt: 2,
		StartedAt: time.Now().Add(-3 * time.Second).UTC(), EndedAt: time.Now().UTC(), Error: "zkvm: prover of block 6 exited with status 3"}
	for i, want := range []bool{true, false} {
		var fr pgclient.FailureResponse
		if err := post(pgclient.PathWorkerEvents, failure, &fr); err != nil || fr.Recorded != want {
			t.Fatalf("failure report %d = %+v %v", i, fr, err)
		}
	}
	evs, err := env.Coordinator.DB.WorkerEvents(ctx, storage.WorkerEventFilter{Status: storage.WorkerEventFailed, Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].Error != failure.Error || evs[0].MachineID != id || evs[0].DurationMS < 2900 {
		t.Fatalf("failure events = %+v %v", evs, err)
	}
}

// TestClusterVKPathChecked checks that PATCH /clusters refuses vk_path
// values a prover command would read as an option or a path outside its
// keys, and accepts relative names.
func TestClusterVKPathChecked(t *testing.T) {
	env, c := startCoordinator(t, storage.DialectSQLite, nil)
	write := env.Token("alpha", "write")
	cl := createCluster(t, c, write, "keys")
	path := fmt.Sprintf("/api/v0/clusters/%d", cl.Index)
	for _, bad := range []string{"-o/tmp/x", "--help", "/etc/passwd", "../other_team.bin", "keys/../../x", "a\x00b", "a\nb", "a\x1bb"} {
		r := c.patchJSON(path, write, map[string]any{"vk_path": bad})
		if r.status != 400 || !strings.Contains(r.errorMessage(t), "vk_path") {
			t.Errorf("PATCH vk_path %q = %d %s; want 400", bad, r.status, r.body)
		}
	}
	wantStatus(t, c.patchJSON(path, write, map[string]any{"vk_path": "keys/alpha_sp1.bin"}), 200)
	var clusters []pgclient.Cluster
	c.getJSON("/api/v0/clusters", write).json(t, &clusters)
	if len(clusters) != 1 || clusters[0].ClusterVersion == nil || clusters[0].ClusterVersion.VKPath == nil || *clusters[0].ClusterVersion.VKPath != "keys/alpha_sp1.bin" {
		t.Fatalf("clusters = %+v", clusters)
	}
}

// TestProverOutputStaysPrivate runs an agent whose exec prover prints a
// secret on stderr and fails: the public worker events, and the task's
// error in the queue, say how the prover ended without the secret.
func TestProverOutputStaysPrivate(t *testing.T) {
	const marker = "SECRET-MARKER-7f3a9c"
	env, c := startCoordinator(t, storage.DialectSQLite, func(cfg *coordinator.Config) { cfg.Ethproofs.RateLimit = 100000 })
	write := env.Token("alpha", "write")
	admin := env.OperatorToken("ops")
	cl := createCluster(t, c, write, "leaky")

	script := filepath.Join(t.TempDir(), "prove.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"api key: "+marker+"\" >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	startAgent(t, env, write, "leaky-1", cl.UUID, prover.Exec{Prover: zkvm.ExecProver{Command: []string{script, "{block_number}"}}}, 1)
	recordBlock(t, c, admin, 1)

	ctx := context.Background()
	var evs []storage.WorkerEvent
	waitFor(t, 60*time.Second, "the failed job's worker event", func() bool {
		var err error
		evs, err = env.Coordinator.DB.WorkerEvents(ctx, storage.WorkerEventFilter{Status: storage.WorkerEventFailed, Limit: 10})
		return err == nil && len(evs) > 0
	})
	if want := "zkvm: prover of block 1 exited with status 3"; !strings.Contains(evs[0].Error, want) {
		t.Errorf("event error = %q, want it to say %q", evs[0].Error, want)
	}
	// The Psy surface serves worker events to everyone.
	resp, err := http.Get(env.URL + "/worker_events?status=Failed")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !bytes.Contains(body, []byte("exited with status 3")) {
		t.Fatalf("GET /worker_events = %d %s %v", resp.StatusCode, body, err)
	}
	if bytes.Contains(body, []byte(marker)) {
		t.Fatalf("GET /worker_events shows what the prover printed: %s", body)
	}
	var lastErr string
	waitFor(t, 10*time.Second, "the task's error", func() bool {
		info, err := env.Coordinator.Inspector.GetTaskInfo(queue.ProveQueue(cl.UUID), queue.ProveBlockID(1, cl.Version))
		if err == nil {
			lastErr = info.LastErr
		}
		return lastErr != ""
	})
	if strings.Contains(lastErr, marker) || !strings.Contains(lastErr, "exited with status 3") {
		t.Fatalf("task error = %q; want how the prover ended, without its output", lastErr)
	}
}
