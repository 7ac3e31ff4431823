package fleet

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/proofgrid/proofgrid"
)

// Limits on what an agent may send: a heartbeat is small, and anything
// beyond these is a broken or hostile agent. Bounds on numbers are far
// above any real machine, and below what the columns they end up in hold
// (running_jobs is an INTEGER on PostgreSQL, the sum of XID errors a
// BIGINT), so that both databases answer 400 the same way instead of
// PostgreSQL failing the write.
const (
	maxNameLen    = 128
	maxVersionLen = 64
	maxDisks      = 256
	maxGPUs       = 64
	maxStrLen     = 256
	maxErrors     = 64
	maxAVS        = 32
	maxQueues     = 16
	maxListItems  = 32

	maxCores       = 1 << 20
	maxLoad        = 1e6
	maxBytesPerSec = 1e15 // a petabyte a second
	maxGPUIndex    = 1023
	maxTemperature = 200 // °C: a GPU shuts down long before
	maxWatts       = 10000
	maxClockMHz    = 100000
	maxCounter     = 1 << 48 // ECC and XID errors; 64 of them still fit a BIGINT sum
	maxRunningJobs = 1 << 20
)

// checker collects the first problem of an input, naming the field.
type checker struct{ err error }

func (c *checker) fail(field, format string, args ...any) {
	if c.err == nil {
		c.err = proofgrid.Errorf(proofgrid.EINVALID, "%s %s", field, fmt.Sprintf(format, args...))
	}
}

// text refuses strings PostgreSQL cannot store (NUL bytes, invalid UTF-8)
// and strings longer than max bytes.
func (c *checker) text(field, s string, max int) {
	switch {
	case len(s) > max:
		c.fail(field, "must be at most %d bytes", max)
	case strings.IndexByte(s, 0) >= 0:
		c.fail(field, "must not contain NUL bytes")
	case !utf8.ValidString(s):
		c.fail(field, "must be valid UTF-8")
	}
}

func (c *checker) texts(field string, ss []string, maxItems int) {
	if len(ss) > maxItems {
		c.fail(field, "may list at most %d items", maxItems)
	}
	for i, s := range ss {
		c.text(fmt.Sprintf("%s[%d]", field, i), s, maxStrLen)
	}
}

// number refuses NaN, infinities and values outside lo..hi.
func (c *checker) number(field string, v, lo, hi float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < lo || v > hi {
		c.fail(field, "must be a number between %v and %v, got %v", lo, hi, v)
	}
}

func (c *checker) integer(field string, v, lo, hi int64) {
	if v < lo || v > hi {
		c.fail(field, "must be between %d and %d, got %d", lo, hi, v)
	}
}

func (c *checker) unsigned(field string, v, hi uint64) {
	if v > hi {
		c.fail(field, "must be at most %d, got %d", hi, v)
	}
}

func (c *checker) host(h proofgrid.Host) {
	c.text("host.hostname", h.Hostname, maxStrLen)
	c.text("host.os", h.OS, maxStrLen)
	c.text("host.platform", h.Platform, maxStrLen)
	c.text("host.platform_version", h.PlatformVersion, maxStrLen)
	c.text("host.kernel_version", h.KernelVersion, maxStrLen)
	c.text("host.kernel_arch", h.KernelArch, maxStrLen)
}

// notAfter refuses a time later than limit.
func (c *checker) notAfter(field string, t, limit time.Time) {
	if t.After(limit) {
		c.fail(field, "is %s, later than the coordinator's clock allows (%s)", t.UTC().Format(time.RFC3339), limit.UTC().Format(time.RFC3339))
	}
}

// ValidateHeartbeat refuses heartbeats with impossible values, naming the
// field: a missing sample time (a null body), times further in the future
// than the signature window lets an agent's clock run ahead of now,
// negative counts, percentages outside 0..100, non-finite or absurd
// numbers, oversized lists, and text that is too long, holds NUL bytes or
// is not UTF-8.
func ValidateHeartbeat(hb proofgrid.Heartbeat, now time.Time) error {
	var c checker
	sm, st := hb.Sample, hb.Status
	latest := now.Add(proofgrid.SignatureWindow)
	c.text("agent_version", hb.AgentVersion, maxVersionLen)

	if sm.CollectedAt.IsZero() {
		c.fail("sample.collected_at", "is required")
	}
	c.notAfter("sample.collected_at", sm.CollectedAt, latest)
	c.host(sm.Host)
	c.text("cpu.model", sm.CPU.Model, maxStrLen)
	c.integer("cpu.logical_cores", int64(sm.CPU.LogicalCores), 0, maxCores)
	c.integer("cpu.physical_cores", int64(sm.CPU.PhysicalCores), 0, maxCores)
	c.number("cpu.usage_percent", sm.CPU.UsagePercent, 0, 100)
	c.number("cpu.load1", sm.CPU.Load1, 0, maxLoad)
	c.number("cpu.load5", sm.CPU.Load5, 0, maxLoad)
	c.number("cpu.load15", sm.CPU.Load15, 0, maxLoad)
	c.number("memory.used_percent", sm.Memory.UsedPercent, 0, 100)
	c.number("memory.swap_used_percent", sm.Memory.SwapUsedPercent, 0, 100)
	c.number("network.rx_bytes_per_sec", sm.Network.RxBytesPerSec, 0, maxBytesPerSec)
	c.number("network.tx_bytes_per_sec", sm.Network.TxBytesPerSec, 0, maxBytesPerSec)
	c.number("disk_io.read_bytes_per_sec", sm.DiskIO.ReadBytesPerSec, 0, maxBytesPerSec)
	c.number("disk_io.write_bytes_per_sec", sm.DiskIO.WriteBytesPerSec, 0, maxBytesPerSec)

	if len(sm.Disks) > maxDisks {
		c.fail("disks", "may list at most %d disks", maxDisks)
	}
	for i, d := range sm.Disks {
		f := fmt.Sprintf("disks[%d].", i)
		c.text(f+"mountpoint", d.Mountpoint, maxStrLen)
		c.text(f+"device", d.Device, maxStrLen)
		c.text(f+"fstype", d.FSType, maxStrLen)
		c.number(f+"used_percent", d.UsedPercent, 0, 100)
	}
	if len(sm.GPUs) > maxGPUs {
		c.fail("gpus", "may list at most %d GPUs", maxGPUs)
	}
	for i, g := range sm.GPUs {
		f := fmt.Sprintf("gpus[%d].", i)
		c.integer(f+"index", int64(g.Index), 0, maxGPUIndex)
		c.text(f+"uuid", g.UUID, maxStrLen)
		c.text(f+"name", g.Name, maxStrLen)
		c.text(f+"driver_version", g.DriverVersion, maxStrLen)
		c.unsigned(f+"utilization_percent", uint64(g.UtilizationPercent), 100)
		c.unsigned(f+"memory_utilization_percent", uint64(g.MemoryUtilPercent), 100)
		c.unsigned(f+"temperature_c", uint64(g.TemperatureC), maxTemperature)
		c.number(f+"power_draw_watts", g.PowerDrawWatts, 0, maxWatts)
		c.number(f+"power_limit_watts", g.PowerLimitWatts, 0, maxWatts)
		c.unsigned(f+"sm_clock_mhz", uint64(g.SMClockMHz), maxClockMHz)
		c.unsigned(f+"mem_clock_mhz", uint64(g.MemClockMHz), maxClockMHz)
		c.unsigned(f+"ecc_errors_corrected", g.ECCErrorsCorrected, maxCounter)
		c.unsigned(f+"ecc_errors_uncorrected", g.ECCErrorsUncorrected, maxCounter)
		c.unsigned(f+"xid_errors", g.XIDErrors, maxCounter)
		c.texts(f+"throttle_reasons", g.ThrottleReasons, maxListItems)
		c.texts(f+"unsupported", g.Unsupported, maxListItems)
	}
	if len(sm.CollectorErrors) > maxErrors {
		c.fail("collector_errors", "may list at most %d items", maxErrors)
	}
	for i, e := range sm.CollectorErrors {
		c.text(fmt.Sprintf("collector_errors[%d].collector", i), e.Collector, maxStrLen)
		c.text(fmt.Sprintf("collector_errors[%d].error", i), e.Error, maxStrLen)
	}

	c.integer("status.running_jobs", int64(st.RunningJobs), 0, maxRunningJobs)
	if st.LastJobAt != nil {
		c.notAfter("status.last_job_at", *st.LastJobAt, latest)
	}
	c.texts("status.queues", st.Queues, maxQueues)
	c.texts("status.errors", st.Errors, maxErrors)
	if len(st.AVS) > maxAVS {
		c.fail("status.avs", "may list at most %d items", maxAVS)
	}
	for i, a := range st.AVS {
		f := fmt.Sprintf("status.avs[%d].", i)
		c.text(f+"avs", a.AVS, maxStrLen)
		c.text(f+"chain", a.Chain, maxStrLen)
		c.text(f+"version", a.Version, maxStrLen)
		c.text(f+"operator_address", a.OperatorAddress, maxStrLen)
		c.text(f+"error", a.Error, maxStrLen)
	}
	return c.err
}

// validateEnroll checks an enrolment request; like heartbeats, its text
// must be storable on both databases.
func validateEnroll(r proofgrid.EnrollRequest) error {
	var c checker
	if !proofgrid.ValidRole(r.Role) {
		c.fail("role", "must be %q, %q or %q, got %q", proofgrid.RoleProver, proofgrid.RoleAVS, proofgrid.RoleVerifier, r.Role)
	}
	if strings.TrimSpace(r.Name) == "" {
		c.fail("name", "is required")
	}
	c.text("name", r.Name, maxNameLen)
	c.text("agent_version", r.AgentVersion, maxVersionLen)
	if r.ClusterID != "" && !ValidClusterID(r.ClusterID) {
		c.fail("cluster_id", "must be 1..64 letters, digits, '.', '_' or '-'")
	}
	if r.ClusterID != "" && r.Role != proofgrid.RoleProver {
		c.fail("cluster_id", "is only for prover machines")
	}
	c.host(r.Host)
	if c.err != nil {
		return c.err
	}
	_, err := decodeKey(r.PublicKey)
	return err
}
