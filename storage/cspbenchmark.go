package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/proofgrid/proofgrid"
)

// CSPBenchmark is one uploaded CSP benchmarks file. Name is the stored file
// name (the upload's filename plus ".json"); the bytes are in the blob
// store under BlobKey.
type CSPBenchmark struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	BlobKey   string    `json:"-"`
	SizeBytes int64     `json:"size_bytes"`
	SHA256    string    `json:"sha256"`
	TeamID    *int64    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type cspBenchmarkRow struct {
	ID        int64         `db:"id"`
	Name      string        `db:"name"`
	BlobKey   string        `db:"blob_key"`
	SizeBytes int64         `db:"size_bytes"`
	SHA256    string        `db:"sha256"`
	TeamID    sql.NullInt64 `db:"team_id"`
	CreatedAt dbTime        `db:"created_at"`
	UpdatedAt dbTime        `db:"updated_at"`
}

func (r cspBenchmarkRow) benchmark() CSPBenchmark {
	return CSPBenchmark{ID: r.ID, Name: r.Name, BlobKey: r.BlobKey, SizeBytes: r.SizeBytes, SHA256: r.SHA256,
		TeamID: nullInt(r.TeamID), CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time}
}

const cspBenchmarkColumns = `id, name, blob_key, size_bytes, sha256, team_id, created_at, updated_at`

// PutCSPBenchmark records b (Name, BlobKey, SizeBytes, SHA256, TeamID),
// replacing the record of the same name, as uploading a file of the same
// name replaces it. The first upload's creation time stays.
func (c *conn) PutCSPBenchmark(ctx context.Context, b CSPBenchmark, at time.Time) (CSPBenchmark, error) {
	var r cspBenchmarkRow
	err := getContext(ctx, c.w, &r,
		`INSERT INTO csp_benchmarks (name, blob_key, size_bytes, sha256, team_id, created_at, updated_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (name) DO UPDATE SET blob_key = excluded.blob_key, size_bytes = excluded.size_bytes,
		   sha256 = excluded.sha256, team_id = excluded.team_id, updated_at = excluded.updated_at
		 RETURNING `+cspBenchmarkColumns,
		b.Name, b.BlobKey, b.SizeBytes, b.SHA256, b.TeamID, at, at)
	if err != nil {
		return CSPBenchmark{}, fmt.Errorf("storage: put csp benchmark: %w", err)
	}
	return r.benchmark(), nil
}

// CSPBenchmarks returns every benchmark file, by name.
func (c *conn) CSPBenchmarks(ctx context.Context) ([]CSPBenchmark, error) {
	var rows []cspBenchmarkRow
	if err := selectContext(ctx, c.r, &rows, `SELECT `+cspBenchmarkColumns+` FROM csp_benchmarks ORDER BY name`); err != nil {
		return nil, fmt.Errorf("storage: list csp benchmarks: %w", err)
	}
	out := make([]CSPBenchmark, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.benchmark())
	}
	return out, nil
}

// CSPBenchmarkByName returns the benchmark file called name, or ENOTFOUND.
func (c *conn) CSPBenchmarkByName(ctx context.Context, name string) (CSPBenchmark, error) {
	var r cspBenchmarkRow
	err := getContext(ctx, c.r, &r, `SELECT `+cspBenchmarkColumns+` FROM csp_benchmarks WHERE name = ?`, name)
	if errors.Is(err, sql.ErrNoRows) {
		return CSPBenchmark{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "Benchmarks file not found")
	} else if err != nil {
		return CSPBenchmark{}, fmt.Errorf("storage: csp benchmark: %w", err)
	}
	return r.benchmark(), nil
}
