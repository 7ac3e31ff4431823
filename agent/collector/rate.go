package collector

import "time"

// counterPair holds the two cumulative byte counters of one network
// interface (received, sent) or block device (read, written).
type counterPair struct{ a, b uint64 }

// rateTracker turns cumulative counters into per-second rates averaged
// since the previous call.
type rateTracker struct {
	prev map[string]counterPair
	at   time.Time
}

// update records cur as read at now and returns the rates of both counters
// since the previous update and their current totals. Rates are computed per
// device, so a device that appears, disappears or has its counter reset
// contributes nothing rather than skewing the sum; the first call, or a clock
// that did not move forward, yields zero rates.
func (r *rateTracker) update(now time.Time, cur map[string]counterPair) (rateA, rateB float64, totalA, totalB uint64) {
	var deltaA, deltaB uint64
	for name, c := range cur {
		totalA += c.a
		totalB += c.b
		if p, ok := r.prev[name]; ok {
			deltaA += counterDelta(p.a, c.a)
			deltaB += counterDelta(p.b, c.b)
		}
	}
	if r.prev != nil {
		if secs := now.Sub(r.at).Seconds(); secs > 0 {
			rateA, rateB = float64(deltaA)/secs, float64(deltaB)/secs
		}
	}
	r.prev, r.at = cur, now
	return rateA, rateB, totalA, totalB
}

// counterDelta returns how much a cumulative counter grew. A counter that
// went backwards wrapped or was reset (driver reload, device re-plugged);
// since its width is unknown the growth cannot be recovered, so it counts as
// zero rather than as a huge or negative number.
func counterDelta(prev, cur uint64) uint64 {
	if cur < prev {
		return 0
	}
	return cur - prev
}
