package collector

import (
	"context"
	"runtime"
	"testing"

	"github.com/proofgrid/proofgrid"
	"github.com/shirou/gopsutil/v3/mem"
)

func TestMemoryUsed(t *testing.T) {
	tests := []struct {
		name                       string
		total, available, fallback uint64
		want                       uint64
	}{
		{"from available", 16 << 30, 12 << 30, 1 << 30, 4 << 30},
		{"nothing available", 16 << 30, 0, 15 << 30, 15 << 30},
		{"bogus available", 1 << 30, 2 << 30, 512 << 20, 512 << 20},
	}
	for _, tt := range tests {
		if got := memoryUsed(tt.total, tt.available, tt.fallback); got != tt.want {
			t.Errorf("%s: memoryUsed = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestPercent(t *testing.T) {
	tests := []struct {
		part, whole uint64
		want        float64
	}{
		{0, 0, 0},
		{5, 0, 0},
		{1, 4, 25},
		{4, 4, 100},
	}
	for _, tt := range tests {
		if got := percent(tt.part, tt.whole); got != tt.want {
			t.Errorf("percent(%d, %d) = %v, want %v", tt.part, tt.whole, got, tt.want)
		}
	}
}

// On Linux the swap figures come from /proc/meminfo; they must be those
// gopsutil's SwapMemory reads from the kernel's sysinfo.
func TestMemorySwapMatchesSysinfo(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("swap is read from /proc/meminfo on Linux only")
	}
	var s proofgrid.Sample
	if err := newMemoryCollector().Update(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	sw, err := mem.SwapMemory()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.SwapTotalBytes != sw.Total {
		t.Errorf("swap total %d, sysinfo says %d", s.Memory.SwapTotalBytes, sw.Total)
	}
	// Used may move between the two reads; by a few MiB at most.
	if diff := int64(s.Memory.SwapUsedBytes) - int64(sw.Used); diff < -8<<20 || diff > 8<<20 {
		t.Errorf("swap used %d, sysinfo says %d", s.Memory.SwapUsedBytes, sw.Used)
	}
	t.Logf("swap: %d of %d bytes used", s.Memory.SwapUsedBytes, s.Memory.SwapTotalBytes)
}
