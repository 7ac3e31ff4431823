package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/queue"
)

// The retry rule as the package doc writes it: input and state codes are
// permanent, infrastructure failures are retried.
func TestPermanentMapsCodesAsDocumented(t *testing.T) {
	permanent := []string{
		proofgrid.EINVALID, proofgrid.EUNPROCESSABLE, proofgrid.EFORBIDDEN, proofgrid.ENOTFOUND,
		proofgrid.ECONFLICT, proofgrid.ETOOLARGE, proofgrid.EUNSUPPORTED,
	}
	retried := []string{proofgrid.EUNAUTHORIZED, proofgrid.ERATELIMIT, proofgrid.EUNAVAILABLE, proofgrid.EINTERNAL}
	for _, code := range permanent {
		err := fmt.Errorf("handler: %w", proofgrid.Errorf(code, "x"))
		if !queue.Permanent(err) {
			t.Errorf("%s: not permanent", code)
		}
		if got := queue.Classify(err); !errors.Is(got, asynq.SkipRetry) || proofgrid.ErrorCode(got) != code {
			t.Errorf("%s: Classify = %v; want SkipRetry keeping the code", code, got)
		}
	}
	for _, code := range retried {
		err := fmt.Errorf("handler: %w", proofgrid.Errorf(code, "x"))
		if queue.Permanent(err) || errors.Is(queue.Classify(err), asynq.SkipRetry) {
			t.Errorf("%s: permanent; want retried", code)
		}
	}
	for _, err := range []error{errors.New("connection refused"), context.DeadlineExceeded, context.Canceled} {
		if queue.Permanent(err) || queue.Classify(err) != err {
			t.Errorf("%v: classified as permanent; want it returned unchanged", err)
		}
	}
	if queue.Permanent(nil) || queue.Classify(nil) != nil {
		t.Error("nil is classified")
	}
	// An error that already skips retries (Decode's) is kept as it is.
	decodeErr := fmt.Errorf("bad payload: %w", asynq.SkipRetry)
	if !queue.Permanent(decodeErr) || queue.Classify(decodeErr) != decodeErr {
		t.Errorf("SkipRetry error: Permanent %v, Classify %v", queue.Permanent(decodeErr), queue.Classify(decodeErr))
	}
}

// Classified applies the rule to whatever a mux's handlers return.
func TestClassifiedMiddleware(t *testing.T) {
	mux := asynq.NewServeMux()
	mux.Use(queue.Classified)
	mux.HandleFunc("test:gone", func(context.Context, *asynq.Task) error {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "gone")
	})
	mux.HandleFunc("test:down", func(context.Context, *asynq.Task) error { return errors.New("database is down") })
	if err := mux.ProcessTask(context.Background(), asynq.NewTask("test:gone", nil)); !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("ENOTFOUND through the middleware: %v; want SkipRetry", err)
	}
	if err := mux.ProcessTask(context.Background(), asynq.NewTask("test:down", nil)); err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Errorf("infrastructure error through the middleware: %v; want retried", err)
	}
}

// TestRetryDelay: a task whose worker died is retried after a second; any
// other failure backs off as asynq's default does.
func TestRetryDelay(t *testing.T) {
	task := asynq.NewTask(queue.TypeProveBlock, nil)
	if d := queue.RetryDelay(3, asynq.ErrLeaseExpired, task); d != time.Second {
		t.Fatalf("lease expired: retry after %v, want 1s", d)
	}
	if d := queue.RetryDelay(3, fmt.Errorf("wrapped: %w", asynq.ErrLeaseExpired), task); d != time.Second {
		t.Fatalf("wrapped lease expiry: retry after %v, want 1s", d)
	}
	if d := queue.RetryDelay(3, errors.New("database is down"), task); d < 15*time.Second {
		t.Fatalf("other failure: retry after %v, want asynq's backoff (at least 15s)", d)
	}
}
