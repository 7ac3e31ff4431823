package clocktest_test

import (
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/internal/clocktest"
)

func TestStanding(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := clocktest.New(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("Now = %v", c.Now())
	}
	c.Advance(time.Minute)
	if want := t0.Add(time.Minute); !c.Now().Equal(want) {
		t.Fatalf("after Advance: %v, want %v", c.Now(), want)
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("after Set: %v", c.Now())
	}
}

func TestRunning(t *testing.T) {
	c := clocktest.Running()
	if d := time.Since(c.Now()); d < 0 || d > time.Second {
		t.Fatalf("running clock is %v off", d)
	}
	c.Advance(time.Hour)
	if d := time.Until(c.Now()); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("after Advance(1h) the clock leads by %v", d)
	}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Set(t0)
	if d := c.Now().Sub(t0); d < 0 || d > time.Second {
		t.Fatalf("after Set the clock is %v from it", d)
	}
}
