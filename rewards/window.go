package rewards

import (
	"fmt"
	"time"
)

// Rule cuts time into checkpoints. A checkpoint is a half-open interval
// [Start, End) of event end times; ids grow with time.
type Rule interface {
	// Of returns the id of the checkpoint that holds t.
	Of(t time.Time) int64
	// Bounds returns the interval of checkpoint id.
	Bounds(id int64) (start, end time.Time)
}

// Window is the default Rule: fixed windows of Length, counted from Origin
// (the Unix epoch when zero), so checkpoint n covers
// [Origin + n·Length, Origin + (n+1)·Length).
type Window struct {
	Length time.Duration
	Origin time.Time
}

// DefaultWindow is the checkpoint length when none is configured.
const DefaultWindow = 10 * time.Minute

// NewWindow returns a Window, checking that length is a whole number of
// seconds of at least one second, so that ids are the same on every
// replica whatever its clock's sub-second part.
func NewWindow(length time.Duration, origin time.Time) (Window, error) {
	if length == 0 {
		length = DefaultWindow
	}
	if length < time.Second || length%time.Second != 0 {
		return Window{}, fmt.Errorf("rewards: checkpoint length %v must be a whole number of seconds", length)
	}
	return Window{Length: length, Origin: origin.UTC()}, nil
}

// Of implements Rule. Times before Origin belong to negative ids.
func (w Window) Of(t time.Time) int64 {
	d := t.Sub(w.origin())
	n := int64(d / w.Length)
	if d < 0 && d%w.Length != 0 {
		n--
	}
	return n
}

// Bounds implements Rule.
func (w Window) Bounds(id int64) (time.Time, time.Time) {
	start := w.origin().Add(time.Duration(id) * w.Length)
	return start, start.Add(w.Length)
}

func (w Window) origin() time.Time {
	if w.Origin.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return w.Origin
}
