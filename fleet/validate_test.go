package fleet_test

import (
	"math"
	"strings"
	"testing"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/fleet"
)

func TestValidateHeartbeat(t *testing.T) {
	ok := proofgrid.Heartbeat{Sample: proofgrid.Sample{
		CPU: proofgrid.CPU{UsagePercent: 100}, Memory: proofgrid.Memory{UsedPercent: 0},
		Disks: []proofgrid.Disk{{Mountpoint: "/", UsedPercent: 99.9}},
		GPUs:  []proofgrid.GPU{{UtilizationPercent: 100, PowerDrawWatts: 700}},
	}}
	if err := fleet.ValidateHeartbeat(ok); err != nil {
		t.Fatalf("valid heartbeat refused: %v", err)
	}
	cases := map[string]func(h *proofgrid.Heartbeat){
		"cpu above 100":    func(h *proofgrid.Heartbeat) { h.Sample.CPU.UsagePercent = 100.1 },
		"cpu NaN":          func(h *proofgrid.Heartbeat) { h.Sample.CPU.UsagePercent = math.NaN() },
		"negative memory":  func(h *proofgrid.Heartbeat) { h.Sample.Memory.UsedPercent = -1 },
		"disk above 100":   func(h *proofgrid.Heartbeat) { h.Sample.Disks[0].UsedPercent = 101 },
		"infinite rx rate": func(h *proofgrid.Heartbeat) { h.Sample.Network.RxBytesPerSec = math.Inf(1) },
		"negative load":    func(h *proofgrid.Heartbeat) { h.Sample.CPU.Load1 = -0.5 },
		"gpu util 101":     func(h *proofgrid.Heartbeat) { h.Sample.GPUs[0].UtilizationPercent = 101 },
		"gpu power NaN":    func(h *proofgrid.Heartbeat) { h.Sample.GPUs[0].PowerDrawWatts = math.NaN() },
		"too many disks":   func(h *proofgrid.Heartbeat) { h.Sample.Disks = make([]proofgrid.Disk, 257) },
		"too many gpus":    func(h *proofgrid.Heartbeat) { h.Sample.GPUs = make([]proofgrid.GPU, 65) },
		"long hostname":    func(h *proofgrid.Heartbeat) { h.Sample.Host.Hostname = strings.Repeat("h", 257) },
		"long error":       func(h *proofgrid.Heartbeat) { h.Status.Errors = []string{strings.Repeat("e", 257)} },
		"negative jobs":    func(h *proofgrid.Heartbeat) { h.Status.RunningJobs = -1 },
		"long version":     func(h *proofgrid.Heartbeat) { h.AgentVersion = strings.Repeat("1", 65) },
		"too many errors":  func(h *proofgrid.Heartbeat) { h.Status.Errors = make([]string, 65) },
	}
	for name, mutate := range cases {
		h := ok
		h.Sample.Disks = append([]proofgrid.Disk(nil), ok.Sample.Disks...)
		h.Sample.GPUs = append([]proofgrid.GPU(nil), ok.Sample.GPUs...)
		mutate(&h)
		err := fleet.ValidateHeartbeat(h)
		if proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("%s: got %v, want invalid", name, err)
		}
	}
}

func TestValidClusterID(t *testing.T) {
	for id, want := range map[string]bool{
		"1": true, "demo": true, "zk-sp1_v2.1": true, "": false, "-x": false, "a b": false,
		"../x": false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
	} {
		if got := fleet.ValidClusterID(id); got != want {
			t.Errorf("ValidClusterID(%q) = %v, want %v", id, got, want)
		}
	}
}
