package proofgrid

import "time"

// MetricPoint is one stored heartbeat sample of a machine's history, with
// the summary numbers dashboards plot.
type MetricPoint struct {
	MachineID   string    `json:"machine_id"`
	CollectedAt time.Time `json:"collected_at"`
	ReceivedAt  time.Time `json:"received_at"`
	// CPUPercent is whole-machine CPU usage, 0..100.
	CPUPercent float64 `json:"cpu_percent"`
	// MemoryPercent is RAM in use, 0..100.
	MemoryPercent float64 `json:"memory_percent"`
	// DiskMaxPercent is the usage of the fullest filesystem, 0..100.
	DiskMaxPercent float64 `json:"disk_max_percent"`
	GPUCount       int     `json:"gpu_count"`
	Sample         Sample  `json:"sample"`
}
