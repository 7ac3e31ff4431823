package zkvm

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOutcomeForExitCode(t *testing.T) {
	tests := map[int]Outcome{0: OutcomeValid, 1: OutcomeInvalid, 2: OutcomeCannotVerify, 3: OutcomeCannotVerify, 127: OutcomeCannotVerify, -1: OutcomeCannotVerify}
	for code, want := range tests {
		if got := OutcomeForExitCode(code); got != want {
			t.Errorf("OutcomeForExitCode(%d) = %s, want %s", code, got, want)
		}
	}
}

func TestVerifierVerdict(t *testing.T) {
	withStderr := func(r runResult, s string) *runResult {
		r.stdout, r.stderr = newTailBuffer(OutputTailBytes), newTailBuffer(OutputTailBytes)
		r.stderr.Write([]byte(s))
		return &r
	}
	tests := []struct {
		name   string
		r      *runResult
		want   Outcome
		reason string
	}{
		{"valid", withStderr(runResult{exitCode: 0, state: "exit status 0"}, "noise"), OutcomeValid, ""},
		{"invalid", withStderr(runResult{exitCode: 1, state: "exit status 1"}, "log\nbad opening\n"), OutcomeInvalid, "verifier rejected the proof: bad opening"},
		{"cannot", withStderr(runResult{exitCode: 2, state: "exit status 2"}, ""), OutcomeCannotVerify, "verifier cannot verify this proof"},
		{"other exit", withStderr(runResult{exitCode: 101, state: "exit status 101"}, "thread main panicked"), OutcomeCannotVerify, "exit status 101: thread main panicked"},
		{"signal", withStderr(runResult{exitCode: -1, state: "signal: segmentation fault"}, ""), OutcomeCannotVerify, "ended abnormally: signal: segmentation fault"},
		{"timeout", withStderr(runResult{exitCode: -1, state: "signal: killed", timedOut: true}, ""), OutcomeCannotVerify, "verification exceeded 60 s"},
		{"not started", withStderr(runResult{exitCode: -1, startErr: errors.New("exec: \"zkv\": executable file not found in $PATH")}, ""), OutcomeCannotVerify, "cannot be started"},
	}
	for _, tt := range tests {
		v := verifierVerdict(tt.r, time.Minute)
		if v.Outcome != tt.want || !strings.Contains(v.Reason, tt.reason) || (tt.reason == "") != (v.Reason == "") {
			t.Errorf("%s: %+v, want %s with %q", tt.name, v, tt.want, tt.reason)
		}
	}
}

func TestOutcomeValid(t *testing.T) {
	for _, o := range []Outcome{OutcomeValid, OutcomeInvalid, OutcomeCannotVerify} {
		if !o.Valid() {
			t.Errorf("%q.Valid() = false", o)
		}
	}
	if Outcome("maybe").Valid() || Outcome("").Valid() {
		t.Error("unknown outcome reported valid")
	}
}
