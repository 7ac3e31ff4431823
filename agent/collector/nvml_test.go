//go:build linux && cgo && !nonvml

package collector

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

// mockLib returns an NVML with the given devices, an event set fed from
// events, and a library that exports every symbol but those in missing.
func mockLib(devices []nvml.Device, events *[]nvml.EventData, missing ...string) *mock.Interface {
	set := &mock.EventSet{
		WaitFunc: func(uint32) (nvml.EventData, nvml.Return) {
			if len(*events) == 0 {
				return nvml.EventData{}, nvml.ERROR_TIMEOUT
			}
			e := (*events)[0]
			*events = (*events)[1:]
			return e, nvml.SUCCESS
		},
		FreeFunc: func() nvml.Return { return nvml.SUCCESS },
	}
	ext := &mock.ExtendedInterface{LookupSymbolFunc: func(name string) error {
		if slices.Contains(missing, name) {
			return errors.New("undefined symbol")
		}
		return nil
	}}
	return &mock.Interface{
		InitFunc:                   func() nvml.Return { return nvml.SUCCESS },
		ShutdownFunc:               func() nvml.Return { return nvml.SUCCESS },
		DeviceGetCountFunc:         func() (int, nvml.Return) { return len(devices), nvml.SUCCESS },
		SystemGetDriverVersionFunc: func() (string, nvml.Return) { return "550.54.15", nvml.SUCCESS },
		ExtensionsFunc:             func() nvml.ExtendedInterface { return ext },
		EventSetCreateFunc:         func() (nvml.EventSet, nvml.Return) { return set, nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			if devices[i] == nil {
				return nil, nvml.ERROR_GPU_IS_LOST
			}
			return devices[i], nvml.SUCCESS
		},
	}
}

// mockDevice answers every call the driver makes; ECC and XID events follow
// the given returns, as on a consumer card that supports neither.
func mockDevice(uuid string, ecc, events nvml.Return) *mock.Device {
	return &mock.Device{
		GetNameFunc: func() (string, nvml.Return) { return "NVIDIA H100 80GB HBM3", nvml.SUCCESS },
		GetUUIDFunc: func() (string, nvml.Return) { return uuid, nvml.SUCCESS },
		GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) {
			return nvml.Memory{Total: 80 << 30, Used: 10 << 30, Free: 70 << 30}, nvml.SUCCESS
		},
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) {
			return nvml.Utilization{Gpu: 97, Memory: 40}, nvml.SUCCESS
		},
		GetTemperatureFunc:        func(nvml.TemperatureSensors) (uint32, nvml.Return) { return 64, nvml.SUCCESS },
		GetPowerUsageFunc:         func() (uint32, nvml.Return) { return 612500, nvml.SUCCESS },
		GetEnforcedPowerLimitFunc: func() (uint32, nvml.Return) { return 700000, nvml.SUCCESS },
		GetClockInfoFunc: func(c nvml.ClockType) (uint32, nvml.Return) {
			if c == nvml.CLOCK_SM {
				return 1980, nvml.SUCCESS
			}
			return 2619, nvml.SUCCESS
		},
		GetCurrentClocksEventReasonsFunc: func() (uint64, nvml.Return) {
			return nvml.ClocksEventReasonSwPowerCap, nvml.SUCCESS
		},
		GetCurrentClocksThrottleReasonsFunc: func() (uint64, nvml.Return) {
			return nvml.ClocksThrottleReasonHwSlowdown, nvml.SUCCESS
		},
		GetTotalEccErrorsFunc: func(t nvml.MemoryErrorType, _ nvml.EccCounterType) (uint64, nvml.Return) {
			if t == nvml.MEMORY_ERROR_TYPE_CORRECTED {
				return 3, ecc
			}
			return 0, ecc
		},
		RegisterEventsFunc: func(uint64, nvml.EventSet) nvml.Return { return events },
	}
}

func TestNVMLDriverNoLibrary(t *testing.T) {
	for _, ret := range []nvml.Return{nvml.ERROR_LIBRARY_NOT_FOUND, nvml.ERROR_DRIVER_NOT_LOADED} {
		d := newNVMLDriver(&mock.Interface{InitFunc: func() nvml.Return { return ret }})
		if err := d.Init(); !errors.Is(err, ErrNoDriver) {
			t.Errorf("Init with %v: err = %v, want ErrNoDriver", ret, err)
		}
	}
	d := newNVMLDriver(&mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_LIB_RM_VERSION_MISMATCH }})
	if err := d.Init(); err == nil || errors.Is(err, ErrNoDriver) || !errors.Is(err, nvml.ERROR_LIB_RM_VERSION_MISMATCH) {
		t.Errorf("Init with a version mismatch: err = %v, want a real error", err)
	}
}

func TestNVMLDriverDevices(t *testing.T) {
	h100 := mockDevice("GPU-1", nvml.SUCCESS, nvml.SUCCESS)
	rtx := mockDevice("GPU-2", nvml.ERROR_NOT_SUPPORTED, nvml.ERROR_NOT_SUPPORTED)
	rtx.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
	var events []nvml.EventData
	d := newNVMLDriver(mockLib([]nvml.Device{h100, rtx}, &events))
	if err := d.Init(); err != nil {
		t.Fatalf("Init: %v", err)
	}
	events = []nvml.EventData{
		{Device: h100, EventType: nvml.EventTypeXidCriticalError, EventData: 79}, // fell off the bus
		{Device: h100, EventType: nvml.EventTypeXidCriticalError, EventData: 48}, // double-bit ECC
		{Device: h100, EventType: nvml.EventTypeXidCriticalError, EventData: 13}, // application fault
	}
	gpus, err := d.Devices(context.Background())
	if err != nil {
		t.Fatalf("Devices: %v", err)
	}
	if len(gpus) != 2 {
		t.Fatalf("got %d GPUs, want 2", len(gpus))
	}
	g := gpus[0]
	if g.Index != 0 || g.UUID != "GPU-1" || g.Name != "NVIDIA H100 80GB HBM3" || g.DriverVersion != "550.54.15" {
		t.Errorf("identity = %d %q %q %q", g.Index, g.UUID, g.Name, g.DriverVersion)
	}
	if g.MemoryTotalBytes != 80<<30 || g.MemoryUsedBytes != 10<<30 || g.UtilizationPercent != 97 || g.MemoryUtilPercent != 40 {
		t.Errorf("memory/utilisation = %d %d %d %d", g.MemoryTotalBytes, g.MemoryUsedBytes, g.UtilizationPercent, g.MemoryUtilPercent)
	}
	if g.TemperatureC != 64 || g.PowerDrawWatts != 612.5 || g.PowerLimitWatts != 700 || g.SMClockMHz != 1980 || g.MemClockMHz != 2619 {
		t.Errorf("temp/power/clocks = %d %v %v %d %d", g.TemperatureC, g.PowerDrawWatts, g.PowerLimitWatts, g.SMClockMHz, g.MemClockMHz)
	}
	if !slices.Equal(g.ThrottleReasons, []string{"sw_power_cap"}) {
		t.Errorf("throttle reasons = %q, want the current clock event reasons", g.ThrottleReasons)
	}
	if g.ECCErrorsCorrected != 3 || g.XIDErrors != 2 || len(g.Unsupported) != 0 {
		t.Errorf("ecc %d, xid %d, unsupported %q; want 3, 2 (application XID skipped), none", g.ECCErrorsCorrected, g.XIDErrors, g.Unsupported)
	}
	r := gpus[1]
	wantUnsupported := []string{"power_draw_watts", "ecc_errors_corrected", "ecc_errors_uncorrected", "xid_errors"}
	if !slices.Equal(r.Unsupported, wantUnsupported) || r.PowerDrawWatts != 0 || r.ECCErrorsCorrected != 0 {
		t.Errorf("consumer GPU: unsupported %q power %v ecc %d; want %q and zeros", r.Unsupported, r.PowerDrawWatts, r.ECCErrorsCorrected, wantUnsupported)
	}
	if r.TemperatureC != 64 || r.Name == "" {
		t.Errorf("consumer GPU lost supported fields: %+v", r)
	}

	// Counts accumulate across calls.
	events = []nvml.EventData{{Device: h100, EventType: nvml.EventTypeXidCriticalError, EventData: 94}}
	if gpus, _ = d.Devices(context.Background()); gpus[0].XIDErrors != 3 {
		t.Errorf("XIDErrors after another event = %d, want 3", gpus[0].XIDErrors)
	}
	if err := d.Shutdown(); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestNVMLDriverOldAndBrokenDevices(t *testing.T) {
	gpu := mockDevice("GPU-1", nvml.SUCCESS, nvml.SUCCESS)
	gpu.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) { return nvml.Utilization{}, nvml.ERROR_UNKNOWN }
	var events []nvml.EventData
	lib := mockLib([]nvml.Device{gpu, nil}, &events, "nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetTemperature")
	d := newNVMLDriver(lib)
	if err := d.Init(); err != nil {
		t.Fatalf("Init: %v", err)
	}
	gpus, err := d.Devices(context.Background())
	if len(gpus) != 1 || err == nil {
		t.Fatalf("Devices = %d GPUs, err %v; want the readable GPU and an error for the lost one", len(gpus), err)
	}
	if !errors.Is(err, nvml.ERROR_GPU_IS_LOST) || !errors.Is(err, nvml.ERROR_UNKNOWN) {
		t.Errorf("err = %v, want both the lost GPU and the failed utilisation call", err)
	}
	g := gpus[0]
	if !slices.Equal(g.ThrottleReasons, []string{"hw_slowdown"}) {
		t.Errorf("throttle reasons = %q, want the deprecated call's answer on an old driver", g.ThrottleReasons)
	}
	if !slices.Equal(g.Unsupported, []string{"temperature_c"}) || g.TemperatureC != 0 {
		t.Errorf("unsupported = %q, temperature %d; want temperature_c unsupported where the symbol is gone", g.Unsupported, g.TemperatureC)
	}
	if len(gpu.GetTemperatureCalls()) != 0 {
		t.Errorf("GetTemperature called although the library lacks it")
	}
	if g.MemoryTotalBytes == 0 || g.UtilizationPercent != 0 {
		t.Errorf("a failed call must leave only its own fields zero: %+v", g)
	}
}

// TestThrottleReasonBits pins the local names to NVML's bit values.
func TestThrottleReasonBits(t *testing.T) {
	bits := map[uint64]string{
		nvml.ClocksEventReasonGpuIdle:                   "gpu_idle",
		nvml.ClocksEventReasonApplicationsClocksSetting: "applications_clocks_setting",
		nvml.ClocksEventReasonSwPowerCap:                "sw_power_cap",
		nvml.ClocksThrottleReasonHwSlowdown:             "hw_slowdown",
		nvml.ClocksEventReasonSyncBoost:                 "sync_boost",
		nvml.ClocksEventReasonSwThermalSlowdown:         "sw_thermal_slowdown",
		nvml.ClocksThrottleReasonHwThermalSlowdown:      "hw_thermal_slowdown",
		nvml.ClocksThrottleReasonHwPowerBrakeSlowdown:   "hw_power_brake_slowdown",
		nvml.ClocksEventReasonDisplayClockSetting:       "display_clock_setting",
		nvml.ClocksEventReasonBoardLimit:                "board_limit",
		nvml.ClocksEventReasonReliability:               "reliability",
	}
	for bit, name := range bits {
		if throttleReasonNames[bit] != name {
			t.Errorf("bit %#x: name %q, want %q", bit, throttleReasonNames[bit], name)
		}
	}
	if len(bits) != len(throttleReasonNames) {
		t.Errorf("%d names for %d NVML bits", len(throttleReasonNames), len(bits))
	}
}

// TestNVMLWithoutDriver loads the real library on this machine: without an
// NVIDIA driver the default driver must say so rather than fail.
func TestNVMLWithoutDriver(t *testing.T) {
	d := defaultGPUDriver()
	err := d.Init()
	if err == nil {
		d.Shutdown()
		t.Skip("an NVIDIA driver is installed here")
	}
	if !errors.Is(err, ErrNoDriver) {
		t.Fatalf("Init = %v, want ErrNoDriver on a machine without a driver", err)
	}
}
