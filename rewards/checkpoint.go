package rewards

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
)

// SweepResult tells what a reward sweep did.
type SweepResult struct {
	Converted int
	Closed    []int64
	Pending   []int64
}

// Sweep converts waiting worker events, closes the checkpoints whose
// window and grace have passed, and queues a reward:checkpoint task for
// every closed checkpoint not processed yet, through the outbox.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	var err error
	if res.Converted, err = s.Convert(ctx); err != nil {
		return res, fmt.Errorf("convert: %w", err)
	}
	now := s.now()
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.LockPsyState(ctx, storage.PsyStateEvents); err != nil {
			return err
		}
		closed, err := tx.ClosePsyCheckpoints(ctx, now.Add(-s.cfg.CheckpointGrace), s.cfg.RewardPool, s.weights, now)
		if err != nil {
			return err
		}
		pending, err := tx.PsyCheckpointIDs(ctx, storage.PsyCheckpointClosed)
		if err != nil {
			return err
		}
		for _, id := range pending {
			if err := tx.Enqueue(ctx, queue.RewardCheckpoint(queue.RewardCheckpointPayload{CheckpointID: id})); err != nil {
				return err
			}
		}
		res.Closed, res.Pending = closed, pending
		return nil
	})
	if err == nil && len(res.Pending) > 0 && s.outbox != nil {
		s.outbox.Notify()
	}
	return res, err
}

// Compute computes (or recomputes) the reward distribution of a closed
// checkpoint and returns it. The distribution depends only on the
// checkpoint's job events and the pool and weights fixed when it closed,
// so every computation writes the same rows. Only eligible completed jobs
// draw; the checkpoint's statistics count every job. Two computations of
// one checkpoint run one after the other (its row is locked), and each
// replaces the rows in one transaction.
func (s *Service) Compute(ctx context.Context, id int64) ([]storage.PsyDistribution, error) {
	var out []storage.PsyDistribution
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		started := time.Now()
		cp, err := tx.BeginPsyCheckpointComputation(ctx, id)
		if err != nil {
			return err
		}
		cells, err := tx.PsyCheckpointCells(ctx, id)
		if err != nil {
			return err
		}
		var w Weights
		if err := json.Unmarshal([]byte(cp.Weights), &w); err != nil {
			return fmt.Errorf("rewards: weights of checkpoint %d: %w", id, err)
		}
		stats := tally(cells)
		shares, err := Distribute(cp.Pool, w, stats.work)
		if err != nil {
			return err
		}
		now := s.now()
		rows := make([]storage.PsyDistribution, 0, len(shares))
		cp.TotalRewards = 0
		for _, sh := range shares {
			cp.TotalRewards += sh.Reward
			rows = append(rows, storage.PsyDistribution{CheckpointID: id, WorkerPublicKey: sh.Worker,
				CircuitType: sh.CircuitType, JobCount: sh.Jobs, TotalRewards: sh.Reward})
		}
		if out, err = tx.ReplacePsyDistributions(ctx, cp, rows, now); err != nil {
			return err
		}
		if s.cfg.Ledger != nil {
			skipped, err := s.cfg.Ledger.CreditPsyTx(ctx, tx, id, rows)
			if err != nil {
				return fmt.Errorf("rewards: credit checkpoint %d to the ledger: %w", id, err)
			}
			if len(skipped) > 0 {
				s.cfg.Logger.Debug("checkpoint rewards without a ledger account", "checkpoint_id", id, "workers", len(skipped))
			}
		}
		ms := float64(time.Since(started).Microseconds()) / 1000
		stats.fill(&cp)
		cp.ProcessingMS, cp.ProcessedAt = &ms, &now
		return tx.FinishPsyCheckpoint(ctx, cp)
	})
	return out, err
}

type checkpointTally struct {
	total, completed, failed, workers int64
	work                              []Work
}

// tally counts a checkpoint's jobs. Every job counts in the statistics;
// only eligible completed ones are work that earns.
func tally(cells []storage.PsyCell) checkpointTally {
	var t checkpointTally
	workers := map[string]bool{}
	for _, c := range cells {
		t.total += c.Jobs
		workers[c.WorkerPublicKey] = true
		switch c.Status {
		case storage.WorkerEventCompleted:
			t.completed += c.Jobs
			if c.Eligible {
				t.work = append(t.work, Work{Worker: c.WorkerPublicKey, CircuitType: c.CircuitType, Jobs: c.Jobs})
			}
		case storage.WorkerEventFailed:
			t.failed += c.Jobs
		}
	}
	t.workers = int64(len(workers))
	return t
}

func (t checkpointTally) fill(cp *storage.PsyCheckpoint) {
	cp.TotalJobs, cp.CompletedJobs, cp.FailedJobs, cp.UniqueWorkers = t.total, t.completed, t.failed, t.workers
}

// CalculateNow closes checkpoint id if its window has ended (an admin may
// close it before its grace period is over) and computes its rewards. A
// checkpoint whose window has not ended yet is ECONFLICT.
func (s *Service) CalculateNow(ctx context.Context, id int64) ([]storage.PsyDistribution, error) {
	start, end := s.rule.Bounds(id)
	now := s.now()
	if end.After(now) {
		return nil, proofgrid.Errorf(proofgrid.ECONFLICT, "checkpoint %d ends at %s; its rewards can be calculated after that", id, end.Format(time.RFC3339))
	}
	if id < 0 {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "checkpoint ids count from 0 at the configured origin; %d is before it", id)
	}
	if _, err := s.Convert(ctx); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	if err := s.checkCalculable(ctx, id); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.LockPsyState(ctx, storage.PsyStateEvents); err != nil {
			return err
		}
		return tx.ClosePsyCheckpoint(ctx, id, start, end, s.cfg.RewardPool, s.weights, now)
	})
	if err != nil {
		return nil, err
	}
	return s.Compute(ctx, id)
}

// checkCalculable refuses a checkpoint before the first one with events
// that no event or computation touched: computing it would record a
// permanent empty checkpoint (a typo'd id dated 1970, listed first). An
// empty checkpoint after the first one is a real window and may be
// computed.
func (s *Service) checkCalculable(ctx context.Context, id int64) error {
	first, err := s.db.FirstPsyJobCheckpoint(ctx)
	if err != nil {
		return err
	}
	if first != nil && id >= *first {
		return nil
	}
	if _, err := s.db.PsyCheckpoint(ctx, id); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
		return err // it exists (err nil): computing it again changes nothing
	}
	if first == nil {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "checkpoint %d not found: no job has been recorded in any checkpoint yet", id)
	}
	return proofgrid.Errorf(proofgrid.ENOTFOUND, "checkpoint %d not found: it is before checkpoint %d, the first with job events", id, *first)
}

// Processing is where reward computation stands.
type Processing struct {
	// Pending are the closed checkpoints waiting for their rewards.
	Pending []int64
	// LastProcessed is the highest processed checkpoint, nil when none.
	LastProcessed *int64
}

// Processing returns the reward processing status.
func (s *Service) Processing(ctx context.Context) (Processing, error) {
	pending, last, err := s.db.PsyProcessingStatus(ctx)
	return Processing{Pending: pending, LastProcessed: last}, err
}

// Checkpoint returns checkpoint id, or ENOTFOUND. Until a checkpoint is
// processed its job counts are live (counted now) and its rewards zero.
func (s *Service) Checkpoint(ctx context.Context, id int64) (storage.PsyCheckpoint, error) {
	cp, err := s.db.PsyCheckpoint(ctx, id)
	if err != nil {
		return cp, err
	}
	return s.live(ctx, cp)
}

// MaxCheckpointRange caps the checkpoints one Checkpoints call returns.
const MaxCheckpointRange = 1000

// Checkpoints returns the checkpoints with ids in [from, to], the first
// MaxCheckpointRange of them, counted as Checkpoint counts them.
func (s *Service) Checkpoints(ctx context.Context, from, to int64) ([]storage.PsyCheckpoint, error) {
	cps, err := s.db.PsyCheckpoints(ctx, from, to, MaxCheckpointRange)
	if err != nil {
		return nil, err
	}
	for i := range cps {
		if cps[i], err = s.live(ctx, cps[i]); err != nil {
			return nil, err
		}
	}
	return cps, nil
}

func (s *Service) live(ctx context.Context, cp storage.PsyCheckpoint) (storage.PsyCheckpoint, error) {
	if cp.Status == storage.PsyCheckpointProcessed {
		return cp, nil
	}
	cells, err := s.db.PsyCheckpointCells(ctx, cp.ID)
	if err != nil {
		return cp, err
	}
	tally(cells).fill(&cp)
	return cp, nil
}

// Summary is a checkpoint with its rewards summed by circuit type.
type Summary struct {
	Checkpoint storage.PsyCheckpoint
	ByCircuit  map[string]int64
}

// Summary returns checkpoint id's reward summary, or ENOTFOUND.
func (s *Service) Summary(ctx context.Context, id int64) (Summary, error) {
	cp, err := s.Checkpoint(ctx, id)
	if err != nil {
		return Summary{}, err
	}
	out := Summary{Checkpoint: cp, ByCircuit: map[string]int64{}}
	ds, err := s.db.PsyDistributions(ctx, id)
	for _, d := range ds {
		out.ByCircuit[d.CircuitType] += d.TotalRewards
	}
	return out, err
}

// Distributions returns a checkpoint's distribution, or ENOTFOUND for an
// unknown checkpoint.
func (s *Service) Distributions(ctx context.Context, id int64) ([]storage.PsyDistribution, error) {
	if _, err := s.db.PsyCheckpoint(ctx, id); err != nil {
		return nil, err
	}
	ds, err := s.db.PsyDistributions(ctx, id)
	if ds == nil && err == nil {
		ds = []storage.PsyDistribution{}
	}
	return ds, err
}

// JobEvents returns the job events of a checkpoint.
func (s *Service) JobEvents(ctx context.Context, id int64, limit, offset int) ([]storage.PsyJobEvent, error) {
	evs, err := s.db.PsyJobEvents(ctx, id, limit, offset)
	if evs == nil && err == nil {
		evs = []storage.PsyJobEvent{}
	}
	return evs, err
}
