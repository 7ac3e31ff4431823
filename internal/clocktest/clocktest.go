// Package clocktest is the time source of tests: a clock that moves only
// when told, or the real clock shifted by a settable offset. Both are
// safe for concurrent use; pass Clock.Now where a package takes a
// func() time.Time.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a settable time source.
type Clock struct {
	mu      sync.Mutex
	t       time.Time     // a standing clock's time
	offset  time.Duration // a running clock's lead on the real one
	running bool
}

// New returns a clock that stands at t until Set or Advance moves it.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Running returns a clock that follows the real clock; Advance shifts it
// ahead (for tests whose other parts, such as Redis TTLs or another
// process, keep real time).
func Running() *Clock { return &Clock{running: true} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return time.Now().Add(c.offset)
	}
	return c.t
}

// Set moves the clock to t; a running clock goes on from there.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		c.offset = time.Until(t)
		return
	}
	c.t = t
}

// Advance moves the clock d ahead.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		c.offset += d
		return
	}
	c.t = c.t.Add(d)
}
