package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// BulkInsertPsyJobEvents loads many job events at once, for benchmarks and
// imports: COPY on PostgreSQL, multi-row INSERTs in one transaction on
// SQLite. It is a method of DB only: COPY needs a connection of its own.
// Unlike InsertPsyJobEvents it does not skip converted worker
// events: a duplicate fails the load.
func (d *DB) BulkInsertPsyJobEvents(ctx context.Context, evs []PsyJobEvent) error {
	cols := []string{"worker_event_id", "checkpoint_id", "realm_id", "job_id", "worker_public_key", "topic",
		"circuit_type", "status", "duration_ms", "start_time", "end_time", "eligible", "rolled_up"}
	return d.bulkInsert(ctx, "psy_job_events", cols, len(evs), func(i int, args []any) []any {
		e := evs[i]
		return append(args, e.WorkerEventID, e.CheckpointID, e.RealmID, e.JobID, e.WorkerPublicKey, e.Topic,
			e.CircuitType, e.Status, e.DurationMS, e.StartTime, e.EndTime, e.Eligible, int64(1))
	})
}

// BulkInsertWorkerEvents loads many worker events at once, as
// BulkInsertPsyJobEvents loads job events: it is the database's own bulk
// rate for the table that InsertWorkerEvents writes, which benchmarks
// compare that with. A stored key fails the load.
func (d *DB) BulkInsertWorkerEvents(ctx context.Context, evs []WorkerEvent) error {
	for _, ev := range evs {
		if err := checkWorkerEvent(ev); err != nil {
			return err
		}
	}
	cols := []string{"event_key", "realm_id", "worker_public_key", "machine_id", "team_id", "topic", "circuit_type",
		"job_id", "status", "result", "error", "start_time", "end_time", "duration_ms", "checkpoint_id", "created_at",
		"eligible"}
	return d.bulkInsert(ctx, "worker_events", cols, len(evs), func(i int, args []any) []any {
		return evs[i].insertArgs(args)
	})
}

// bulkInsert loads n rows into table, row appending the values of row i
// in the order of cols: COPY on PostgreSQL, multi-row INSERTs of one
// prepared statement in one transaction on SQLite.
func (d *DB) bulkInsert(ctx context.Context, table string, cols []string, n int, row func(i int, args []any) []any) error {
	if d.dialect == DialectPostgres {
		return d.copyRows(ctx, table, cols, n, row)
	}
	return d.InTx(ctx, func(t *Tx) error {
		tx := t.sqlTx
		head := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES `
		batchRows := max(1, sqliteBulkParams/len(cols))
		// One prepared statement for every full batch: preparing a
		// statement of thousands of parameters costs as much as running it.
		full, err := tx.PrepareContext(ctx, head+valuesList(batchRows, len(cols)))
		if err != nil {
			return fmt.Errorf("storage: bulk insert into %s: %w", table, err)
		}
		defer full.Close()
		// The load touches every page of the table's indexes; with
		// SQLite's default 2 MiB page cache most inserts would reread
		// pages. A larger cache for the load, put back afterwards, saves
		// that.
		var cache int64
		if err := tx.GetContext(ctx, &cache, `PRAGMA cache_size`); err != nil {
			return fmt.Errorf("storage: bulk insert into %s: %w", table, err)
		}
		if _, err := tx.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil {
			return fmt.Errorf("storage: bulk insert into %s: %w", table, err)
		}
		defer tx.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, cache))
		args := make([]any, 0, batchRows*len(cols))
		for start := 0; start < n; start += batchRows {
			end := min(start+batchRows, n)
			args = args[:0]
			for i := start; i < end; i++ {
				args = row(i, args)
			}
			args = bindArgs(tx.DriverName(), args)
			if end-start == batchRows {
				_, err = full.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, head+valuesList(end-start, len(cols)), args...)
			}
			if err != nil {
				return fmt.Errorf("storage: bulk insert into %s: %w", table, err)
			}
		}
		return nil
	})
}

// sqliteBulkParams bounds the parameters of one bulk INSERT on SQLite
// (its limit is 32 766).
const sqliteBulkParams = 6500

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

func (d *DB) copyRows(ctx context.Context, table string, cols []string, n int, row func(i int, args []any) []any) error {
	conn, err := d.wdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("storage: copy into %s: %w", table, err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("storage: copy into %s: driver connection is %T, not pgx", table, dc)
		}
		i := 0
		args := make([]any, 0, len(cols))
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			args = bindArgs(postgresDriver, row(i, args[:0]))
			i++
			return args, nil
		})
		if _, err := c.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, src); err != nil {
			return fmt.Errorf("storage: copy into %s: %w", table, err)
		}
		return nil
	})
}
