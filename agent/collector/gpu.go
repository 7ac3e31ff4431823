package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"time"

	"github.com/proofgrid/proofgrid"
)

// ErrNoDriver is what GPUDriver.Init returns, possibly wrapped, when the
// machine has no usable NVIDIA driver (library missing, kernel module not
// loaded). The gpu collector then reports no GPUs and no error.
var ErrNoDriver = errors.New("no GPU driver")

// GPUDriver is the view of the GPU management library that the gpu
// collector needs. The NVML implementation is built on Linux with cgo unless
// the nonvml tag is set; other builds get one that has no driver. Tests
// inject fakes through Config.GPU.
type GPUDriver interface {
	// Init loads the library and finds the devices. It returns ErrNoDriver
	// when there is no driver to load; any other error is a real failure.
	Init() error
	// Devices reads every device found by Init. On a partial failure it
	// returns the devices it could read together with the error. Fields a
	// device does not support are zero and named in GPU.Unsupported.
	Devices(ctx context.Context) ([]proofgrid.GPU, error)
	// Shutdown releases the library after a successful Init.
	Shutdown() error
}

// gpuInitRetry is how long the gpu collector waits before trying a failed
// Init again: long enough not to probe for a library on every heartbeat of a
// machine without GPUs, short enough to notice a driver installed or fixed
// (a driver/library mismatch after an upgrade, say) without a restart.
const gpuInitRetry = 5 * time.Minute

// gpuCollector reports every NVIDIA GPU through a GPUDriver.
type gpuCollector struct {
	driver   GPUDriver
	now      func() time.Time
	log      *slog.Logger
	ready    bool
	tried    bool
	lastInit time.Time
	initErr  error
}

func newGPUCollector(d GPUDriver, now func() time.Time, log *slog.Logger) *gpuCollector {
	return &gpuCollector{driver: d, now: now, log: log}
}

func (*gpuCollector) Name() string { return "gpu" }

func (c *gpuCollector) Update(ctx context.Context, s *proofgrid.Sample) error {
	s.GPUs = []proofgrid.GPU{}
	if !c.ready {
		if err := c.init(); err != nil {
			return err
		}
	}
	gpus, err := c.driver.Devices(ctx)
	if gpus != nil {
		s.GPUs = gpus
	}
	return err
}

// init tries the driver's Init at most once per gpuInitRetry and returns
// the outcome of the last try, nil when there is simply no driver.
func (c *gpuCollector) init() error {
	now := c.now()
	if !c.tried || now.Sub(c.lastInit) >= gpuInitRetry {
		c.tried, c.lastInit = true, now
		err := c.driver.Init()
		switch {
		case err == nil:
			c.ready, c.initErr = true, nil
			c.log.Info("gpu driver loaded")
			return nil
		case errors.Is(err, ErrNoDriver):
			if c.initErr == nil {
				c.log.Info("no gpu driver, reporting no GPUs", "reason", err)
			}
		default:
			c.log.Info("gpu driver failed to load", "error", err)
		}
		c.initErr = err
	}
	if errors.Is(c.initErr, ErrNoDriver) {
		return nil
	}
	return fmt.Errorf("init: %w", c.initErr)
}

// Close shuts the driver down; the next Update loads it again.
func (c *gpuCollector) Close() error {
	if !c.ready {
		return nil
	}
	c.ready, c.tried = false, false
	return c.driver.Shutdown()
}

// throttleReasonNames names NVML's clock event (formerly "throttle") reason
// bits, nvmlClocksEventReason*, as stable snake_case strings.
var throttleReasonNames = map[uint64]string{
	0x1:   "gpu_idle",
	0x2:   "applications_clocks_setting",
	0x4:   "sw_power_cap",
	0x8:   "hw_slowdown",
	0x10:  "sync_boost",
	0x20:  "sw_thermal_slowdown",
	0x40:  "hw_thermal_slowdown",
	0x80:  "hw_power_brake_slowdown",
	0x100: "display_clock_setting",
	0x200: "board_limit",
	0x400: "reliability",
}

// throttleReasons decodes a clock event reason mask into names in bit
// order. A bit newer than this table is reported as "unknown_0x..." rather
// than dropped. The result is never nil, so JSON shows [] when clocks run
// unrestricted.
func throttleReasons(mask uint64) []string {
	out := []string{}
	for mask != 0 {
		bit := uint64(1) << bits.TrailingZeros64(mask)
		mask &^= bit
		if name, ok := throttleReasonNames[bit]; ok {
			out = append(out, name)
		} else {
			out = append(out, fmt.Sprintf("unknown_%#x", bit))
		}
	}
	return out
}

// applicationXID reports whether an XID error is caused by the application
// running on the GPU (a crashed or killed prover) rather than by the GPU or
// its driver, following NVIDIA's k8s device plugin. Those leave the GPU
// healthy, so they are not counted in GPU.XIDErrors.
func applicationXID(xid uint64) bool {
	switch xid {
	case 13, // graphics engine exception
		31, // GPU memory page fault
		43, // GPU stopped processing
		45, // preemptive cleanup, due to previous errors
		68: // video processor exception
		return true
	}
	return false
}
