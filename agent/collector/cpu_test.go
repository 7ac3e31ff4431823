package collector

import (
	"context"
	"errors"
	"testing"

	"github.com/proofgrid/proofgrid"

	"github.com/shirou/gopsutil/v3/cpu"
)

func TestCPUUsage(t *testing.T) {
	base := cpu.TimesStat{User: 100, Nice: 10, System: 50, Idle: 800, Iowait: 20, Irq: 5, Softirq: 5, Steal: 10, Guest: 40}
	add := func(f func(*cpu.TimesStat)) cpu.TimesStat { c := base; f(&c); return c }
	tests := []struct {
		name string
		cur  cpu.TimesStat
		want float64
	}{
		{"no time elapsed", base, 0},
		{"fully idle", add(func(c *cpu.TimesStat) { c.Idle += 4 }), 0},
		{"iowait is idle", add(func(c *cpu.TimesStat) { c.Iowait += 4 }), 0},
		{"fully busy", add(func(c *cpu.TimesStat) { c.User += 2; c.System += 1; c.Irq += 0.5; c.Softirq += 0.5 }), 100},
		{"quarter busy", add(func(c *cpu.TimesStat) { c.User += 1; c.Idle += 3 }), 25},
		{"steal is busy", add(func(c *cpu.TimesStat) { c.Steal += 1; c.Idle += 1 }), 50},
		// Guest time is already inside user; counting it again would exceed 100.
		{"guest not counted twice", add(func(c *cpu.TimesStat) { c.User += 2; c.Guest += 2; c.Idle += 2 }), 50},
		{"iowait going backwards", add(func(c *cpu.TimesStat) { c.Iowait -= 5; c.User += 1; c.Idle += 1 }), 50},
	}
	for _, tt := range tests {
		if got := cpuUsage(base, tt.cur); got != tt.want {
			t.Errorf("%s: cpuUsage = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCPUStaticReadOnce checks that the model and core counts are read
// until a read succeeds and then never again.
func TestCPUStaticReadOnce(t *testing.T) {
	reads := 0
	c := newCPUCollector()
	c.readStatic = func(context.Context) (proofgrid.CPU, error) {
		reads++
		if reads == 1 {
			return proofgrid.CPU{}, errors.New("cpuinfo unreadable")
		}
		return proofgrid.CPU{Model: "Test CPU", LogicalCores: 8, PhysicalCores: 4}, nil
	}
	ctx := context.Background()
	var s proofgrid.Sample
	if err := c.Update(ctx, &s); err == nil || s.CPU.Model != "" {
		t.Fatalf("first Update: err = %v, model %q; want the read error and no model", err, s.CPU.Model)
	}
	for i := range 3 {
		s = proofgrid.Sample{}
		if err := c.Update(ctx, &s); err != nil {
			t.Fatalf("Update %d: %v", i+2, err)
		}
		if s.CPU.Model != "Test CPU" || s.CPU.LogicalCores != 8 || s.CPU.PhysicalCores != 4 {
			t.Errorf("Update %d: cpu = %+v, want the model and core counts read once", i+2, s.CPU)
		}
	}
	if reads != 2 {
		t.Errorf("static CPU data read %d times, want 2 (a failure, then one success)", reads)
	}
}
