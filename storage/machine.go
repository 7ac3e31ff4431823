package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
)

type machineRow struct {
	ID           string         `db:"id"`
	TeamID       int64          `db:"team_id"`
	Name         string         `db:"name"`
	Role         string         `db:"role"`
	ClusterID    string         `db:"cluster_id"`
	PublicKey    string         `db:"public_key"`
	AgentVersion string         `db:"agent_version"`
	EnrolledAt   dbTime         `db:"enrolled_at"`
	LastSeenAt   dbTime         `db:"last_seen_at"`
	LatestSample sql.NullString `db:"latest_sample"`
	AgentStatus  sql.NullString `db:"agent_status"`
}

func (r machineRow) machine() (proofgrid.Machine, error) {
	m := proofgrid.Machine{
		ID:           r.ID,
		TeamID:       r.TeamID,
		Name:         r.Name,
		Role:         r.Role,
		ClusterID:    r.ClusterID,
		PublicKey:    r.PublicKey,
		AgentVersion: r.AgentVersion,
		EnrolledAt:   r.EnrolledAt.Time,
		LastSeenAt:   r.LastSeenAt.ptr(),
	}
	if r.LatestSample.Valid {
		m.Latest = new(proofgrid.Sample)
		if err := json.Unmarshal([]byte(r.LatestSample.String), m.Latest); err != nil {
			return proofgrid.Machine{}, fmt.Errorf("storage: machine %s: latest sample: %w", r.ID, err)
		}
	}
	if r.AgentStatus.Valid {
		m.Status = new(proofgrid.AgentStatus)
		if err := json.Unmarshal([]byte(r.AgentStatus.String), m.Status); err != nil {
			return proofgrid.Machine{}, fmt.Errorf("storage: machine %s: agent status: %w", r.ID, err)
		}
	}
	return m, nil
}

const machineColumns = `id, team_id, name, role, cluster_id, public_key, agent_version,
	enrolled_at, last_seen_at, ` + latestSampleSQL + ` AS latest_sample, agent_status`

// latestSampleSQL selects the latest sample of the machines row in scope:
// the sample of its newest history row (by received_at, ties by id), which
// is the heartbeat that set last_seen_at (a late one is older and replaces
// nothing). Storing it once, in the history, keeps each heartbeat's update
// of its machine narrow. The (machine_id, received_at) index finds it.
const latestSampleSQL = `(SELECT mm.sample FROM machine_metrics mm
	 WHERE mm.machine_id = machines.id ORDER BY mm.received_at DESC, mm.id DESC LIMIT 1)`

// UpsertMachine enrols m, keyed by its public key. A new key inserts m with
// the id the caller chose (a UUID) and created is true. A key the same team
// enrolled before keeps its machine's id and enrolment time and takes m's
// name, role, cluster and agent version, so an agent that restarts or is
// reconfigured stays the same machine. A key enrolled by another team, or
// an id already used by another key, is ECONFLICT; an unknown team is
// ENOTFOUND.
func (c *conn) UpsertMachine(ctx context.Context, m proofgrid.Machine) (_ proofgrid.Machine, created bool, _ error) {
	switch {
	case strings.TrimSpace(m.ID) == "":
		return proofgrid.Machine{}, false, proofgrid.Errorf(proofgrid.EINVALID, "machine id is empty")
	case strings.TrimSpace(m.PublicKey) == "":
		return proofgrid.Machine{}, false, proofgrid.Errorf(proofgrid.EINVALID, "machine public key is empty")
	case strings.TrimSpace(m.Name) == "":
		return proofgrid.Machine{}, false, proofgrid.Errorf(proofgrid.EINVALID, "machine name is empty")
	case !proofgrid.ValidRole(m.Role):
		return proofgrid.Machine{}, false, proofgrid.Errorf(proofgrid.EINVALID, "machine role %q is not %s, %s or %s", m.Role, proofgrid.RoleProver, proofgrid.RoleAVS, proofgrid.RoleVerifier)
	}
	enrolledAt := m.EnrolledAt
	if enrolledAt.IsZero() {
		enrolledAt = c.now()
	}

	var out proofgrid.Machine
	err := c.inTx(ctx, func(tx *Tx) error {
		// Insert first and update on conflict, rather than look up first:
		// two agents enrolling the same new key at once then cannot both
		// see "no machine" and both insert.
		var r machineRow
		err := getContext(ctx, tx.w, &r,
			`INSERT INTO machines (id, team_id, name, role, cluster_id, public_key, agent_version, enrolled_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (public_key) DO NOTHING
			 RETURNING `+machineColumns,
			m.ID, m.TeamID, m.Name, m.Role, m.ClusterID, m.PublicKey, m.AgentVersion, enrolledAt)
		switch {
		case err == nil:
			created = true
			if out, err = r.machine(); err != nil {
				return err
			}
			if _, err := execContext(ctx, tx.w,
				`INSERT INTO fleet_counts (team_id, machines) VALUES (?, 1)
				 ON CONFLICT (team_id) DO UPDATE SET machines = fleet_counts.machines + 1`, out.TeamID); err != nil {
				return fmt.Errorf("storage: count machine: %w", err)
			}
			return markStale(ctx, tx, out.ID)
		case isUniqueViolation(err):
			return proofgrid.Errorf(proofgrid.ECONFLICT, "machine id %q is already taken", m.ID)
		case isForeignKeyViolation(err):
			return proofgrid.Errorf(proofgrid.ENOTFOUND, "team %d not found", m.TeamID)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("storage: insert machine: %w", err)
		}

		err = getContext(ctx, tx.w, &r,
			`UPDATE machines SET name = ?, role = ?, cluster_id = ?, agent_version = ?
			 WHERE public_key = ? AND team_id = ?
			 RETURNING `+machineColumns,
			m.Name, m.Role, m.ClusterID, m.AgentVersion, m.PublicKey, m.TeamID)
		if errors.Is(err, sql.ErrNoRows) {
			return proofgrid.Errorf(proofgrid.ECONFLICT, "public key is enrolled by another team")
		} else if err != nil {
			return fmt.Errorf("storage: update machine: %w", err)
		}
		if out, err = r.machine(); err != nil {
			return err
		}
		return markStale(ctx, tx, out.ID)
	})
	if err != nil {
		return proofgrid.Machine{}, false, err
	}
	return out, created, nil
}

// MachineByID returns machine id with its latest sample and status, or
// ENOTFOUND.
func (c *conn) MachineByID(ctx context.Context, id string) (proofgrid.Machine, error) {
	// Inside a transaction, its own heartbeats' samples are read too.
	if err := c.flushMetrics(ctx); err != nil {
		return proofgrid.Machine{}, err
	}
	var r machineRow
	err := getContext(ctx, c.r, &r, `SELECT `+machineColumns+` FROM machines WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return proofgrid.Machine{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", id)
	} else if err != nil {
		return proofgrid.Machine{}, fmt.Errorf("storage: machine by id: %w", err)
	}
	return r.machine()
}

// MachineIdentity returns machine id without its latest sample and status:
// what authenticating a signed agent request needs, without decoding the
// sample JSON on every request. ENOTFOUND when unknown.
func (c *conn) MachineIdentity(ctx context.Context, id string) (proofgrid.Machine, error) {
	var r machineRow
	err := c.getHot(ctx, &r,
		`SELECT id, team_id, name, role, cluster_id, public_key, agent_version, enrolled_at, last_seen_at
		 FROM machines WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return proofgrid.Machine{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", id)
	} else if err != nil {
		return proofgrid.Machine{}, fmt.Errorf("storage: machine identity: %w", err)
	}
	return r.machine()
}

// ListMachines returns the machines of team teamID, or of every team when
// teamID is 0, ordered by name and then id. It is empty, not nil, when
// there are none.
func (c *conn) ListMachines(ctx context.Context, teamID int64) ([]proofgrid.Machine, error) {
	if err := c.flushMetrics(ctx); err != nil {
		return nil, err
	}
	query := `SELECT ` + machineColumns + ` FROM machines`
	var args []any
	if teamID != 0 {
		query += ` WHERE team_id = ?`
		args = append(args, teamID)
	}
	query += ` ORDER BY name, id`
	var rows []machineRow
	if err := selectContext(ctx, c.r, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("storage: list machines: %w", err)
	}
	out := make([]proofgrid.Machine, 0, len(rows))
	for _, r := range rows {
		m, err := r.machine()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// MachineIDsWithRole returns the ids of team teamID's machines of role,
// in order: what a caller needs that wants no samples read.
func (c *conn) MachineIDsWithRole(ctx context.Context, teamID int64, role string) ([]string, error) {
	ids := []string{}
	if err := selectContext(ctx, c.r, &ids, `SELECT id FROM machines WHERE team_id = ? AND role = ? ORDER BY id`, teamID, role); err != nil {
		return nil, fmt.Errorf("storage: machines with role: %w", err)
	}
	return ids, nil
}

// RecordHeartbeat stores a heartbeat machineID sent, received by the
// coordinator at receivedAt: the machine's last-seen time, agent version
// and status, and one row of metric history (which holds its sample, the
// machine's latest while no newer one comes), all in one transaction. A
// heartbeat older than the last one seen (a retry that arrives late) adds
// to the history but does not replace the latest state.
// An empty agent version keeps the stored one. An unknown machine is
// ENOTFOUND.
func (c *conn) RecordHeartbeat(ctx context.Context, machineID string, receivedAt time.Time, hb proofgrid.Heartbeat) error {
	write, err := heartbeatWriter(machineID, receivedAt, hb)
	if err != nil {
		return err
	}
	return c.inTx(ctx, func(tx *Tx) error {
		if _, err := write(ctx, tx); err != nil {
			return err
		}
		return markStale(ctx, tx, machineID)
	})
}

// heartbeatRow is a heartbeat encoded for storage: its machine's new
// state and its history row.
type heartbeatRow struct {
	machineID    string
	receivedAt   time.Time
	agentVersion string
	sample       string
	status       string
	// What its history row holds besides the above (insertMetricsSQL).
	collectedAt                               time.Time
	cpuPercent, memoryPercent, diskMaxPercent float64
	gpuCount                                  int
}

// encodeHeartbeat encodes a heartbeat received at receivedAt.
func encodeHeartbeat(machineID string, receivedAt time.Time, hb proofgrid.Heartbeat) (heartbeatRow, error) {
	sample, err := json.Marshal(hb.Sample)
	if err != nil {
		return heartbeatRow{}, proofgrid.Errorf(proofgrid.EINVALID, "sample cannot be stored: %v", err)
	}
	status, err := json.Marshal(hb.Status)
	if err != nil {
		return heartbeatRow{}, proofgrid.Errorf(proofgrid.EINVALID, "agent status cannot be stored: %v", err)
	}
	collectedAt := hb.Sample.CollectedAt
	if collectedAt.IsZero() {
		collectedAt = receivedAt
	}
	_, diskMax := hb.Sample.FullestDisk()
	return heartbeatRow{
		machineID: machineID, receivedAt: receivedAt, agentVersion: hb.AgentVersion,
		sample: string(sample), status: string(status), collectedAt: collectedAt,
		cpuPercent: hb.Sample.CPU.UsagePercent, memoryPercent: hb.Sample.Memory.Percent(),
		diskMaxPercent: diskMax, gpuCount: len(hb.Sample.GPUs),
	}, nil
}

// updateMachineSQL stores a heartbeat's state on its machine unless a newer
// heartbeat was seen; RETURNING hands the heartbeat's judge its machine
// without another statement.
const updateMachineSQL = `UPDATE machines
	 SET last_seen_at = ?, agent_version = COALESCE(NULLIF(?, ''), agent_version), agent_status = ?
	 WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at <= ?)
	 RETURNING team_id, name, role, agent_version, enrolled_at, last_seen_at`

func (r heartbeatRow) updateArgs() []any {
	return []any{r.receivedAt, r.agentVersion, r.status, r.machineID, r.receivedAt}
}

// scanUpdatedMachine reads the row updateMachineSQL returned.
func (r heartbeatRow) scanUpdatedMachine(scan func(dest ...any) error) (*FleetMachine, error) {
	m := &FleetMachine{ID: r.machineID}
	return m, scanMachineState(scan, m)
}

// scanMachineState reads a machine as a heartbeat's update returns it:
// first the columns of dest, if any, then team, name, role, agent
// version, enrolment and last heartbeat.
func scanMachineState(scan func(dest ...any) error, m *FleetMachine, dest ...any) error {
	var enrolled, seen dbTime
	if err := scan(append(dest, &m.TeamID, &m.Name, &m.Role, &m.AgentVersion, &enrolled, &seen)...); err != nil {
		return err
	}
	m.EnrolledAt, m.LastSeenAt = enrolled.Time, seen.ptr()
	return nil
}

// heartbeatWriter encodes a heartbeat and returns the function that writes
// it inside a transaction, so that a caller can add its own writes to the
// same transaction (RecordObservedHeartbeat does). The caller marks the
// machine's conditions stale or judges them (judgeConditions). The write
// returns the machine as the heartbeat left it, without observation; nil
// when the heartbeat was older than the last one seen and left it as it was.
func heartbeatWriter(machineID string, receivedAt time.Time, hb proofgrid.Heartbeat) (func(context.Context, *Tx) (*FleetMachine, error), error) {
	r, err := encodeHeartbeat(machineID, receivedAt, hb)
	if err != nil {
		return nil, err
	}
	return r.write, nil
}

// write stores r in tx; see heartbeatWriter.
func (r heartbeatRow) write(ctx context.Context, tx *Tx) (*FleetMachine, error) {
	rows, err := tx.queryHot(ctx, updateMachineSQL, r.updateArgs()...)
	if err != nil {
		return nil, fmt.Errorf("storage: record heartbeat: %w", err)
	}
	var m *FleetMachine
	if rows.Next() {
		if m, err = r.scanUpdatedMachine(rows.Scan); err != nil {
			rows.Close()
			return nil, fmt.Errorf("storage: record heartbeat: %w", err)
		}
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("storage: record heartbeat: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: record heartbeat: %w", err)
	}
	if m == nil {
		ok, err := exists(ctx, tx.w, `SELECT 1 FROM machines WHERE id = ?`, r.machineID)
		if err != nil {
			return nil, fmt.Errorf("storage: record heartbeat: %w", err)
		} else if !ok {
			return nil, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", r.machineID)
		}
	}
	// The history row is appended when the transaction commits, in one
	// statement with those of every heartbeat in it.
	tx.metrics = append(tx.metrics, r.metricArgs())
	return m, nil
}

// metricArgs returns r's history row, in the columns of insertMetricsSQL.
func (r heartbeatRow) metricArgs() []any {
	return []any{r.machineID, r.collectedAt, r.receivedAt, r.cpuPercent, r.memoryPercent, r.diskMaxPercent,
		r.gpuCount, r.sample}
}

// metricsPerInsert bounds the rows of one history INSERT (8 parameters
// each), far below either dialect's limit on parameters.
const metricsPerInsert = 128

// flushMetrics flushes the history rows of c's transaction; on a DB there
// are none.
func (c *conn) flushMetrics(ctx context.Context) error {
	if c.tx == nil {
		return nil
	}
	return c.tx.flushMetrics(ctx)
}

// flushMetrics inserts the history rows the transaction's heartbeats
// appended, metricsPerInsert per statement: one round trip for a batch
// of heartbeats instead of one each.
func (tx *Tx) flushMetrics(ctx context.Context) error {
	for len(tx.metrics) > 0 {
		n := min(len(tx.metrics), metricsPerInsert)
		query, args := insertMetricsSQL(tx.metrics[:n])
		if _, err := tx.execHot(ctx, query, args...); err != nil {
			return fmt.Errorf("storage: record metrics: %w", err)
		}
		tx.metrics = tx.metrics[n:]
	}
	return nil
}

// metricsInto names the columns of a history row.
const metricsInto = `INSERT INTO machine_metrics
	 (machine_id, collected_at, received_at, cpu_percent, memory_percent, disk_max_percent, gpu_count, sample)`

// insertMetricsSQL returns the INSERT of history rows and its arguments.
func insertMetricsSQL(rows [][]any) (string, []any) {
	var q strings.Builder
	q.WriteString(metricsInto + ` VALUES `)
	args := make([]any, 0, len(rows)*8)
	for i, row := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, row...)
	}
	return q.String(), args
}

// MetricPoint is one stored sample of a machine's history. It is defined in
// the root package so the client can decode it without importing storage.
type MetricPoint = proofgrid.MetricPoint

type metricRow struct {
	MachineID      string  `db:"machine_id"`
	CollectedAt    dbTime  `db:"collected_at"`
	ReceivedAt     dbTime  `db:"received_at"`
	CPUPercent     float64 `db:"cpu_percent"`
	MemoryPercent  float64 `db:"memory_percent"`
	DiskMaxPercent float64 `db:"disk_max_percent"`
	GPUCount       int     `db:"gpu_count"`
	Sample         string  `db:"sample"`
}

// DefaultMetricsLimit is how many points MachineMetrics returns when the
// caller sets no limit.
const DefaultMetricsLimit = 1000

// MachineMetrics returns machineID's history received at or after since,
// newest first, at most limit points (DefaultMetricsLimit when limit <= 0).
// An unknown machine has no history: the result is empty, not an error.
func (c *conn) MachineMetrics(ctx context.Context, machineID string, since time.Time, limit int) ([]MetricPoint, error) {
	if limit <= 0 {
		limit = DefaultMetricsLimit
	}
	// Inside a transaction, its own heartbeats' history is read too.
	if err := c.flushMetrics(ctx); err != nil {
		return nil, err
	}
	var rows []metricRow
	err := selectContext(ctx, c.r, &rows,
		`SELECT machine_id, collected_at, received_at, cpu_percent, memory_percent, disk_max_percent, gpu_count, sample
		 FROM machine_metrics
		 WHERE machine_id = ? AND received_at >= ?
		 ORDER BY received_at DESC, id DESC
		 LIMIT ?`,
		machineID, since, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: machine metrics: %w", err)
	}
	out := make([]MetricPoint, 0, len(rows))
	for _, r := range rows {
		p := MetricPoint{
			MachineID:      r.MachineID,
			CollectedAt:    r.CollectedAt.Time,
			ReceivedAt:     r.ReceivedAt.Time,
			CPUPercent:     r.CPUPercent,
			MemoryPercent:  r.MemoryPercent,
			DiskMaxPercent: r.DiskMaxPercent,
			GPUCount:       r.GPUCount,
		}
		if err := json.Unmarshal([]byte(r.Sample), &p.Sample); err != nil {
			return nil, fmt.Errorf("storage: machine %s metrics: %w", r.MachineID, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// metricsDeleteBatch bounds one DELETE of DeleteMetricsBefore, so that on
// SQLite heartbeats get the write lock between batches instead of waiting
// for the whole purge.
const metricsDeleteBatch = 5000

// DeleteMetricsBefore deletes the metric history received before before,
// for every machine, and returns how many points it deleted. Machines'
// latest state is kept: each machine's newest point holds its latest
// sample and is never deleted.
func (c *conn) DeleteMetricsBefore(ctx context.Context, before time.Time) (int64, error) {
	if err := c.flushMetrics(ctx); err != nil {
		return 0, err
	}
	size := c.db.metricsDeleteBatch
	if size <= 0 {
		size = metricsDeleteBatch
	}
	// Each DELETE goes on from the newest point the last one deleted, so
	// the points kept before it (the newest of machines silent for longer
	// than the retention, the oldest of all) are not read again by each.
	var from time.Time // the zero time: from the oldest point
	var total int64
	for {
		var deleted []dbTime
		err := selectContext(ctx, c.w, &deleted,
			`DELETE FROM machine_metrics WHERE id IN (
			     SELECT mm.id FROM machine_metrics mm
			     WHERE mm.received_at >= ? AND mm.received_at < ? AND mm.received_at < (
			         SELECT max(n.received_at) FROM machine_metrics n WHERE n.machine_id = mm.machine_id)
			     ORDER BY mm.received_at LIMIT ?)
			 RETURNING received_at`,
			from, before, size)
		if err != nil {
			return total, fmt.Errorf("storage: delete metrics: %w", err)
		}
		total += int64(len(deleted))
		if len(deleted) < size {
			return total, nil
		}
		for _, t := range deleted {
			if t.Time.After(from) {
				from = t.Time
			}
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
