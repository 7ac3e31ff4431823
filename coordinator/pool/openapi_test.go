package pool_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	claimsapi "github.com/proofgrid/proofgrid/coordinator/claims"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/pool"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// elsewhere are the root document's operations that are not the Pool's:
// the claim and ledger routes and the document itself are exercised by
// coordinator/claims, the Psy routes by coordinator/psy.
func elsewhere(op string) bool {
	for _, p := range []string{" /claims/", " /api/v1/admin/", " /openapi.json", " /docs", " /redoc"} {
		if strings.Contains(op, p) {
			return true
		}
	}
	return !strings.Contains(op, " /api/v1/") && !strings.Contains(op, "coldkey_address") && !strings.Contains(op, "disclaimer") && !strings.HasSuffix(op, " /health")
}

// TestMain checks every response of the package's tests against the
// root OpenAPI document, and, when the whole suite ran, that every Pool
// operation in it answered with success at least once.
func TestMain(m *testing.M) {
	check, err := coordinatortest.NewOpenAPICheck(claimsapi.OpenAPIDocument, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	restore := check.Install()
	flag.Parse()
	code := m.Run()
	restore()
	var skip []string
	for _, op := range check.Unexercised() {
		if elsewhere(op) {
			skip = append(skip, op)
		}
	}
	if f := flag.Lookup("test.run"); !check.Report(os.Stderr, f == nil || f.Value.String() == "", skip...) && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// TestCompatibilityAndEvolveRoutes covers the operations the other tests
// reach only with errors: the /api/v1 compatibility name of the
// recipient update, and an evolve batch's submission.
func TestCompatibilityAndEvolveRoutes(t *testing.T) {
	clk := newClock(vectorTime)
	env := start(t, storagetest.Dialects[0], clk, pool.Config{})
	c := client{t, env.URL}
	m := newSigner(t, 7)
	h := func() map[string]string { return m.headers(t, clk.ts()) }
	c.expect(c.do("POST", "/api/v1/miners/register", nil, h()), 201, "")
	cold := newSigner(t, 8).hotkey
	ts := clk.ts()
	upd := map[string]string{"X-Key": m.hotkey, "X-Timestamp": ts, "X-Signature": m.sign(t, "recipient_coldkey:update:"+ts+":"+cold)}
	got := c.expect(c.do("POST", "/api/v1/miners/coldkey_address/update", map[string]string{"coldkey_address": cold}, upd), 200, "")
	if got["recipient_coldkey"] != cold || got["coldkey_address"] != cold {
		t.Fatalf("update: %v", got)
	}

	// Once the miner has evaluated everything waiting, it is handed an
	// evolve batch.
	batch := c.expect(c.do("POST", "/api/v1/tasks/request", nil, h()), 201, "")
	var evals []map[string]any
	for _, id := range ids(t, batch["algorithms"]) {
		evals = append(evals, map[string]any{"algorithm_id": id, "score": 0.5})
	}
	c.expect(c.do("POST", "/api/v1/tasks/"+batch["batch_id"].(string)+"/submit_evaluation", map[string]any{"evaluations": evals}, h()), 200, "")
	batch = c.expect(c.do("POST", "/api/v1/tasks/request", nil, h()), 201, "")
	if batch["kind"] != "evolve" {
		t.Fatalf("second batch %v, want an evolve batch", batch)
	}
	seeds := ids(t, batch["algorithms"])
	r := c.expect(c.do("POST", "/api/v1/tasks/"+batch["batch_id"].(string)+"/submit_evolution",
		map[string]any{"evolved_function": "def f(x):\n    return x + 1\n", "parent_functions": []any{seeds[0]}}, h()), 200, "")
	if r["kind"] != "evolve" || r["evolutions_accepted"] != float64(1) {
		t.Fatalf("receipt %v", r)
	}
}
