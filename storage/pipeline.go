package storage

import (
	"cmp"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
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
// first the machine updates, observations, deployment replacements and
// history rows; then, once the returned machines are judged in Go, their
// judgements and the COMMIT. Each of those is one set-based statement for
// the whole batch, its values passed as arrays (unnest), so a batch costs
// PostgreSQL the same handful of statements however many heartbeats it
// holds. A machine that has several heartbeats in the batch has them
// applied in order, one per round of statements (heartbeatRounds): a
// statement may change each row once.
//
// It stores exactly what HeartbeatWrite.Apply would for each write, in
// order, or nothing: a heartbeat that is late (an older one than the
// machine's stored state) or names an unknown machine makes it roll back
// with errNotPipelined, as does any failed statement with that statement's
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

// The set-based statements of pipelineHeartbeats: the one-row statements'
// columns and conflict clauses, with rows from arrays.
const (
	updateMachinesSQL = `UPDATE machines AS m
	 SET last_seen_at = u.received_at, agent_version = COALESCE(NULLIF(u.agent_version, ''), m.agent_version),
	     agent_status = u.status
	 FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[])
	   AS u (id, received_at, agent_version, status)
	 WHERE m.id = u.id AND (m.last_seen_at IS NULL OR m.last_seen_at <= u.received_at)
	 RETURNING m.id, m.team_id, m.name, m.role, m.agent_version, m.enrolled_at, m.last_seen_at`
	upsertObservationsSQL = observationInto + `
	 SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::float8[], $4::float8[], $5::float8[], $6::text[],
	   $7::int[], $8::bigint[], $9::int[], $10::text[], $11::timestamptz[])` + observationConflict + `
	 RETURNING machine_id, last_active_at`
	deleteDeploymentsOfSQL = `DELETE FROM avs_deployments WHERE machine_id = ANY($1::text[])`
	insertDeploymentsSQL   = deploymentInto + `
	 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[],
	   $8::bool[], $9::timestamptz[])` + deploymentConflict
	insertMetricRowsSQL = metricsInto + `
	 SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::float8[], $5::float8[],
	   $6::float8[], $7::int[], $8::text[])`
	storeJudgementsSQL = judgementInto + `
	 SELECT u.*, 1 FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::timestamptz[],
	   $6::timestamptz[], $7::timestamptz[], $8::text[]) AS u` + judgementConflict
	markStaleAllSQL = markStaleHead + `= ANY($1::text[])` + markStaleConflict
)

// heartbeatRounds splits ws into rounds in which each machine appears at
// most once, keeping each machine's heartbeats in order: its first in the
// first round, its second in the second, and so on. Heartbeats of
// different machines touch different rows, so applying round after round
// stores what applying ws in order would.
func heartbeatRounds(ws []*HeartbeatWrite) [][]*HeartbeatWrite {
	var rounds [][]*HeartbeatWrite
	seen := make(map[string]int, len(ws))
	for _, w := range ws {
		r := seen[w.row.machineID]
		seen[w.row.machineID] = r + 1
		if r == len(rounds) {
			rounds = append(rounds, make([]*HeartbeatWrite, 0, len(ws)))
		}
		rounds[r] = append(rounds[r], w)
	}
	return rounds
}

func pipelineHeartbeats(ctx context.Context, pc *pgx.Conn, ws []*HeartbeatWrite, judge ConditionFunc) error {
	rounds := heartbeatRounds(ws)
	first := &pgx.Batch{}
	first.Queue("BEGIN")
	// A batch touches a few machines, each found by its key. On a small
	// fleet the planner would rather scan the whole machines table, which
	// heartbeats fill with dead row versions between vacuums (7 µs more per
	// heartbeat at 32 machines, by pg_stat_statements).
	first.Queue("SET LOCAL enable_seqscan = off")
	withDeployments := make([]bool, len(rounds))
	for r, round := range rounds {
		queueRound(first, round)
		withDeployments[r] = queueDeployments(first, round)
	}
	queueMetrics(first, ws)

	// machines[r][i] is round r's heartbeat i's machine as it left it.
	machines := make([][]*FleetMachine, len(rounds))
	err := func() error {
		br := pc.SendBatch(ctx, first)
		defer br.Close()
		for range 2 { // BEGIN, SET
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("storage: begin: %w", err)
			}
		}
		late := false
		for r, round := range rounds {
			ms, ok, err := readRound(br, round, withDeployments[r])
			if err != nil {
				return err
			}
			// The statements after it are still read, so that the batch
			// ends cleanly; the transaction is then rolled back.
			late = late || !ok
			machines[r] = ms
		}
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("storage: record metrics: %w", err)
		}
		if late {
			return errNotPipelined
		}
		return br.Close()
	}()
	if err != nil {
		return err
	}

	second := &pgx.Batch{}
	for r, round := range rounds {
		ids := make([]string, len(round))
		for i, w := range round {
			ids[i] = w.row.machineID
		}
		if judge == nil {
			second.Queue(markStaleAllSQL, ids)
			continue
		}
		var j judgementColumns
		for _, m := range machines[r] {
			j.add(*m, judge(ctx, *m))
		}
		second.Queue(storeJudgementsSQL, j.args()...)
	}
	second.Queue("COMMIT")
	br := pc.SendBatch(ctx, second)
	defer br.Close()
	for range rounds {
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

// queueRound queues the machine updates, observations and deployment
// deletions of one round.
func queueRound(b *pgx.Batch, round []*HeartbeatWrite) {
	n := len(round)
	ids, received := make([]string, n), make([]time.Time, n)
	versions, statuses := make([]string, n), make([]string, n)
	var o observationColumns
	for i, w := range round {
		r := w.row
		ids[i], received[i], versions[i], statuses[i] = r.machineID, r.receivedAt, r.agentVersion, r.status
		o.add(w.obs)
	}
	b.Queue(updateMachinesSQL, ids, received, versions, statuses)
	b.Queue(upsertObservationsSQL, o.args()...)
	b.Queue(deleteDeploymentsOfSQL, ids)
}

// queueDeployments queues the insert of round's deployments, if it has
// any, and reports whether it did.
func queueDeployments(b *pgx.Batch, round []*HeartbeatWrite) bool {
	var machine, avs, chain, version, operator, errs []string
	var healthy []bool
	var registered []pgtype.Bool
	var reported []time.Time
	for _, w := range round {
		for _, d := range w.deps {
			machine, avs, chain = append(machine, w.obs.MachineID), append(avs, d.AVSID), append(chain, d.Chain)
			version, operator = append(version, d.Version), append(operator, d.OperatorAddress)
			healthy, errs = append(healthy, d.Healthy), append(errs, d.Error)
			reg := nullBool(d.Registered)
			registered = append(registered, pgtype.Bool{Bool: reg.Bool, Valid: reg.Valid})
			reported = append(reported, w.obs.SeenAt)
		}
	}
	if len(machine) == 0 {
		return false
	}
	b.Queue(insertDeploymentsSQL, machine, avs, chain, version, operator, healthy, errs, registered, reported)
	return true
}

// queueMetrics queues the history rows of ws, in order.
func queueMetrics(b *pgx.Batch, ws []*HeartbeatWrite) {
	n := len(ws)
	ids, collected, received := make([]string, n), make([]time.Time, n), make([]time.Time, n)
	cpu, mem, disk := make([]float64, n), make([]float64, n), make([]float64, n)
	gpus, samples := make([]int, n), make([]string, n)
	for i, w := range ws {
		r := w.row
		ids[i], collected[i], received[i] = r.machineID, r.collectedAt, r.receivedAt
		cpu[i], mem[i], disk[i], gpus[i], samples[i] = r.cpuPercent, r.memoryPercent, r.diskMaxPercent, r.gpuCount, r.sample
	}
	b.Queue(insertMetricRowsSQL, ids, collected, received, cpu, mem, disk, gpus, samples)
}

// readRound reads the results of one round's statements and returns the
// machines as its heartbeats left them, in round's order; ok is false when
// a heartbeat was not applied (late, or an unknown machine).
func readRound(br pgx.BatchResults, round []*HeartbeatWrite, withDeployments bool) ([]*FleetMachine, bool, error) {
	var updated map[string]*FleetMachine
	rows, err := br.Query()
	if err == nil {
		updated, err = scanUpdatedMachines(rows, len(round))
		rows.Close()
		err = cmp.Or(err, rows.Err())
	}
	if err != nil {
		return nil, false, fmt.Errorf("storage: record heartbeat: %w", err)
	}
	var active map[string]dbTime
	rows, err = br.Query()
	if err == nil {
		active, err = scanLastActive(rows, len(round))
		rows.Close()
		err = cmp.Or(err, rows.Err())
	}
	if err != nil {
		return nil, false, fmt.Errorf("storage: record observation: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return nil, false, fmt.Errorf("storage: replace deployments: %w", err)
	}
	if withDeployments {
		if _, err := br.Exec(); err != nil {
			return nil, false, fmt.Errorf("storage: record deployment: %w", err)
		}
	}
	machines, ok := roundMachines(round, updated, active)
	return machines, ok, nil
}

// rowSet is what the results of pgx and of database/sql both offer for
// reading rows.
type rowSet interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanUpdatedMachines reads what a set-based machine update returned: each
// updated machine's id, then scanMachineState's columns. n is the rows
// expected at most.
func scanUpdatedMachines(rows rowSet, n int) (map[string]*FleetMachine, error) {
	updated := make(map[string]*FleetMachine, n)
	for rows.Next() {
		m := &FleetMachine{}
		if err := scanMachineState(rows.Scan, m, &m.ID); err != nil {
			return nil, err
		}
		updated[m.ID] = m
	}
	return updated, rows.Err()
}

// scanLastActive reads what a set-based observation upsert returned: the
// machine and last activity of each observation it stored.
func scanLastActive(rows rowSet, n int) (map[string]dbTime, error) {
	active := make(map[string]dbTime, n)
	for rows.Next() {
		var id string
		var at dbTime
		if err := rows.Scan(&id, &at); err != nil {
			return nil, err
		}
		active[id] = at
	}
	return active, rows.Err()
}

// roundMachines returns the machines as round's heartbeats left them, in
// round's order, from what a round's statements returned: the machines
// they updated and the last activity of the observations they stored. ok
// is false when a heartbeat was not applied (late, or an unknown machine).
func roundMachines(round []*HeartbeatWrite, updated map[string]*FleetMachine, active map[string]dbTime) (_ []*FleetMachine, ok bool) {
	machines := make([]*FleetMachine, len(round))
	for i, w := range round {
		m := updated[w.row.machineID]
		at, applied := active[w.row.machineID]
		if m == nil || !applied {
			return nil, false
		}
		w.observe(m, at)
		machines[i] = m
	}
	return machines, true
}

// observationColumns holds observations column by column, as arrays for
// upsertObservationsSQL.
type observationColumns struct {
	ids, mounts, errs []string
	seen              []time.Time
	cpu, mem, disk    []float64
	gpus, jobs        []int
	xids              []int64
	active            []pgtype.Timestamptz
}

func (c *observationColumns) add(o observationRow) {
	c.ids, c.seen = append(c.ids, o.MachineID), append(c.seen, o.SeenAt)
	c.cpu, c.mem, c.disk = append(c.cpu, o.CPUPercent), append(c.mem, o.MemoryPercent), append(c.disk, o.DiskMaxPercent)
	c.mounts, c.gpus, c.xids = append(c.mounts, o.DiskMaxMount), append(c.gpus, o.GPUCount), append(c.xids, o.xidErrors())
	c.jobs, c.errs, c.active = append(c.jobs, o.RunningJobs), append(c.errs, o.errors), append(c.active, timestamptz(o.LastActiveAt))
}

func (c *observationColumns) args() []any {
	return []any{c.ids, c.seen, c.cpu, c.mem, c.disk, c.mounts, c.gpus, c.xids, c.jobs, c.errs, c.active}
}

// judgementColumns holds judgements column by column, as arrays for
// storeJudgementsSQL.
type judgementColumns struct {
	ids, names, bases []string
	teams             []int64
	flags             []int
	offline, idle     []pgtype.Timestamptz
	due               []time.Time
}

func (c *judgementColumns) add(m FleetMachine, j Judgement) {
	c.ids, c.teams, c.names, c.flags = append(c.ids, m.ID), append(c.teams, m.TeamID), append(c.names, m.Name), append(c.flags, j.Flags)
	c.offline, c.idle = append(c.offline, timestamptz(j.OfflineAt)), append(c.idle, timestamptz(j.IdleAt))
	c.due, c.bases = append(c.due, j.DueAt), append(c.bases, j.Basis)
}

func (c *judgementColumns) args() []any {
	return []any{c.ids, c.teams, c.names, c.flags, c.offline, c.idle, c.due, c.bases}
}

// timestamptz is t as an array element: NULL when nil.
func timestamptz(t *time.Time) pgtype.Timestamptz {
	if t == nil {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: *t, Valid: true}
}
