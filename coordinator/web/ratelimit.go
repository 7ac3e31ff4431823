package web

import (
	"log/slog"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/ratelimit"
)

// RateLimit is the rate-limit middleware of every surface: it counts the
// request against a key, sets X-RateLimit-Limit, -Remaining and -Reset,
// and refuses the request with ERATELIMIT and Retry-After when the key's
// window is full.
//
// It fails open: when Redis cannot be asked, the request goes through
// without the headers, and a warning is logged (at most once a minute,
// with the number of requests admitted unchecked since the last one).
// The limiter guards against abuse and is not worth an outage: Redis down
// already stops the queues, and refusing every request would stop the
// read routes as well, which the database alone still serves.
type RateLimit struct {
	Limiter *ratelimit.Limiter
	// Key names what the request counts against (default "ip:" and the
	// client address). It runs after any authentication before the
	// middleware, so it may use the caller.
	Key func(c *fiber.Ctx) string
	// Prefix starts every key, to keep surfaces apart (e.g. "psy:").
	Prefix string
	// FormatReset writes X-RateLimit-Reset (default Unix seconds, rounded
	// up so that a client waiting until then never comes back early).
	FormatReset func(time.Time) string
	// Refuse is the error of a refused request (default "rate limit of N
	// requests per WINDOW exceeded"); the surface's upstream API may word
	// it differently.
	Refuse func(ratelimit.Result, time.Duration) error
	Logger *slog.Logger
}

// Handler returns the middleware; with a nil Limiter it admits everything.
func (r RateLimit) Handler() fiber.Handler {
	if r.Limiter == nil {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	if r.Key == nil {
		r.Key = func(c *fiber.Ctx) string { return "ip:" + c.IP() }
	}
	if r.FormatReset == nil {
		r.FormatReset = func(t time.Time) string {
			return strconv.FormatInt(int64(math.Ceil(float64(t.UnixMilli())/1000)), 10)
		}
	}
	if r.Refuse == nil {
		r.Refuse = func(res ratelimit.Result, window time.Duration) error {
			return proofgrid.Errorf(proofgrid.ERATELIMIT, "rate limit of %d requests per %v exceeded", res.Limit, window)
		}
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	var lastLog, unchecked atomic.Int64
	return func(c *fiber.Ctx) error {
		res, err := r.Limiter.Allow(c.UserContext(), r.Prefix+r.Key(c))
		if err != nil {
			n := unchecked.Add(1)
			now, last := time.Now().UnixNano(), lastLog.Load()
			if now-last >= int64(time.Minute) && lastLog.CompareAndSwap(last, now) {
				unchecked.Add(-n)
				r.Logger.Warn("rate limit unavailable; admitting requests unchecked", "error", err, "unchecked", n)
			}
			return c.Next()
		}
		c.Set("X-RateLimit-Limit", strconv.Itoa(res.Limit))
		c.Set("X-RateLimit-Remaining", strconv.Itoa(res.Remaining))
		c.Set("X-RateLimit-Reset", r.FormatReset(res.Reset))
		if !res.Allowed {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(res.RetryAfter.Seconds()))))
			return r.Refuse(res, r.Limiter.Window())
		}
		return c.Next()
	}
}
