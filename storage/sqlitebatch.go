package storage

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jmoiron/sqlx"
)

// writeHeartbeats writes a batch of heartbeats in tx on SQLite with
// set-based statements, as pipelineHeartbeats does on PostgreSQL: for each
// round of heartbeatRounds, one UPDATE of the machines, one upsert of the
// observations, one DELETE (and an INSERT if any) of the deployments and one
// upsert of the judgements, their rows in a VALUES list. A round is cut
// into chunks of 1 to 8 rows or a power of two up to sqliteChunk, so a
// dozen statement texts, each prepared once, serve every batch size.
// The history rows go in at commit, as for every transaction.
//
// It stores exactly what HeartbeatWrite.Apply would for each write, in
// order, or returns errNotPipelined when a heartbeat is late or names an
// unknown machine; the caller then rolls back and takes the general path.
func (tx *Tx) writeHeartbeats(ctx context.Context, ws []*HeartbeatWrite, judge ConditionFunc) error {
	for _, round := range heartbeatRounds(ws) {
		for len(round) > 0 {
			n := chunkSize(len(round))
			if err := tx.writeHeartbeatChunk(ctx, round[:n], judge); err != nil {
				return err
			}
			round = round[n:]
		}
	}
	return nil
}

// sqliteChunk bounds the rows of one set-based statement: 32 observations
// are 352 parameters, far below SQLite's limit.
const sqliteChunk = 32

// chunkSize is the size of the first chunk of n rows: n itself up to 8
// (the batches of a moderate load), else the largest power of two that is
// at most n and sqliteChunk.
func chunkSize(n int) int {
	if n <= 8 {
		return n
	}
	size := 8
	for size*2 <= min(n, sqliteChunk) {
		size *= 2
	}
	return size
}

// writeHeartbeatChunk writes heartbeats of distinct machines.
func (tx *Tx) writeHeartbeatChunk(ctx context.Context, chunk []*HeartbeatWrite, judge ConditionFunc) error {
	n := len(chunk)
	args := make([]any, 0, 11*n)
	for _, w := range chunk {
		r := w.row
		args = append(args, r.machineID, r.receivedAt, r.agentVersion, r.status)
	}
	sqls := &chunkStatements()[n]
	rows, err := tx.queryHot(ctx, sqls.updateMachines, args...)
	if err != nil {
		return fmt.Errorf("storage: record heartbeat: %w", err)
	}
	updated, err := scanUpdatedMachines(rows, n)
	if err := closeRows(rows, err); err != nil {
		return fmt.Errorf("storage: record heartbeat: %w", err)
	}
	// A late heartbeat or an unknown machine: the general path knows what
	// to do (and an unknown machine's observation would fail its foreign
	// key).
	if len(updated) != n {
		return errNotPipelined
	}

	args, ids := args[:0], make([]any, 0, n)
	var deps []any
	for _, w := range chunk {
		args = append(args, w.obs.upsertArgs()...)
		ids = append(ids, w.row.machineID)
		for _, d := range w.deps {
			deps = append(deps, deploymentArgs(w.obs.Observation, d)...)
		}
		// The history row is appended at commit, with the others.
		tx.metrics = append(tx.metrics, w.row.metricArgs())
	}
	rows, err = tx.queryHot(ctx, sqls.upsertObservations, args...)
	if err != nil {
		return fmt.Errorf("storage: record observation: %w", err)
	}
	active, err := scanLastActive(rows, n)
	if err := closeRows(rows, err); err != nil {
		return fmt.Errorf("storage: record observation: %w", err)
	}
	machines, ok := roundMachines(chunk, updated, active)
	if !ok {
		return errNotPipelined
	}

	if _, err := tx.execHot(ctx, sqls.deleteDeployments, ids...); err != nil {
		return fmt.Errorf("storage: replace deployments: %w", err)
	}
	const depColumns = 9
	for len(deps) > 0 {
		k := chunkSize(len(deps) / depColumns)
		if _, err := tx.execHot(ctx, chunkStatements()[k].insertDeployments, deps[:k*depColumns]...); err != nil {
			return fmt.Errorf("storage: record deployment: %w", err)
		}
		deps = deps[k*depColumns:]
	}

	if judge == nil {
		if _, err := tx.execHot(ctx, sqls.markStale, ids...); err != nil {
			return fmt.Errorf("storage: store conditions: %w", err)
		}
		return nil
	}
	args = args[:0]
	for _, m := range machines {
		args = append(args, judgementArgs(*m, judge(ctx, *m))...)
	}
	if _, err := tx.execHot(ctx, sqls.storeJudgements, args...); err != nil {
		return fmt.Errorf("storage: store conditions: %w", err)
	}
	return nil
}

// The set-based machine update on SQLite: the rows of VALUES are (id,
// received_at, agent_version, status), named column1 to column4.
const (
	updateMachinesHead = `UPDATE machines AS m
	 SET last_seen_at = u.column2, agent_version = COALESCE(NULLIF(u.column3, ''), m.agent_version),
	     agent_status = u.column4
	 FROM (VALUES `
	updateMachinesTail = `) AS u
	 WHERE m.id = u.column1 AND (m.last_seen_at IS NULL OR m.last_seen_at <= u.column2)
	 RETURNING id, team_id, name, role, agent_version, enrolled_at, last_seen_at`
)

// heartbeatChunkSQL holds the statements of writeHeartbeatChunk for one
// chunk size.
type heartbeatChunkSQL struct {
	updateMachines, upsertObservations, deleteDeployments, insertDeployments, storeJudgements, markStale string
}

// chunkStatements returns the statements of every chunk size, indexed by
// size, built once: a heartbeat batch only looks them up.
var chunkStatements = sync.OnceValue(func() *[sqliteChunk + 1]heartbeatChunkSQL {
	out := new([sqliteChunk + 1]heartbeatChunkSQL)
	for n := 1; n <= sqliteChunk; n++ {
		out[n] = heartbeatChunkSQL{
			updateMachines: setStatement(updateMachinesHead, "(?, ?, ?, ?)", updateMachinesTail, n),
			upsertObservations: setStatement(observationInto+" VALUES ", "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				observationConflict+" RETURNING machine_id, last_active_at", n),
			deleteDeployments: setStatement("DELETE FROM avs_deployments WHERE machine_id IN (", "?", ")", n),
			insertDeployments: setStatement(deploymentInto+" VALUES ", "(?, ?, ?, ?, ?, ?, ?, ?, ?)", deploymentConflict, n),
			storeJudgements:   setStatement(judgementInto+" VALUES ", "(?, ?, ?, ?, ?, ?, ?, ?, 1)", judgementConflict, n),
			markStale:         setStatement(markStaleHead+"IN (", "?", ")"+markStaleConflict, n),
		}
	}
	return out
})

// setStatement returns head, n copies of row separated by commas, and
// tail.
func setStatement(head, row, tail string, n int) string {
	var b strings.Builder
	b.Grow(len(head) + n*(len(row)+2) + len(tail))
	b.WriteString(head)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(tail)
	return b.String()
}

// closeRows closes rows and returns the first of err, the close's error and
// the iteration's error.
func closeRows(rows *sqlx.Rows, err error) error {
	cerr := rows.Close()
	return cmp.Or(err, cerr, rows.Err())
}
