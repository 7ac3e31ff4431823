package storage

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// BulkInsertPsyJobEvents loads many job events at once, for benchmarks and
// imports: COPY on PostgreSQL, multi-row INSERTs in one transaction on
// SQLite. It is a method of DB only: COPY needs a connection of its own.
// Unlike InsertPsyJobEvents it does not skip converted worker
// events: a duplicate fails the load.
func (d *DB) BulkInsertPsyJobEvents(ctx context.Context, evs []PsyJobEvent) error {
	if d.dialect == DialectPostgres {
		return d.copyPsyJobEvents(ctx, evs)
	}
	return d.InTx(ctx, func(t *Tx) error {
		tx := t.sqlTx
		const cols = 13
		head := `INSERT INTO psy_job_events (worker_event_id, checkpoint_id, realm_id, job_id, worker_public_key, topic,
			circuit_type, status, duration_ms, start_time, end_time, eligible, rolled_up) VALUES `
		// One prepared statement for every full batch: preparing a
		// statement of thousands of parameters costs as much as running it.
		full, err := tx.PrepareContext(ctx, head+valuesList(psyInsertBatch, cols))
		if err != nil {
			return fmt.Errorf("storage: bulk insert job events: %w", err)
		}
		defer full.Close()
		// The load touches every page of five indexes; with SQLite's
		// default 2 MiB page cache most inserts would reread pages. A
		// larger cache for the load, put back afterwards, saves that.
		var cache int64
		if err := tx.GetContext(ctx, &cache, `PRAGMA cache_size`); err != nil {
			return fmt.Errorf("storage: bulk insert job events: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil {
			return fmt.Errorf("storage: bulk insert job events: %w", err)
		}
		defer tx.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, cache))
		args := make([]any, 0, psyInsertBatch*cols)
		for start := 0; start < len(evs); start += psyInsertBatch {
			batch := evs[start:min(start+psyInsertBatch, len(evs))]
			args = args[:0]
			for _, e := range batch {
				args = append(args, e.WorkerEventID, e.CheckpointID, e.RealmID, e.JobID, e.WorkerPublicKey, e.Topic,
					e.CircuitType, e.Status, e.DurationMS, e.StartTime, e.EndTime, e.Eligible, 1)
			}
			args = bindArgs(tx.DriverName(), args)
			if len(batch) == psyInsertBatch {
				_, err = full.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, head+valuesList(len(batch), cols), args...)
			}
			if err != nil {
				return fmt.Errorf("storage: bulk insert job events: %w", err)
			}
		}
		return nil
	})
}

// AnalyzePsy refreshes the planner statistics of the Psy tables, as one
// does after a bulk load.
func (d *DB) AnalyzePsy(ctx context.Context) error {
	for _, t := range []string{"psy_job_events", "psy_checkpoints", "psy_reward_distributions"} {
		if _, err := d.wdb.ExecContext(ctx, "ANALYZE "+t); err != nil {
			return fmt.Errorf("storage: analyze %s: %w", t, err)
		}
	}
	return nil
}

func (d *DB) copyPsyJobEvents(ctx context.Context, evs []PsyJobEvent) error {
	conn, err := d.wdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("storage: copy job events: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("storage: copy job events: driver connection is %T, not pgx", dc)
		}
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(evs) {
				return nil, nil
			}
			e := evs[i]
			i++
			return []any{e.WorkerEventID, e.CheckpointID, e.RealmID, e.JobID, e.WorkerPublicKey, e.Topic, e.CircuitType,
				e.Status, e.DurationMS, e.StartTime.UTC(), e.EndTime.UTC(), e.Eligible, int64(1)}, nil
		})
		_, err := c.Conn().CopyFrom(ctx, pgx.Identifier{"psy_job_events"}, []string{"worker_event_id", "checkpoint_id",
			"realm_id", "job_id", "worker_public_key", "topic", "circuit_type", "status", "duration_ms", "start_time",
			"end_time", "eligible", "rolled_up"}, src)
		if err != nil {
			return fmt.Errorf("storage: copy job events: %w", err)
		}
		return nil
	})
}
