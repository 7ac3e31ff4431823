package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
)

// Deployment types of a cluster.
const (
	DeploymentCloudHosted = "cloud-hosted"
	DeploymentOnPrem      = "on-prem"
)

// Cluster is a team's prover cluster. ID is its UUID, used in queue names
// and list filters; Index numbers the team's clusters from 1 and is what
// proof reports name the cluster by.
type Cluster struct {
	ID                  string    `json:"id"`
	TeamID              int64     `json:"team_id"`
	Index               int64     `json:"index"`
	Name                string    `json:"name"`
	NumGPUs             int64     `json:"num_gpus"`
	HardwareDescription *string   `json:"hardware_description"`
	DeploymentType      string    `json:"deployment_type"`
	IsActive            bool      `json:"is_active"`
	IsOpenSource        bool      `json:"is_open_source"`
	SoftwareLink        *string   `json:"software_link"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

// ClusterVersion is one configuration of a cluster: the zkVM version it
// runs and the verification key its proofs check against. Changing either
// makes a new version; the newest is the active one, and new proofs attach
// to it.
type ClusterVersion struct {
	ID            int64     `json:"id"`
	ClusterID     string    `json:"cluster_id"`
	Index         int64     `json:"index"`
	ZKVMVersionID int64     `json:"zkvm_version_id"`
	VKPath        *string   `json:"vk_path"`
	IsActive      bool      `json:"is_active"`
	CreatedAt     time.Time `json:"created_at"`
}

type clusterRow struct {
	ID                  string         `db:"id"`
	TeamID              int64          `db:"team_id"`
	Index               int64          `db:"idx"`
	Name                string         `db:"name"`
	NumGPUs             int64          `db:"num_gpus"`
	HardwareDescription sql.NullString `db:"hardware_description"`
	DeploymentType      string         `db:"deployment_type"`
	IsActive            bool           `db:"is_active"`
	IsOpenSource        bool           `db:"is_open_source"`
	SoftwareLink        sql.NullString `db:"software_link"`
	CreatedAt           dbTime         `db:"created_at"`
	UpdatedAt           dbTime         `db:"updated_at"`
}

func (r clusterRow) cluster() Cluster {
	return Cluster{
		ID:                  r.ID,
		TeamID:              r.TeamID,
		Index:               r.Index,
		Name:                r.Name,
		NumGPUs:             r.NumGPUs,
		HardwareDescription: nullString(r.HardwareDescription),
		DeploymentType:      r.DeploymentType,
		IsActive:            r.IsActive,
		IsOpenSource:        r.IsOpenSource,
		SoftwareLink:        nullString(r.SoftwareLink),
		CreatedAt:           r.CreatedAt.Time,
		UpdatedAt:           r.UpdatedAt.Time,
	}
}

type clusterVersionRow struct {
	ID            int64          `db:"id"`
	ClusterID     string         `db:"cluster_id"`
	Index         int64          `db:"idx"`
	ZKVMVersionID int64          `db:"zkvm_version_id"`
	VKPath        sql.NullString `db:"vk_path"`
	IsActive      bool           `db:"is_active"`
	CreatedAt     dbTime         `db:"created_at"`
}

func (r clusterVersionRow) version() ClusterVersion {
	return ClusterVersion{
		ID:            r.ID,
		ClusterID:     r.ClusterID,
		Index:         r.Index,
		ZKVMVersionID: r.ZKVMVersionID,
		VKPath:        nullString(r.VKPath),
		IsActive:      r.IsActive,
		CreatedAt:     r.CreatedAt.Time,
	}
}

func nullString(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	v := s.String
	return &v
}

const (
	clusterColumns = `id, team_id, idx, name, num_gpus, hardware_description, deployment_type,
	is_active, is_open_source, software_link, created_at, updated_at`
	clusterVersionColumns = `id, cluster_id, idx, zkvm_version_id, vk_path, is_active, created_at`
)

// createClusterAttempts bounds retries of a cluster creation that lost the
// race for the team's next index to a concurrent creation.
const createClusterAttempts = 5

// CreateCluster stores cl (ID, TeamID, Name, NumGPUs, HardwareDescription,
// DeploymentType, IsActive) with the team's next index, and its first
// version (index 1, active) running zkvmVersionID. An unknown team or zkVM
// version is ENOTFOUND; an id already used is ECONFLICT.
func (c *conn) CreateCluster(ctx context.Context, cl Cluster, zkvmVersionID int64, vkPath *string, at time.Time) (Cluster, ClusterVersion, error) {
	if strings.TrimSpace(cl.ID) == "" {
		return Cluster{}, ClusterVersion{}, proofgrid.Errorf(proofgrid.EINVALID, "cluster id is empty")
	}
	var outC Cluster
	var outV ClusterVersion
	var err error
	for range createClusterAttempts {
		err = c.inTx(ctx, func(tx *Tx) error {
			if _, _, err := tx.ZKVMVersionByID(ctx, zkvmVersionID); err != nil {
				return err
			}
			var next int64
			if err := getContext(ctx, tx.w, &next,
				`SELECT COALESCE(MAX(idx), 0) + 1 FROM clusters WHERE team_id = ?`, cl.TeamID); err != nil {
				return fmt.Errorf("storage: next cluster index: %w", err)
			}
			var r clusterRow
			err := getContext(ctx, tx.w, &r,
				`INSERT INTO clusters (id, team_id, idx, name, num_gpus, hardware_description, deployment_type,
				   is_active, is_open_source, software_link, created_at, updated_at)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+clusterColumns,
				cl.ID, cl.TeamID, next, cl.Name, cl.NumGPUs, cl.HardwareDescription, cl.DeploymentType,
				cl.IsActive, cl.IsOpenSource, cl.SoftwareLink, at, at)
			switch {
			case isUniqueViolation(err):
				return errIndexTaken
			case isForeignKeyViolation(err):
				return proofgrid.Errorf(proofgrid.ENOTFOUND, "team %d not found", cl.TeamID)
			case err != nil:
				return fmt.Errorf("storage: insert cluster: %w", err)
			}
			outC = r.cluster()
			outV, err = tx.insertClusterVersion(ctx, outC.ID, 1, zkvmVersionID, vkPath, at)
			return err
		})
		if !errors.Is(err, errIndexTaken) {
			break
		}
	}
	if errors.Is(err, errIndexTaken) {
		return Cluster{}, ClusterVersion{}, proofgrid.Errorf(proofgrid.ECONFLICT, "cluster %s already exists, or too many concurrent creations", cl.ID)
	}
	return outC, outV, err
}

// errIndexTaken marks a unique violation on creating a cluster: another
// creation took the index, or the id is taken.
var errIndexTaken = errors.New("storage: cluster index taken")

func (c *conn) insertClusterVersion(ctx context.Context, clusterID string, index, zkvmVersionID int64, vkPath *string, at time.Time) (ClusterVersion, error) {
	var r clusterVersionRow
	err := getContext(ctx, c.w, &r,
		`INSERT INTO cluster_versions (cluster_id, idx, zkvm_version_id, vk_path, is_active, created_at)
		 VALUES (?, ?, ?, ?, ?, ?) RETURNING `+clusterVersionColumns,
		clusterID, index, zkvmVersionID, vkPath, true, at)
	if isForeignKeyViolation(err) {
		return ClusterVersion{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "zkVM version %d not found", zkvmVersionID)
	} else if err != nil {
		return ClusterVersion{}, fmt.Errorf("storage: insert cluster version: %w", err)
	}
	return r.version(), nil
}

// ClusterByIndex returns the team's cluster of the given index, or
// ENOTFOUND.
func (c *conn) ClusterByIndex(ctx context.Context, teamID, index int64) (Cluster, error) {
	var r clusterRow
	err := getContext(ctx, c.r, &r, `SELECT `+clusterColumns+` FROM clusters WHERE team_id = ? AND idx = ?`, teamID, index)
	if errors.Is(err, sql.ErrNoRows) {
		return Cluster{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "Cluster not found")
	} else if err != nil {
		return Cluster{}, fmt.Errorf("storage: cluster by index: %w", err)
	}
	return r.cluster(), nil
}

// ClusterByID returns cluster id (a UUID), or ENOTFOUND.
func (c *conn) ClusterByID(ctx context.Context, id string) (Cluster, error) {
	var r clusterRow
	err := getContext(ctx, c.r, &r, `SELECT `+clusterColumns+` FROM clusters WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Cluster{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "Cluster not found")
	} else if err != nil {
		return Cluster{}, fmt.Errorf("storage: cluster by id: %w", err)
	}
	return r.cluster(), nil
}

// ClusterWithVersion is a cluster and its active (newest) version.
type ClusterWithVersion struct {
	Cluster Cluster
	Version ClusterVersion
}

// ListClusters returns the team's clusters by index, each with its active
// version.
func (c *conn) ListClusters(ctx context.Context, teamID int64) ([]ClusterWithVersion, error) {
	var rows []clusterRow
	if err := selectContext(ctx, c.r, &rows,
		`SELECT `+clusterColumns+` FROM clusters WHERE team_id = ? ORDER BY idx`, teamID); err != nil {
		return nil, fmt.Errorf("storage: list clusters: %w", err)
	}
	var versions []clusterVersionRow
	if err := selectContext(ctx, c.r, &versions,
		`SELECT `+prefixed("cv", clusterVersionColumns)+` FROM cluster_versions cv
		 JOIN clusters c ON c.id = cv.cluster_id
		 WHERE c.team_id = ? AND cv.is_active = ?`, teamID, true); err != nil {
		return nil, fmt.Errorf("storage: list cluster versions: %w", err)
	}
	active := make(map[string]ClusterVersion, len(versions))
	for _, v := range versions {
		active[v.ClusterID] = v.version()
	}
	out := make([]ClusterWithVersion, 0, len(rows))
	for _, r := range rows {
		out = append(out, ClusterWithVersion{Cluster: r.cluster(), Version: active[r.ID]})
	}
	return out, nil
}

// ActiveClusterVersion returns the active version of cluster id, or
// ENOTFOUND.
func (c *conn) ActiveClusterVersion(ctx context.Context, clusterID string) (ClusterVersion, error) {
	var r clusterVersionRow
	err := getContext(ctx, c.r, &r,
		`SELECT `+clusterVersionColumns+` FROM cluster_versions WHERE cluster_id = ? AND is_active = ?`,
		clusterID, true)
	if errors.Is(err, sql.ErrNoRows) {
		return ClusterVersion{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "cluster %s has no active version", clusterID)
	} else if err != nil {
		return ClusterVersion{}, fmt.Errorf("storage: active cluster version: %w", err)
	}
	return r.version(), nil
}

// ClusterVersionByID returns cluster version id, or ENOTFOUND.
func (c *conn) ClusterVersionByID(ctx context.Context, id int64) (ClusterVersion, error) {
	var r clusterVersionRow
	err := getContext(ctx, c.r, &r, `SELECT `+clusterVersionColumns+` FROM cluster_versions WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return ClusterVersion{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "cluster version %d not found", id)
	} else if err != nil {
		return ClusterVersion{}, fmt.Errorf("storage: cluster version: %w", err)
	}
	return r.version(), nil
}

// ClusterUpdate lists the changes to a cluster; nil fields stay as they
// are.
type ClusterUpdate struct {
	Name                *string
	NumGPUs             *int64
	HardwareDescription *string
	IsActive            *bool
	ZKVMVersionID       *int64
	VKPath              *string
}

// UpdateCluster applies upd to the team's cluster of the given index. When
// the zkVM version or the verification key path differs from the active
// version's, a new version (the next index) becomes the active one and the
// older versions inactive; newVersion tells whether that happened. An
// unknown cluster or zkVM version is ENOTFOUND.
func (c *conn) UpdateCluster(ctx context.Context, teamID, index int64, upd ClusterUpdate, at time.Time) (_ Cluster, _ ClusterVersion, newVersion bool, _ error) {
	var outC Cluster
	var outV ClusterVersion
	err := c.inTx(ctx, func(tx *Tx) error {
		cl, err := tx.ClusterByIndex(ctx, teamID, index)
		if err != nil {
			return err
		}
		if upd.Name != nil || upd.NumGPUs != nil || upd.HardwareDescription != nil || upd.IsActive != nil {
			var r clusterRow
			err := getContext(ctx, tx.w, &r,
				`UPDATE clusters SET name = COALESCE(?, name), num_gpus = COALESCE(?, num_gpus),
				   hardware_description = COALESCE(?, hardware_description),
				   is_active = COALESCE(?, is_active), updated_at = ?
				 WHERE id = ? RETURNING `+clusterColumns,
				upd.Name, upd.NumGPUs, upd.HardwareDescription, upd.IsActive, at, cl.ID)
			if err != nil {
				return fmt.Errorf("storage: update cluster: %w", err)
			}
			cl = r.cluster()
		}
		outC = cl
		cur, err := tx.ActiveClusterVersion(ctx, cl.ID)
		if err != nil {
			return err
		}
		outV = cur
		zv, vk := cur.ZKVMVersionID, cur.VKPath
		if upd.ZKVMVersionID != nil {
			zv = *upd.ZKVMVersionID
		}
		if upd.VKPath != nil {
			vk = upd.VKPath
		}
		if zv == cur.ZKVMVersionID && equalStringPtr(vk, cur.VKPath) {
			return nil
		}
		if _, _, err := tx.ZKVMVersionByID(ctx, zv); err != nil {
			return err
		}
		if _, err := execContext(ctx, tx.w,
			`UPDATE cluster_versions SET is_active = ? WHERE cluster_id = ?`, false, cl.ID); err != nil {
			return fmt.Errorf("storage: deactivate cluster versions: %w", err)
		}
		// Going back to an earlier configuration reactivates its version
		// rather than numbering a new one: the version is the
		// configuration, and its proofs stay its own.
		var earlier []clusterVersionRow
		if err := selectContext(ctx, tx.w, &earlier,
			`SELECT `+clusterVersionColumns+` FROM cluster_versions WHERE cluster_id = ? AND zkvm_version_id = ? ORDER BY idx`,
			cl.ID, zv); err != nil {
			return fmt.Errorf("storage: earlier cluster versions: %w", err)
		}
		for _, r := range earlier {
			if v := r.version(); equalStringPtr(v.VKPath, vk) {
				if _, err := execContext(ctx, tx.w, `UPDATE cluster_versions SET is_active = ? WHERE id = ?`, true, v.ID); err != nil {
					return fmt.Errorf("storage: reactivate cluster version: %w", err)
				}
				v.IsActive = true
				outV = v
				return nil
			}
		}
		var last int64
		if err := getContext(ctx, tx.w, &last, `SELECT COALESCE(MAX(idx), 0) FROM cluster_versions WHERE cluster_id = ?`, cl.ID); err != nil {
			return fmt.Errorf("storage: last cluster version: %w", err)
		}
		outV, err = tx.insertClusterVersion(ctx, cl.ID, last+1, zv, vk, at)
		newVersion = err == nil
		return err
	})
	if err != nil {
		return Cluster{}, ClusterVersion{}, false, err
	}
	return outC, outV, newVersion, nil
}

func equalStringPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// ActiveProver names one active cluster version that should prove new
// blocks.
type ActiveProver struct {
	ClusterID        string
	ClusterVersionID int64
}

// ActiveProvers returns the active version of every active cluster, by
// cluster id. Scheduling calls it on the Tx that records the block.
func (c *conn) ActiveProvers(ctx context.Context) ([]ActiveProver, error) {
	var rows []struct {
		ClusterID        string `db:"cluster_id"`
		ClusterVersionID int64  `db:"id"`
	}
	err := selectContext(ctx, c.r, &rows,
		`SELECT cv.cluster_id, cv.id FROM cluster_versions cv
		 JOIN clusters c ON c.id = cv.cluster_id
		 WHERE c.is_active = ? AND cv.is_active = ?
		 ORDER BY cv.cluster_id`, true, true)
	if err != nil {
		return nil, fmt.Errorf("storage: active provers: %w", err)
	}
	out := make([]ActiveProver, 0, len(rows))
	for _, r := range rows {
		out = append(out, ActiveProver{ClusterID: r.ClusterID, ClusterVersionID: r.ClusterVersionID})
	}
	return out, nil
}

// prefixed qualifies each of a comma-separated column list with alias.
func prefixed(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
