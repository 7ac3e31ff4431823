package collector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/load"
)

// firstCPUInterval is how long the first Update measures CPU usage over,
// so that the very first sample (agent metrics --once) carries a real value
// instead of zero.
const firstCPUInterval = 200 * time.Millisecond

// cpuCollector reports the processor model, core counts, load averages and
// usage of the whole machine, computed as the package documentation states.
//
// The model and core counts are read on the first successful Update and
// kept: gopsutil reads them from /proc/cpuinfo and a file or more per core
// under /sys, which was two thirds of a sample's CPU time on a 2-core
// machine and grows with the cores, while they do not change until the
// machine reboots.
type cpuCollector struct {
	prev       *cpu.TimesStat
	static     *proofgrid.CPU // model and core counts; nil until read
	readStatic func(ctx context.Context) (proofgrid.CPU, error)
}

func newCPUCollector() *cpuCollector { return &cpuCollector{readStatic: readStaticCPU} }

func (*cpuCollector) Name() string { return "cpu" }

func (c *cpuCollector) Update(ctx context.Context, s *proofgrid.Sample) error {
	var errs []error
	if c.static == nil {
		static, err := c.readStatic(ctx)
		if err != nil {
			errs = append(errs, err)
		} else {
			c.static = &static
		}
	}
	if c.static != nil {
		s.CPU.Model, s.CPU.LogicalCores, s.CPU.PhysicalCores = c.static.Model, c.static.LogicalCores, c.static.PhysicalCores
	}
	if avg, err := load.AvgWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("load: %w", err))
	} else {
		s.CPU.Load1, s.CPU.Load5, s.CPU.Load15 = avg.Load1, avg.Load5, avg.Load15
	}
	if usage, err := c.usage(ctx); err != nil {
		errs = append(errs, fmt.Errorf("times: %w", err))
	} else {
		s.CPU.UsagePercent = usage
	}
	return errors.Join(errs...)
}

// readStaticCPU reads the processor model and the logical and physical
// core counts.
func readStaticCPU(ctx context.Context) (proofgrid.CPU, error) {
	var c proofgrid.CPU
	infos, err := cpu.InfoWithContext(ctx)
	if err != nil {
		return c, fmt.Errorf("info: %w", err)
	}
	if len(infos) > 0 {
		c.Model = infos[0].ModelName
	}
	if c.LogicalCores, err = cpu.CountsWithContext(ctx, true); err != nil {
		return c, fmt.Errorf("logical cores: %w", err)
	}
	if c.PhysicalCores, err = cpu.CountsWithContext(ctx, false); err != nil {
		return c, fmt.Errorf("physical cores: %w", err)
	}
	return c, nil
}

// usage reads the machine-wide counters and returns the usage since the
// previous call, taking a baseline first when there is none.
func (c *cpuCollector) usage(ctx context.Context) (float64, error) {
	if c.prev == nil {
		t, err := cpuTimes(ctx)
		if err != nil {
			return 0, err
		}
		c.prev = &t
		timer := time.NewTimer(firstCPUInterval)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-timer.C:
		}
	}
	t, err := cpuTimes(ctx)
	if err != nil {
		return 0, err
	}
	usage := cpuUsage(*c.prev, t)
	c.prev = &t
	return usage, nil
}

func cpuTimes(ctx context.Context) (cpu.TimesStat, error) {
	times, err := cpu.TimesWithContext(ctx, false)
	if err != nil {
		return cpu.TimesStat{}, err
	}
	if len(times) == 0 {
		return cpu.TimesStat{}, errors.New("no cpu times")
	}
	return times[0], nil
}

// cpuUsage returns the busy share of the time between two readings of the
// machine-wide counters, from 0 to 100. Each counter's growth is clamped at
// zero because Linux lets iowait go backwards; with no time elapsed the
// usage is zero.
func cpuUsage(prev, cur cpu.TimesStat) float64 {
	d := func(p, c float64) float64 { return max(c-p, 0) }
	busy := d(prev.User, cur.User) + d(prev.Nice, cur.Nice) + d(prev.System, cur.System) +
		d(prev.Irq, cur.Irq) + d(prev.Softirq, cur.Softirq) + d(prev.Steal, cur.Steal)
	idle := d(prev.Idle, cur.Idle) + d(prev.Iowait, cur.Iowait)
	if busy+idle <= 0 {
		return 0
	}
	return min(busy/(busy+idle)*100, 100)
}
