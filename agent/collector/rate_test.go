package collector

import (
	"testing"
	"time"
)

func TestCounterDelta(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur uint64
		want      uint64
	}{
		{"growth", 100, 250, 150},
		{"unchanged", 7, 7, 0},
		{"reset", 1 << 40, 10, 0},
		{"32-bit wrap", 1<<32 - 5, 3, 0},
	}
	for _, tt := range tests {
		if got := counterDelta(tt.prev, tt.cur); got != tt.want {
			t.Errorf("%s: counterDelta(%d, %d) = %d, want %d", tt.name, tt.prev, tt.cur, got, tt.want)
		}
	}
}

func TestRateTracker(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at           time.Duration
		cur          map[string]counterPair
		rateA, rateB float64
		totA, totB   uint64
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first call is zero", []step{
			{0, map[string]counterPair{"eth0": {1000, 500}}, 0, 0, 1000, 500},
		}},
		{"steady growth", []step{
			{0, map[string]counterPair{"eth0": {1000, 500}, "eth1": {0, 0}}, 0, 0, 1000, 500},
			{2 * time.Second, map[string]counterPair{"eth0": {3000, 900}, "eth1": {1000, 100}}, 1500, 250, 4000, 1000},
		}},
		{"reset on one device leaves the other", []step{
			{0, map[string]counterPair{"sda": {5000, 5000}, "sdb": {100, 100}}, 0, 0, 5100, 5100},
			{time.Second, map[string]counterPair{"sda": {10, 20}, "sdb": {300, 600}}, 200, 500, 310, 620},
		}},
		{"new and vanished devices count nothing", []step{
			{0, map[string]counterPair{"veth1": {1 << 30, 1 << 30}}, 0, 0, 1 << 30, 1 << 30},
			{time.Second, map[string]counterPair{"veth2": {1 << 20, 1 << 20}}, 0, 0, 1 << 20, 1 << 20},
		}},
		{"clock not moving forward", []step{
			{time.Second, map[string]counterPair{"eth0": {0, 0}}, 0, 0, 0, 0},
			{0, map[string]counterPair{"eth0": {100, 100}}, 0, 0, 100, 100},
		}},
	}
	for _, tt := range tests {
		var r rateTracker
		for i, s := range tt.steps {
			ra, rb, ta, tb := r.update(t0.Add(s.at), s.cur)
			if ra != s.rateA || rb != s.rateB || ta != s.totA || tb != s.totB {
				t.Errorf("%s, step %d: got rates %v/%v totals %d/%d, want %v/%v %d/%d",
					tt.name, i, ra, rb, ta, tb, s.rateA, s.rateB, s.totA, s.totB)
			}
		}
	}
}
