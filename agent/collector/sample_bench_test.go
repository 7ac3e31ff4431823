package collector

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
)

// The sample benchmarks time what each heartbeat's sample costs in CPU,
// against the cheapest read a sample makes, /proc/stat once, measured in the
// same run:
//
//	go test -run '^$' -bench 'Sample|ProcStat' -benchmem -benchtime 200x ./agent/collector/
//
// x_procstat is ns/op divided by BenchmarkProcStat's ns/op; with -cpuprofile
// and "go tool pprof -top" they show where a sample's time goes. The gpu
// collector is left out: its cost is BenchmarkNVMLDevices' on a GPU host.

// BenchmarkProcStat reads /proc/stat once: the baseline of the sample
// benchmarks.
func BenchmarkProcStat(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc")
	}
	for b.Loop() {
		if _, err := os.ReadFile("/proc/stat"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSample times Set.Collect with every built-in collector but the
// gpu one, after a first sample that reads what never changes.
func BenchmarkSample(b *testing.B) {
	set := New(Config{GPU: benchNoGPU{}})
	defer set.Close()
	ctx := context.Background()
	set.Collect(ctx)
	benchRatio(b, func() {
		if s := set.Collect(ctx); len(s.CollectorErrors) != 0 {
			b.Fatal(s.CollectorErrors)
		}
	})
}

// BenchmarkSampleCollector times each built-in collector's Update alone.
func BenchmarkSampleCollector(b *testing.B) {
	set := New(Config{GPU: benchNoGPU{}})
	defer set.Close()
	ctx := context.Background()
	for _, e := range set.entries {
		b.Run(e.c.Name(), func(b *testing.B) {
			var s proofgrid.Sample
			if err := e.c.Update(ctx, &s); err != nil {
				b.Fatal(err)
			}
			benchRatio(b, func() {
				s = proofgrid.Sample{}
				if err := e.c.Update(ctx, &s); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// benchRatio runs fn b.N times and reports its cost as a multiple of one
// read of /proc/stat, timed right before in the same process.
func benchRatio(b *testing.B, fn func()) {
	b.Helper()
	const baseN = 1000
	start := time.Now()
	for range baseN {
		if _, err := os.ReadFile("/proc/stat"); err != nil {
			b.Fatal(err)
		}
	}
	base := float64(time.Since(start).Nanoseconds()) / baseN
	for b.Loop() {
		fn()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x_procstat")
}

// benchNoGPU is a GPU driver of a machine without GPUs.
type benchNoGPU struct{}

func (benchNoGPU) Init() error                                      { return ErrNoDriver }
func (benchNoGPU) Devices(context.Context) ([]proofgrid.GPU, error) { return nil, nil }
func (benchNoGPU) Shutdown() error                                  { return nil }
