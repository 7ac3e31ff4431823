package storage

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
)

// Observation is what fleet health reads of a machine's newest heartbeat:
// a few figures of its sample and status, kept in columns so that reading
// a whole fleet decodes no JSON sample.
type Observation struct {
	MachineID string    `json:"machine_id"`
	SeenAt    time.Time `json:"seen_at"`
	// CPUPercent is whole-machine CPU usage, 0..100.
	CPUPercent    float64 `json:"cpu_percent"`
	MemoryPercent float64 `json:"memory_percent"`
	// DiskMaxPercent is the usage of the fullest filesystem, mounted at
	// DiskMaxMount.
	DiskMaxPercent float64 `json:"disk_max_percent"`
	DiskMaxMount   string  `json:"disk_max_mount"`
	GPUCount       int     `json:"gpu_count"`
	// GPUXIDErrors sums the critical XID events of every GPU.
	GPUXIDErrors uint64 `json:"gpu_xid_errors"`
	RunningJobs  int    `json:"running_jobs"`
	// Errors are the errors the agent reported with the heartbeat.
	Errors []string `json:"errors"`
	// LastActiveAt is the last heartbeat that reported a running job. A
	// heartbeat without one keeps the stored value.
	LastActiveAt *time.Time `json:"last_active_at"`
}

// AVSDeployment is one AVS deployment a machine's newest heartbeat
// reported.
type AVSDeployment struct {
	MachineID       string    `json:"machine_id"`
	AVSID           string    `json:"avs_id"`
	Chain           string    `json:"chain"`
	Version         string    `json:"version"`
	OperatorAddress string    `json:"operator_address"`
	Healthy         bool      `json:"healthy"`
	Error           string    `json:"error"`
	Registered      *bool     `json:"registered"`
	ReportedAt      time.Time `json:"reported_at"`
	// Recorded is the registration an admin recorded for the same AVS,
	// chain and operator; it is filled by reads and ignored by writes.
	Recorded *AVSRegistration `json:"recorded,omitempty"`
}

// RecordObservation stores a machine's observation and replaces its AVS
// deployments with deps, in one transaction, unless a newer observation is
// already stored (a late retry); applied reports which. An unknown machine
// is ENOTFOUND.
func (c *conn) RecordObservation(ctx context.Context, o Observation, deps []AVSDeployment) (applied bool, err error) {
	err = c.inTx(ctx, func(tx *Tx) error {
		obs, err := encodeObservation(o)
		if err != nil {
			return err
		}
		if _, applied, err = tx.recordObservation(ctx, obs, deps); err != nil {
			return err
		}
		return markStale(ctx, tx, o.MachineID)
	})
	return applied, err
}

// RecordObservedHeartbeat stores a heartbeat as RecordHeartbeat does and,
// in the same transaction, the observation and deployments derived from
// it as RecordObservation does: one commit per heartbeat instead of two.
// The machine's conditions are judged in the same transaction when the DB
// has a ConditionFunc (SetConditionFunc), and left stale otherwise.
func (c *conn) RecordObservedHeartbeat(ctx context.Context, machineID string, receivedAt time.Time, hb proofgrid.Heartbeat, o Observation, deps []AVSDeployment) error {
	write, err := ObservedHeartbeatWrite(machineID, receivedAt, hb, o, deps)
	if err != nil {
		return err
	}
	return c.inTx(ctx, func(tx *Tx) error { return write.Apply(ctx, tx) })
}

// HeartbeatWrite is a heartbeat with its observation and deployments,
// encoded for storage: what RecordObservedHeartbeat stores. Apply writes
// it in a transaction; a Batcher on PostgreSQL writes a batch of them in
// two round trips (pipelineHeartbeats).
type HeartbeatWrite struct {
	row  heartbeatRow
	obs  observationRow
	deps []AVSDeployment
}

// ObservedHeartbeatWrite encodes what RecordObservedHeartbeat stores, so
// that a Batcher can commit many heartbeats in one transaction. Encoding
// errors (EINVALID) come back here, before any transaction.
func ObservedHeartbeatWrite(machineID string, receivedAt time.Time, hb proofgrid.Heartbeat, o Observation, deps []AVSDeployment) (*HeartbeatWrite, error) {
	row, err := encodeHeartbeat(machineID, receivedAt, hb)
	if err != nil {
		return nil, err
	}
	obs, err := encodeObservation(o)
	if err != nil {
		return nil, err
	}
	return &HeartbeatWrite{row: row, obs: obs, deps: deps}, nil
}

// Apply writes w in tx.
func (w *HeartbeatWrite) Apply(ctx context.Context, tx *Tx) error {
	m, err := w.row.write(ctx, tx)
	if err != nil {
		return err
	}
	active, applied, err := tx.recordObservation(ctx, w.obs, w.deps)
	if err != nil {
		return err
	}
	if m == nil || !applied {
		// A late retry: the machine is as a newer heartbeat left it,
		// which this one does not know.
		return tx.judgeConditions(ctx, tx, w.row.machineID, nil)
	}
	w.observe(m, active)
	return tx.judgeConditions(ctx, tx, w.row.machineID, m)
}

// observe completes m, as w's own statements returned it, with what w
// stored: the machine as the heartbeat left it, for its judge.
func (w *HeartbeatWrite) observe(m *FleetMachine, active dbTime) {
	obs := w.obs.Observation
	obs.LastActiveAt = active.ptr()
	m.Observation = &obs
	m.Deployments = storedDeployments(m.ID, obs.SeenAt, w.deps)
	m.RegistrationsUnread = len(m.Deployments) > 0
}

// storedDeployments returns deps as recordObservation stores them and
// FleetMachines reads them back: the first of each AVS and chain, reported
// at seenAt, by AVS and chain.
func storedDeployments(machineID string, seenAt time.Time, deps []AVSDeployment) []AVSDeployment {
	out := make([]AVSDeployment, 0, len(deps))
	for _, d := range deps {
		if slices.ContainsFunc(out, func(e AVSDeployment) bool { return e.AVSID == d.AVSID && e.Chain == d.Chain }) {
			continue
		}
		d.MachineID, d.ReportedAt, d.Recorded = machineID, seenAt.UTC().Truncate(time.Microsecond), nil
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b AVSDeployment) int {
		return cmp.Or(strings.Compare(a.AVSID, b.AVSID), strings.Compare(a.Chain, b.Chain))
	})
	return out
}

// observationRow is an Observation encoded for storage.
type observationRow struct {
	Observation
	// errors is Errors as stored: a JSON array, or "" for none.
	errors string
}

func encodeObservation(o Observation) (observationRow, error) {
	r := observationRow{Observation: o}
	if len(o.Errors) > 0 {
		b, err := json.Marshal(o.Errors)
		if err != nil {
			return r, proofgrid.Errorf(proofgrid.EINVALID, "errors cannot be stored: %v", err)
		}
		r.errors = string(b)
	}
	return r, nil
}

// upsertObservationSQL stores an observation unless a newer one is stored;
// it returns a row (the stored last activity) only when it did.
// observationInto and observationConflict also serve the set-based form
// (pipeline.go).
const upsertObservationSQL = observationInto + `
	 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)` + observationConflict + `
	 RETURNING last_active_at`

const (
	observationInto = `INSERT INTO machine_observations
	 (machine_id, seen_at, cpu_percent, memory_percent, disk_max_percent, disk_max_mount,
	  gpu_count, gpu_xid_errors, running_jobs, errors, last_active_at)`
	observationConflict = `
	 ON CONFLICT (machine_id) DO UPDATE SET
	     seen_at = excluded.seen_at, cpu_percent = excluded.cpu_percent,
	     memory_percent = excluded.memory_percent, disk_max_percent = excluded.disk_max_percent,
	     disk_max_mount = excluded.disk_max_mount, gpu_count = excluded.gpu_count,
	     gpu_xid_errors = excluded.gpu_xid_errors, running_jobs = excluded.running_jobs,
	     errors = excluded.errors,
	     last_active_at = COALESCE(excluded.last_active_at, machine_observations.last_active_at)
	 WHERE machine_observations.seen_at <= excluded.seen_at`
)

func (o observationRow) upsertArgs() []any {
	return []any{o.MachineID, o.SeenAt, o.CPUPercent, o.MemoryPercent, o.DiskMaxPercent, o.DiskMaxMount,
		o.GPUCount, o.xidErrors(), o.RunningJobs, o.errors, o.LastActiveAt}
}

// xidErrors is GPUXIDErrors as stored: a signed 64-bit column.
func (o observationRow) xidErrors() int64 { return int64(min(o.GPUXIDErrors, math.MaxInt64)) }

const (
	deleteDeploymentsSQL = `DELETE FROM avs_deployments WHERE machine_id = ?`
	deploymentInto       = `INSERT INTO avs_deployments
	 (machine_id, avs_id, chain, version, operator_address, healthy, error, registered, reported_at)`
	// The first of each AVS and chain is kept, also within one statement.
	deploymentConflict  = ` ON CONFLICT (machine_id, avs_id, chain) DO NOTHING`
	insertDeploymentSQL = deploymentInto + ` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)` + deploymentConflict
)

func deploymentArgs(o Observation, dep AVSDeployment) []any {
	return []any{o.MachineID, dep.AVSID, dep.Chain, dep.Version, dep.OperatorAddress, dep.Healthy, dep.Error,
		nullBool(dep.Registered), o.SeenAt}
}

// recordObservation stores o and deps unless a newer observation is
// stored; applied reports which, and active is the stored last activity.
func (c *conn) recordObservation(ctx context.Context, o observationRow, deps []AVSDeployment) (active dbTime, applied bool, _ error) {
	rows, err := c.queryHot(ctx, upsertObservationSQL, o.upsertArgs()...)
	if err == nil {
		if rows.Next() {
			applied = true
			err = rows.Scan(&active)
		}
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if rerr := rows.Err(); err == nil {
			err = rerr
		}
	}
	if isForeignKeyViolation(err) {
		return dbTime{}, false, proofgrid.Errorf(proofgrid.ENOTFOUND, "machine %q not found", o.MachineID)
	} else if err != nil {
		return dbTime{}, false, fmt.Errorf("storage: record observation: %w", err)
	}
	if !applied {
		return dbTime{}, false, nil
	}
	if _, err := c.execHot(ctx, deleteDeploymentsSQL, o.MachineID); err != nil {
		return dbTime{}, false, fmt.Errorf("storage: replace deployments: %w", err)
	}
	for _, dep := range deps {
		if _, err := c.execHot(ctx, insertDeploymentSQL, deploymentArgs(o.Observation, dep)...); err != nil {
			return dbTime{}, false, fmt.Errorf("storage: record deployment: %w", err)
		}
	}
	return active, true, nil
}

func nullBool(b *bool) sql.NullBool {
	if b == nil {
		return sql.NullBool{}
	}
	return sql.NullBool{Bool: *b, Valid: true}
}

func boolPtr(b sql.NullBool) *bool {
	if !b.Valid {
		return nil
	}
	v := b.Bool
	return &v
}

// FleetMachine is a machine as fleet health reads it: identity, last
// contact and its observation.
type FleetMachine struct {
	ID           string
	TeamID       int64
	Name         string
	Role         string
	AgentVersion string
	EnrolledAt   time.Time
	LastSeenAt   *time.Time
	// Observation is nil for a machine without one.
	Observation *Observation
	// Deployments are its AVS deployments, by AVS and chain.
	Deployments []AVSDeployment
	// RegistrationsUnread reports that the admin-recorded registrations of
	// Deployments were not read (their Recorded is nil): a heartbeat's
	// judge resolves them itself.
	RegistrationsUnread bool
	// Sample and Status are set only for a machine that has a latest
	// sample but no observation (its heartbeats predate observations), so
	// that callers can derive one; they are not read otherwise.
	Sample *proofgrid.Sample
	Status *proofgrid.AgentStatus
}

// FleetFilter narrows FleetMachines and AVSDeployments.
type FleetFilter struct {
	// TeamID limits the result to one team; 0 means every team.
	TeamID int64
	// MachineID limits the result to one machine; "" means all.
	MachineID string
	// MachineIDs, when not empty, limits the result to these machines.
	MachineIDs []string
}

func (f FleetFilter) where(alias string) (string, []any) {
	var conds []string
	var args []any
	if f.TeamID != 0 {
		conds = append(conds, alias+".team_id = ?")
		args = append(args, f.TeamID)
	}
	if f.MachineID != "" {
		conds = append(conds, alias+".id = ?")
		args = append(args, f.MachineID)
	}
	if len(f.MachineIDs) > 0 {
		conds = append(conds, alias+".id IN (?"+strings.Repeat(", ?", len(f.MachineIDs)-1)+")")
		for _, id := range f.MachineIDs {
			args = append(args, id)
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// FleetMachines returns the machines f selects with their observations
// and AVS deployments (each with its admin-recorded registration), ordered
// by name and then id, in one query. It is empty, not nil, when there are
// none.
//
// The query reads each machine's identity from machines_fleet_idx, and its
// observation and deployments by primary key. On SQLite it never reads the
// rows of machines, which hold the JSON sample; on PostgreSQL it takes
// last_seen_at from them, so that a heartbeat's update of its machine
// touches no index (migration 00902). Only machines whose heartbeats
// predate observations have their sample read, in a second query.
func (c *conn) FleetMachines(ctx context.Context, f FleetFilter) ([]FleetMachine, error) {
	where, args := f.where("m")
	if where == "" {
		// Every team id is positive; saying so lets SQLite scan the
		// covering index instead of the table.
		where = " WHERE m.team_id > 0"
	}
	query := `SELECT m.id, m.team_id, m.name, m.role, m.agent_version, m.enrolled_at, m.last_seen_at,
	        o.seen_at, o.cpu_percent, o.memory_percent, o.disk_max_percent, o.disk_max_mount,
	        o.gpu_count, o.gpu_xid_errors, o.running_jobs, o.errors, o.last_active_at,
	        d.avs_id, d.chain, d.version, d.operator_address, d.healthy, d.error, d.registered, d.reported_at,
	        r.registered, r.source, r.as_of
	 FROM machines m
	 LEFT JOIN machine_observations o ON o.machine_id = m.id
	 LEFT JOIN avs_deployments d ON d.machine_id = m.id
	 LEFT JOIN avs_registrations r
	   ON r.avs_id = d.avs_id AND r.chain = d.chain AND r.operator_address = d.operator_address` + where + `
	 ORDER BY m.name, m.id`
	// In a transaction this is the heartbeat judging its machine.
	rows, err := c.queryHot(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("storage: fleet machines: %w", err)
	}
	defer rows.Close()
	out := []FleetMachine{}
	var legacy []int // indexes of machines seen but without an observation
	for rows.Next() {
		var (
			m                  FleetMachine
			enrolled, lastSeen dbTime
			seen, active       dbTime
			mount, errs        sql.NullString
			cpu, mem, disk     sql.NullFloat64
			gpus, xid, jobs    sql.NullInt64
			dep                deploymentColumns
		)
		if err := rows.Scan(&m.ID, &m.TeamID, &m.Name, &m.Role, &m.AgentVersion, &enrolled, &lastSeen,
			&seen, &cpu, &mem, &disk, &mount, &gpus, &xid, &jobs, &errs, &active,
			&dep.avsID, &dep.chain, &dep.version, &dep.operator, &dep.healthy, &dep.err, &dep.registered, &dep.reported,
			&dep.recRegistered, &dep.recSource, &dep.recAsOf); err != nil {
			return nil, fmt.Errorf("storage: fleet machines: %w", err)
		}
		// A machine with several deployments comes as several rows.
		if n := len(out); n > 0 && out[n-1].ID == m.ID {
			if dep.avsID.Valid {
				out[n-1].Deployments = append(out[n-1].Deployments, dep.deployment(m.ID))
			}
			continue
		}
		m.EnrolledAt, m.LastSeenAt = enrolled.Time, lastSeen.ptr()
		if seen.Valid {
			o := &Observation{
				MachineID: m.ID, SeenAt: seen.Time, CPUPercent: cpu.Float64, MemoryPercent: mem.Float64,
				DiskMaxPercent: disk.Float64, DiskMaxMount: mount.String, GPUCount: int(gpus.Int64),
				GPUXIDErrors: uint64(max(xid.Int64, 0)), RunningJobs: int(jobs.Int64), LastActiveAt: active.ptr(),
			}
			if errs.String != "" {
				if err := json.Unmarshal([]byte(errs.String), &o.Errors); err != nil {
					return nil, fmt.Errorf("storage: machine %s: observation errors: %w", m.ID, err)
				}
			}
			m.Observation = o
		} else if m.LastSeenAt != nil {
			legacy = append(legacy, len(out))
		}
		if dep.avsID.Valid {
			m.Deployments = []AVSDeployment{dep.deployment(m.ID)}
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: fleet machines: %w", err)
	}
	rows.Close()
	for i := range out {
		if len(out[i].Deployments) > 1 {
			slices.SortFunc(out[i].Deployments, func(a, b AVSDeployment) int {
				return cmp.Or(strings.Compare(a.AVSID, b.AVSID), strings.Compare(a.Chain, b.Chain))
			})
		}
	}
	if err := c.fillLegacySamples(ctx, out, legacy); err != nil {
		return nil, err
	}
	return out, nil
}

// deploymentColumns scans the deployment and registration columns of a
// LEFT JOIN, any of which may be NULL.
type deploymentColumns struct {
	avsID, chain, version, operator, err, recSource sql.NullString
	healthy, registered, recRegistered              sql.NullBool
	reported, recAsOf                               dbTime
}

func (c deploymentColumns) deployment(machineID string) AVSDeployment {
	d := AVSDeployment{
		MachineID: machineID, AVSID: c.avsID.String, Chain: c.chain.String, Version: c.version.String,
		OperatorAddress: c.operator.String, Healthy: c.healthy.Bool, Error: c.err.String,
		Registered: boolPtr(c.registered), ReportedAt: c.reported.Time,
	}
	if c.recRegistered.Valid {
		d.Recorded = &AVSRegistration{
			AVSID: d.AVSID, Chain: d.Chain, OperatorAddress: d.OperatorAddress, Registered: c.recRegistered.Bool,
			Source: c.recSource.String, AsOf: c.recAsOf.Time,
		}
	}
	return d
}

// legacyBatch bounds the ids of one IN list.
const legacyBatch = 500

// fillLegacySamples reads the latest sample and status of out[i] for each
// i in idx.
func (c *conn) fillLegacySamples(ctx context.Context, out []FleetMachine, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	if err := c.flushMetrics(ctx); err != nil {
		return err
	}
	for start := 0; start < len(idx); start += legacyBatch {
		batch := idx[start:min(start+legacyBatch, len(idx))]
		byID := make(map[string]int, len(batch))
		args := make([]any, len(batch))
		for k, i := range batch {
			byID[out[i].ID] = i
			args[k] = out[i].ID
		}
		var rows []struct {
			ID     string         `db:"id"`
			Sample sql.NullString `db:"latest_sample"`
			Status sql.NullString `db:"agent_status"`
		}
		query := `SELECT id, ` + latestSampleSQL + ` AS latest_sample, agent_status
			 FROM machines WHERE id IN (?` + strings.Repeat(", ?", len(batch)-1) + `)`
		if err := selectContext(ctx, c.r, &rows, query, args...); err != nil {
			return fmt.Errorf("storage: fleet machines: samples: %w", err)
		}
		for _, r := range rows {
			m := &out[byID[r.ID]]
			if r.Sample.Valid {
				m.Sample = new(proofgrid.Sample)
				if err := json.Unmarshal([]byte(r.Sample.String), m.Sample); err != nil {
					return fmt.Errorf("storage: machine %s: latest sample: %w", r.ID, err)
				}
			}
			if r.Status.Valid {
				m.Status = new(proofgrid.AgentStatus)
				if err := json.Unmarshal([]byte(r.Status.String), m.Status); err != nil {
					return fmt.Errorf("storage: machine %s: agent status: %w", r.ID, err)
				}
			}
		}
	}
	return nil
}

// AVSDeployments returns the AVS deployments of the machines f selects,
// each with the registration an admin recorded for it, ordered by machine
// name, machine id, AVS and chain.
func (c *conn) AVSDeployments(ctx context.Context, f FleetFilter) ([]AVSDeployment, error) {
	where, args := f.where("m")
	// Driven from machines_fleet_idx, like FleetMachines, so that the rows
	// of machines are not read.
	query := `SELECT d.machine_id, d.avs_id, d.chain, d.version, d.operator_address, d.healthy, d.error,
	        d.registered, d.reported_at, r.registered, r.source, r.as_of, r.updated_at
	 FROM machines m
	 JOIN avs_deployments d ON d.machine_id = m.id
	 LEFT JOIN avs_registrations r
	   ON r.avs_id = d.avs_id AND r.chain = d.chain AND r.operator_address = d.operator_address` + where + `
	 ORDER BY m.name, m.id, d.avs_id, d.chain`
	rows, err := c.r.QueryxContext(ctx, c.r.Rebind(query), bindArgs(c.r.DriverName(), args)...)
	if err != nil {
		return nil, fmt.Errorf("storage: avs deployments: %w", err)
	}
	defer rows.Close()
	out := []AVSDeployment{}
	for rows.Next() {
		var (
			dep                  AVSDeployment
			registered, recorded sql.NullBool
			reported, asOf, upd  dbTime
			source               sql.NullString
		)
		if err := rows.Scan(&dep.MachineID, &dep.AVSID, &dep.Chain, &dep.Version, &dep.OperatorAddress,
			&dep.Healthy, &dep.Error, &registered, &reported, &recorded, &source, &asOf, &upd); err != nil {
			return nil, fmt.Errorf("storage: avs deployments: %w", err)
		}
		dep.Registered, dep.ReportedAt = boolPtr(registered), reported.Time
		if recorded.Valid {
			dep.Recorded = &AVSRegistration{
				AVSID: dep.AVSID, Chain: dep.Chain, OperatorAddress: dep.OperatorAddress,
				Registered: recorded.Bool, Source: source.String, AsOf: asOf.Time, UpdatedAt: upd.Time,
			}
		}
		out = append(out, dep)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: avs deployments: %w", err)
	}
	return out, nil
}

// HealthState is the health a machine was last swept into.
type HealthState struct {
	MachineID string    `json:"machine_id"`
	State     string    `json:"state"`
	Reason    string    `json:"reason"`
	Since     time.Time `json:"since"`
}

// HealthStates returns every machine's recorded health state by machine id.
func (c *conn) HealthStates(ctx context.Context) (map[string]HealthState, error) {
	var rows []struct {
		MachineID string `db:"machine_id"`
		State     string `db:"state"`
		Reason    string `db:"reason"`
		Since     dbTime `db:"since"`
	}
	if err := selectContext(ctx, c.r, &rows, `SELECT machine_id, state, reason, since FROM machine_health`); err != nil {
		return nil, fmt.Errorf("storage: health states: %w", err)
	}
	out := make(map[string]HealthState, len(rows))
	for _, r := range rows {
		out[r.MachineID] = HealthState{MachineID: r.MachineID, State: r.State, Reason: r.Reason, Since: r.Since.Time}
	}
	return out, nil
}

// HealthStatesOtherThan returns the recorded health states that are not
// state (the healthy one, for a sweep), by machine id.
func (c *conn) HealthStatesOtherThan(ctx context.Context, state string) (map[string]HealthState, error) {
	var rows []struct {
		MachineID string `db:"machine_id"`
		State     string `db:"state"`
	}
	if err := selectContext(ctx, c.r, &rows, `SELECT machine_id, state FROM machine_health WHERE state <> ?`, state); err != nil {
		return nil, fmt.Errorf("storage: health states: %w", err)
	}
	out := make(map[string]HealthState, len(rows))
	for _, r := range rows {
		out[r.MachineID] = HealthState{MachineID: r.MachineID, State: r.State}
	}
	return out, nil
}

// MachinesWithoutHealthState returns the ids of the machines that have no
// recorded health state (enrolled since the last sweep), given how many
// machines there are (CountFleet): comparing that with the count of
// recorded states keeps the common case, none, to one count.
func (c *conn) MachinesWithoutHealthState(ctx context.Context, machines int) ([]string, error) {
	var recorded int
	if err := getContext(ctx, c.r, &recorded, `SELECT COUNT(*) FROM machine_health`); err != nil {
		return nil, fmt.Errorf("storage: count health states: %w", err)
	}
	if machines == recorded {
		return nil, nil
	}
	var ids []string
	err := selectContext(ctx, c.r, &ids,
		`SELECT id FROM machines m WHERE NOT EXISTS (SELECT 1 FROM machine_health h WHERE h.machine_id = m.id)`)
	if err != nil {
		return nil, fmt.Errorf("storage: machines without health state: %w", err)
	}
	return ids, nil
}

// HealthChange moves a machine from one health state to another.
type HealthChange struct {
	MachineID string
	// From is the state the change expects to find; "" means that none is
	// recorded yet.
	From   string
	To     string
	At     time.Time
	Reason string
}

// healthBatch bounds the changes written in one transaction, so that on
// SQLite heartbeats get the write lock between batches.
const healthBatch = 500

// ApplyHealthChanges records each change whose machine is still in the
// state the change expects, with a transition row, and skips the others.
// Checking the expected state in the same statement that changes it is
// what makes a sweep idempotent: a second sweep that computed the same
// change, at once or later, finds the state moved and records nothing. It
// returns how many changes it recorded.
func (c *conn) ApplyHealthChanges(ctx context.Context, changes []HealthChange) (int, error) {
	recorded := 0
	for start := 0; start < len(changes); start += healthBatch {
		batch := changes[start:min(start+healthBatch, len(changes))]
		n := 0
		err := c.inTx(ctx, func(tx *Tx) error {
			n = 0
			for _, ch := range batch {
				var res sql.Result
				var err error
				if ch.From == "" {
					res, err = execContext(ctx, tx.w,
						`INSERT INTO machine_health (machine_id, state, reason, since) VALUES (?, ?, ?, ?)
						 ON CONFLICT (machine_id) DO NOTHING`,
						ch.MachineID, ch.To, ch.Reason, ch.At)
				} else {
					res, err = execContext(ctx, tx.w,
						`UPDATE machine_health SET state = ?, reason = ?, since = ?
						 WHERE machine_id = ? AND state = ?`,
						ch.To, ch.Reason, ch.At, ch.MachineID, ch.From)
				}
				if isForeignKeyViolation(err) {
					continue // the machine is gone
				} else if err != nil {
					return fmt.Errorf("storage: apply health change: %w", err)
				}
				k, err := rowsAffected(res)
				if err != nil {
					return err
				}
				if k == 0 {
					continue
				}
				if _, err := execContext(ctx, tx.w,
					`INSERT INTO machine_health_transitions (machine_id, from_state, to_state, at, reason)
					 VALUES (?, ?, ?, ?, ?)`,
					ch.MachineID, ch.From, ch.To, ch.At, ch.Reason); err != nil {
					return fmt.Errorf("storage: record health transition: %w", err)
				}
				n++
			}
			return nil
		})
		if err != nil {
			return recorded, err
		}
		recorded += n
	}
	return recorded, nil
}

// HealthTransition is one recorded change of a machine's health state.
type HealthTransition struct {
	ID        int64     `json:"id"`
	MachineID string    `json:"machine_id"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	At        time.Time `json:"at"`
	Reason    string    `json:"reason"`
}

// TransitionFilter selects health transitions.
type TransitionFilter struct {
	// TeamID limits them to one team's machines; 0 means every team.
	TeamID int64
	// MachineID limits them to one machine; "" means all.
	MachineID string
	// Since drops transitions before it.
	Since time.Time
	// Limit caps the count (default 100).
	Limit int
}

// HealthTransitions returns transitions newest first.
func (c *conn) HealthTransitions(ctx context.Context, f TransitionFilter) ([]HealthTransition, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	query := `SELECT t.id, t.machine_id, t.from_state, t.to_state, t.at, t.reason
	 FROM machine_health_transitions t JOIN machines m ON m.id = t.machine_id
	 WHERE t.at >= ?`
	args := []any{f.Since}
	if f.TeamID != 0 {
		query += ` AND m.team_id = ?`
		args = append(args, f.TeamID)
	}
	if f.MachineID != "" {
		query += ` AND t.machine_id = ?`
		args = append(args, f.MachineID)
	}
	query += ` ORDER BY t.at DESC, t.id DESC LIMIT ?`
	args = append(args, f.Limit)
	var rows []struct {
		ID        int64  `db:"id"`
		MachineID string `db:"machine_id"`
		From      string `db:"from_state"`
		To        string `db:"to_state"`
		At        dbTime `db:"at"`
		Reason    string `db:"reason"`
	}
	if err := selectContext(ctx, c.r, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("storage: health transitions: %w", err)
	}
	out := make([]HealthTransition, 0, len(rows))
	for _, r := range rows {
		out = append(out, HealthTransition{ID: r.ID, MachineID: r.MachineID, From: r.From, To: r.To, At: r.At.Time, Reason: r.Reason})
	}
	return out, nil
}
