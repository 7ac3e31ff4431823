package fleet_test

import (
	"testing"

	"github.com/proofgrid/proofgrid/fleet"
)

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
		ok   bool
	}{
		{"1.2.3", "1.2.3", 0, true},
		{"v1.2.3", "1.2.3", 0, true},
		{"1.2", "1.2.0", 0, true},
		{"1.2.3", "1.2.4", -1, true},
		{"1.10.0", "1.9.9", 1, true},
		{"0.8.6", "0.9.0-rc.2", -1, true},
		{"0.9.0-rc.2", "0.9.0", -1, true},
		{"0.9.0-rc.2", "0.9.0-rc.10", -1, true},
		{"0.9.0-alpha", "0.9.0-alpha.1", -1, true},
		{"0.9.0-1", "0.9.0-alpha", -1, true},
		{"1.0.0+build.5", "1.0.0", 0, true},
		// Release builds carry VERSION+<commit>[.dirty] (the Makefile).
		{"0.4.0+3f2a9c1", "0.4.0", 0, true},
		{"0.4.0+3f2a9c1.dirty", "0.4.1", -1, true},
		{"0.4.1+3f2a9c1", "0.4.0+0000000", 1, true},
		{"v0.4.0-rc.1+3f2a9c1", "0.4.0", -1, true},
		{"1.2.3.4", "1.2.3", 1, true},
		{"dev", "1.0.0", 0, false},
		{"", "1.0.0", 0, false},
		{"1.0.0", "", 0, false},
		{"1..0", "1.0.0", 0, false},
		{"1.0.0-", "1.0.0", 0, false},
		{"1.2.3.4.5", "1.0.0", 0, false},
	}
	for _, tt := range tests {
		got, ok := fleet.CompareVersions(tt.a, tt.b)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CompareVersions(%q, %q) = %d, %v; want %d, %v", tt.a, tt.b, got, ok, tt.want, tt.ok)
		}
	}
	if !fleet.Behind("0.4.0+3f2a9c1", "0.4.1") || fleet.Behind("0.4.1+3f2a9c1.dirty", "0.4.1") {
		t.Error("Behind does not ignore build metadata")
	}
	if !fleet.Behind("0.8.5", "0.8.6") || fleet.Behind("dev", "0.8.6") || fleet.Behind("0.8.6", "") {
		t.Error("Behind disagrees with CompareVersions")
	}
}

func TestParseOperatorAddress(t *testing.T) {
	good := map[string]string{
		"0x0a3e3d83c99b27ca7540720b54105c79cd58dbdd": "0x0a3e3d83c99b27ca7540720b54105c79cd58dbdd",
		"0x54945180dB7943c0ed0FEE7EdaB2Bd24620256bc": "0x54945180db7943c0ed0fee7edab2bd24620256bc",
	}
	for in, want := range good {
		if got, err := fleet.ParseOperatorAddress(in); err != nil || got != want {
			t.Errorf("ParseOperatorAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0x", "0x0a3e3d83c99b27ca7540720b54105c79cd58dbd", "0x0a3e3d83c99b27ca7540720b54105c79cd58dbddd",
		"0a3e3d83c99b27ca7540720b54105c79cd58dbdd00", "0X0a3e3d83c99b27ca7540720b54105c79cd58dbdd", "0x0a3e3d83c99b27ca7540720b54105c79cd58dbdg"} {
		if _, err := fleet.ParseOperatorAddress(in); err == nil {
			t.Errorf("ParseOperatorAddress(%q) accepted", in)
		}
	}
}
