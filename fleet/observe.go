package fleet

import (
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
)

// Observe condenses a heartbeat into what health reads: a few figures of
// the sample and the status, and the AVS deployments it reported. AVS ids
// and chains are compared in lower case, and operator addresses are
// stored in lower case like every address proofgrid keys on. A deployment
// listed twice counts once.
func Observe(machineID string, receivedAt time.Time, hb proofgrid.Heartbeat) (storage.Observation, []storage.AVSDeployment) {
	sm, st := hb.Sample, hb.Status
	o := storage.Observation{
		MachineID:     machineID,
		SeenAt:        receivedAt,
		CPUPercent:    sm.CPU.UsagePercent,
		MemoryPercent: sm.Memory.Percent(),
		GPUCount:      len(sm.GPUs),
		RunningJobs:   st.RunningJobs,
	}
	o.DiskMaxMount, o.DiskMaxPercent = sm.FullestDisk()
	for _, g := range sm.GPUs {
		o.GPUXIDErrors += g.XIDErrors
	}
	for _, e := range st.Errors {
		if e = strings.TrimSpace(e); e != "" {
			o.Errors = appendNew(o.Errors, e)
		}
	}
	if st.RunningJobs > 0 {
		at := receivedAt
		o.LastActiveAt = &at
	} else if st.LastJobAt != nil {
		// A job that ended between two heartbeats; the agent's clock may
		// run ahead of ours, so never later than receipt.
		at := st.LastJobAt.UTC()
		if at.After(receivedAt) {
			at = receivedAt
		}
		o.LastActiveAt = &at
	}
	var deps []storage.AVSDeployment
	seen := map[[2]string]bool{}
	for _, a := range st.AVS {
		id, chain := normalizeName(a.AVS), normalizeName(a.Chain)
		key := [2]string{id, chain}
		if id == "" || seen[key] {
			continue
		}
		seen[key] = true
		op := strings.TrimSpace(a.OperatorAddress)
		if proofgrid.ValidAddress(op) {
			op = strings.ToLower(op)
		}
		deps = append(deps, storage.AVSDeployment{
			MachineID: machineID, AVSID: id, Chain: chain, Version: strings.TrimSpace(a.Version),
			OperatorAddress: op, Healthy: a.Healthy, Error: strings.TrimSpace(a.Error),
			Registered: a.Registered, ReportedAt: receivedAt,
		})
	}
	return o, deps
}

func normalizeName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
