package auth

import (
	"context"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/redis/go-redis/v9"
)

// ReplayCache remembers (key id, nonce) pairs in Redis for longer than the
// signature window, so a captured request is refused on any coordinator
// replica. SET NX EX makes "first use" atomic.
type ReplayCache struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// NewReplayCache returns a cache keeping nonces for twice the signature
// window (a request is valid ± the window around its timestamp).
func NewReplayCache(rdb redis.UniversalClient, prefix string) *ReplayCache {
	if prefix == "" {
		prefix = "proofgrid:nonce:"
	}
	return &ReplayCache{rdb: rdb, prefix: prefix, ttl: 2*proofgrid.SignatureWindow + time.Minute}
}

// Use records the nonce and fails with EUNAUTHORIZED if it was seen before.
func (r *ReplayCache) Use(ctx context.Context, keyID, nonce string) error {
	ok, err := r.rdb.SetNX(ctx, r.prefix+keyID+":"+nonce, 1, r.ttl).Result()
	if err != nil {
		return proofgrid.Errorf(proofgrid.EUNAVAILABLE, "replay cache unavailable")
	}
	if !ok {
		return proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "replayed request: nonce already used")
	}
	return nil
}
