package queue

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid"
)

// permanentCodes are the error codes that say the input or the state is
// wrong, which no retry of the same task changes. The package doc explains
// the rule.
var permanentCodes = map[string]bool{
	proofgrid.EINVALID:       true,
	proofgrid.EUNPROCESSABLE: true,
	proofgrid.EFORBIDDEN:     true,
	proofgrid.ENOTFOUND:      true,
	proofgrid.ECONFLICT:      true,
	proofgrid.ETOOLARGE:      true,
	proofgrid.EUNSUPPORTED:   true,
}

// Permanent reports whether a task that failed with err would fail the
// same way on every retry: err wraps asynq.SkipRetry, or a *proofgrid.Error
// in its chain has a code of the input or the state (EINVALID, ENOTFOUND,
// ECONFLICT, ...). Errors without a code are infrastructure failures and
// are not permanent.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, asynq.SkipRetry) {
		return true
	}
	var pe *proofgrid.Error
	return errors.As(err, &pe) && permanentCodes[pe.Code]
}

// Classify returns err wrapped with asynq.SkipRetry when it is Permanent,
// so asynq archives the task at once, and err unchanged otherwise (nil
// included), so asynq retries it.
func Classify(err error) error {
	if err == nil || errors.Is(err, asynq.SkipRetry) || !Permanent(err) {
		return err
	}
	return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
}

// Classified is asynq middleware that passes the error of every handler
// of a mux through Classify: handlers return plain errors and the retry
// rule stays in one place.
func Classified(h asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		return Classify(h.ProcessTask(ctx, t))
	})
}

// RetryDelay is the retry delay of every asynq server of proofgrid. A task
// whose worker died (its lease expired: a killed agent or coordinator) is
// retried after a second, because nothing about the task itself failed and
// another worker is usually idle; any other failure backs off as asynq's
// default does (n⁴ + 15 s, plus up to 29 s × (n+1) of jitter), so a failing
// dependency is not hammered. The jitter comes from the task's type,
// payload and n rather than from a random source: it still spreads tasks
// apart, and Failures can log when a failed attempt runs again, because
// the same inputs give the same delay.
func RetryDelay(n int, err error, t *asynq.Task) time.Duration {
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return time.Second
	}
	h := fnv.New64a()
	h.Write([]byte(t.Type()))
	h.Write([]byte{0})
	h.Write(t.Payload())
	h.Write([]byte(strconv.Itoa(n)))
	jitter := int(h.Sum64() % 30)
	n = max(n, 0)
	return time.Duration(n*n*n*n+15+jitter*(n+1)) * time.Second
}
