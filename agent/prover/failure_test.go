package prover_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent/prover"
	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/queue"
)

// reports returns the failure reports the handler sent.
func (f *fakeCoordinator) reports() int {
	n := 0
	for _, p := range f.posted() {
		if p == "worker-events" {
			n++
		}
	}
	return n
}

// A delivery that fails before the backend runs is recorded like one that
// fails while proving: one Failed report naming the cluster, and the
// retry rule of the error.
func TestFailureBeforeProvingIsReported(t *testing.T) {
	unknown := payload()
	unknown.BlockHash = ""
	malformed := payload()
	malformed.BlockHash = "0xnothex"
	for _, tc := range []struct {
		name  string
		fail  map[string]error
		p     func() any
		retry bool
		want  string
	}{
		{"proof lookup", map[string]error{"/api/v0/proofs?": proofgrid.Errorf(proofgrid.EINTERNAL, "database is locked")}, nil, true, "database is locked"},
		{"block lookup", map[string]error{"/api/v0/blocks/": proofgrid.Errorf(proofgrid.EUNAVAILABLE, "overloaded")}, func() any { return unknown }, true, "overloaded"},
		{"queued refused", map[string]error{"/api/v0/proofs/queued": proofgrid.Errorf(proofgrid.EINVALID, "cluster is not active")}, nil, false, "cluster is not active"},
		{"proving refused", map[string]error{"/api/v0/proofs/proving": proofgrid.Errorf(proofgrid.EFORBIDDEN, "not yours")}, nil, false, "not yours"},
		{"malformed hash", nil, func() any { return malformed }, false, "malformed hash"},
		{"backend refuses an unknown hash", nil, func() any { return unknown }, true, "hash is not known yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCoordinator{fail: tc.fail}
			b := &countingBackend{}
			p := payload()
			if tc.p != nil {
				p = tc.p().(queue.ProveBlockPayload)
			}
			err := newHandler(f, b).ProcessTask(context.Background(), task(t, p))
			if err == nil || errors.Is(err, asynq.SkipRetry) == tc.retry {
				t.Fatalf("err = %v, want retried %v", err, tc.retry)
			}
			if tc.name != "backend refuses an unknown hash" && b.n != 0 {
				t.Fatalf("backend ran %d times", b.n)
			}
			body := f.bodies["/api/v0/worker-events"]
			if f.reports() != 1 || body["status"] != "Failed" || body["cluster_id"].(float64) != 3 || body["block_number"].(float64) != 42 ||
				!strings.Contains(body["error"].(string), tc.want) {
				t.Fatalf("%d reports, last %v; calls %v", f.reports(), body, f.calls)
			}
		})
	}
}

// A coordinator that cannot be reached cannot record the failure either:
// nothing is sent, and the task is retried.
func TestUnreachableCoordinatorIsNotReported(t *testing.T) {
	down := fmt.Errorf("client: GET /api/v0/proofs: %w: connection refused", client.ErrUnreachable)
	f := &fakeCoordinator{fail: map[string]error{"/api/v0/proofs?": down}}
	err := newHandler(f, &countingBackend{}).ProcessTask(context.Background(), task(t, payload()))
	if !errors.Is(err, client.ErrUnreachable) || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("err = %v, want a retried ErrUnreachable", err)
	}
	if f.reports() != 0 {
		t.Fatalf("sent %d failure reports to a coordinator that is down", f.reports())
	}
}

// A failed cluster lookup is reported under the index an earlier lookup
// found; before any lookup succeeded the cluster cannot be named.
func TestFailedClusterLookupIsReportedOnceKnown(t *testing.T) {
	refused := map[string]error{"/api/v0/clusters": proofgrid.Errorf(proofgrid.EINTERNAL, "database is locked")}
	f := &fakeCoordinator{fail: refused}
	h := newHandler(f, &countingBackend{})
	if err := h.ProcessTask(context.Background(), task(t, payload())); err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("err = %v, want a retried error", err)
	}
	if f.reports() != 0 {
		t.Fatalf("reported a cluster that was never found: %v", f.bodies["/api/v0/worker-events"])
	}
	f.fail = nil
	if err := h.ProcessTask(context.Background(), task(t, payload())); err != nil {
		t.Fatal(err)
	}
	f.fail = refused
	if err := h.ProcessTask(context.Background(), task(t, payload())); err == nil {
		t.Fatal("want an error")
	}
	body := f.bodies["/api/v0/worker-events"]
	if f.reports() != 1 || body["cluster_id"].(float64) != 3 || !strings.Contains(body["error"].(string), "database is locked") {
		t.Fatalf("%d reports, last %v", f.reports(), body)
	}
}

var _ prover.Backend = (*countingBackend)(nil)
