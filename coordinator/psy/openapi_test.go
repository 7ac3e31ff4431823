package psy_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	claimsapi "github.com/proofgrid/proofgrid/coordinator/claims"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
)

// psyOperation reports whether op ("GET /path") is one of the Psy
// routes of the root document; the others (claims, Pool, /health) are
// exercised by their own packages.
func psyOperation(op string) bool {
	_, path, _ := strings.Cut(op, " ")
	for _, p := range []string{"/register", "/user_info", "/worker_events", "/user_events", "/stats", "/rewards",
		"/leaderboard/", "/checkpoint/", "/admin/checkpoint", "/contracts", "/ingest/", "/ws/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// notSucceeded are Psy operations no test of this package answers with
// success through the checked transport: /ws/tps upgrades to a
// WebSocket (TestTPSWebSocket dials it directly).
var notSucceeded = []string{"GET /ws/tps"}

// TestMain checks every response of the package's tests against the
// root OpenAPI document, and, when the whole suite ran, that every Psy
// operation in it answered with success at least once.
func TestMain(m *testing.M) {
	check, err := coordinatortest.NewOpenAPICheck(claimsapi.OpenAPIDocument, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The Ethproofs and agent routes some tests use to record blocks and
	// jobs are outside this document.
	restore := check.Ignore("/api/v0/", "/proofgrid/").Install()
	flag.Parse()
	code := m.Run()
	restore()
	skip := append([]string{}, notSucceeded...)
	for _, op := range check.Unexercised() {
		if !psyOperation(op) {
			skip = append(skip, op)
		}
	}
	if f := flag.Lookup("test.run"); !check.Report(os.Stderr, f == nil || f.Value.String() == "", skip...) && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// TestUserEventAggregationsEmpty checks that the user event aggregations
// of a network without events are an empty list, not null.
func TestUserEventAggregationsEmpty(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: fastPsy()})
	c := client{t, env.URL}
	r := c.get("/user_events_aggregations?bucket=1h", nil)
	c.expect(r, 200)
	if strings.TrimSpace(string(r.body)) != "[]" {
		t.Fatalf("aggregations of no events: %s", r.body)
	}
}
