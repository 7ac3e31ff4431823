package storage_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
)

// base is a timestamp with nanoseconds, to show that both dialects keep
// microseconds and drop the rest.
var base = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

// stored is t as the database gives it back.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := proofgrid.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (err %v), want %q", got, err, code)
	}
}

func mustTeam(t *testing.T, db *storage.DB, name string) storage.Team {
	t.Helper()
	team, err := db.CreateTeam(context.Background(), name)
	if err != nil {
		t.Fatalf("CreateTeam(%q): %v", name, err)
	}
	return team
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func newMachine(teamID int64, id, name, key string) proofgrid.Machine {
	return proofgrid.Machine{
		ID:           id,
		TeamID:       teamID,
		Name:         name,
		Role:         proofgrid.RoleProver,
		ClusterID:    "c1",
		PublicKey:    key,
		AgentVersion: "v1.0.0",
	}
}

func mustMachine(t *testing.T, db *storage.DB, teamID int64, id, name string) proofgrid.Machine {
	t.Helper()
	m, created, err := db.UpsertMachine(context.Background(), newMachine(teamID, id, name, "key-"+id))
	if err != nil || !created {
		t.Fatalf("UpsertMachine(%s) = created %v, %v", id, created, err)
	}
	return m
}

// sample returns a sample whose figures all derive from n, so that a test
// can tell which heartbeat a stored value came from.
func sample(n int, at time.Time) proofgrid.Sample {
	return proofgrid.Sample{
		CollectedAt: at,
		Host:        proofgrid.Host{Hostname: fmt.Sprintf("host-%d", n), OS: "linux", UptimeSeconds: uint64(n)},
		CPU:         proofgrid.CPU{Model: "EPYC", LogicalCores: 64, UsagePercent: float64(n)},
		Memory:      proofgrid.Memory{TotalBytes: 1000, UsedBytes: 250, UsedPercent: 25},
		Disks: []proofgrid.Disk{
			{Mountpoint: "/", TotalBytes: 100, UsedBytes: 10, UsedPercent: 10},
			{Mountpoint: "/data", TotalBytes: 100, UsedBytes: 80, UsedPercent: 80},
		},
		GPUs: []proofgrid.GPU{
			{Index: 0, UUID: "GPU-0", Name: "H100", ThrottleReasons: []string{}},
			{Index: 1, UUID: "GPU-1", Name: "H100", ThrottleReasons: []string{"power_cap"}},
		},
	}
}

func heartbeat(n int, at time.Time) proofgrid.Heartbeat {
	return proofgrid.Heartbeat{
		AgentVersion: "v1.0.0",
		Sample:       sample(n, at),
		Status:       proofgrid.AgentStatus{Queues: []string{"prove.cluster-c1"}, RunningJobs: n},
	}
}
