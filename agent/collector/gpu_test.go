package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent/collector/collectortest"
	"github.com/proofgrid/proofgrid/internal/clocktest"
)

func newTestGPUCollector(d GPUDriver) (*gpuCollector, *clocktest.Clock) {
	clk := clocktest.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	return newGPUCollector(d, clk.Now, slog.New(slog.DiscardHandler)), clk
}

func TestGPUCollectorNoDriver(t *testing.T) {
	fake := &collectortest.GPUDriver{InitErr: fmt.Errorf("%w: library not found", ErrNoDriver)}
	c, clk := newTestGPUCollector(fake)
	for i, step := range []time.Duration{0, time.Minute, 3 * time.Minute, time.Minute} {
		clk.Advance(step)
		var s proofgrid.Sample
		if err := c.Update(context.Background(), &s); err != nil {
			t.Fatalf("update %d: err = %v, want nil without a driver", i, err)
		}
		if s.GPUs == nil || len(s.GPUs) != 0 {
			t.Fatalf("update %d: GPUs = %#v, want empty non-nil", i, s.GPUs)
		}
		if b, _ := json.Marshal(s.GPUs); string(b) != "[]" {
			t.Fatalf("update %d: GPUs marshal to %s, want []", i, b)
		}
	}
	// Five minutes after the first try (0+1+3+1), and not before, Init runs again.
	if inits, _ := fake.Calls(); inits != 2 {
		t.Fatalf("Init called %d times over 5 minutes, want 2", inits)
	}
}

func TestGPUCollectorInitFailure(t *testing.T) {
	fake := &collectortest.GPUDriver{InitErr: errors.New("ERROR_LIB_RM_VERSION_MISMATCH")}
	c, clk := newTestGPUCollector(fake)
	var s proofgrid.Sample
	err := c.Update(context.Background(), &s)
	if err == nil || s.GPUs == nil {
		t.Fatalf("first update: err = %v, GPUs = %#v; want the init error and empty GPUs", err, s.GPUs)
	}
	clk.Advance(time.Minute)
	if err := c.Update(context.Background(), &s); err == nil {
		t.Fatalf("update during backoff: err = nil, want the last init error repeated")
	}
	if inits, _ := fake.Calls(); inits != 1 {
		t.Fatalf("Init called %d times during backoff, want 1", inits)
	}

	// The driver gets fixed; after the retry interval the GPUs appear.
	fake.InitErr = nil
	fake.GPUs = []proofgrid.GPU{{Index: 0, UUID: "GPU-1", Name: "NVIDIA H100"}}
	clk.Advance(gpuInitRetry)
	s = proofgrid.Sample{}
	if err := c.Update(context.Background(), &s); err != nil {
		t.Fatalf("update after fix: %v", err)
	}
	if len(s.GPUs) != 1 || s.GPUs[0].UUID != "GPU-1" {
		t.Fatalf("GPUs = %#v, want GPU-1", s.GPUs)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, shutdowns := fake.Calls(); shutdowns != 1 {
		t.Fatalf("Shutdown called %d times, want 1", shutdowns)
	}
}

func TestGPUCollectorDevices(t *testing.T) {
	consumer := proofgrid.GPU{
		Index: 1, UUID: "GPU-2", Name: "NVIDIA GeForce RTX 4090",
		MemoryTotalBytes: 24 << 30, MemoryUsedBytes: 1 << 30, TemperatureC: 41,
		PowerDrawWatts: 30.5, PowerLimitWatts: 450, ThrottleReasons: []string{"gpu_idle"},
		Unsupported: []string{"ecc_errors_corrected", "ecc_errors_uncorrected"},
	}
	datacenter := proofgrid.GPU{
		Index: 0, UUID: "GPU-1", Name: "NVIDIA H100 80GB HBM3", DriverVersion: "550.54.15",
		MemoryTotalBytes: 80 << 30, UtilizationPercent: 97, ThrottleReasons: []string{"sw_power_cap"},
		ECCErrorsCorrected: 3, XIDErrors: 1,
	}
	fake := &collectortest.GPUDriver{GPUs: []proofgrid.GPU{datacenter, consumer}}
	c, _ := newTestGPUCollector(fake)
	var s proofgrid.Sample
	if err := c.Update(context.Background(), &s); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if len(s.GPUs) != 2 {
		t.Fatalf("got %d GPUs, want 2", len(s.GPUs))
	}
	if got := s.GPUs[1]; got.ECCErrorsCorrected != 0 || !slices.Equal(got.Unsupported, consumer.Unsupported) {
		t.Errorf("consumer GPU: ecc %d, unsupported %q; want 0 and %q", got.ECCErrorsCorrected, got.Unsupported, consumer.Unsupported)
	}
	b, _ := json.Marshal(s.GPUs[0])
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["unsupported"]; ok {
		t.Errorf("a GPU supporting every field marshals %s, want no unsupported key", b)
	}

	// A partial failure keeps the GPUs that could be read.
	fake.GPUs, fake.DevicesErr = []proofgrid.GPU{datacenter}, errors.New("gpu 1: handle: ERROR_GPU_IS_LOST")
	s = proofgrid.Sample{}
	if err := c.Update(context.Background(), &s); err == nil || len(s.GPUs) != 1 {
		t.Fatalf("partial failure: err = %v, %d GPUs; want an error and 1 GPU", err, len(s.GPUs))
	}
	if inits, _ := fake.Calls(); inits != 1 {
		t.Errorf("Init called %d times, want once for a working driver", inits)
	}
}

func TestThrottleReasons(t *testing.T) {
	tests := []struct {
		mask uint64
		want []string
	}{
		{0, []string{}},
		{0x1, []string{"gpu_idle"}},
		{0x4 | 0x40, []string{"sw_power_cap", "hw_thermal_slowdown"}},
		{0x8 | 0x80 | 0x20, []string{"hw_slowdown", "sw_thermal_slowdown", "hw_power_brake_slowdown"}},
		{0x400 | 0x1000, []string{"reliability", "unknown_0x1000"}},
	}
	for _, tt := range tests {
		got := throttleReasons(tt.mask)
		if got == nil || !slices.Equal(got, tt.want) {
			t.Errorf("throttleReasons(%#x) = %#v, want %q", tt.mask, got, tt.want)
		}
	}
}

func TestApplicationXID(t *testing.T) {
	for xid, want := range map[uint64]bool{13: true, 31: true, 43: true, 45: true, 68: true, 48: false, 63: false, 79: false, 94: false} {
		if got := applicationXID(xid); got != want {
			t.Errorf("applicationXID(%d) = %v, want %v", xid, got, want)
		}
	}
}
