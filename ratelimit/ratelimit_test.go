package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/internal/clocktest"
	"github.com/proofgrid/proofgrid/queue/queuetest"
	"github.com/proofgrid/proofgrid/ratelimit"
)

func TestSlidingWindow(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	clk := clocktest.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	l := ratelimit.New(r.Client(), ratelimit.Config{Limit: 3, Window: time.Minute, Now: clk.Now})
	ctx := context.Background()
	for i := range 3 {
		res, err := l.Allow(ctx, "k")
		if err != nil || !res.Allowed || res.Remaining != 2-i {
			t.Fatalf("request %d = %+v %v", i, res, err)
		}
		clk.Advance(10 * time.Second)
	}
	res, err := l.Allow(ctx, "k")
	if err != nil || res.Allowed || res.Remaining != 0 {
		t.Fatalf("fourth request = %+v %v, want refused", res, err)
	}
	// The first request was at t0; it leaves the window at t0+60s, 30 s
	// from now.
	if res.RetryAfter != 30*time.Second || !res.Reset.Equal(time.Date(2025, 1, 1, 0, 1, 0, 0, time.UTC)) {
		t.Fatalf("refusal = %+v", res)
	}
	if other, _ := l.Allow(ctx, "other"); !other.Allowed {
		t.Fatal("another key shares the window")
	}
	clk.Advance(30 * time.Second)
	if res, err := l.Allow(ctx, "k"); err != nil || !res.Allowed || res.Remaining != 0 {
		t.Fatalf("after the oldest left = %+v %v", res, err)
	}
	if res, _ := l.Allow(ctx, "k"); res.Allowed {
		t.Fatal("window admitted more than its limit")
	}
}

// TestReplicasShareTheWindow runs two limiters, as two replicas would, on
// one Redis and many goroutines: exactly the limit is admitted.
func TestReplicasShareTheWindow(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	a := ratelimit.New(r.Client(), ratelimit.Config{Limit: 60})
	b := ratelimit.New(r.Client(), ratelimit.Config{Limit: 60})
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Go(func() {
			res, err := l.Allow(context.Background(), "shared")
			if err != nil {
				t.Error(err)
			}
			if res.Allowed {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	if n := admitted.Load(); n != 60 {
		t.Fatalf("admitted %d requests, want 60", n)
	}
}

func TestRedisDown(t *testing.T) {
	r := queuetest.StartRedis(t, queuetest.Options{})
	c := r.Client()
	l := ratelimit.New(c, ratelimit.Config{})
	r.Stop()
	if _, err := l.Allow(context.Background(), "k"); err == nil {
		t.Fatal("Allow without Redis returned no error")
	}
}
