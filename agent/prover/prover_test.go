package prover_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent/prover"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/zkvm"
)

const clusterUUID = "5f0a2b8e-3c1d-4e6f-9a7b-1c2d3e4f5a6b"

// fakeCoordinator answers the handler's signed requests the way the
// Ethproofs surface does, and records them.
type fakeCoordinator struct {
	mu        sync.Mutex
	calls     []string
	bodies    map[string]map[string]any
	proved    bool            // a proved proof exists already
	conflict  map[string]bool // paths answered 409
	transient int             // remaining 503 answers to proved
	blockHash string
	fail      map[string]error // errors answered to the paths starting with a key
}

func (f *fakeCoordinator) DoSigned(_ context.Context, method, path string, in, out any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method+" "+path)
	if in != nil {
		b, _ := json.Marshal(in)
		var m map[string]any
		json.Unmarshal(b, &m)
		if f.bodies == nil {
			f.bodies = map[string]map[string]any{}
		}
		f.bodies[path] = m
	}
	answer := func(v any) error {
		if out == nil {
			return nil
		}
		b, _ := json.Marshal(v)
		return json.Unmarshal(b, out)
	}
	for prefix, err := range f.fail {
		if strings.HasPrefix(path, prefix) {
			return err
		}
	}
	switch {
	case path == "/api/v0/clusters":
		return answer([]map[string]any{
			{"id": 2, "uuid": "other", "cluster_version": map[string]any{"id": 9}},
			{"id": 3, "uuid": clusterUUID, "is_active": true, "cluster_version": map[string]any{"id": 7, "vk_path": "vk.bin"}},
		})
	case strings.HasPrefix(path, "/api/v0/proofs?"):
		var proofs []any
		if f.proved {
			proofs = append(proofs, map[string]any{"proof_status": "proved", "cluster_version": map[string]any{"id": 7}})
		}
		return answer(map[string]any{"proofs": proofs})
	case strings.HasPrefix(path, "/api/v0/blocks/"):
		return answer(map[string]any{"hash": f.blockHash})
	case f.conflict[path]:
		return proofgrid.Errorf(proofgrid.ECONFLICT, "Proof already proved")
	case path == "/api/v0/proofs/proved" && f.transient > 0:
		f.transient--
		return proofgrid.Errorf(proofgrid.EUNAVAILABLE, "coordinator restarting")
	case strings.HasPrefix(path, "/api/v0/proofs/"), path == "/api/v0/worker-events":
		return answer(map[string]any{"proof_id": 1})
	}
	return proofgrid.Errorf(proofgrid.ENOTFOUND, "no route %s", path)
}

func (f *fakeCoordinator) posted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, "POST ") {
			out = append(out, strings.TrimPrefix(c, "POST /api/v0/"))
		}
	}
	return out
}

func task(t *testing.T, p queue.ProveBlockPayload) *asynq.Task {
	t.Helper()
	return queue.ProveBlock(p).Task()
}

var hash = "0x" + strings.Repeat("ab", 32)

func payload() queue.ProveBlockPayload {
	return queue.ProveBlockPayload{BlockNumber: 42, BlockHash: hash, ClusterID: clusterUUID, ClusterVersionID: 7}
}

func newHandler(f *fakeCoordinator, b prover.Backend) *prover.Handler {
	return prover.NewHandler(prover.Config{ClusterID: clusterUUID, Backend: b, VerifierID: "vk-1", ReportBackoff: 1}, f)
}

func TestProvesAndReports(t *testing.T) {
	f := &fakeCoordinator{}
	if err := newHandler(f, prover.Demo{Steps: 100}).ProcessTask(context.Background(), task(t, payload())); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(f.posted()); got != "[proofs/queued proofs/proving proofs/proved]" {
		t.Fatalf("reports = %s", got)
	}
	body := f.bodies["/api/v0/proofs/proved"]
	if body["cluster_id"].(float64) != 3 || body["block_number"].(float64) != 42 || body["proving_cycles"].(float64) != 100 ||
		body["verifier_id"] != "vk-1" || body["proving_time"].(float64) <= 0 {
		t.Fatalf("proved body = %v", body)
	}
	proof, _ := base64.StdEncoding.DecodeString(body["proof"].(string))
	var h [32]byte
	for i := range h {
		h[i] = 0xab
	}
	if v, err := zkvm.VerifyDemo(context.Background(), proof, 42, h, 1); err != nil || v.Outcome != zkvm.OutcomeValid {
		t.Fatalf("reported proof does not verify: %+v %v", v, err)
	}
}

func TestAlreadyProvedIsNotProvedAgain(t *testing.T) {
	f := &fakeCoordinator{proved: true}
	b := &countingBackend{}
	if err := newHandler(f, b).ProcessTask(context.Background(), task(t, payload())); err != nil {
		t.Fatal(err)
	}
	if b.n != 0 || len(f.posted()) != 0 {
		t.Fatalf("proved again: backend ran %d times, reports %v", b.n, f.posted())
	}
}

func TestConflictsCountAsDone(t *testing.T) {
	for _, path := range []string{"/api/v0/proofs/queued", "/api/v0/proofs/proved"} {
		f := &fakeCoordinator{conflict: map[string]bool{path: true}}
		if err := newHandler(f, prover.Demo{Steps: 1}).ProcessTask(context.Background(), task(t, payload())); err != nil {
			t.Fatalf("409 on %s: %v", path, err)
		}
	}
}

func TestTransientReportFailureIsRetriedInPlace(t *testing.T) {
	f := &fakeCoordinator{transient: 2}
	b := &countingBackend{}
	if err := newHandler(f, b).ProcessTask(context.Background(), task(t, payload())); err != nil {
		t.Fatal(err)
	}
	if b.n != 1 || f.transient != 0 {
		t.Fatalf("backend ran %d times, %d transient answers left", b.n, f.transient)
	}
}

func TestWrongClusterIsNotRetried(t *testing.T) {
	p := payload()
	p.ClusterID = "somebody-else"
	err := newHandler(&fakeCoordinator{}, prover.Demo{}).ProcessTask(context.Background(), task(t, p))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("err = %v, want SkipRetry", err)
	}
	h := prover.NewHandler(prover.Config{ClusterID: "not-listed", Backend: prover.Demo{}}, &fakeCoordinator{})
	p.ClusterID = "not-listed"
	if err := h.ProcessTask(context.Background(), task(t, p)); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("unknown cluster: err = %v, want SkipRetry", err)
	}
}

func TestBackendFailureIsReportedAndRetried(t *testing.T) {
	f := &fakeCoordinator{}
	err := newHandler(f, failing{}).ProcessTask(context.Background(), task(t, payload()))
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	body := f.bodies["/api/v0/worker-events"]
	if body["status"] != "Failed" || !strings.Contains(body["error"].(string), "GPU fell off") || body["cluster_id"].(float64) != 3 {
		t.Fatalf("failure report = %v", body)
	}
	// Cancelled when the agent stops mid-proof.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f = &fakeCoordinator{}
	newHandler(f, failing{}).ProcessTask(ctx, task(t, payload()))
	if f.bodies["/api/v0/worker-events"]["status"] != "Cancelled" {
		t.Fatalf("failure report of a cancelled job = %v", f.bodies["/api/v0/worker-events"])
	}
}

func TestHashFromCoordinator(t *testing.T) {
	p := payload()
	p.BlockHash = ""
	f := &fakeCoordinator{}
	// Unknown everywhere: the demo backend waits for it.
	if err := newHandler(f, prover.Demo{Steps: 1}).ProcessTask(context.Background(), task(t, p)); !errors.Is(err, prover.ErrUnknownHash) {
		t.Fatalf("err = %v, want ErrUnknownHash", err)
	}
	f = &fakeCoordinator{blockHash: hash}
	if err := newHandler(f, prover.Demo{Steps: 1}).ProcessTask(context.Background(), task(t, p)); err != nil {
		t.Fatal(err)
	}
}

func TestExecBackend(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "prove.sh")
	os.WriteFile(script, []byte(`#!/bin/sh
printf 'proof-of-%s-%s' "$1" "$PROOFGRID_VK_PATH" > "$2"
echo '{"proofgrid_result": {"proving_time_ms": 1500, "cycles": 777}}'
`), 0o755)
	b := prover.Exec{Prover: zkvm.ExecProver{Command: []string{script, "{block_number}", "{output}"}}}
	f := &fakeCoordinator{}
	if err := newHandler(f, b).ProcessTask(context.Background(), task(t, payload())); err != nil {
		t.Fatal(err)
	}
	body := f.bodies["/api/v0/proofs/proved"]
	proof, _ := base64.StdEncoding.DecodeString(body["proof"].(string))
	if string(proof) != "proof-of-42-vk.bin" || body["proving_time"].(float64) != 1500 || body["proving_cycles"].(float64) != 777 {
		t.Fatalf("proved body = %v (proof %q)", body, proof)
	}
}

// TestExecFailureOutputStaysLocal checks that what a failing exec prover
// printed reaches the agent's log only: neither the failure report, which
// the coordinator publishes, nor the task's error carries it.
func TestExecFailureOutputStaysLocal(t *testing.T) {
	const marker = "SECRET-MARKER-31c4"
	script := filepath.Join(t.TempDir(), "prove.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho 'token "+marker+"' >&2\nexit 3\n"), 0o755)
	var logs bytes.Buffer
	f := &fakeCoordinator{}
	h := prover.NewHandler(prover.Config{
		ClusterID: clusterUUID, Backend: prover.Exec{Prover: zkvm.ExecProver{Command: []string{script}}},
		ReportBackoff: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}, f)
	err := h.ProcessTask(context.Background(), task(t, payload()))
	if err == nil || strings.Contains(err.Error(), marker) || !strings.Contains(err.Error(), "exited with status 3") {
		t.Fatalf("err = %v", err)
	}
	body := f.bodies["/api/v0/worker-events"]
	if msg, _ := body["error"].(string); msg != "zkvm: prover of block 42 exited with status 3" {
		t.Fatalf("failure report = %v", body)
	}
	if !strings.Contains(logs.String(), marker) {
		t.Errorf("the agent's log lacks the prover's output:\n%s", logs.String())
	}
}

type countingBackend struct{ n int }

func (c *countingBackend) Prove(ctx context.Context, job prover.Job) (prover.Result, error) {
	c.n++
	return prover.Demo{Steps: 1}.Prove(ctx, job)
}

type failing struct{}

func (failing) Prove(ctx context.Context, _ prover.Job) (prover.Result, error) {
	if ctx.Err() != nil {
		return prover.Result{}, ctx.Err()
	}
	return prover.Result{}, errors.New("GPU fell off the bus")
}
