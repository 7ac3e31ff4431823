package prover_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/queue"
)

// A block hash that is not 32 hex bytes never becomes one: the task is not
// retried, and the backend never runs.
func TestMalformedBlockHashIsNotRetried(t *testing.T) {
	p := payload()
	p.BlockHash = "0xnothex"
	b := &countingBackend{}
	m := queue.ProveBlock(p)
	err := newHandler(&fakeCoordinator{}, b).ProcessTask(context.Background(), m.Task())
	if !errors.Is(err, asynq.SkipRetry) || proofgrid.ErrorCode(err) != proofgrid.EINVALID {
		t.Fatalf("err = %v, want an EINVALID that skips retries", err)
	}
	if b.n != 0 {
		t.Fatalf("backend ran %d times", b.n)
	}
}
