package ethproofs_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/coordinator/ethproofs"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/zkvm"
)

func blockHash(n int) string {
	var b [32]byte
	b[0], b[1], b[31] = byte(n>>8), byte(n), 0x5a
	return "0x" + hex.EncodeToString(b[:])
}

func demoProof(t *testing.T, n int, hash string) []byte {
	t.Helper()
	var h [32]byte
	b, _ := hex.DecodeString(hash[2:])
	copy(h[:], b)
	p, _, err := zkvm.ProveDemo(context.Background(), zkvm.DemoInput{BlockNumber: uint64(n), BlockHash: h, Steps: 2000})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func startCoordinator(t testing.TB, dialect string, configure func(*coordinator.Config)) (*coordinatortest.Env, *client) {
	t.Helper()
	env := coordinatortest.Start(t, coordinatortest.Options{Dialect: dialect, Configure: configure})
	c := &client{
		t:    t,
		base: env.URL,
		seed: loadSpec(t, "the Ethproofs document", readFile(t, "testdata/ethproofs-openapi.json"), env.URL),
		own:  loadSpec(t, "proofgrid's document", ethproofs.OpenAPIDocument, env.URL),
	}
	return env, c
}

// TestAPI walks every endpoint through its success and error paths,
// checking each response against the Ethproofs document and proofgrid's
// own, and finally that every operation of both documents answered with a
// success at least once.
func TestAPI(t *testing.T) {
	for _, dialect := range []string{storage.DialectSQLite, storage.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) { testAPI(t, dialect) })
	}
}

func testAPI(t *testing.T, dialect string) {
	env, c := startCoordinator(t, dialect, func(cfg *coordinator.Config) {
		cfg.Ethproofs.MaxProofBytes = 64 << 10
		cfg.Ethproofs.RateLimit = 100000
	})
	write := env.Token("alpha", "write")
	read := env.Token("alpha", "read")
	admin := env.OperatorToken("operators")
	alphaAdmin := env.Token("alpha", "admin")
	otherWrite := env.Token("beta", "write")

	// Documentation.
	wantStatus(t, c.getJSON("/api/v0/openapi.json", ""), 200)
	docs := c.getJSON("/api/v0/docs", "")
	wantStatus(t, docs, 200)
	if !bytes.Contains(docs.body, []byte("/api/v0/proofs/proved")) {
		t.Fatal("docs page does not list the proof routes")
	}

	// zkVM catalogue.
	var zkvms []struct {
		ID       int64  `json:"id"`
		Slug     string `json:"slug"`
		Versions []struct {
			ID int64 `json:"id"`
		} `json:"versions"`
	}
	r := c.getJSON("/api/v0/zkvms", "")
	wantStatus(t, r, 200)
	r.json(t, &zkvms)
	if len(zkvms) == 0 || zkvms[0].Slug != "proofgrid-demo" {
		t.Fatalf("zkvms = %+v", zkvms)
	}
	demoVersion := zkvms[0].Versions[0].ID
	r = c.do("POST", "/api/v0/zkvms", admin, []byte(`{"zkvms":[{"id":100,"slug":"custom","name":"Custom VM","isa":"risc-v","team_id":"8a0e4f58-77a1-4b8e-9d2c-3f4e5a6b7c8d","versions":[{"id":1000,"version":"v0.1"}]}]}`), "application/json")
	wantStatus(t, r, 200)
	wantStatus(t, c.do("POST", "/api/v0/zkvms", write, []byte(`{"zkvms":[]}`), "application/json"), 403)
	wantStatus(t, c.do("POST", "/api/v0/zkvms", admin, []byte(`{"zkvms":[{"id":0}]}`), "application/json"), 400)

	// Clusters: authentication, validation, creation.
	wantStatus(t, c.postJSON("/api/v0/clusters", "", map[string]any{"name": "x", "zkvm_version_id": demoVersion}), 401)
	wantStatus(t, c.postJSON("/api/v0/clusters", "pg_unknown", map[string]any{"name": "x", "zkvm_version_id": demoVersion}), 401)
	wantStatus(t, c.postJSON("/api/v0/clusters", read, map[string]any{"name": "x", "zkvm_version_id": demoVersion}), 403)
	for _, bad := range []map[string]any{
		{"zkvm_version_id": demoVersion},
		{"name": strings.Repeat("n", 51), "zkvm_version_id": demoVersion},
		{"name": "x"},
		{"name": "x", "zkvm_version_id": 0},
		{"name": "x", "zkvm_version_id": "1"},
		{"name": "x", "zkvm_version_id": demoVersion, "num_gpus": 0},
		{"name": "x", "zkvm_version_id": demoVersion, "num_gpus": 1.5},
		{"name": "x", "zkvm_version_id": demoVersion, "hardware_description": strings.Repeat("h", 201)},
		{"name": "x", "zkvm_version_id": demoVersion, "deployment_type": "basement"},
		{"name": "x", "zkvm_version_id": 999999},
	} {
		r := c.postJSON("/api/v0/clusters", write, bad)
		wantStatus(t, r, 400)
		r.errorMessage(t)
	}
	r = c.do("POST", "/api/v0/clusters", write, []byte(`{"name":`), "application/json")
	wantStatus(t, r, 400)
	r = c.postJSON("/api/v0/clusters", write, map[string]any{"name": "ZKnight-01", "zkvm_version_id": demoVersion, "num_gpus": 8,
		"hardware_description": "8x H100", "deployment_type": "on-prem", "unknown_member": true})
	wantStatus(t, r, 200)
	var created struct{ ID int64 }
	r.json(t, &created)
	if created.ID != 1 {
		t.Fatalf("first cluster index = %d, want 1", created.ID)
	}
	wantStatus(t, c.postJSON("/api/v0/clusters", otherWrite, map[string]any{"name": "beta-1", "zkvm_version_id": demoVersion}), 200)

	var clusters []struct {
		ID             int64  `json:"id"`
		Name           string `json:"name"`
		UUID           string `json:"uuid"`
		ClusterVersion struct {
			ID    int64 `json:"id"`
			Index int64 `json:"index"`
		} `json:"cluster_version"`
	}
	r = c.getJSON("/api/v0/clusters", read)
	wantStatus(t, r, 200)
	r.json(t, &clusters)
	if len(clusters) != 1 || clusters[0].ID != 1 || clusters[0].UUID == "" || clusters[0].ClusterVersion.Index != 1 {
		t.Fatalf("clusters = %+v", clusters)
	}
	clusterUUID := clusters[0].UUID
	wantStatus(t, c.getJSON("/api/v0/clusters", ""), 401)

	wantStatus(t, c.patchJSON("/api/v0/clusters/1", write, map[string]any{}), 400)
	wantStatus(t, c.patchJSON("/api/v0/clusters/x", write, map[string]any{"name": "y"}), 400)
	wantStatus(t, c.patchJSON("/api/v0/clusters/9", write, map[string]any{"name": "y"}), 404)
	wantStatus(t, c.patchJSON("/api/v0/clusters/1", write, map[string]any{"zkvm_version_id": 999999}), 400)
	wantStatus(t, c.patchJSON("/api/v0/clusters/1", write, map[string]any{"is_active": "yes"}), 400)
	wantStatus(t, c.patchJSON("/api/v0/clusters/1", read, map[string]any{"name": "y"}), 403)
	wantStatus(t, c.patchJSON("/api/v0/clusters/1", write, map[string]any{"name": "ZKnight-01b", "vk_path": "alpha_key.bin"}), 200)
	r = c.getJSON("/api/v0/clusters", read)
	r.json(t, &clusters)
	if clusters[0].Name != "ZKnight-01b" || clusters[0].ClusterVersion.Index != 2 {
		t.Fatalf("after PATCH: %+v, want a new cluster version", clusters[0])
	}

	// Blocks.
	hash := blockHash(100)
	wantStatus(t, c.postJSON("/api/v0/blocks", write, map[string]any{"block_number": 100}), 403)
	wantStatus(t, c.postJSON("/api/v0/blocks", admin, map[string]any{"block_number": -1}), 400)
	wantStatus(t, c.postJSON("/api/v0/blocks", admin, map[string]any{"block_number": 100, "hash": "0x12"}), 400)
	r = c.postJSON("/api/v0/blocks", admin, map[string]any{"block_number": 100, "hash": hash,
		"timestamp": "2025-01-15T12:00:00Z", "gas_used": 15000000, "transaction_count": 250})
	wantStatus(t, r, 201)
	var recorded struct{ Scheduled int }
	r.json(t, &recorded)
	if recorded.Scheduled != 2 {
		t.Fatalf("scheduled %d prove tasks, want one per active cluster (2)", recorded.Scheduled)
	}
	wantStatus(t, c.postJSON("/api/v0/blocks", admin, map[string]any{"block_number": 100, "hash": hash}), 200)
	var blk struct {
		BlockNumber int64  `json:"block_number"`
		Hash        string `json:"hash"`
		GasUsed     int64  `json:"gas_used"`
	}
	for _, ref := range []string{"100", hash, strings.ToUpper(hash[2:])} {
		if !strings.HasPrefix(ref, "0x") && len(ref) > 10 {
			ref = "0x" + ref
		}
		r = c.getJSON("/api/v0/blocks/"+ref, "")
		wantStatus(t, r, 200)
		r.json(t, &blk)
		if blk.BlockNumber != 100 || blk.Hash != hash || blk.GasUsed != 15000000 {
			t.Fatalf("GET /blocks/%s = %+v", ref, blk)
		}
	}
	for _, bad := range []string{"abc", "-1", "0x123", "99999999999999999999"} {
		r := c.getJSON("/api/v0/blocks/"+bad, "")
		wantStatus(t, r, 400)
		r.errorMessage(t)
	}
	wantStatus(t, c.getJSON("/api/v0/blocks/999", ""), 404)

	// Proof reports.
	proof := demoProof(t, 100, hash)
	proved := map[string]any{"block_number": 100, "cluster_id": 1, "proving_time": 1234.5, "proving_cycles": 2000,
		"proof": base64.StdEncoding.EncodeToString(proof), "verifier_id": "demo-v1"}
	wantStatus(t, c.postJSON("/api/v0/proofs/queued", "", map[string]any{"block_number": 100, "cluster_id": 1}), 401)
	wantStatus(t, c.postJSON("/api/v0/proofs/queued", read, map[string]any{"block_number": 100, "cluster_id": 1}), 403)
	wantStatus(t, c.postJSON("/api/v0/proofs/queued", write, map[string]any{"block_number": 100, "cluster_id": 7}), 404)
	wantStatus(t, c.postJSON("/api/v0/proofs/queued", otherWrite, map[string]any{"block_number": 100, "cluster_id": 2}), 404)
	for _, bad := range []map[string]any{
		{"cluster_id": 1},
		{"block_number": 100},
		{"block_number": -5, "cluster_id": 1},
		{"block_number": "100", "cluster_id": 1},
		{"block_number": 1.5, "cluster_id": 1},
	} {
		wantStatus(t, c.postJSON("/api/v0/proofs/queued", write, bad), 400)
	}
	r = c.postJSON("/api/v0/proofs/queued", write, map[string]any{"block_number": 100, "cluster_id": 1})
	wantStatus(t, r, 200)
	var pid struct {
		ProofID int64 `json:"proof_id"`
	}
	r.json(t, &pid)
	first := pid.ProofID
	r = c.postJSON("/api/v0/proofs/proving", write, map[string]any{"block_number": 100, "cluster_id": 1})
	wantStatus(t, r, 200)
	r.json(t, &pid)
	if pid.ProofID != first {
		t.Fatalf("proving made proof %d, want the queued one %d", pid.ProofID, first)
	}
	for name, edit := range map[string]func(m map[string]any){
		"no proof":          func(m map[string]any) { delete(m, "proof") },
		"no proving_time":   func(m map[string]any) { delete(m, "proving_time") },
		"zero proving_time": func(m map[string]any) { m["proving_time"] = 0 },
		"bad cycles":        func(m map[string]any) { m["proving_cycles"] = 0 },
		"fraction cycles":   func(m map[string]any) { m["proving_cycles"] = 1.5 },
		"not base64":        func(m map[string]any) { m["proof"] = "***" },
		"empty proof":       func(m map[string]any) { m["proof"] = "" },
		"numeric proof":     func(m map[string]any) { m["proof"] = 5 },
	} {
		m := map[string]any{}
		for k, v := range proved {
			m[k] = v
		}
		edit(m)
		r := c.postJSON("/api/v0/proofs/proved", write, m)
		if r.status != 400 {
			t.Fatalf("%s: status %d, want 400: %s", name, r.status, r.body)
		}
	}
	big := map[string]any{"block_number": 100, "cluster_id": 1, "proving_time": 1, "proof": base64.StdEncoding.EncodeToString(make([]byte, 65<<10))}
	r = c.postJSON("/api/v0/proofs/proved", write, big)
	wantStatus(t, r, 413)
	r.errorMessage(t)
	r = c.postJSON("/api/v0/proofs/proved", write, proved)
	wantStatus(t, r, 200)
	r.json(t, &pid)
	if pid.ProofID != first {
		t.Fatalf("proved made proof %d, want %d", pid.ProofID, first)
	}
	for _, path := range []string{"/api/v0/proofs/queued", "/api/v0/proofs/proving", "/api/v0/proofs/proved"} {
		r := c.postJSON(path, write, proved)
		wantStatus(t, r, 409)
		r.errorMessage(t)
	}

	// Listing, filters and the verification the worker ran.
	var list struct {
		Proofs []struct {
			ProofID      int64  `json:"proof_id"`
			ProofStatus  string `json:"proof_status"`
			ClusterID    int64  `json:"cluster_id"`
			SizeBytes    int64  `json:"size_bytes"`
			ProvingTime  int64  `json:"proving_time"`
			ProgramID    int64  `json:"program_id"`
			Verification struct {
				Status  string `json:"status"`
				Flagged bool   `json:"flagged"`
			} `json:"proofgrid_verification"`
			ClusterVersion struct {
				Index int64 `json:"index"`
			} `json:"cluster_version"`
		} `json:"proofs"`
		TotalCount int64 `json:"total_count"`
		Limit      int   `json:"limit"`
		Offset     int   `json:"offset"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = c.getJSON("/api/v0/proofs"+query("block", "100", "clusters", clusterUUID), read)
		wantStatus(t, r, 200)
		r.json(t, &list)
		if len(list.Proofs) == 1 && list.Proofs[0].Verification.Status != "pending" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("proof not verified in time: %s", r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p := list.Proofs[0]
	if p.ProofID != first || p.ProofStatus != "proved" || p.ClusterID != 1 || p.SizeBytes != int64(len(proof)) ||
		p.ProvingTime != 1235 || p.ProgramID == 0 || p.ClusterVersion.Index != 2 || p.Verification.Status != "valid" || p.Verification.Flagged {
		t.Fatalf("listed proof = %+v", p)
	}
	r = c.getJSON("/api/v0/proofs"+query("block", hash, "limit", "1", "offset", "0"), read)
	wantStatus(t, r, 200)
	r.json(t, &list)
	if list.TotalCount != 1 || list.Limit != 1 {
		t.Fatalf("filter by hash = %+v", list)
	}
	r = c.getJSON("/api/v0/proofs", read)
	r.json(t, &list)
	if list.Limit != 100 || list.Offset != 0 {
		t.Fatalf("defaults = limit %d offset %d", list.Limit, list.Offset)
	}
	r = c.getJSON("/api/v0/proofs"+query("clusters", "8a0e4f58-77a1-4b8e-9d2c-3f4e5a6b7c8d"), read)
	r.json(t, &list)
	if list.TotalCount != 0 {
		t.Fatalf("unknown cluster filter = %+v", list)
	}
	// Parameters that break the document's schema are its 422 issue
	// array; the cluster filter, a plain string there, is 400.
	for q, want := range map[string]struct{ code, path string }{
		query("limit", "0"): {"too_small", "limit"}, query("limit", "1001"): {"too_big", "limit"},
		query("offset", "-1"): {"too_small", "offset"}, query("limit", "x"): {"invalid_type", "limit"},
		query("block", "0xzz"): {"invalid_union", "block"},
	} {
		r := c.getJSON("/api/v0/proofs"+q, read)
		wantStatus(t, r, 422)
		var issues []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Path    []any  `json:"path"`
		}
		r.json(t, &issues)
		if len(issues) != 1 || issues[0].Code != want.code || issues[0].Message == "" || len(issues[0].Path) != 1 || issues[0].Path[0] != want.path {
			t.Errorf("GET /proofs%s = %s, want one %s issue at %s", q, r.body, want.code, want.path)
		}
	}
	for _, q := range []string{query("clusters", "not-a-uuid"), query("clusters", clusterUUID+",,")} {
		r := c.getJSON("/api/v0/proofs"+q, read)
		wantStatus(t, r, 400)
		r.errorMessage(t)
	}
	wantStatus(t, c.getJSON("/api/v0/proofs", ""), 401)

	// Downloads.
	r = c.getJSON(fmt.Sprintf("/api/v0/proofs/download/%d", first), read)
	wantStatus(t, r, 200)
	if !bytes.Equal(r.body, proof) || !strings.Contains(r.header.Get("Content-Disposition"), "100_alpha_") {
		t.Fatalf("downloaded proof: %d bytes, disposition %q", len(r.body), r.header.Get("Content-Disposition"))
	}
	wantStatus(t, c.getJSON("/api/v0/proofs/download/999999", read), 404)
	wantStatus(t, c.getJSON("/api/v0/proofs/download/abc", read), 404)
	wantStatus(t, c.getJSON(fmt.Sprintf("/api/v0/proofs/download/%d", first), ""), 401)
	r = c.getJSON("/api/v0/proofs/download/block/"+hash, "")
	wantStatus(t, r, 200)
	wantZip(t, r.body, map[string][]byte{fmt.Sprintf("100_alpha_%d.bin", first): proof})
	wantStatus(t, c.getJSON("/api/v0/proofs/download/block/"+blockHash(7), ""), 404)
	wantStatus(t, c.getJSON("/api/v0/proofs/download/block/0x12", ""), 400)
	r = c.getJSON("/api/v0/proofs/download/cluster/"+clusterUUID+"?limit=500", "")
	wantStatus(t, r, 200)
	wantZip(t, r.body, map[string][]byte{fmt.Sprintf("100_alpha_%d.bin", first): proof})
	wantStatus(t, c.getJSON("/api/v0/proofs/download/cluster/8a0e4f58-77a1-4b8e-9d2c-3f4e5a6b7c8d", ""), 404)
	wantStatus(t, c.getJSON("/api/v0/proofs/download/cluster/nope", ""), 400)

	// CSP benchmarks.
	wantStatus(t, c.upload("/api/v0/csp-benchmarks/upload", write, "bench-2024", []byte(`{}`)), 403)
	wantStatus(t, c.upload("/api/v0/csp-benchmarks/upload", alphaAdmin, "bench-2024", []byte(`{}`)), 403)
	wantStatus(t, c.upload("/api/v0/csp-benchmarks/upload", "", "bench-2024", []byte(`{}`)), 401)
	wantStatus(t, c.upload("/api/v0/csp-benchmarks/upload", admin, "bad name.json", []byte(`{}`)), 400)
	wantStatus(t, c.upload("/api/v0/csp-benchmarks/upload", admin, "", []byte(`{}`)), 400)
	wantStatus(t, c.upload("/api/v0/csp-benchmarks/upload", admin, "bench-2024", nil), 400)
	wantStatus(t, c.upload("/api/v0/csp-benchmarks/upload", admin, "bench-2024", []byte(`not json`)), 400)
	wantStatus(t, c.upload("/api/v0/csp-benchmarks/upload", admin, "bench-2024", bytes.Repeat([]byte(" "), 11<<20)), 413)
	r = c.upload("/api/v0/csp-benchmarks/upload", admin, "collected-benchmarks-2024_01", []byte(`{"rows":[1,2,3]}`))
	wantStatus(t, r, 200)
	var up struct{ Message, Path string }
	r.json(t, &up)
	if up.Path != "collected-benchmarks-2024_01.json" {
		t.Fatalf("upload = %+v", up)
	}
	r = c.getJSON("/api/v0/csp-benchmarks/list", "")
	wantStatus(t, r, 200)
	if !bytes.Contains(r.body, []byte(`"id":"collected-benchmarks-2024_01"`)) {
		t.Fatalf("list = %s", r.body)
	}
	r = c.getJSON("/api/v0/csp-benchmarks/download/collected-benchmarks-2024_01", "")
	wantStatus(t, r, 200)
	if string(r.body) != `{"rows":[1,2,3]}` {
		t.Fatalf("benchmark download = %s", r.body)
	}
	wantStatus(t, c.getJSON("/api/v0/csp-benchmarks/download/missing", ""), 404)

	// Verification keys.
	wantStatus(t, c.upload("/api/v0/verification-keys/upload", write, "alpha_key", []byte("VK")), 403)
	// Keys are the team's: alpha's admin uploads them, not an operator
	// (whose key would be its own team's).
	r = c.upload("/api/v0/verification-keys/upload", alphaAdmin, "alpha_key", []byte("VK-BYTES"))
	wantStatus(t, r, 200)
	r = c.getJSON("/api/v0/verification-keys/active", "")
	wantStatus(t, r, 200)
	var keys []struct {
		ClusterID string `json:"cluster_id"`
		VKBinary  string `json:"vk_binary"`
		Team      string `json:"team"`
	}
	r.json(t, &keys)
	if len(keys) != 1 || keys[0].ClusterID != clusterUUID || keys[0].VKBinary != base64.StdEncoding.EncodeToString([]byte("VK-BYTES")) || keys[0].Team != "alpha" {
		t.Fatalf("active keys = %+v", keys)
	}
	r = c.getJSON(fmt.Sprintf("/api/v0/verification-keys/download/%d", first), admin)
	wantStatus(t, r, 200)
	if string(r.body) != "VK-BYTES" {
		t.Fatalf("key download = %q", r.body)
	}
	wantStatus(t, c.getJSON(fmt.Sprintf("/api/v0/verification-keys/download/%d", first), write), 403)
	wantStatus(t, c.getJSON("/api/v0/verification-keys/download/424242", admin), 404)

	// The failure endpoint is for signed agents only.
	wantStatus(t, c.postJSON("/api/v0/worker-events", write, map[string]any{"block_number": 1, "cluster_id": 1, "status": "Failed"}), 403)

	// Error bodies of Fiber's own errors keep the Ethproofs shape.
	r = c.getJSON("/api/v0/nowhere", "")
	if r.status != 404 || r.errorMessage(t) == "" {
		t.Fatalf("unknown route = %d %s", r.status, r.body)
	}

	for _, s := range []*spec{c.seed, c.own} {
		for _, op := range s.operations() {
			// Only signed agents report failures; TestSignedAgents checks
			// that operation.
			if !s.covered[op] && op != "POST /worker-events" {
				t.Errorf("%s: operation %s never answered with a success", s.name, op)
			}
		}
	}
}

func wantZip(t *testing.T, data []byte, want map[string][]byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	if len(zr.File) != len(want) {
		t.Fatalf("zip holds %d files, want %d", len(zr.File), len(want))
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if w, ok := want[f.Name]; !ok || !bytes.Equal(got, w) {
			t.Fatalf("zip entry %s: %d bytes (want entries %v)", f.Name, len(got), keysOf(want))
		}
	}
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
