package collector

import (
	"context"
	"errors"
	"runtime"

	"github.com/proofgrid/proofgrid"
	"github.com/shirou/gopsutil/v3/mem"
)

// memoryCollector reports RAM and swap.
type memoryCollector struct{}

func newMemoryCollector() *memoryCollector { return &memoryCollector{} }

func (*memoryCollector) Name() string { return "memory" }

func (*memoryCollector) Update(ctx context.Context, s *proofgrid.Sample) error {
	vm, vmErr := mem.VirtualMemoryWithContext(ctx)
	if vmErr == nil {
		used := memoryUsed(vm.Total, vm.Available, vm.Used)
		s.Memory.TotalBytes = vm.Total
		s.Memory.UsedBytes = used
		s.Memory.AvailableBytes = vm.Available
		s.Memory.UsedPercent = percent(used, vm.Total)
	}
	var swapTotal, swapUsed uint64
	var swErr error
	if runtime.GOOS == "linux" && vmErr == nil {
		// /proc/meminfo, just parsed, has the swap figures too; gopsutil's
		// SwapMemory would parse all of /proc/vmstat besides, for page
		// counters nothing here reports.
		swapTotal, swapUsed = vm.SwapTotal, vm.SwapTotal-min(vm.SwapFree, vm.SwapTotal)
	} else {
		var sw *mem.SwapMemoryStat
		if sw, swErr = mem.SwapMemoryWithContext(ctx); swErr == nil {
			swapTotal, swapUsed = sw.Total, sw.Used
		}
	}
	if swErr == nil {
		s.Memory.SwapTotalBytes = swapTotal
		s.Memory.SwapUsedBytes = swapUsed
		s.Memory.SwapUsedPercent = percent(swapUsed, swapTotal)
	}
	return errors.Join(vmErr, swErr)
}

// memoryUsed returns the memory that cannot be handed to a new process
// without swapping: total minus the kernel's MemAvailable estimate, as
// free(1) reports it. gopsutil's own Used leaves out all page cache, even the
// part (tmpfs, shared memory) that cannot be reclaimed, so it understates
// pressure; it is only the fallback for kernels without MemAvailable.
func memoryUsed(total, available, fallback uint64) uint64 {
	if available == 0 || available > total {
		return fallback
	}
	return total - available
}

// percent returns part as a percentage of whole, zero when whole is zero
// (no swap configured, say) instead of NaN.
func percent(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole) * 100
}
