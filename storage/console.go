package storage

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The reads below serve the web console: they are team-scoped like the
// API (teamID 0 reads every team) and page with limit and offset.

// ConsoleClusters returns the clusters of teamID (0: every team), by team
// and index.
func (c *conn) ConsoleClusters(ctx context.Context, teamID int64) ([]Cluster, error) {
	var rows []clusterRow
	q := `SELECT ` + clusterColumns + ` FROM clusters`
	var args []any
	if teamID != 0 {
		q, args = q+` WHERE team_id = ?`, append(args, teamID)
	}
	if err := selectContext(ctx, c.r, &rows, q+` ORDER BY team_id, idx`, args...); err != nil {
		return nil, fmt.Errorf("storage: console clusters: %w", err)
	}
	out := make([]Cluster, len(rows))
	for i, r := range rows {
		out[i] = r.cluster()
	}
	return out, nil
}

// FleetGPUs counts the GPUs that the machines of teamID (0: every team)
// reported in their latest heartbeats, and those of machines that reported
// a running job. It reads machine_observations, so a machine that has sent
// no heartbeat since observations were kept (migration 00100) counts none.
func (c *conn) FleetGPUs(ctx context.Context, teamID int64) (gpus, busy int, _ error) {
	team, args := `m.team_id > 0`, []any(nil)
	if teamID != 0 {
		team, args = `m.team_id = ?`, []any{teamID}
	}
	var row struct {
		GPUs int `db:"gpus"`
		Busy int `db:"busy"`
	}
	err := getContext(ctx, c.r, &row, `SELECT COALESCE(SUM(o.gpu_count), 0) AS gpus,
	   COALESCE(SUM(CASE WHEN o.running_jobs > 0 THEN o.gpu_count ELSE 0 END), 0) AS busy
	 FROM machine_observations o JOIN machines m ON m.id = o.machine_id
	 WHERE `+team, args...)
	if err != nil {
		return 0, 0, fmt.Errorf("storage: fleet gpus: %w", err)
	}
	return row.GPUs, row.Busy, nil
}

// MachineClusters maps the id of each machine of teamID (0: every team)
// that names a cluster to that cluster's id; with ids, only those
// machines are read.
func (c *conn) MachineClusters(ctx context.Context, teamID int64, ids ...string) (map[string]string, error) {
	var rows []struct {
		ID        string `db:"id"`
		ClusterID string `db:"cluster_id"`
	}
	where, args := FleetFilter{TeamID: teamID, MachineIDs: ids}.where("m")
	if where == "" {
		where = " WHERE "
	} else {
		where += " AND "
	}
	if err := selectContext(ctx, c.r, &rows, `SELECT m.id, m.cluster_id FROM machines m`+where+`m.cluster_id <> ''`, args...); err != nil {
		return nil, fmt.Errorf("storage: machine clusters: %w", err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.ID] = r.ClusterID
	}
	return out, nil
}

// RecentBlocks returns one page of the known blocks, newest first, and how
// many there are.
func (c *conn) RecentBlocks(ctx context.Context, limit, offset int) ([]Block, int64, error) {
	var total int64
	if err := getContext(ctx, c.r, &total, `SELECT COUNT(*) FROM blocks`); err != nil {
		return nil, 0, fmt.Errorf("storage: count blocks: %w", err)
	}
	var rows []blockRow
	if err := selectContext(ctx, c.r, &rows, `SELECT `+blockColumns+` FROM blocks ORDER BY block_number DESC LIMIT ? OFFSET ?`,
		limit, max(offset, 0)); err != nil {
		return nil, 0, fmt.Errorf("storage: recent blocks: %w", err)
	}
	out := make([]Block, len(rows))
	for i, r := range rows {
		out[i] = r.block()
	}
	return out, total, nil
}

// ProofsOfBlocks returns the proofs of the given blocks by the given
// clusters, each cluster's newest version's proof last.
func (c *conn) ProofsOfBlocks(ctx context.Context, blocks []int64, clusterIDs []string) ([]Proof, error) {
	if len(blocks) == 0 || len(clusterIDs) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(blocks)+len(clusterIDs))
	for _, b := range blocks {
		args = append(args, b)
	}
	for _, id := range clusterIDs {
		args = append(args, id)
	}
	var rows []proofRow
	if err := selectContext(ctx, c.r, &rows, `SELECT `+proofColumns+` FROM proofs
		 WHERE block_number IN (`+placeholders(len(blocks))+`) AND cluster_id IN (`+placeholders(len(clusterIDs))+`)
		 ORDER BY block_number, cluster_id, cluster_version_id`, args...); err != nil {
		return nil, fmt.Errorf("storage: proofs of blocks: %w", err)
	}
	out := make([]Proof, len(rows))
	for i, r := range rows {
		out[i] = r.proof()
	}
	return out, nil
}

// ClusterProofs returns up to limit proofs of cluster id, newest block
// first.
func (c *conn) ClusterProofs(ctx context.Context, clusterID string, limit int) ([]Proof, error) {
	var rows []proofRow
	if err := selectContext(ctx, c.r, &rows, `SELECT `+proofColumns+` FROM proofs WHERE cluster_id = ?
		 ORDER BY block_number DESC, id DESC LIMIT ?`, clusterID, limit); err != nil {
		return nil, fmt.Errorf("storage: cluster proofs: %w", err)
	}
	out := make([]Proof, len(rows))
	for i, r := range rows {
		out[i] = r.proof()
	}
	return out, nil
}

// MissedBlocks returns up to limit blocks scheduled after since (newest
// first) that cluster id has no proved proof of.
func (c *conn) MissedBlocks(ctx context.Context, clusterID string, since time.Time, limit int) ([]int64, error) {
	var out []int64
	if err := selectContext(ctx, c.r, &out, `SELECT b.block_number FROM blocks b
		 WHERE b.scheduled_at IS NOT NULL AND b.scheduled_at >= ?
		   AND NOT EXISTS (SELECT 1 FROM proofs p WHERE p.block_number = b.block_number AND p.cluster_id = ? AND p.status = ?)
		 ORDER BY b.block_number DESC LIMIT ?`, since, clusterID, ProofProved, limit); err != nil {
		return nil, fmt.Errorf("storage: missed blocks: %w", err)
	}
	return out, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
