package collector

import "testing"

func TestLoopback(t *testing.T) {
	tests := map[string]bool{
		"lo": true, "lo0": true,
		"eth0": false, "enp3s0": false, "wlo1": false, "lxcbr0": false, "docker0": false, "local": false,
	}
	for name, want := range tests {
		if got := loopback(name); got != want {
			t.Errorf("loopback(%q) = %v, want %v", name, got, want)
		}
	}
}
