package zkvm

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseResultLine(t *testing.T) {
	tests := []struct {
		line   string
		ok     bool
		ms     time.Duration
		cycles uint64
	}{
		{`{"proofgrid_result": {"proving_time_ms": 81234, "cycles": 1843200000}}`, true, 81234 * time.Millisecond, 1843200000},
		{`  {"proofgrid_result":{"proving_time_ms":1.5,"cycles":0}}` + "\r", true, 1500 * time.Microsecond, 0},
		{`{"proofgrid_result": {"cycles": 18446744073709551615}}`, true, 0, 18446744073709551615},
		{`{"proofgrid_result": {"proving_time_ms": 12}}`, true, 12 * time.Millisecond, 0},
		{`{"proofgrid_result": {}}`, true, 0, 0},
		{`{"proofgrid_result": {"proving_time_ms": 5, "gpu": "h100"}, "other": [1]}`, true, 5 * time.Millisecond, 0},
		{`{"proofgrid_result": {"proving_time_ms": 1e3}}`, true, time.Second, 0},
		// Not result lines.
		{``, false, 0, 0},
		{`proving block 123`, false, 0, 0},
		{`{"result": {"proving_time_ms": 1}}`, false, 0, 0},
		{`{"PROOFGRID_RESULT": {"proving_time_ms": 1}}`, false, 0, 0},
		{`{"proofgrid_result": null}`, false, 0, 0},
		{`{"proofgrid_result": 5}`, false, 0, 0},
		{`{"proofgrid_result": {"proving_time_ms": "12"}}`, false, 0, 0},
		{`{"proofgrid_result": {"proving_time_ms": -1}}`, false, 0, 0},
		{`{"proofgrid_result": {"proving_time_ms": 1e13}}`, false, 0, 0},
		{`{"proofgrid_result": {"proving_time_ms": null}}`, false, 0, 0},
		{`{"proofgrid_result": {"cycles": 1.5}}`, false, 0, 0},
		{`{"proofgrid_result": {"cycles": -3}}`, false, 0, 0},
		{`{"proofgrid_result": {"cycles": 1e9}}`, false, 0, 0},
		{`{"proofgrid_result": {"cycles": 18446744073709551616}}`, false, 0, 0},
		{`{"proofgrid_result": {"cycles": "9"}}`, false, 0, 0},
		{`{"proofgrid_result": {"cycles": 1}} trailing`, false, 0, 0},
		{`{"proofgrid_result": {"cycles": 1}`, false, 0, 0},
		{`[{"proofgrid_result": {"cycles": 1}}]`, false, 0, 0},
		{`{"proofgrid_result": {"cycles": 1}, "pad": "` + strings.Repeat("x", maxResultLine) + `"}`, false, 0, 0},
	}
	for _, tt := range tests {
		st, ok := ParseResultLine([]byte(tt.line))
		if ok != tt.ok || st.Duration != tt.ms || st.Cycles != tt.cycles {
			t.Errorf("ParseResultLine(%.80q) = %+v, %v; want %v, %v, %v", tt.line, st, ok, tt.ms, tt.cycles, tt.ok)
		}
	}
}

func TestLastResult(t *testing.T) {
	tests := []struct {
		name   string
		stdout string
		ok     bool
		cycles uint64
	}{
		{"none", "starting\nproving\ndone\n", false, 0},
		{"one", "starting\n{\"proofgrid_result\": {\"cycles\": 7}}\ndone\n", true, 7},
		{"last wins", "{\"proofgrid_result\": {\"cycles\": 1}}\n{\"proofgrid_result\": {\"cycles\": 2}}\n", true, 2},
		{"malformed later line ignored", "{\"proofgrid_result\": {\"cycles\": 1}}\n{\"proofgrid_result\": {\"cycles\": -2}}\n", true, 1},
		{"no trailing newline", "log\n{\"proofgrid_result\": {\"cycles\": 3}}", true, 3},
		{"after a huge line", strings.Repeat("y", 3*maxResultLine) + "\n{\"proofgrid_result\": {\"cycles\": 4}}\n", true, 4},
		{"glued to a huge line", strings.Repeat("y", 3*maxResultLine) + "{\"proofgrid_result\": {\"cycles\": 4}}\n", false, 0},
	}
	for _, tt := range tests {
		st, ok := LastResult([]byte(tt.stdout))
		if ok != tt.ok || st.Cycles != tt.cycles {
			t.Errorf("%s: got %+v, %v", tt.name, st, ok)
		}
		// Fed in small pieces, as a pipe delivers it, the answer is the same.
		var s resultScanner
		for b := []byte(tt.stdout); len(b) > 0; {
			n := min(len(b), 5)
			s.Write(b[:n])
			b = b[n:]
		}
		s.flush()
		if s.found != tt.ok || s.stats.Cycles != tt.cycles {
			t.Errorf("%s, in pieces: got %+v, %v", tt.name, s.stats, s.found)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	tb := newTailBuffer(10)
	tb.Write([]byte("hello"))
	if string(tb.Bytes()) != "hello" || tb.Truncated() {
		t.Fatalf("got %q, truncated %v", tb.Bytes(), tb.Truncated())
	}
	var all bytes.Buffer
	all.WriteString("hello")
	for i := range 50 {
		s := strings.Repeat(string(rune('a'+i%26)), i%7)
		tb.Write([]byte(s))
		all.WriteString(s)
		want := all.Bytes()[max(0, all.Len()-10):]
		if !bytes.Equal(tb.Bytes(), want) {
			t.Fatalf("after %d writes: %q, want %q", i, tb.Bytes(), want)
		}
		if len(tb.buf) > 20 {
			t.Fatalf("buffer grew to %d", len(tb.buf))
		}
	}
	if !tb.Truncated() {
		t.Error("not truncated")
	}
	tb.Write([]byte("0123456789abcdef"))
	if string(tb.Bytes()) != "6789abcdef" {
		t.Errorf("large write: %q", tb.Bytes())
	}
}

func TestLastLine(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"", 100, ""},
		{"\n\n", 100, ""},
		{"one", 100, "one"},
		{"first\nsecond\n\n", 100, "second"},
		{"a\n  padded  \r\n", 100, "padded"},
		{strings.Repeat("z", 20), 8, strings.Repeat("z", 8) + "..."},
		{"bad \xff byte", 100, "bad ? byte"},
	}
	for _, tt := range tests {
		if got := lastLine([]byte(tt.in), tt.max); got != tt.want {
			t.Errorf("lastLine(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
