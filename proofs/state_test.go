package proofs

import (
	"testing"

	"github.com/proofgrid/proofgrid"
)

func TestNextState(t *testing.T) {
	tests := []struct {
		current, requested string
		code               string // "" for allowed, proofgrid code otherwise
	}{
		// No proof yet: any state creates it.
		{"", StateQueued, ""},
		{"", StateProving, ""},
		{"", StateProved, ""},
		// Before proved, every submission overwrites, backwards included.
		{StateQueued, StateQueued, ""},
		{StateQueued, StateProving, ""},
		{StateQueued, StateProved, ""},
		{StateProving, StateQueued, ""},
		{StateProving, StateProving, ""},
		{StateProving, StateProved, ""},
		// Proved is final.
		{StateProved, StateQueued, proofgrid.ECONFLICT},
		{StateProved, StateProving, proofgrid.ECONFLICT},
		{StateProved, StateProved, proofgrid.ECONFLICT},
		// Unknown requested states are the caller's mistake.
		{"", "", proofgrid.EINVALID},
		{"", "verified", proofgrid.EINVALID},
		{StateQueued, "Proved", proofgrid.EINVALID},
		{StateProved, "failed", proofgrid.EINVALID},
		// An unknown stored state is an internal fault.
		{"bogus", StateProved, proofgrid.EINTERNAL},
	}
	for _, tt := range tests {
		err := NextState(42, tt.current, tt.requested)
		if got := proofgrid.ErrorCode(err); got != tt.code {
			t.Errorf("NextState(42, %q, %q) = %v, want code %q", tt.current, tt.requested, err, tt.code)
		}
	}
}

func TestNextStateConflictMessage(t *testing.T) {
	err := NextState(21000123, StateProved, StateProving)
	want := "proof for block 21000123 of this cluster version is already proved"
	if got := proofgrid.ErrorMessage(err); got != want {
		t.Fatalf("message = %q, want %q", got, want)
	}
}

func TestValidState(t *testing.T) {
	for _, s := range States {
		if !ValidState(s) {
			t.Errorf("ValidState(%q) = false", s)
		}
	}
	for _, s := range []string{"", "QUEUED", "done", " proved"} {
		if ValidState(s) {
			t.Errorf("ValidState(%q) = true", s)
		}
	}
}
