package storage

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
)

// errNotPipelined says that a batch needs the general path: a heartbeat in
// it was late or named an unknown machine. Nothing of the batch is stored.
var errNotPipelined = errors.New("storage: batch needs the general path")

// heartbeatWrites returns batch's writes if all of them are heartbeats.
func heartbeatWrites(batch []*batchItem) ([]*HeartbeatWrite, bool) {
	ws := make([]*HeartbeatWrite, len(batch))
	for i, it := range batch {
		w, ok := it.write.(*HeartbeatWrite)
		if !ok {
			return nil, false
		}
		ws[i] = w
	}
	return ws, true
}

// pipelineHeartbeats writes a batch of heartbeats on PostgreSQL in one
// transaction and two round trips, using pgx's pipeline (pgx.Batch):
// first every machine update, observation, deployment replacement and the
// history rows; then, once the returned machines are judged in Go, their
// judgements and the COMMIT. Through database/sql every statement is a
// round trip of its own, a few per heartbeat; under load those round trips
// (and the scheduling of PostgreSQL's backend for each) were most of a
// heartbeat's cost.
//
// It stores exactly what HeartbeatWrite.Apply would for each write, or
// nothing: a heartbeat that is late (an older one than the machine's
// stored state) or names an unknown machine makes it roll back with
// errNotPipelined, as does any failed statement with that statement's
// error, and the caller then takes the general path.
func (d *DB) pipelineHeartbeats(ctx context.Context, ws []*HeartbeatWrite) error {
	c, err := d.wdb.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("storage: pipeline needs a pgx connection, got %T", dc)
		}
		pc := sc.Conn()
		err := pipelineHeartbeats(ctx, pc, ws, d.conditionFunc())
		if err == nil {
			d.pipelined.Add(1)
			return nil
		}
		// The transaction may be open (and aborted): close it before the
		// connection goes back to the pool, or drop the connection.
		if _, rerr := pc.Exec(ctx, "ROLLBACK"); rerr != nil {
			return driver.ErrBadConn
		}
		return err
	})
}

func pipelineHeartbeats(ctx context.Context, pc *pgx.Conn, ws []*HeartbeatWrite, judge ConditionFunc) error {
	dollar := func(q string) string { return sqlx.Rebind(sqlx.DOLLAR, q) }
	first := &pgx.Batch{}
	first.Queue("BEGIN")
	metrics := make([][]any, 0, len(ws))
	for _, w := range ws {
		first.Queue(dollar(updateMachineSQL), w.row.updateArgs()...)
		first.Queue(dollar(upsertObservationSQL), w.obs.upsertArgs()...)
		first.Queue(dollar(deleteDeploymentsSQL), w.obs.MachineID)
		for _, dep := range w.deps {
			first.Queue(dollar(insertDeploymentSQL), deploymentArgs(w.obs.Observation, dep)...)
		}
		metrics = append(metrics, w.row.metric)
	}
	for len(metrics) > 0 {
		n := min(len(metrics), metricsPerInsert)
		q, args := insertMetricsSQL(metrics[:n])
		first.Queue(dollar(q), args...)
		metrics = metrics[n:]
	}

	machines := make([]*FleetMachine, len(ws))
	err := func() error {
		br := pc.SendBatch(ctx, first)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("storage: begin: %w", err)
		}
		late := false
		for i, w := range ws {
			m, err := queryOne(br, w.row.scanUpdatedMachine)
			if err != nil {
				return fmt.Errorf("storage: record heartbeat: %w", err)
			}
			var active dbTime
			applied, err := queryOne(br, func(scan func(...any) error) (bool, error) { return true, scan(&active) })
			if err != nil {
				return fmt.Errorf("storage: record observation: %w", err)
			}
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("storage: replace deployments: %w", err)
			}
			for range w.deps {
				if _, err := br.Exec(); err != nil {
					return fmt.Errorf("storage: record deployment: %w", err)
				}
			}
			if m == nil || !applied {
				// The statements after it still run and are read, so
				// that the batch ends cleanly; the transaction is then
				// rolled back.
				late = true
				continue
			}
			w.observe(m, active)
			machines[i] = m
		}
		for range (len(ws) + metricsPerInsert - 1) / metricsPerInsert {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("storage: record metrics: %w", err)
			}
		}
		if late {
			return errNotPipelined
		}
		return nil
	}()
	if err != nil {
		return err
	}

	second := &pgx.Batch{}
	for i, m := range machines {
		if judge == nil {
			second.Queue(dollar(markStaleSQL), ws[i].row.machineID)
		} else {
			second.Queue(dollar(storeJudgementSQL), judgementArgs(*m, judge(ctx, *m))...)
		}
	}
	second.Queue("COMMIT")
	br := pc.SendBatch(ctx, second)
	defer br.Close()
	for range machines {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("storage: store conditions: %w", err)
		}
	}
	tag, err := br.Exec()
	if err != nil {
		return fmt.Errorf("storage: commit: %w", err)
	}
	// COMMIT of a failed transaction answers ROLLBACK, not an error.
	if tag.String() != "COMMIT" {
		return fmt.Errorf("storage: commit: transaction rolled back")
	}
	return br.Close()
}

// queryOne reads the next result of br, a query returning at most one row,
// with scan; it returns the zero value when there was no row.
func queryOne[T any](br pgx.BatchResults, scan func(func(...any) error) (T, error)) (T, error) {
	var zero T
	rows, err := br.Query()
	if err != nil {
		return zero, err
	}
	defer rows.Close()
	out := zero
	if rows.Next() {
		if out, err = scan(rows.Scan); err != nil {
			return zero, err
		}
	}
	rows.Close()
	return out, rows.Err()
}
