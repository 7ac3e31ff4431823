//go:build linux && cgo && !nonvml

package collector

import (
	"context"
	"errors"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/proofgrid/proofgrid"
)

// maxEventsPerPoll bounds how many queued NVML events one Devices call
// drains, so an event storm cannot hold up the sample.
const maxEventsPerPoll = 1000

func defaultGPUDriver() GPUDriver { return newNVMLDriver(nvml.New()) }

// nvmlDriver reads GPUs through NVML. It holds its own library handle rather
// than the package-global one, so tests can substitute a mock and nothing
// else in the process shares its init/shutdown state. go-nvml loads
// libnvidia-ml.so.1 in Init, so this builds and runs on machines without a
// driver.
type nvmlDriver struct {
	lib           nvml.Interface
	driverVersion string
	devices       []nvmlDevice
	// events receives XID critical errors; nil when NVML could not create
	// an event set, in which case no device reports XIDs.
	events nvml.EventSet
	// eventReasons tells whether the library exports the current name of the
	// clock reasons call. Calling a symbol the installed driver lacks would
	// abort the process (the library is bound lazily), so older drivers get
	// the deprecated name, which they all export.
	eventReasons bool
	// temperature tells whether nvmlDeviceGetTemperature, deprecated in
	// NVML 13, is still exported; without it the field is unsupported.
	temperature bool
}

type nvmlDevice struct {
	handle    nvml.Device
	handleErr error
	xidOK     bool
	xids      uint64
}

var _ GPUDriver = (*nvmlDriver)(nil)

func newNVMLDriver(lib nvml.Interface) *nvmlDriver { return &nvmlDriver{lib: lib} }

func (d *nvmlDriver) Init() error {
	switch ret := d.lib.Init(); ret {
	case nvml.SUCCESS:
	case nvml.ERROR_LIBRARY_NOT_FOUND, nvml.ERROR_DRIVER_NOT_LOADED:
		// The library is absent, or present without the kernel module (a
		// machine with the user-space packages but no NVIDIA GPU).
		return fmt.Errorf("%w: %v", ErrNoDriver, ret)
	default:
		return fmt.Errorf("nvml init: %w", ret)
	}
	count, ret := d.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		d.lib.Shutdown()
		return fmt.Errorf("nvml device count: %w", ret)
	}
	if v, ret := d.lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		d.driverVersion = v
	}
	ext := d.lib.Extensions()
	d.eventReasons = ext.LookupSymbol("nvmlDeviceGetCurrentClocksEventReasons") == nil
	d.temperature = ext.LookupSymbol("nvmlDeviceGetTemperature") == nil
	if set, ret := d.lib.EventSetCreate(); ret == nvml.SUCCESS {
		d.events = set
	}
	d.devices = make([]nvmlDevice, count)
	for i := range d.devices {
		dev := &d.devices[i]
		h, ret := d.lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			// Keep the slot: a GPU that fell off the bus should show up as
			// an error on every sample, not silently vanish.
			dev.handleErr = ret
			continue
		}
		dev.handle = h
		if d.events != nil {
			dev.xidOK = h.RegisterEvents(nvml.EventTypeXidCriticalError, d.events) == nvml.SUCCESS
		}
	}
	return nil
}

func (d *nvmlDriver) Devices(ctx context.Context) ([]proofgrid.GPU, error) {
	d.pollXIDs()
	gpus := make([]proofgrid.GPU, 0, len(d.devices))
	var errs []error
	for i, dev := range d.devices {
		if dev.handleErr != nil {
			errs = append(errs, fmt.Errorf("gpu %d: handle: %w", i, dev.handleErr))
			continue
		}
		if err := ctx.Err(); err != nil {
			return gpus, errors.Join(append(errs, err)...)
		}
		g, err := d.read(i, dev)
		gpus = append(gpus, g)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return gpus, errors.Join(errs...)
}

// pollXIDs drains the event set without waiting and counts each device's
// critical XIDs that are not caused by applications.
func (d *nvmlDriver) pollXIDs() {
	if d.events == nil {
		return
	}
	for range maxEventsPerPoll {
		e, ret := d.events.Wait(0)
		if ret != nvml.SUCCESS { // ERROR_TIMEOUT: nothing queued
			return
		}
		if e.EventType&nvml.EventTypeXidCriticalError == 0 || applicationXID(e.EventData) {
			continue
		}
		for i := range d.devices {
			if d.devices[i].handle != nil && d.devices[i].handle == e.Device {
				d.devices[i].xids++
			}
		}
	}
}

// read fills one GPU. Each field whose call answers ERROR_NOT_SUPPORTED is
// left zero and named in Unsupported by its JSON name; any other failure is
// returned, and the rest of the GPU is still filled.
func (d *nvmlDriver) read(i int, dev nvmlDevice) (proofgrid.GPU, error) {
	h := dev.handle
	g := proofgrid.GPU{Index: i, DriverVersion: d.driverVersion, ThrottleReasons: []string{}}
	var errs []error
	ok := func(ret nvml.Return, fields ...string) bool {
		switch ret {
		case nvml.SUCCESS:
			return true
		case nvml.ERROR_NOT_SUPPORTED:
			g.Unsupported = append(g.Unsupported, fields...)
		default:
			errs = append(errs, fmt.Errorf("gpu %d: %s: %w", i, fields[0], ret))
		}
		return false
	}

	if v, ret := h.GetName(); ok(ret, "name") {
		g.Name = v
	}
	if v, ret := h.GetUUID(); ok(ret, "uuid") {
		g.UUID = v
	}
	if m, ret := h.GetMemoryInfo(); ok(ret, "memory_total_bytes", "memory_used_bytes") {
		g.MemoryTotalBytes, g.MemoryUsedBytes = m.Total, m.Used
	}
	if u, ret := h.GetUtilizationRates(); ok(ret, "utilization_percent", "memory_utilization_percent") {
		g.UtilizationPercent, g.MemoryUtilPercent = u.Gpu, u.Memory
	}
	if !d.temperature {
		g.Unsupported = append(g.Unsupported, "temperature_c")
	} else if v, ret := h.GetTemperature(nvml.TEMPERATURE_GPU); ok(ret, "temperature_c") {
		g.TemperatureC = v
	}
	if mw, ret := h.GetPowerUsage(); ok(ret, "power_draw_watts") {
		g.PowerDrawWatts = float64(mw) / 1000
	}
	if mw, ret := h.GetEnforcedPowerLimit(); ok(ret, "power_limit_watts") {
		g.PowerLimitWatts = float64(mw) / 1000
	}
	if v, ret := h.GetClockInfo(nvml.CLOCK_SM); ok(ret, "sm_clock_mhz") {
		g.SMClockMHz = v
	}
	if v, ret := h.GetClockInfo(nvml.CLOCK_MEM); ok(ret, "mem_clock_mhz") {
		g.MemClockMHz = v
	}
	var mask uint64
	var ret nvml.Return
	if d.eventReasons {
		mask, ret = h.GetCurrentClocksEventReasons()
	} else {
		mask, ret = h.GetCurrentClocksThrottleReasons()
	}
	if ok(ret, "throttle_reasons") {
		g.ThrottleReasons = throttleReasons(mask)
	}
	if v, ret := h.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_CORRECTED, nvml.VOLATILE_ECC); ok(ret, "ecc_errors_corrected") {
		g.ECCErrorsCorrected = v
	}
	if v, ret := h.GetTotalEccErrors(nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.VOLATILE_ECC); ok(ret, "ecc_errors_uncorrected") {
		g.ECCErrorsUncorrected = v
	}
	if dev.xidOK {
		g.XIDErrors = dev.xids
	} else {
		g.Unsupported = append(g.Unsupported, "xid_errors")
	}
	return g, errors.Join(errs...)
}

func (d *nvmlDriver) Shutdown() error {
	if d.events != nil {
		d.events.Free()
		d.events = nil
	}
	d.devices = nil
	if ret := d.lib.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("nvml shutdown: %w", ret)
	}
	return nil
}
