// Package ratelimit limits requests per key with a sliding window kept in
// Redis, so that every coordinator replica counts against the same window.
//
// Each key has a sorted set of the times of its admitted requests. One Lua
// script drops the times older than the window, counts the rest and admits
// the request when the count is below the limit, atomically, so concurrent
// requests on any replica can never admit more than the limit between them.
// A window holds at most limit entries, so memory per key is bounded.
package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config configures a Limiter. Zero values mean defaults.
type Config struct {
	// Limit is how many requests a key may make per Window (default 60).
	Limit int
	// Window is the sliding window (default 60 s, at least 1 ms).
	Window time.Duration
	// Prefix starts every Redis key (default "proofgrid:ratelimit:").
	Prefix string
	// Now tells the time (default time.Now). Replicas should agree on the
	// time to within a small part of the window (NTP does).
	Now func() time.Time
}

// Limiter admits or refuses requests per key.
type Limiter struct {
	rdb redis.UniversalClient
	cfg Config
}

// Result is the decision about one request.
type Result struct {
	Allowed bool
	// Limit is the configured limit.
	Limit int
	// Remaining is how many more requests the window admits now.
	Remaining int
	// Reset is when the oldest request in the window leaves it, freeing
	// one slot.
	Reset time.Time
	// RetryAfter is how long a refused caller should wait; zero when
	// allowed.
	RetryAfter time.Duration
}

// New returns a Limiter keeping its windows in rdb.
func New(rdb redis.UniversalClient, cfg Config) *Limiter {
	if cfg.Limit <= 0 {
		cfg.Limit = 60
	}
	if cfg.Window < time.Millisecond {
		cfg.Window = time.Minute
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "proofgrid:ratelimit:"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{rdb: rdb, cfg: cfg}
}

// Limit returns the configured limit.
func (l *Limiter) Limit() int { return l.cfg.Limit }

// Window returns the configured window.
func (l *Limiter) Window() time.Duration { return l.cfg.Window }

// slidingWindow returns {allowed (0|1), remaining, reset in ms}.
var slidingWindow = redis.NewScript(`
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, window)
  count = count + 1
  allowed = 1
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local reset = now + window
if oldest[2] then
  reset = tonumber(oldest[2]) + window
end
return {allowed, limit - count, reset}
`)

// Allow decides about one request of key and, when it is admitted,
// counts it. The error is non-nil only when Redis could not be asked; the
// caller decides whether to admit then.
func (l *Limiter) Allow(ctx context.Context, key string) (Result, error) {
	now := l.cfg.Now()
	nowMS := now.UnixMilli()
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Result{}, fmt.Errorf("ratelimit: %w", err)
	}
	// The member must be unique per request: two requests in the same
	// millisecond are two entries.
	member := fmt.Sprintf("%d-%s", nowMS, hex.EncodeToString(id[:]))
	vals, err := slidingWindow.Run(ctx, l.rdb, []string{l.cfg.Prefix + key},
		nowMS, l.cfg.Window.Milliseconds(), l.cfg.Limit, member).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: %w", err)
	}
	if len(vals) != 3 {
		return Result{}, errors.New("ratelimit: unexpected script reply")
	}
	r := Result{
		Allowed:   vals[0] == 1,
		Limit:     l.cfg.Limit,
		Remaining: int(max(vals[1], 0)),
		Reset:     time.UnixMilli(vals[2]),
	}
	if !r.Allowed {
		r.RetryAfter = max(r.Reset.Sub(now), time.Millisecond)
	}
	return r, nil
}
