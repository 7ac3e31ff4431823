package collector_test

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent/collector"
)

// TestMachineSample runs the real collectors on this machine and checks that
// the values are plausible, not just present.
func TestMachineSample(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the collectors are written for Linux")
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	set := collector.New(collector.Config{Now: func() time.Time { return now }})
	defer set.Close()
	ctx := context.Background()

	first := set.Collect(ctx)
	checkSample(t, "first", first)
	if first.Network.RxBytesPerSec != 0 || first.DiskIO.WriteBytesPerSec != 0 {
		t.Errorf("first sample has rates %+v %+v, want zero before a previous sample", first.Network, first.DiskIO)
	}

	makeWork(t)
	now = now.Add(10 * time.Second)
	second := set.Collect(ctx)
	checkSample(t, "second", second)
	if !second.CollectedAt.Equal(now) {
		t.Errorf("CollectedAt = %v, want the injected %v", second.CollectedAt, now)
	}
	for name, v := range map[string]float64{
		"rx": second.Network.RxBytesPerSec, "tx": second.Network.TxBytesPerSec,
		"read": second.DiskIO.ReadBytesPerSec, "write": second.DiskIO.WriteBytesPerSec,
	} {
		if v < 0 {
			t.Errorf("%s rate = %v, want >= 0", name, v)
		}
	}
	if second.DiskIO.WriteBytesTotal < first.DiskIO.WriteBytesTotal {
		t.Errorf("disk write total went from %d to %d", first.DiskIO.WriteBytesTotal, second.DiskIO.WriteBytesTotal)
	}
	t.Logf("cpu %.1f%% load %.2f, mem %.1f%%, %d disks, net rx %.0f B/s, disk write %.0f B/s",
		second.CPU.UsagePercent, second.CPU.Load1, second.Memory.UsedPercent, len(second.Disks),
		second.Network.RxBytesPerSec, second.DiskIO.WriteBytesPerSec)
}

func checkSample(t *testing.T, which string, s proofgrid.Sample) {
	t.Helper()
	if len(s.CollectorErrors) != 0 {
		t.Errorf("%s: CollectorErrors = %+v, want none", which, s.CollectorErrors)
	}
	if want, _ := os.Hostname(); s.Host.Hostname != want {
		t.Errorf("%s: Hostname = %q, want %q", which, s.Host.Hostname, want)
	}
	if s.Host.OS != runtime.GOOS || s.Host.KernelVersion == "" || s.Host.UptimeSeconds == 0 || s.Host.BootTime == 0 {
		t.Errorf("%s: Host = %+v", which, s.Host)
	}
	// The collector counts the machine's processors; the runtime counts
	// those this process may run on, which is fewer only under an affinity
	// mask (taskset, a cpuset cgroup).
	if n := runtime.NumCPU(); s.CPU.LogicalCores != n && s.CPU.LogicalCores < n {
		t.Errorf("%s: LogicalCores = %d, want runtime.NumCPU() = %d", which, s.CPU.LogicalCores, n)
	} else if s.CPU.LogicalCores != n {
		t.Logf("%s: LogicalCores = %d, runtime.NumCPU() = %d (affinity mask)", which, s.CPU.LogicalCores, n)
	}
	if s.CPU.PhysicalCores <= 0 || s.CPU.PhysicalCores > s.CPU.LogicalCores {
		t.Errorf("%s: PhysicalCores = %d with %d logical", which, s.CPU.PhysicalCores, s.CPU.LogicalCores)
	}
	if u := s.CPU.UsagePercent; u < 0 || u > 100 {
		t.Errorf("%s: CPU usage = %v, want 0..100", which, u)
	}
	if s.CPU.Load1 < 0 || s.CPU.Load15 < 0 {
		t.Errorf("%s: load = %+v", which, s.CPU)
	}
	m := s.Memory
	if m.TotalBytes == 0 || m.UsedBytes > m.TotalBytes || m.AvailableBytes > m.TotalBytes ||
		m.UsedPercent <= 0 || m.UsedPercent > 100 || m.SwapUsedBytes > m.SwapTotalBytes ||
		m.SwapUsedPercent < 0 || m.SwapUsedPercent > 100 {
		t.Errorf("%s: Memory = %+v", which, m)
	}
	if len(s.Disks) == 0 {
		t.Errorf("%s: no disks", which)
	}
	root := false
	for _, d := range s.Disks {
		root = root || d.Mountpoint == "/"
		if d.TotalBytes == 0 || d.UsedBytes > d.TotalBytes || d.UsedPercent < 0 || d.UsedPercent > 100 {
			t.Errorf("%s: disk %+v", which, d)
		}
	}
	if !root {
		t.Errorf("%s: disks %+v lack the root filesystem", which, s.Disks)
	}
	if s.Network.RxBytesTotal == 0 && s.Network.TxBytesTotal == 0 {
		t.Logf("%s: no traffic on non-loopback interfaces", which)
	}
	// This machine has no NVIDIA driver; elsewhere the list must still be non-nil.
	if s.GPUs == nil {
		t.Errorf("%s: GPUs is nil, want an empty list", which)
	}
}

// makeWork burns some CPU and writes and syncs a file, so the second sample
// has deltas to compute.
func makeWork(t *testing.T) {
	t.Helper()
	sum := sha256.Sum256(nil)
	for i := 0; i < 200000; i++ {
		sum = sha256.Sum256(sum[:])
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "work"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}
