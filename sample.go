package proofgrid

import "time"

// Sample is one hardware reading of a machine, taken by the agent and sent
// with each heartbeat. Percentages are 0..100. CPU usage covers the whole
// machine (all cores together), not one core.
type Sample struct {
	CollectedAt time.Time `json:"collected_at"`
	Host        Host      `json:"host"`
	CPU         CPU       `json:"cpu"`
	Memory      Memory    `json:"memory"`
	Disks       []Disk    `json:"disks"`
	Network     NetworkIO `json:"network"`
	DiskIO      DiskIO    `json:"disk_io"`
	// GPUs is empty (not null) on machines without an NVIDIA driver.
	GPUs []GPU `json:"gpus"`
	// CollectorErrors lists collectors that failed this time; one failing
	// collector never drops the sample.
	CollectorErrors []CollectorError `json:"collector_errors,omitempty"`
}

// Host describes the operating system and uptime.
type Host struct {
	Hostname        string `json:"hostname"`
	OS              string `json:"os"`
	Platform        string `json:"platform"`
	PlatformVersion string `json:"platform_version"`
	KernelVersion   string `json:"kernel_version"`
	KernelArch      string `json:"kernel_arch"`
	UptimeSeconds   uint64 `json:"uptime_seconds"`
	BootTime        uint64 `json:"boot_time"` // unix seconds
}

// CPU holds processor usage. UsagePercent is 0..100 for the whole machine.
type CPU struct {
	Model         string  `json:"model"`
	LogicalCores  int     `json:"logical_cores"`
	PhysicalCores int     `json:"physical_cores"`
	UsagePercent  float64 `json:"usage_percent"`
	Load1         float64 `json:"load1"`
	Load5         float64 `json:"load5"`
	Load15        float64 `json:"load15"`
}

// Memory holds RAM and swap usage in bytes.
type Memory struct {
	TotalBytes      uint64  `json:"total_bytes"`
	UsedBytes       uint64  `json:"used_bytes"`
	AvailableBytes  uint64  `json:"available_bytes"`
	UsedPercent     float64 `json:"used_percent"`
	SwapTotalBytes  uint64  `json:"swap_total_bytes"`
	SwapUsedBytes   uint64  `json:"swap_used_bytes"`
	SwapUsedPercent float64 `json:"swap_used_percent"`
}

// Disk is the usage of one real (non-virtual) mounted filesystem.
type Disk struct {
	Mountpoint  string  `json:"mountpoint"`
	Device      string  `json:"device"`
	FSType      string  `json:"fstype"`
	TotalBytes  uint64  `json:"total_bytes"`
	UsedBytes   uint64  `json:"used_bytes"`
	FreeBytes   uint64  `json:"free_bytes"`
	UsedPercent float64 `json:"used_percent"`
}

// NetworkIO holds network rates summed over non-loopback interfaces,
// averaged since the previous sample (zero on the first one).
type NetworkIO struct {
	RxBytesPerSec float64 `json:"rx_bytes_per_sec"`
	TxBytesPerSec float64 `json:"tx_bytes_per_sec"`
	RxBytesTotal  uint64  `json:"rx_bytes_total"`
	TxBytesTotal  uint64  `json:"tx_bytes_total"`
}

// DiskIO holds block-device rates summed over physical devices, averaged
// since the previous sample (zero on the first one).
type DiskIO struct {
	ReadBytesPerSec  float64 `json:"read_bytes_per_sec"`
	WriteBytesPerSec float64 `json:"write_bytes_per_sec"`
	ReadBytesTotal   uint64  `json:"read_bytes_total"`
	WriteBytesTotal  uint64  `json:"write_bytes_total"`
}

// GPU is one NVIDIA device as NVML reports it. Fields a device does not
// support are left at zero and named in Unsupported.
type GPU struct {
	Index                int      `json:"index"`
	UUID                 string   `json:"uuid"`
	Name                 string   `json:"name"`
	DriverVersion        string   `json:"driver_version,omitempty"`
	MemoryTotalBytes     uint64   `json:"memory_total_bytes"`
	MemoryUsedBytes      uint64   `json:"memory_used_bytes"`
	UtilizationPercent   uint32   `json:"utilization_percent"`
	MemoryUtilPercent    uint32   `json:"memory_utilization_percent"`
	TemperatureC         uint32   `json:"temperature_c"`
	PowerDrawWatts       float64  `json:"power_draw_watts"`
	PowerLimitWatts      float64  `json:"power_limit_watts"`
	SMClockMHz           uint32   `json:"sm_clock_mhz"`
	MemClockMHz          uint32   `json:"mem_clock_mhz"`
	ThrottleReasons      []string `json:"throttle_reasons"`
	ECCErrorsCorrected   uint64   `json:"ecc_errors_corrected"`
	ECCErrorsUncorrected uint64   `json:"ecc_errors_uncorrected"`
	// XIDErrors counts XID events that point at the device or driver
	// (application-caused XIDs 13, 31, 43, 45 and 68 are left out) seen
	// since the agent started watching the device.
	XIDErrors   uint64   `json:"xid_errors"`
	Unsupported []string `json:"unsupported,omitempty"`
}

// CollectorError records one collector's failure in a sample.
type CollectorError struct {
	Collector string `json:"collector"`
	Error     string `json:"error"`
}

// Percent returns the RAM in use, 0..100: UsedPercent, or the share the
// byte counts give when the agent left UsedPercent at zero.
func (m Memory) Percent() float64 {
	if m.UsedPercent == 0 && m.TotalBytes > 0 {
		return 100 * float64(m.UsedBytes) / float64(m.TotalBytes)
	}
	return m.UsedPercent
}

// Percent returns the filesystem's usage, 0..100: UsedPercent, or the
// share the byte counts give when the agent left UsedPercent at zero.
func (d Disk) Percent() float64 {
	if d.UsedPercent == 0 && d.TotalBytes > 0 {
		return 100 * float64(d.UsedBytes) / float64(d.TotalBytes)
	}
	return d.UsedPercent
}

// FullestDisk returns the mount point and usage (Disk.Percent) of the
// fullest filesystem, the first of equals; "" and 0 without disks. Health
// rules ask whether any disk is above a threshold, which is whether the
// fullest is, and the metric history keeps the same figure.
func (s Sample) FullestDisk() (mount string, percent float64) {
	for i, d := range s.Disks {
		if p := d.Percent(); i == 0 || p > percent {
			mount, percent = d.Mountpoint, p
		}
	}
	return mount, percent
}
