package activity

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/proofgrid/proofgrid/storage"
)

// A rollupStep counts up to limit rows that no rollup has counted yet into
// the rollup tables and marks them counted, in tx, and returns how many it
// counted.
type rollupStep func(ctx context.Context, tx *storage.Tx, limit int) (int, error)

// rollup is a rollup over rows of type R: the rows that wait for it, what
// counting them adds to its tables, and how they are marked counted. Rows
// are marked in the transaction that counts them, so each is counted
// exactly once whatever the order in which rows commit.
type rollup[R any] struct {
	unrolled func(tx *storage.Tx, ctx context.Context, limit int) ([]R, error)
	id       func(R) int64
	add      func(ctx context.Context, tx *storage.Tx, rows []R) error
	mark     func(tx *storage.Tx, ctx context.Context, ids []int64) error
}

func (r rollup[R]) step(ctx context.Context, tx *storage.Tx, limit int) (int, error) {
	rows, err := r.unrolled(tx, ctx, limit)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	if err := r.add(ctx, tx, rows); err != nil {
		return 0, err
	}
	ids := make([]int64, 0, len(rows))
	for _, row := range rows {
		ids = append(ids, r.id(row))
	}
	return len(rows), r.mark(tx, ctx, ids)
}

// rollups are the rollups Refresh keeps, each with the psy_state row that
// serialises it and records its last refresh.
var rollups = []struct {
	name, state string
	step        rollupStep
}{
	{"job rollup", storage.PsyStateRollup, rollup[storage.PsyJobEvent]{
		unrolled: (*storage.Tx).UnrolledPsyJobEvents, id: func(e storage.PsyJobEvent) int64 { return e.ID },
		add: addJobEvents, mark: (*storage.Tx).MarkPsyJobEventsRolledUp,
	}.step},
	{"user event rollup", storage.PsyStateUserRollup, rollup[storage.PsyUserEvent]{
		unrolled: (*storage.Tx).UnrolledPsyUserEvents, id: func(e storage.PsyUserEvent) int64 { return e.ID },
		add: addUserEvents, mark: (*storage.Tx).MarkPsyUserEventsRolledUp,
	}.step},
}

// Refresh brings the rollups up to date with the job events and user
// events, in batches, and records when each last caught up. It stops after
// budget (when positive) and reports whether it caught up.
func (s *Service) Refresh(ctx context.Context, budget time.Duration) (bool, error) {
	started := time.Now()
	all := true
	for _, r := range rollups {
		caught := false
		for !caught {
			var err error
			if caught, err = s.rollup(ctx, r.state, r.step); err != nil {
				return false, fmt.Errorf("%s: %w", r.name, err)
			}
			if budget > 0 && time.Since(started) > budget {
				break
			}
		}
		all = all && caught
	}
	return all, nil
}

// rollup runs one batch of step in a transaction that holds the state row
// state, and records the refresh and whether it consumed all it found.
func (s *Service) rollup(ctx context.Context, state string, step rollupStep) (bool, error) {
	caught := false
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		st, err := tx.LockPsyState(ctx, state)
		if err != nil {
			return err
		}
		n, err := step(ctx, tx, s.cfg.Batch)
		if err != nil {
			return err
		}
		caught = n < s.cfg.Batch
		now := s.now()
		st.TimeValue, st.Flag = &now, caught
		return tx.SetPsyState(ctx, st)
	})
	return caught, err
}

type bucketKey struct {
	bucket string
	start  time.Time
}

// bucketDeltas holds one delta row per bucket of every size.
type bucketDeltas[T any] struct {
	rows  map[bucketKey]*T
	fresh func(bucket string, start time.Time) *T
}

func newBucketDeltas[T any](fresh func(bucket string, start time.Time) *T) bucketDeltas[T] {
	return bucketDeltas[T]{rows: map[bucketKey]*T{}, fresh: fresh}
}

// add calls f with the delta of every bucket that holds t.
func (d bucketDeltas[T]) add(t time.Time, f func(bucket string, start time.Time, row *T)) {
	for _, b := range EventBuckets {
		start, _ := BucketStart(b, t)
		k := bucketKey{b, start}
		row := d.rows[k]
		if row == nil {
			row = d.fresh(b, start)
			d.rows[k] = row
		}
		f(b, start, row)
	}
}

// sorted returns the deltas by bucket, then start: a fixed order keeps
// concurrent upserts from deadlocking.
func (d bucketDeltas[T]) sorted() []T {
	keys := make([]bucketKey, 0, len(d.rows))
	for k := range d.rows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b bucketKey) int {
		return cmp.Or(cmp.Compare(a.bucket, b.bucket), a.start.Compare(b.start))
	})
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		out = append(out, *d.rows[k])
	}
	return out
}

// addJobEvents counts job events into the event rollup (by bucket of
// their end time, with the bucket's workers) and the hourly job rollup.
func addJobEvents(ctx context.Context, tx *storage.Tx, evs []storage.PsyJobEvent) error {
	deltas := newBucketDeltas(func(b string, start time.Time) *storage.PsyEventRollup {
		return &storage.PsyEventRollup{Bucket: b, BucketStart: start}
	})
	workers := map[storage.PsyBucketWorker]bool{}
	type jobKey struct {
		hour    time.Time
		realm   int64
		status  string
		circuit string
	}
	jobs := map[jobKey]*storage.PsyJobRollup{}
	for _, e := range evs {
		deltas.add(e.EndTime, func(b string, start time.Time, d *storage.PsyEventRollup) {
			d.TotalEvents++
			workers[storage.PsyBucketWorker{Bucket: b, BucketStart: start, Worker: e.WorkerPublicKey}] = true
			switch e.Status {
			case storage.WorkerEventCompleted:
				d.Completed++
			case storage.WorkerEventFailed:
				d.Failed++
			}
		})
		hour, _ := BucketStart(BucketHour, e.EndTime)
		jk := jobKey{hour, e.RealmID, e.Status, e.CircuitType}
		j := jobs[jk]
		if j == nil {
			j = &storage.PsyJobRollup{HourStart: hour, RealmID: e.RealmID, Status: e.Status, CircuitType: e.CircuitType}
			jobs[jk] = j
		}
		j.JobCount++
		j.DurationMSSum += e.DurationMS
	}
	if err := tx.AddPsyEventRollups(ctx, deltas.sorted(), sortedWorkers(workers)); err != nil {
		return err
	}
	js := make([]storage.PsyJobRollup, 0, len(jobs))
	for _, j := range jobs {
		js = append(js, *j)
	}
	// A fixed order keeps concurrent upserts from deadlocking.
	slices.SortFunc(js, func(x, y storage.PsyJobRollup) int {
		return cmp.Or(x.HourStart.Compare(y.HourStart), cmp.Compare(x.RealmID, y.RealmID),
			cmp.Compare(x.Status, y.Status), cmp.Compare(x.CircuitType, y.CircuitType))
	})
	return tx.AddPsyJobRollups(ctx, js)
}

func sortedWorkers(m map[storage.PsyBucketWorker]bool) []storage.PsyBucketWorker {
	out := make([]storage.PsyBucketWorker, 0, len(m))
	for w := range m {
		out = append(out, w)
	}
	slices.SortFunc(out, func(x, y storage.PsyBucketWorker) int {
		return cmp.Or(cmp.Compare(x.Bucket, y.Bucket), x.BucketStart.Compare(y.BucketStart), cmp.Compare(x.Worker, y.Worker))
	})
	return out
}

// addUserEvents counts user events into the user-event rollup, by bucket
// of their timestamp.
func addUserEvents(ctx context.Context, tx *storage.Tx, evs []storage.PsyUserEvent) error {
	deltas := newBucketDeltas(func(b string, start time.Time) *storage.PsyUserEventRollup {
		return &storage.PsyUserEventRollup{Bucket: b, BucketStart: start}
	})
	for _, e := range evs {
		deltas.add(e.Timestamp, func(_ string, _ time.Time, d *storage.PsyUserEventRollup) {
			d.TotalEvents++
			switch e.TxType {
			case storage.PsyTxRegisterUser:
				d.RegisterUser++
			case storage.PsyTxDeployContract:
				d.DeployContract++
			case storage.PsyTxUserTransaction:
				d.UserTx++
			}
		})
	}
	return tx.AddPsyUserEventRollups(ctx, deltas.sorted())
}

// RollupHealthy reports whether the rollups are fresh: each refreshed
// within StaleAfter and caught up with what it found then, and no worker
// event older than StaleAfter waits for conversion.
func (s *Service) RollupHealthy(ctx context.Context) (bool, error) {
	now := s.now()
	for _, r := range rollups {
		st, err := s.db.PsyState(ctx, r.state)
		if err != nil {
			return false, err
		}
		if !st.Flag || st.TimeValue == nil || now.Sub(*st.TimeValue) > s.cfg.StaleAfter {
			return false, nil
		}
	}
	behind, err := s.rewards.ConversionBehind(ctx, now.Add(-s.cfg.StaleAfter))
	return err == nil && !behind, err
}

// AggregationQuery selects buckets of an aggregation endpoint.
type AggregationQuery struct {
	Bucket        string
	Start, End    *time.Time
	Offset, Limit int
	Ascending     bool
}

func (q AggregationQuery) rollup() (storage.PsyRollupQuery, error) {
	r := storage.PsyRollupQuery{Bucket: q.Bucket, To: q.End, Limit: q.Limit, Offset: q.Offset, Ascending: q.Ascending}
	if q.Start != nil {
		// The bucket that holds start is included.
		from, err := BucketStart(q.Bucket, *q.Start)
		if err != nil {
			return r, err
		}
		r.From = &from
	}
	return r, nil
}

// WorkerEventAggregations reads the worker-event rollup. Buckets are by
// event end time.
func (s *Service) WorkerEventAggregations(ctx context.Context, q AggregationQuery) ([]storage.PsyEventRollup, error) {
	rq, err := q.rollup()
	if err != nil {
		return nil, err
	}
	return s.db.PsyEventRollups(ctx, rq)
}

// UserEventAggregations reads the user-event rollup.
func (s *Service) UserEventAggregations(ctx context.Context, q AggregationQuery) ([]storage.PsyUserEventRollup, error) {
	rq, err := q.rollup()
	if err != nil {
		return nil, err
	}
	return s.db.PsyUserEventRollups(ctx, rq)
}
