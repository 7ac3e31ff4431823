package rewards

import (
	"context"
	"fmt"
	"time"

	"github.com/proofgrid/proofgrid/storage"
)

// conversionLookback is how far below its cursor conversion looks again.
// On PostgreSQL ids are taken in insertion order but become visible in
// commit order, so a worker event can appear after others with higher ids;
// such an event is converted on a later run as long as it commits within
// this many ids.
const conversionLookback = 10_000

// Convert turns worker events into job events until none is left, and
// returns how many it converted.
//
// A job event belongs to the checkpoint its end time falls in while that
// checkpoint is open (its window plus grace has not passed); an event that
// arrives later goes to the current checkpoint instead, so that a closed
// checkpoint's events, and so its rewards, never change. A job event keeps
// its worker event's eligibility.
func (s *Service) Convert(ctx context.Context) (int, error) {
	total := 0
	for {
		n, more, err := s.convertBatch(ctx)
		total += n
		if err != nil || !more {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

func (s *Service) convertBatch(ctx context.Context) (int, bool, error) {
	now := s.now()
	var n int
	var more bool
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		n, more = 0, false
		st, err := tx.LockPsyState(ctx, storage.PsyStateEvents)
		if err != nil {
			return err
		}
		// At most conversionLookback ids below the cursor are converted
		// again, and every id above it waits: the range from the lookback
		// to a batch above the cursor holds every event the batch can
		// take, and bounds the rows each batch reads.
		upTo := st.IntValue + int64(s.cfg.Batch)
		evs, err := tx.UnconvertedWorkerEvents(ctx, max(st.IntValue-conversionLookback, 0), upTo, s.cfg.Batch)
		if err != nil {
			return err
		}
		if len(evs) < s.cfg.Batch {
			// Ids are not dense (PostgreSQL burns one for every row an
			// INSERT ... ON CONFLICT skips, and for rolled-back ones), so
			// a short range does not mean that nothing is left above it.
			next, ok, err := tx.NextWorkerEventID(ctx, upTo)
			if err != nil {
				return err
			}
			more = ok
			if ok && len(evs) == 0 {
				// Nothing but unused ids up to next: skip them.
				st.IntValue = next - 1
				return tx.SetPsyState(ctx, st)
			}
		}
		if len(evs) == 0 {
			return nil
		}
		status := map[int64]string{}
		cs := make([]storage.PsyConversion, 0, len(evs))
		for _, e := range evs {
			cp, err := s.assign(ctx, tx, e.EndTime, now, status)
			if err != nil {
				return err
			}
			cs = append(cs, storage.PsyConversion{WorkerEventID: e.ID, CheckpointID: cp})
		}
		if _, err := tx.ConvertWorkerEvents(ctx, cs); err != nil {
			return err
		}
		st.IntValue = max(st.IntValue, evs[len(evs)-1].ID)
		n, more = len(evs), more || len(evs) == s.cfg.Batch
		return tx.SetPsyState(ctx, st)
	})
	return n, more, err
}

// assign returns the open checkpoint an event that ended at end goes to.
// status caches the checkpoints this transaction touched.
func (s *Service) assign(ctx context.Context, tx *storage.Tx, end, now time.Time, status map[int64]string) (int64, error) {
	id := s.rule.Of(end)
	if _, cpEnd := s.rule.Bounds(id); !cpEnd.Add(s.cfg.CheckpointGrace).After(now) {
		id = max(id, s.rule.Of(now))
	}
	// An admin may have closed a checkpoint early; move on to the next.
	for range 10_000 {
		st, ok := status[id]
		if !ok {
			start, cpEnd := s.rule.Bounds(id)
			var err error
			if st, err = tx.TouchPsyCheckpoint(ctx, id, start, cpEnd, now); err != nil {
				return 0, err
			}
			status[id] = st
		}
		if st == storage.PsyCheckpointOpen {
			return id, nil
		}
		id++
	}
	return 0, fmt.Errorf("rewards: no open checkpoint found after %d", id)
}

// ConversionBehind reports whether a worker event stored before before
// still waits for conversion.
func (s *Service) ConversionBehind(ctx context.Context, before time.Time) (bool, error) {
	ev, err := s.db.PsyState(ctx, storage.PsyStateEvents)
	if err != nil {
		return false, err
	}
	return s.db.WorkerEventsWaiting(ctx, max(ev.IntValue-conversionLookback, 0), before)
}
