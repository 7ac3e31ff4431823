// Package fleet holds the rules about machines: enrolment, heartbeats and
// their validation, team visibility, metric retention, and fleet health:
// the one function that derives a machine's health (Assess), the sweep
// that records health transitions, the AVS catalogue, and the AVS facts
// admins record. Surfaces and task handlers call it; it knows nothing of
// HTTP or queues' transport.
package fleet

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
)

// Config configures a Service. Zero values mean defaults.
type Config struct {
	// HeartbeatInterval is what agents are told to use (default 15 s).
	HeartbeatInterval time.Duration
	// AgentRedisURL is handed to agents at enrolment; empty leaves it to
	// the agent's own configuration.
	AgentRedisURL string
	Now           func() time.Time
}

// Service applies the fleet rules over storage.
type Service struct {
	db  *storage.DB
	cfg Config
}

// NewService returns a Service.
func NewService(db *storage.DB, cfg Config) *Service {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{db: db, cfg: cfg}
}

// Limits on what an agent may send: a heartbeat is small, and anything
// beyond these is a broken or hostile agent.
const (
	maxNameLen    = 128
	maxVersionLen = 64
	maxDisks      = 256
	maxGPUs       = 64
	maxStrLen     = 256
	maxErrors     = 64
	maxAVS        = 32
	maxQueues     = 16
)

var clusterIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidClusterID reports whether id may name a cluster in queue names.
func ValidClusterID(id string) bool { return clusterIDPattern.MatchString(id) }

// Enroll registers (or re-registers) a machine of a team. The same public
// key always gets the same machine id.
func (s *Service) Enroll(ctx context.Context, teamID int64, req proofgrid.EnrollRequest) (proofgrid.EnrollResponse, error) {
	if err := validateEnroll(req); err != nil {
		return proofgrid.EnrollResponse{}, err
	}
	m, _, err := s.db.UpsertMachine(ctx, proofgrid.Machine{
		ID:           uuid.NewString(),
		TeamID:       teamID,
		Name:         req.Name,
		Role:         req.Role,
		ClusterID:    req.ClusterID,
		PublicKey:    req.PublicKey,
		AgentVersion: req.AgentVersion,
		EnrolledAt:   s.cfg.Now().UTC(),
	})
	if proofgrid.ErrorCode(err) == proofgrid.ECONFLICT {
		return proofgrid.EnrollResponse{}, proofgrid.Errorf(proofgrid.ECONFLICT, "this agent key is enrolled by another team")
	} else if err != nil {
		return proofgrid.EnrollResponse{}, fmt.Errorf("enrol machine: %w", err)
	}
	return proofgrid.EnrollResponse{
		MachineID:         m.ID,
		Queues:            Queues(m),
		RedisURL:          s.cfg.AgentRedisURL,
		HeartbeatInterval: int(s.cfg.HeartbeatInterval / time.Second),
	}, nil
}

// Queues returns the asynq queues a machine's agent consumes.
func Queues(m proofgrid.Machine) []string {
	switch {
	case m.Role == proofgrid.RoleProver && m.ClusterID != "":
		return []string{queue.ProveQueue(m.ClusterID)}
	case m.Role == proofgrid.RoleAVS:
		return []string{queue.AVSQueue(m.ID)}
	case m.Role == proofgrid.RoleVerifier:
		return []string{queue.QueueVerifyGolf}
	}
	return []string{}
}

func validateEnroll(r proofgrid.EnrollRequest) error {
	switch {
	case !proofgrid.ValidRole(r.Role):
		return proofgrid.Errorf(proofgrid.EINVALID, "role must be %q, %q or %q, got %q", proofgrid.RoleProver, proofgrid.RoleAVS, proofgrid.RoleVerifier, r.Role)
	case r.Name == "" || len(r.Name) > maxNameLen:
		return proofgrid.Errorf(proofgrid.EINVALID, "name must be 1..%d characters", maxNameLen)
	case len(r.AgentVersion) > maxVersionLen:
		return proofgrid.Errorf(proofgrid.EINVALID, "agent_version must be at most %d characters", maxVersionLen)
	case r.ClusterID != "" && !ValidClusterID(r.ClusterID):
		return proofgrid.Errorf(proofgrid.EINVALID, "cluster_id must be 1..64 letters, digits, '.', '_' or '-'")
	case r.ClusterID != "" && r.Role != proofgrid.RoleProver:
		return proofgrid.Errorf(proofgrid.EINVALID, "cluster_id is only for prover machines")
	}
	if _, err := decodeKey(r.PublicKey); err != nil {
		return err
	}
	return nil
}

func decodeKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "public_key must be a base64 Ed25519 public key (32 bytes)")
	}
	return ed25519.PublicKey(b), nil
}

// AgentKey returns the public key of an enrolled machine and its identity
// (the returned Machine carries no sample or status).
func (s *Service) AgentKey(ctx context.Context, machineID string) (ed25519.PublicKey, proofgrid.Machine, error) {
	if _, err := uuid.Parse(machineID); err != nil {
		return nil, proofgrid.Machine{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "unknown machine")
	}
	m, err := s.db.MachineIdentity(ctx, machineID)
	if err != nil {
		return nil, proofgrid.Machine{}, err
	}
	key, err := decodeKey(m.PublicKey)
	if err != nil {
		return nil, proofgrid.Machine{}, fmt.Errorf("stored key of machine %s: %w", m.ID, err)
	}
	return key, m, nil
}

// Heartbeat validates and records one heartbeat of a machine.
func (s *Service) Heartbeat(ctx context.Context, machineID string, hb proofgrid.Heartbeat) (time.Time, error) {
	if err := ValidateHeartbeat(hb); err != nil {
		return time.Time{}, err
	}
	now := s.cfg.Now().UTC()
	// What health reads is condensed now and stored with the heartbeat, so
	// that fleet-wide reads never decode samples.
	obs, deps := Observe(machineID, now, hb)
	if err := s.db.RecordObservedHeartbeat(ctx, machineID, now, hb, obs, deps); err != nil {
		return time.Time{}, fmt.Errorf("record heartbeat: %w", err)
	}
	return now, nil
}

// HeartbeatInterval is the interval agents are told to use.
func (s *Service) HeartbeatInterval() time.Duration { return s.cfg.HeartbeatInterval }

// ValidateHeartbeat refuses heartbeats with impossible values: percentages
// outside 0..100, NaN or infinite numbers, oversized lists or strings.
func ValidateHeartbeat(hb proofgrid.Heartbeat) error {
	sm := hb.Sample
	bad := func(format string, args ...any) error { return proofgrid.Errorf(proofgrid.EINVALID, format, args...) }
	if len(hb.AgentVersion) > maxVersionLen {
		return bad("agent_version must be at most %d characters", maxVersionLen)
	}
	if len(sm.Disks) > maxDisks || len(sm.GPUs) > maxGPUs {
		return bad("a sample may list at most %d disks and %d GPUs", maxDisks, maxGPUs)
	}
	if len(hb.Status.Errors) > maxErrors || len(hb.Status.AVS) > maxAVS || len(hb.Status.Queues) > maxQueues || len(sm.CollectorErrors) > maxErrors {
		return bad("status lists are too long (errors ≤ %d, avs ≤ %d, queues ≤ %d)", maxErrors, maxAVS, maxQueues)
	}
	if hb.Status.RunningJobs < 0 {
		return bad("status.running_jobs must not be negative")
	}
	pct := map[string]float64{
		"cpu.usage_percent": sm.CPU.UsagePercent, "memory.used_percent": sm.Memory.UsedPercent,
		"memory.swap_used_percent": sm.Memory.SwapUsedPercent,
	}
	for i, d := range sm.Disks {
		pct[fmt.Sprintf("disks[%d].used_percent", i)] = d.UsedPercent
		if err := checkStrings(bad, d.Mountpoint, d.Device, d.FSType); err != nil {
			return err
		}
	}
	for name, v := range pct {
		if math.IsNaN(v) || v < 0 || v > 100 {
			return bad("%s must be between 0 and 100, got %v", name, v)
		}
	}
	for name, v := range map[string]float64{
		"cpu.load1": sm.CPU.Load1, "cpu.load5": sm.CPU.Load5, "cpu.load15": sm.CPU.Load15,
		"network.rx_bytes_per_sec": sm.Network.RxBytesPerSec, "network.tx_bytes_per_sec": sm.Network.TxBytesPerSec,
		"disk_io.read_bytes_per_sec": sm.DiskIO.ReadBytesPerSec, "disk_io.write_bytes_per_sec": sm.DiskIO.WriteBytesPerSec,
	} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return bad("%s must be a non-negative number, got %v", name, v)
		}
	}
	for i, g := range sm.GPUs {
		if g.UtilizationPercent > 100 || g.MemoryUtilPercent > 100 {
			return bad("gpus[%d] utilisation must be between 0 and 100", i)
		}
		if math.IsNaN(g.PowerDrawWatts) || math.IsInf(g.PowerDrawWatts, 0) || g.PowerDrawWatts < 0 {
			return bad("gpus[%d].power_draw_watts must be a non-negative number", i)
		}
		if len(g.ThrottleReasons) > 32 {
			return bad("gpus[%d] lists too many throttle reasons", i)
		}
		if err := checkStrings(bad, g.UUID, g.Name, g.DriverVersion); err != nil {
			return err
		}
	}
	h := sm.Host
	if err := checkStrings(bad, h.Hostname, h.OS, h.Platform, h.PlatformVersion, h.KernelVersion, h.KernelArch, sm.CPU.Model); err != nil {
		return err
	}
	for _, a := range hb.Status.AVS {
		if err := checkStrings(bad, a.AVS, a.Chain, a.Version, a.OperatorAddress, a.Error); err != nil {
			return err
		}
	}
	return checkStrings(bad, hb.Status.Errors...)
}

func checkStrings(bad func(string, ...any) error, ss ...string) error {
	for _, s := range ss {
		if len(s) > maxStrLen {
			return bad("a text field is longer than %d characters", maxStrLen)
		}
	}
	return nil
}

// Machine returns a machine visible to teamID (0: any team). A machine of
// another team is reported as not found, so ids of others leak nothing.
func (s *Service) Machine(ctx context.Context, teamID int64, id string) (proofgrid.Machine, error) {
	if _, err := uuid.Parse(id); err != nil {
		return proofgrid.Machine{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", id)
	}
	m, err := s.db.MachineByID(ctx, id)
	if err != nil {
		if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
			return m, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", id)
		}
		return m, err
	}
	if teamID != 0 && m.TeamID != teamID {
		return proofgrid.Machine{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", id)
	}
	return m, nil
}

// Machines lists the machines of teamID (0: every team).
func (s *Service) Machines(ctx context.Context, teamID int64) ([]proofgrid.Machine, error) {
	return s.db.ListMachines(ctx, teamID)
}

// Metrics returns up to limit history points of a machine visible to teamID.
func (s *Service) Metrics(ctx context.Context, teamID int64, id string, since time.Time, limit int) ([]storage.MetricPoint, error) {
	if _, err := s.Machine(ctx, teamID, id); err != nil {
		return nil, err
	}
	return s.db.MachineMetrics(ctx, id, since, limit)
}

// PruneMetrics deletes history older than keep.
func (s *Service) PruneMetrics(ctx context.Context, keep time.Duration) (int64, error) {
	return s.db.DeleteMetricsBefore(ctx, s.cfg.Now().Add(-keep))
}
