package proofgrid_test

import (
	"testing"

	"github.com/proofgrid/proofgrid"
)

func TestValidAddress(t *testing.T) {
	for s, want := range map[string]bool{
		"0x0a3e3d83c99b27ca7540720b54105c79cd58dbdd":  true,
		"0x54945180dB7943c0ed0FEE7EdaB2Bd24620256bc":  true,
		"0X54945180dB7943c0ed0FEE7EdaB2Bd24620256bc":  false,
		"54945180dB7943c0ed0FEE7EdaB2Bd24620256bcab":  false,
		"0x54945180dB7943c0ed0FEE7EdaB2Bd24620256b":   false,
		"0x54945180dB7943c0ed0FEE7EdaB2Bd24620256bcc": false,
		"0x54945180dB7943c0ed0FEE7EdaB2Bd24620256bg":  false,
		"": false,
	} {
		if got := proofgrid.ValidAddress(s); got != want {
			t.Errorf("ValidAddress(%q) = %v, want %v", s, got, want)
		}
	}
}
