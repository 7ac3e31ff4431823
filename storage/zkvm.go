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

// ZKVM is one zero-knowledge virtual machine of the catalogue. Its id is
// the catalogue's, stable across deployments, because cluster versions
// and clients refer to zkVM versions by id.
type ZKVM struct {
	ID   int64  `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
	// ISA is the instruction set the zkVM proves, e.g. "risc-v".
	ISA string `json:"isa"`
	// TeamUUID names the team that builds the zkVM.
	TeamUUID  string    `json:"team_id"`
	RepoURL   string    `json:"repo_url"`
	CreatedAt time.Time `json:"created_at"`
}

// ZKVMVersion is one release of a zkVM.
type ZKVMVersion struct {
	ID        int64     `json:"id"`
	ZKVMID    int64     `json:"zkvm_id"`
	Version   string    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
}

type zkvmRow struct {
	ID        int64  `db:"id"`
	Slug      string `db:"slug"`
	Name      string `db:"name"`
	ISA       string `db:"isa"`
	TeamUUID  string `db:"team_uuid"`
	RepoURL   string `db:"repo_url"`
	CreatedAt dbTime `db:"created_at"`
}

func (r zkvmRow) zkvm() ZKVM {
	return ZKVM{ID: r.ID, Slug: r.Slug, Name: r.Name, ISA: r.ISA, TeamUUID: r.TeamUUID, RepoURL: r.RepoURL, CreatedAt: r.CreatedAt.Time}
}

type zkvmVersionRow struct {
	ID        int64  `db:"id"`
	ZKVMID    int64  `db:"zkvm_id"`
	Version   string `db:"version"`
	CreatedAt dbTime `db:"created_at"`
}

func (r zkvmVersionRow) version() ZKVMVersion {
	return ZKVMVersion{ID: r.ID, ZKVMID: r.ZKVMID, Version: r.Version, CreatedAt: r.CreatedAt.Time}
}

const (
	zkvmColumns        = `id, slug, name, isa, team_uuid, repo_url, created_at`
	zkvmVersionColumns = `id, zkvm_id, version, created_at`
)

// ImportZKVMs writes zkVMs and their versions in one transaction, keyed by
// id: new ids are inserted with createdAt, known ones take the new names
// and keep their creation time, so importing the same catalogue again
// changes nothing. A slug or (zkVM, version) pair already used by another
// id is ECONFLICT; a version of a zkVM that is neither imported nor stored
// is ENOTFOUND.
func (c *conn) ImportZKVMs(ctx context.Context, zkvms []ZKVM, versions []ZKVMVersion, createdAt time.Time) error {
	return c.writeZKVMs(ctx, zkvms, versions, createdAt, true)
}

// SeedZKVMs inserts the zkVMs and versions whose ids are not stored yet and
// leaves stored ones as they are, so the built-in catalogue written at
// every start never undoes an admin's import.
func (c *conn) SeedZKVMs(ctx context.Context, zkvms []ZKVM, versions []ZKVMVersion, createdAt time.Time) error {
	return c.writeZKVMs(ctx, zkvms, versions, createdAt, false)
}

func (c *conn) writeZKVMs(ctx context.Context, zkvms []ZKVM, versions []ZKVMVersion, createdAt time.Time, replace bool) error {
	onZKVM, onVersion := `DO NOTHING`, `DO NOTHING`
	if replace {
		onZKVM = `DO UPDATE SET slug = excluded.slug, name = excluded.name,
				   isa = excluded.isa, team_uuid = excluded.team_uuid, repo_url = excluded.repo_url`
		onVersion = `DO UPDATE SET zkvm_id = excluded.zkvm_id, version = excluded.version`
	}
	for _, z := range zkvms {
		if z.ID <= 0 || strings.TrimSpace(z.Slug) == "" || strings.TrimSpace(z.Name) == "" {
			return proofgrid.Errorf(proofgrid.EINVALID, "zkVM %d: id, slug and name are required", z.ID)
		}
	}
	for _, v := range versions {
		if v.ID <= 0 || v.ZKVMID <= 0 || strings.TrimSpace(v.Version) == "" {
			return proofgrid.Errorf(proofgrid.EINVALID, "zkVM version %d: id, zkvm_id and version are required", v.ID)
		}
	}
	return c.inTx(ctx, func(tx *Tx) error {
		for _, z := range zkvms {
			_, err := execContext(ctx, tx.w,
				`INSERT INTO zkvms (id, slug, name, isa, team_uuid, repo_url, created_at)
				 VALUES (?, ?, ?, ?, ?, ?, ?)
				 ON CONFLICT (id) `+onZKVM,
				z.ID, z.Slug, z.Name, z.ISA, z.TeamUUID, z.RepoURL, createdAt)
			if isUniqueViolation(err) {
				return proofgrid.Errorf(proofgrid.ECONFLICT, "zkVM slug %q is already used by another id", z.Slug)
			} else if err != nil {
				return fmt.Errorf("storage: import zkvm %d: %w", z.ID, err)
			}
		}
		for _, v := range versions {
			_, err := execContext(ctx, tx.w,
				`INSERT INTO zkvm_versions (id, zkvm_id, version, created_at)
				 VALUES (?, ?, ?, ?)
				 ON CONFLICT (id) `+onVersion,
				v.ID, v.ZKVMID, v.Version, createdAt)
			switch {
			case isUniqueViolation(err):
				return proofgrid.Errorf(proofgrid.ECONFLICT, "zkVM %d already has a version %q under another id", v.ZKVMID, v.Version)
			case isForeignKeyViolation(err):
				return proofgrid.Errorf(proofgrid.ENOTFOUND, "zkVM version %d: zkVM %d not found", v.ID, v.ZKVMID)
			case err != nil:
				return fmt.Errorf("storage: import zkvm version %d: %w", v.ID, err)
			}
		}
		return nil
	})
}

// ZKVMs returns every zkVM, by id.
func (c *conn) ZKVMs(ctx context.Context) ([]ZKVM, error) {
	var rows []zkvmRow
	if err := selectContext(ctx, c.r, &rows, `SELECT `+zkvmColumns+` FROM zkvms ORDER BY id`); err != nil {
		return nil, fmt.Errorf("storage: list zkvms: %w", err)
	}
	out := make([]ZKVM, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.zkvm())
	}
	return out, nil
}

// ZKVMVersions returns every zkVM version, by id.
func (c *conn) ZKVMVersions(ctx context.Context) ([]ZKVMVersion, error) {
	var rows []zkvmVersionRow
	if err := selectContext(ctx, c.r, &rows, `SELECT `+zkvmVersionColumns+` FROM zkvm_versions ORDER BY id`); err != nil {
		return nil, fmt.Errorf("storage: list zkvm versions: %w", err)
	}
	out := make([]ZKVMVersion, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.version())
	}
	return out, nil
}

// ZKVMVersionByID returns zkVM version id and its zkVM, or ENOTFOUND.
func (c *conn) ZKVMVersionByID(ctx context.Context, id int64) (ZKVMVersion, ZKVM, error) {
	var v zkvmVersionRow
	err := getContext(ctx, c.r, &v, `SELECT `+zkvmVersionColumns+` FROM zkvm_versions WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return ZKVMVersion{}, ZKVM{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "zkVM version %d not found", id)
	} else if err != nil {
		return ZKVMVersion{}, ZKVM{}, fmt.Errorf("storage: zkvm version: %w", err)
	}
	var z zkvmRow
	if err := getContext(ctx, c.r, &z, `SELECT `+zkvmColumns+` FROM zkvms WHERE id = ?`, v.ZKVMID); err != nil {
		return ZKVMVersion{}, ZKVM{}, fmt.Errorf("storage: zkvm of version %d: %w", id, err)
	}
	return v.version(), z.zkvm(), nil
}
