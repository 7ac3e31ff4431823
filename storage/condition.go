package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// Judgement is a machine's health as judged when its inputs last changed:
// what the passing of time alone cannot change, and the times after which
// it alone changes it. fleet defines Flags and derives a machine's health
// at any time from a Judgement.
type Judgement struct {
	// Flags is a bit set that fleet defines.
	Flags int
	// OfflineAt is the time after which the machine is offline; nil when
	// it is offline at any time (it was never seen).
	OfflineAt *time.Time
	// IdleAt is the time after which the machine is idle; nil when it is
	// never idle.
	IdleAt *time.Time
	// DueAt is the earliest time the machine may not be healthy: reads
	// select the machines due by now.
	DueAt time.Time
	// Basis names the rules, catalogue and registrations it was judged
	// under.
	Basis string
}

// ConditionFunc judges a machine as a heartbeat left it. fleet's Monitor
// provides it.
type ConditionFunc func(ctx context.Context, m FleetMachine) Judgement

// conditionHook holds the ConditionFunc of a DB.
type conditionHook struct{ judge ConditionFunc }

// SetConditionFunc makes every heartbeat written through RecordObservedHeartbeat
// judge its machine with f in the same transaction. Without one, a
// heartbeat leaves the machine's conditions stale and the next fleet read
// judges it.
func (d *DB) SetConditionFunc(f ConditionFunc) { d.conditions.Store(&conditionHook{judge: f}) }

func (c *conn) conditionFunc() ConditionFunc {
	if c.db == nil {
		return nil
	}
	if h := c.db.conditions.Load(); h != nil {
		return h.judge
	}
	return nil
}

// markStale records that a machine's health inputs changed, creating its
// conditions row if it has none.
func markStale(ctx context.Context, tx *Tx, machineID string) error {
	if _, err := tx.execHot(ctx, markStaleSQL, machineID); err != nil {
		return fmt.Errorf("storage: mark conditions stale: %w", err)
	}
	return nil
}

// markStaleSQL marks one machine's conditions stale; markStaleHead and
// markStaleConflict also serve the set-based form (pipeline.go).
const (
	markStaleHead = `INSERT INTO machine_conditions (machine_id, team_id, name, basis, version)
	 SELECT id, team_id, name, '', 1 FROM machines WHERE id `
	markStaleConflict = `
	 ON CONFLICT (machine_id) DO UPDATE SET name = excluded.name, basis = '',
	   version = machine_conditions.version + 1`
	markStaleSQL = markStaleHead + `= ?` + markStaleConflict
)

// judgeConditions judges machineID with the DB's ConditionFunc, if any,
// and stores the result. m is the machine as the heartbeat's own
// statements returned it; when nil, it is read back.
func (c *conn) judgeConditions(ctx context.Context, tx *Tx, machineID string, m *FleetMachine) error {
	judge := c.conditionFunc()
	if judge == nil {
		return markStale(ctx, tx, machineID)
	}
	if m == nil {
		ms, err := tx.FleetMachines(ctx, FleetFilter{MachineID: machineID})
		if err != nil || len(ms) == 0 {
			return err
		}
		m = &ms[0]
	}
	return storeJudgement(ctx, tx, *m, judge(ctx, *m))
}

// storeJudgement stores j as m's judgement, creating its row if it has
// none.
func storeJudgement(ctx context.Context, tx *Tx, m FleetMachine, j Judgement) error {
	if _, err := tx.execHot(ctx, storeJudgementSQL, judgementArgs(m, j)...); err != nil {
		return fmt.Errorf("storage: store conditions: %w", err)
	}
	return nil
}

// storeJudgementSQL stores one judgement; judgementInto and
// judgementConflict also serve the set-based form (pipeline.go).
const (
	judgementInto     = `INSERT INTO machine_conditions (machine_id, team_id, name, flags, offline_at, idle_at, due_at, basis, version)`
	judgementConflict = `
	 ON CONFLICT (machine_id) DO UPDATE SET name = excluded.name, flags = excluded.flags,
	   offline_at = excluded.offline_at, idle_at = excluded.idle_at, due_at = excluded.due_at,
	   basis = excluded.basis, version = machine_conditions.version + 1`
	storeJudgementSQL = judgementInto + `
	 VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)` + judgementConflict
)

func judgementArgs(m FleetMachine, j Judgement) []any {
	return []any{m.ID, m.TeamID, m.Name, j.Flags, j.OfflineAt, j.IdleAt, j.DueAt, j.Basis}
}

// ConditionRow is a machine's stored judgement as reads find it.
type ConditionRow struct {
	MachineID string
	Name      string
	Judgement
	// Version is the version of the row: a judgement made from this read
	// is stored only while the row is still at it (SetConditions).
	Version int64
}

// DueConditions returns the conditions rows of teamID (0: every team) that
// are due before dueBefore or not judged under basis: those of every
// machine that may not be healthy then. The query reads the narrow rows of
// machine_conditions alone, through its indexes. Every machine enrolled
// through this package has a conditions row; RepairFleetCounts adds those
// of machines written around it.
func (c *conn) DueConditions(ctx context.Context, teamID int64, basis string, dueBefore time.Time) ([]ConditionRow, error) {
	// Each arm is a search of an index that reads its rows directly; a
	// row both arms find (due and stale) is kept once below. (An IN over
	// the ids of both arms cost a search of the primary key per row.)
	team, args := "team_id > 0", []any{}
	if teamID != 0 {
		team = "team_id = ?"
	}
	teamArg := func() {
		if teamID != 0 {
			args = append(args, teamID)
		}
	}
	teamArg()
	args = append(args, dueBefore)
	teamArg()
	args = append(args, basis, basis)
	const cols = ` machine_id, name, flags, offline_at, idle_at, due_at, basis, version FROM machine_conditions`
	// In the stale arm "+team_id" keeps SQLite's planner off the team
	// index (which would walk every machine of the team) and on the basis
	// index; the unary plus is a no-op on both databases.
	query := `SELECT 0,` + cols + ` WHERE ` + team + ` AND due_at < ?
	 UNION ALL SELECT 1,` + cols + ` WHERE +` + team + ` AND (basis < ? OR basis > ?)`
	rows, err := c.r.QueryxContext(ctx, c.r.Rebind(query), bindArgs(c.r.DriverName(), args)...)
	if err != nil {
		return nil, fmt.Errorf("storage: due conditions: %w", err)
	}
	defer rows.Close()
	// One set of scan targets for every row: per-row ones escape to the
	// heap, and at thousands of rows the garbage showed in the read's
	// latency.
	var (
		r                  ConditionRow
		arm                int
		offline, idle, due dbTime
	)
	targets := []any{&arm, &r.MachineID, &r.Name, &r.Flags, &offline, &idle, &due, &r.Basis, &r.Version}
	out := make([]ConditionRow, 0, 64)
	// Each arm's rows are unique; a row of the stale arm (1) that the due
	// arm (0) found too is dropped. The stale arm is nearly always empty.
	var dueIDs map[string]bool
	for rows.Next() {
		if err := rows.Scan(targets...); err != nil {
			return nil, fmt.Errorf("storage: due conditions: %w", err)
		}
		if arm == 1 {
			if dueIDs == nil {
				dueIDs = make(map[string]bool, len(out))
				for _, d := range out {
					dueIDs[d.MachineID] = true
				}
			}
			if dueIDs[r.MachineID] {
				continue
			}
		}
		row := r
		row.OfflineAt, row.IdleAt, row.DueAt = offline.ptr(), idle.ptr(), due.Time
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: due conditions: %w", err)
	}
	return out, nil
}

// addMissingConditions adds a stale conditions row for each machine that
// has none.
func (c *conn) addMissingConditions(ctx context.Context) error {
	_, err := execContext(ctx, c.w,
		`INSERT INTO machine_conditions (machine_id, team_id, name)
		 SELECT id, team_id, name FROM machines m
		 WHERE NOT EXISTS (SELECT 1 FROM machine_conditions c WHERE c.machine_id = m.id)
		 ON CONFLICT (machine_id) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("storage: add conditions: %w", err)
	}
	return nil
}

// Condition is a judgement of one machine to store.
type Condition struct {
	MachineID string
	Name      string
	Judgement
	// Version is the version of the row the judgement read; a row written
	// since is newer and is kept.
	Version int64
}

// SetConditions stores judgements of stale rows, each only while its row
// is still at the version the judgement read.
func (c *conn) SetConditions(ctx context.Context, conds []Condition) error {
	for start := 0; start < len(conds); start += healthBatch {
		batch := conds[start:min(start+healthBatch, len(conds))]
		err := c.inTx(ctx, func(tx *Tx) error {
			for _, k := range batch {
				if _, err := execContext(ctx, tx.w,
					`UPDATE machine_conditions SET name = ?, flags = ?, offline_at = ?, idle_at = ?, due_at = ?,
					   basis = ?, version = version + 1
					 WHERE machine_id = ? AND version = ?`,
					k.Name, k.Flags, k.OfflineAt, k.IdleAt, k.DueAt, k.Basis, k.MachineID, k.Version); err != nil {
					return fmt.Errorf("storage: set conditions: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// FleetCount counts the machines of a fleet.
type FleetCount struct {
	Machines int
}

// CountFleet counts the machines of teamID (0: every team) from the counts
// that enrolment keeps: no machine row is read.
func (c *conn) CountFleet(ctx context.Context, teamID int64) (FleetCount, error) {
	query, args := `SELECT COALESCE(SUM(machines), 0) FROM fleet_counts`, []any(nil)
	if teamID != 0 {
		query, args = `SELECT COALESCE(SUM(machines), 0) FROM fleet_counts WHERE team_id = ?`, []any{teamID}
	}
	var n FleetCount
	if err := getContext(ctx, c.r, &n.Machines, query, args...); err != nil {
		return FleetCount{}, fmt.Errorf("storage: count machines: %w", err)
	}
	return n, nil
}

// RepairFleetCounts makes the fleet counts and the conditions rows agree
// with the machines table, for machines written around proofgrid (by hand,
// or by a restore of some tables only); it reports whether anything
// differed. Enrolment keeps both right otherwise. It counts every machine,
// so it runs with the heartbeat sweep, not with reads. (A machine enrolled
// while it runs may be left out of its team's count until the next run.)
func (c *conn) RepairFleetCounts(ctx context.Context) (bool, error) {
	var counts, teams, missing int
	err := c.r.QueryRowxContext(ctx,
		`SELECT (SELECT COUNT(*) FROM (
		           SELECT team_id, COUNT(*) AS n FROM machines GROUP BY team_id
		           EXCEPT SELECT team_id, machines FROM fleet_counts WHERE machines > 0) d),
		        (SELECT COUNT(*) FROM (
		           SELECT team_id, machines FROM fleet_counts WHERE machines > 0
		           EXCEPT SELECT team_id, COUNT(*) FROM machines GROUP BY team_id) d),
		        (SELECT COUNT(*) FROM machines) - (SELECT COUNT(*) FROM machine_conditions)`).Scan(&counts, &teams, &missing)
	if err != nil {
		return false, fmt.Errorf("storage: check fleet counts: %w", err)
	}
	if counts == 0 && teams == 0 && missing == 0 {
		return false, nil
	}
	err = c.inTx(ctx, func(tx *Tx) error {
		if err := tx.addMissingConditions(ctx); err != nil {
			return err
		}
		if _, err := execContext(ctx, tx.w, `DELETE FROM fleet_counts`); err != nil {
			return err
		}
		_, err := execContext(ctx, tx.w,
			`INSERT INTO fleet_counts (team_id, machines) SELECT team_id, COUNT(*) FROM machines GROUP BY team_id`)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("storage: repair fleet counts: %w", err)
	}
	return true, nil
}

// bumpGeneration records a change of the health input name, so that
// conditions judged before it are stale.
func bumpGeneration(ctx context.Context, tx *Tx, name string) error {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	_, err := execContext(ctx, tx.w,
		`INSERT INTO health_generations (name, value) VALUES (?, ?)
		 ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, hex.EncodeToString(b[:]))
	if err != nil {
		return fmt.Errorf("storage: health generation: %w", err)
	}
	return nil
}

// HealthGeneration returns the generation of the health input name, ""
// before its first change.
func (c *conn) HealthGeneration(ctx context.Context, name string) (string, error) {
	var rows []string
	if err := selectContext(ctx, c.r, &rows, `SELECT value FROM health_generations WHERE name = ?`, name); err != nil {
		return "", fmt.Errorf("storage: health generation: %w", err)
	}
	if len(rows) == 0 {
		return "", nil
	}
	return rows[0], nil
}

// HealthGenerations returns the generation of every health input that
// has changed at least once, by name.
func (c *conn) HealthGenerations(ctx context.Context) (map[string]string, error) {
	var rows []struct {
		Name  string `db:"name"`
		Value string `db:"value"`
	}
	if err := selectContext(ctx, c.r, &rows, `SELECT name, value FROM health_generations`); err != nil {
		return nil, fmt.Errorf("storage: health generations: %w", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Name] = r.Value
	}
	return out, nil
}

// Health inputs whose generation is kept.
const (
	// GenerationRegistrations names the generation of the admin-recorded
	// AVS registrations.
	GenerationRegistrations = "registrations"
	// GenerationCatalogue names the generation of the AVS catalogue: it
	// changes with every UpsertCatalogue that writes a row.
	GenerationCatalogue = "catalogue"
)

// MachineSummary is what a fleet listing shows of a machine.
type MachineSummary struct {
	ID         string
	Name       string
	Role       string
	LastSeenAt *time.Time
}

// MachineSummaries returns the machines of teamID (0: every team), ordered
// by name and then id, read from machines_fleet_idx (on PostgreSQL with
// last_seen_at from the rows, which heartbeats update in place: migration
// 00902).
func (c *conn) MachineSummaries(ctx context.Context, teamID int64) ([]MachineSummary, error) {
	query, args := `SELECT id, name, role, last_seen_at FROM machines WHERE team_id > 0 ORDER BY name, id`, []any(nil)
	if teamID != 0 {
		query, args = `SELECT id, name, role, last_seen_at FROM machines WHERE team_id = ? ORDER BY name, id`, []any{teamID}
	}
	var rows []struct {
		ID       string `db:"id"`
		Name     string `db:"name"`
		Role     string `db:"role"`
		LastSeen dbTime `db:"last_seen_at"`
	}
	if err := selectContext(ctx, c.r, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("storage: machine summaries: %w", err)
	}
	out := make([]MachineSummary, len(rows))
	for i, r := range rows {
		out[i] = MachineSummary{ID: r.ID, Name: r.Name, Role: r.Role, LastSeenAt: r.LastSeen.ptr()}
	}
	return out, nil
}
