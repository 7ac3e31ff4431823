package zkvm

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// ResultKey names the member of the JSON line by which an exec prover
// reports its own figures on stdout:
//
//	{"proofgrid_result": {"proving_time_ms": 81234.5, "cycles": 1843200000}}
//
// The rules, so that a wrapper script can be written against them:
//
//   - The line is one JSON object on one line of stdout, at most 4096
//     bytes; spaces around it (and a trailing \r) are ignored. Other
//     members next to "proofgrid_result" are ignored. Keys match exactly,
//     case included.
//   - "proofgrid_result" is an object. Its member "proving_time_ms" is a
//     JSON number, fractions allowed, from 0 to 10^12; "cycles" is a JSON
//     integer from 0 to 2^64-1. Either may be left out; unknown members are
//     ignored.
//   - A line that breaks any rule is not a result line and is ignored.
//     When several result lines are printed, the last one counts.
//   - Without a result line, or with proving_time_ms missing or 0, the
//     proving time is the measured wall time of the command; cycles
//     missing means 0 (unknown).
//
// Ethproofs defines proving time as the time to generate the proof,
// witness generation included, excluding data fetching and submission; a
// prover that can measure that should report it, as the wall time also
// counts start-up and fetching.
const ResultKey = "proofgrid_result"

const (
	maxResultLine    = 4096
	maxProvingTimeMS = 1e12
)

// ParseResultLine reads one line of prover stdout and reports whether it is
// a result line (see ResultKey); the figures it gives are returned as Stats.
func ParseResultLine(line []byte) (Stats, bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' || len(line) > maxResultLine {
		return Stats{}, false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(line, &top) != nil {
		return Stats{}, false
	}
	raw, ok := top[ResultKey]
	if !ok || len(raw) == 0 || raw[0] != '{' {
		return Stats{}, false
	}
	var res map[string]json.RawMessage
	if json.Unmarshal(raw, &res) != nil {
		return Stats{}, false
	}
	var st Stats
	if v, ok := res["proving_time_ms"]; ok {
		if !isJSONNumber(v) {
			return Stats{}, false
		}
		ms, err := strconv.ParseFloat(string(v), 64)
		if err != nil || ms < 0 || ms > maxProvingTimeMS {
			return Stats{}, false
		}
		st.Duration = time.Duration(math.Round(ms * float64(time.Millisecond)))
	}
	if v, ok := res["cycles"]; ok {
		// ParseUint accepts digits only, which rules out fractions,
		// exponents, signs and strings in one go.
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return Stats{}, false
		}
		st.Cycles = n
	}
	return st, true
}

// isJSONNumber reports whether raw, already known to be valid JSON, is a
// number rather than a string, boolean, null, array or object.
func isJSONNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}

// LastResult returns the figures of the last result line in a prover's
// stdout, and whether there is one.
func LastResult(stdout []byte) (Stats, bool) {
	var s resultScanner
	_, _ = s.Write(stdout)
	s.flush()
	return s.stats, s.found
}

// resultScanner watches a stream line by line for result lines, so that the
// last one is found however much output follows or precedes it. It keeps at
// most one line of maxResultLine bytes; longer lines cannot be result lines
// and are skipped.
type resultScanner struct {
	line     []byte
	overflow bool
	stats    Stats
	found    bool
}

// Write never fails.
func (s *resultScanner) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		if !s.overflow {
			if len(s.line)+len(chunk) > maxResultLine {
				s.overflow, s.line = true, s.line[:0]
			} else {
				s.line = append(s.line, chunk...)
			}
		}
		if i >= 0 {
			s.flush()
		}
	}
	return n, nil
}

// flush ends the current line; call it once more after the stream ends, as
// the last line may lack its newline.
func (s *resultScanner) flush() {
	if !s.overflow {
		if st, ok := ParseResultLine(s.line); ok {
			s.stats, s.found = st, true
		}
	}
	s.line, s.overflow = s.line[:0], false
}

// tailBuffer keeps the last max bytes written to it. Writes never fail, so
// a chatty prover never blocks on, or breaks, its own output.
type tailBuffer struct {
	max     int
	buf     []byte
	dropped int64
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.max {
		t.dropped += int64(len(t.buf) + len(p) - t.max)
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	t.buf = append(t.buf, p...)
	// Compacting only past twice the limit keeps the copying amortised
	// constant per byte.
	if len(t.buf) > 2*t.max {
		drop := len(t.buf) - t.max
		t.dropped += int64(drop)
		t.buf = append(t.buf[:0], t.buf[drop:]...)
	}
	return n, nil
}

// Bytes returns a copy of the kept tail.
func (t *tailBuffer) Bytes() []byte {
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	return bytes.Clone(b)
}

// Truncated reports whether earlier output was dropped.
func (t *tailBuffer) Truncated() bool { return t.dropped > 0 || len(t.buf) > t.max }

// lastLine returns the last non-empty line of b, cut to max bytes, for use
// in a short reason or error message.
func lastLine(b []byte, max int) string {
	b = bytes.TrimRight(b, " \t\r\n")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	b = bytes.TrimSpace(b)
	if len(b) > max {
		b = append(bytes.Clone(b[:max]), "..."...)
	}
	return string(bytes.ToValidUTF8(b, []byte("?")))
}
