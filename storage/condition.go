package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// ConditionFunc judges a machine as a heartbeat left it: notable reports
// whether anything but the passing of time can keep it from being healthy,
// and basis names the rules, catalogue and registrations it was judged
// under. fleet's Monitor provides it.
type ConditionFunc func(ctx context.Context, m FleetMachine) (notable bool, basis string)

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
	_, err := tx.execHot(ctx,
		`INSERT INTO machine_conditions (machine_id, team_id, notable, basis, version)
		 SELECT id, team_id, ?, '', 1 FROM machines WHERE id = ?
		 ON CONFLICT (machine_id) DO UPDATE SET basis = '', version = machine_conditions.version + 1`,
		false, machineID)
	if err != nil {
		return fmt.Errorf("storage: mark conditions stale: %w", err)
	}
	return nil
}

// judgeConditions judges machineID with the DB's ConditionFunc, if any,
// and stores the result.
func (c *conn) judgeConditions(ctx context.Context, tx *Tx, machineID string) error {
	judge := c.conditionFunc()
	if judge == nil {
		return markStale(ctx, tx, machineID)
	}
	ms, err := tx.FleetMachines(ctx, FleetFilter{MachineID: machineID})
	if err != nil || len(ms) == 0 {
		return err
	}
	notable, basis := judge(ctx, ms[0])
	// An upsert: the heartbeat that judges also creates a missing row.
	_, err = tx.execHot(ctx,
		`INSERT INTO machine_conditions (machine_id, team_id, notable, basis, version)
		 SELECT id, team_id, ?, ?, 1 FROM machines WHERE id = ?
		 ON CONFLICT (machine_id) DO UPDATE SET notable = excluded.notable, basis = excluded.basis,
		   version = machine_conditions.version + 1`,
		notable, basis, machineID)
	if err != nil {
		return fmt.Errorf("storage: store conditions: %w", err)
	}
	return nil
}

// StaleCondition is a machine whose conditions were judged under another
// basis, or not since its inputs changed, with the version of its row.
type StaleCondition struct {
	MachineID string `db:"machine_id"`
	Version   int64  `db:"version"`
}

// StaleConditions returns the machines of teamID (0: every team) whose
// conditions were not judged under basis. Machines that have no conditions
// row (written around this package) get one first.
func (c *conn) StaleConditions(ctx context.Context, teamID int64, basis string) ([]StaleCondition, error) {
	if err := c.addMissingConditions(ctx, teamID); err != nil {
		return nil, err
	}
	query := `SELECT machine_id, version FROM machine_conditions WHERE (basis < ? OR basis > ?)`
	args := []any{basis, basis}
	if teamID != 0 {
		query += ` AND team_id = ?`
		args = append(args, teamID)
	}
	var out []StaleCondition
	if err := selectContext(ctx, c.r, &out, query, args...); err != nil {
		return nil, fmt.Errorf("storage: stale conditions: %w", err)
	}
	return out, nil
}

// addMissingConditions adds a stale conditions row for each machine of
// teamID that has none; comparing two counts keeps the common case cheap.
func (c *conn) addMissingConditions(ctx context.Context, teamID int64) error {
	nm, err := c.CountMachines(ctx, teamID)
	if err != nil {
		return err
	}
	query, args := `SELECT COUNT(*) FROM machine_conditions WHERE team_id > 0`, []any(nil)
	if teamID != 0 {
		query, args = `SELECT COUNT(*) FROM machine_conditions WHERE team_id = ?`, []any{teamID}
	}
	var nc int
	if err := getContext(ctx, c.r, &nc, query, args...); err != nil {
		return fmt.Errorf("storage: count conditions: %w", err)
	}
	if nm == nc {
		return nil
	}
	_, err = execContext(ctx, c.w,
		`INSERT INTO machine_conditions (machine_id, team_id)
		 SELECT id, team_id FROM machines m
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
	Notable   bool
	Basis     string
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
					`UPDATE machine_conditions SET notable = ?, basis = ?, version = version + 1
					 WHERE machine_id = ? AND version = ?`,
					k.Notable, k.Basis, k.MachineID, k.Version); err != nil {
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

// CountMachines returns how many machines teamID has (0: every team).
func (c *conn) CountMachines(ctx context.Context, teamID int64) (int, error) {
	query, args := `SELECT COUNT(*) FROM machines WHERE team_id > 0`, []any(nil)
	if teamID != 0 {
		query, args = `SELECT COUNT(*) FROM machines WHERE team_id = ?`, []any{teamID}
	}
	var n int
	if err := getContext(ctx, c.r, &n, query, args...); err != nil {
		return 0, fmt.Errorf("storage: count machines: %w", err)
	}
	return n, nil
}

// Suspects selects, for FleetFilter, the machines that may not be healthy:
// those judged notable or not judged under Basis, and those without a
// heartbeat since OfflineBefore.
type Suspects struct {
	Basis         string
	OfflineBefore time.Time
}

// where returns the condition on machines m, driven by indexes: the
// notable rows, the stale rows, and the range of last-seen times. It
// restricts the team itself, so that the query is driven from these ids
// rather than from every machine of the team.
func (s Suspects) where(dialect string, teamID int64) (string, []any) {
	notable := "notable = 1"
	if dialect == DialectPostgres {
		notable = "notable"
	}
	team, args := "", []any{}
	teamArg := func() {
		if teamID != 0 {
			args = append(args, teamID)
		}
	}
	if teamID != 0 {
		team = " AND team_id = ?"
	}
	var b strings.Builder
	b.WriteString(`m.id IN (SELECT machine_id FROM machine_conditions WHERE ` + notable + team)
	teamArg()
	b.WriteString(` UNION ALL SELECT machine_id FROM machine_conditions WHERE (basis < ? OR basis > ?)` + team)
	args = append(args, s.Basis, s.Basis)
	teamArg()
	// IS NULL and the range are separate arms so that each is a search of
	// machines_last_seen_idx.
	if teamID != 0 {
		b.WriteString(` UNION ALL SELECT id FROM machines WHERE team_id = ? AND last_seen_at IS NULL` +
			` UNION ALL SELECT id FROM machines WHERE team_id = ? AND last_seen_at < ?)`)
		args = append(args, teamID, teamID, s.OfflineBefore)
	} else {
		b.WriteString(` UNION ALL SELECT id FROM machines WHERE last_seen_at IS NULL OR last_seen_at < ?)`)
		args = append(args, s.OfflineBefore)
	}
	return b.String(), args
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

// GenerationRegistrations names the generation of the admin-recorded AVS
// registrations.
const GenerationRegistrations = "registrations"

// MachineSummary is what a fleet listing shows of a machine.
type MachineSummary struct {
	ID         string
	Name       string
	Role       string
	LastSeenAt *time.Time
}

// MachineSummaries returns the machines of teamID (0: every team), ordered
// by name and then id, read from machines_fleet_idx alone.
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
