package proofs

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/storage"
)

// Failure is a prover agent's report that a prove:block job did not
// complete: it failed (the backend erred) or was cancelled (the agent
// stopped mid-proof).
type Failure struct {
	BlockNumber  int64
	ClusterIndex int64
	// Status is storage.WorkerEventFailed or storage.WorkerEventCancelled.
	Status string
	// Attempt is the delivery's retry count, so that each failed attempt
	// is one event and a resent report is not a second.
	Attempt   int
	StartedAt time.Time
	EndedAt   time.Time
	Error     string
}

// MaxFailureError caps the error text kept with a failure event.
const MaxFailureError = 1000

// ReportFailure records a failed or cancelled prove:block job of an agent
// with the reward pipeline and tells whether it was new. The job is the block's
// task for the cluster's active version; the cluster must be the one the
// agent is enrolled for.
func (s *Service) ReportFailure(ctx context.Context, who Reporter, f Failure) (bool, error) {
	if who.Machine == nil {
		return false, proofgrid.Errorf(proofgrid.EFORBIDDEN, "job failures are reported by prover agents (signed requests)")
	}
	if f.Status != storage.WorkerEventFailed && f.Status != storage.WorkerEventCancelled {
		return false, proofgrid.Errorf(proofgrid.EINVALID, "status must be %s or %s", storage.WorkerEventFailed, storage.WorkerEventCancelled)
	}
	if f.BlockNumber < 0 || f.Attempt < 0 {
		return false, proofgrid.Errorf(proofgrid.EINVALID, "block_number and attempt must not be negative")
	}
	now := s.now()
	if f.EndedAt.IsZero() || f.EndedAt.After(now.Add(time.Minute)) {
		f.EndedAt = now
	}
	if f.StartedAt.IsZero() || f.StartedAt.After(f.EndedAt) {
		f.StartedAt = f.EndedAt
	}
	if len(f.Error) > MaxFailureError {
		f.Error = f.Error[:MaxFailureError]
	}
	t, err := s.target(ctx, who, f.ClusterIndex)
	if err != nil {
		return false, err
	}
	jobID := queue.ProveBlockID(uint64(f.BlockNumber), t.version.ID)
	team := who.TeamID
	job := rewards.Job{
		Key:         strings.Join([]string{jobID, strings.ToLower(f.Status), who.Machine.ID, strconv.Itoa(f.Attempt)}, ":"),
		Source:      who.source(),
		Worker:      who.WorkerKey(),
		MachineID:   who.Machine.ID,
		TeamID:      &team,
		Topic:       queue.TypeProveBlock,
		CircuitType: circuitType(t.zkvm, t.zv),
		JobID:       jobID,
		Status:      f.Status,
		Error:       f.Error,
		Start:       f.StartedAt,
		End:         f.EndedAt,
		DurationMS:  f.EndedAt.Sub(f.StartedAt).Milliseconds(),
	}
	var inserted bool
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		inserted, err = s.cfg.Jobs.RecordJob(ctx, tx, job)
		return err
	})
	return inserted, err
}

// WorkerEvents returns worker events, for tests and operators; the Psy
// surface serves them to the public.
func (s *Service) WorkerEvents(ctx context.Context, f storage.WorkerEventFilter) ([]storage.WorkerEvent, error) {
	return s.db.WorkerEvents(ctx, f)
}
