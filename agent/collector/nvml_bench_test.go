//go:build linux && cgo && !nonvml

package collector

import (
	"context"
	"errors"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// BenchmarkNVMLDevices times one read of every GPU through the real NVML
// library: what each heartbeat's gpu collector costs on a GPU host. It is
// skipped on machines without an NVIDIA driver. Run it on a GPU host with
//
//	go test -c -o collector.test ./agent/collector/ && ./collector.test -test.run '^$' -test.bench NVML
//
// ns/op divided by the reported gpus is the cost of one GPU's sample.
func BenchmarkNVMLDevices(b *testing.B) {
	d := newNVMLDriver(nvml.New())
	if err := d.Init(); errors.Is(err, ErrNoDriver) {
		b.Skip("no NVIDIA driver on this machine")
	} else if err != nil {
		b.Fatal(err)
	}
	defer d.Shutdown()
	ctx := context.Background()
	gpus, err := d.Devices(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(gpus)), "gpus")
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.Devices(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
