package fleet_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/fleet"
)

func TestValidateHeartbeat(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	lastJob := now.Add(-time.Minute)
	ok := proofgrid.Heartbeat{Sample: proofgrid.Sample{
		CollectedAt: now.Add(-time.Second),
		CPU:         proofgrid.CPU{UsagePercent: 100, LogicalCores: 16, PhysicalCores: 8}, Memory: proofgrid.Memory{UsedPercent: 0},
		Disks: []proofgrid.Disk{{Mountpoint: "/", UsedPercent: 99.9}},
		GPUs: []proofgrid.GPU{{Index: 0, UtilizationPercent: 100, PowerDrawWatts: 700, PowerLimitWatts: 700, TemperatureC: 85,
			SMClockMHz: 1980, XIDErrors: 3, ThrottleReasons: []string{"sw_power_cap"}}},
	}, Status: proofgrid.AgentStatus{RunningJobs: 2, LastJobAt: &lastJob, Queues: []string{"prove.cluster-x"}}}
	if err := fleet.ValidateHeartbeat(ok, now); err != nil {
		t.Fatalf("valid heartbeat refused: %v", err)
	}
	// A clock a little ahead of the coordinator's is fine.
	ahead := ok
	ahead.Sample.CollectedAt = now.Add(proofgrid.SignatureWindow - time.Second)
	if err := fleet.ValidateHeartbeat(ahead, now); err != nil {
		t.Fatalf("collected_at within the window refused: %v", err)
	}
	future := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		mutate func(h *proofgrid.Heartbeat)
		field  string // the message must name it
	}{
		{"null body", func(h *proofgrid.Heartbeat) { *h = proofgrid.Heartbeat{} }, "sample.collected_at"},
		{"collected in 2099", func(h *proofgrid.Heartbeat) { h.Sample.CollectedAt = future }, "sample.collected_at"},
		{"last job in 2099", func(h *proofgrid.Heartbeat) { h.Status.LastJobAt = &future }, "status.last_job_at"},
		{"cpu above 100", func(h *proofgrid.Heartbeat) { h.Sample.CPU.UsagePercent = 100.1 }, "cpu.usage_percent"},
		{"cpu NaN", func(h *proofgrid.Heartbeat) { h.Sample.CPU.UsagePercent = math.NaN() }, "cpu.usage_percent"},
		{"negative cores", func(h *proofgrid.Heartbeat) { h.Sample.CPU.LogicalCores = -5 }, "cpu.logical_cores"},
		{"negative physical cores", func(h *proofgrid.Heartbeat) { h.Sample.CPU.PhysicalCores = -1 }, "cpu.physical_cores"},
		{"negative memory", func(h *proofgrid.Heartbeat) { h.Sample.Memory.UsedPercent = -1 }, "memory.used_percent"},
		{"disk above 100", func(h *proofgrid.Heartbeat) { h.Sample.Disks[0].UsedPercent = 101 }, "disks[0].used_percent"},
		{"infinite rx rate", func(h *proofgrid.Heartbeat) { h.Sample.Network.RxBytesPerSec = math.Inf(1) }, "network.rx_bytes_per_sec"},
		{"huge rx rate", func(h *proofgrid.Heartbeat) { h.Sample.Network.RxBytesPerSec = 1e300 }, "network.rx_bytes_per_sec"},
		{"negative load", func(h *proofgrid.Heartbeat) { h.Sample.CPU.Load1 = -0.5 }, "cpu.load1"},
		{"gpu util 101", func(h *proofgrid.Heartbeat) { h.Sample.GPUs[0].UtilizationPercent = 101 }, "gpus[0].utilization_percent"},
		{"gpu index -1", func(h *proofgrid.Heartbeat) { h.Sample.GPUs[0].Index = -1 }, "gpus[0].index"},
		{"gpu at 4e9 degrees", func(h *proofgrid.Heartbeat) { h.Sample.GPUs[0].TemperatureC = 4e9 }, "gpus[0].temperature_c"},
		{"gpu power NaN", func(h *proofgrid.Heartbeat) { h.Sample.GPUs[0].PowerDrawWatts = math.NaN() }, "gpus[0].power_draw_watts"},
		{"gpu power 1e9", func(h *proofgrid.Heartbeat) { h.Sample.GPUs[0].PowerDrawWatts = 1e9 }, "gpus[0].power_draw_watts"},
		{"gpu power limit Inf", func(h *proofgrid.Heartbeat) { h.Sample.GPUs[0].PowerLimitWatts = math.Inf(1) }, "gpus[0].power_limit_watts"},
		{"gpu clock 4e9", func(h *proofgrid.Heartbeat) { h.Sample.GPUs[0].SMClockMHz = 4e9 }, "gpus[0].sm_clock_mhz"},
		{"xid past int64", func(h *proofgrid.Heartbeat) { h.Sample.GPUs[0].XIDErrors = math.MaxUint64 }, "gpus[0].xid_errors"},
		{"too many disks", func(h *proofgrid.Heartbeat) { h.Sample.Disks = make([]proofgrid.Disk, 257) }, "disks"},
		{"too many gpus", func(h *proofgrid.Heartbeat) { h.Sample.GPUs = make([]proofgrid.GPU, 65) }, "gpus"},
		{"long hostname", func(h *proofgrid.Heartbeat) { h.Sample.Host.Hostname = strings.Repeat("h", 257) }, "host.hostname"},
		{"NUL in hostname", func(h *proofgrid.Heartbeat) { h.Sample.Host.Hostname = "a\x00b" }, "host.hostname"},
		{"invalid UTF-8 in mount", func(h *proofgrid.Heartbeat) { h.Sample.Disks[0].Mountpoint = "/\xff" }, "disks[0].mountpoint"},
		{"NUL in throttle reason", func(h *proofgrid.Heartbeat) { h.Sample.GPUs[0].ThrottleReasons = []string{"\x00"} }, "gpus[0].throttle_reasons[0]"},
		{"NUL in collector error", func(h *proofgrid.Heartbeat) {
			h.Sample.CollectorErrors = []proofgrid.CollectorError{{Collector: "gpu", Error: "x\x00"}}
		}, "collector_errors[0].error"},
		{"NUL in queue", func(h *proofgrid.Heartbeat) { h.Status.Queues = []string{"q\x00"} }, "status.queues[0]"},
		{"NUL in AVS name", func(h *proofgrid.Heartbeat) { h.Status.AVS = []proofgrid.AVSReport{{AVS: "eigen\x00da"}} }, "status.avs[0].avs"},
		{"long error", func(h *proofgrid.Heartbeat) { h.Status.Errors = []string{strings.Repeat("e", 257)} }, "status.errors[0]"},
		{"negative jobs", func(h *proofgrid.Heartbeat) { h.Status.RunningJobs = -1 }, "status.running_jobs"},
		{"jobs past int4", func(h *proofgrid.Heartbeat) { h.Status.RunningJobs = math.MaxInt64 }, "status.running_jobs"},
		{"long version", func(h *proofgrid.Heartbeat) { h.AgentVersion = strings.Repeat("1", 65) }, "agent_version"},
		{"NUL in version", func(h *proofgrid.Heartbeat) { h.AgentVersion = "1\x00" }, "agent_version"},
		{"too many errors", func(h *proofgrid.Heartbeat) { h.Status.Errors = make([]string, 65) }, "status.errors"},
	}
	for _, tc := range cases {
		h := ok
		h.Sample.Disks = append([]proofgrid.Disk(nil), ok.Sample.Disks...)
		h.Sample.GPUs = append([]proofgrid.GPU(nil), ok.Sample.GPUs...)
		tc.mutate(&h)
		err := fleet.ValidateHeartbeat(h, now)
		if proofgrid.ErrorCode(err) != proofgrid.EINVALID || !strings.Contains(proofgrid.ErrorMessage(err), tc.field) {
			t.Errorf("%s: got %v, want invalid naming %s", tc.name, err, tc.field)
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
