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

// Proof states as stored; the rules between them live in package proofs.
const (
	ProofQueued  = "queued"
	ProofProving = "proving"
	ProofProved  = "proved"
)

// Proof is the proof of one block by one cluster version: at most one row
// per (block number, cluster version), moved through queued, proving and
// proved by upserts.
type Proof struct {
	ID               int64  `json:"proof_id"`
	BlockNumber      int64  `json:"block_number"`
	ClusterVersionID int64  `json:"cluster_version_id"`
	ClusterID        string `json:"cluster_id"`
	TeamID           int64  `json:"team_id"`
	Status           string `json:"proof_status"`
	ProvingCycles    *int64 `json:"proving_cycles"`
	// ProvingTimeMS is the proving time the prover reported.
	ProvingTimeMS *int64  `json:"proving_time"`
	SizeBytes     *int64  `json:"size_bytes"`
	VerifierID    *string `json:"verifier_id"`
	ProgramID     *int64  `json:"program_id"`
	// BlobKey locates the proof bytes in the blob store; SHA256 is their
	// hex digest.
	BlobKey *string `json:"-"`
	SHA256  *string `json:"-"`
	// SubmittedBy is the machine id of the agent that made the last report,
	// empty for reports made with an API key; WorkerKey is the worker key
	// its events are recorded under.
	SubmittedBy string     `json:"-"`
	WorkerKey   string     `json:"-"`
	QueuedAt    *time.Time `json:"queued_timestamp"`
	ProvingAt   *time.Time `json:"proving_timestamp"`
	ProvedAt    *time.Time `json:"proved_timestamp"`
	// Verification is valid, invalid or cannot_verify once a verifier ran,
	// nil before.
	Verification       *string    `json:"-"`
	VerificationReason string     `json:"-"`
	VerificationMS     *float64   `json:"-"`
	VerifiedAt         *time.Time `json:"-"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

type proofRow struct {
	ID                 int64           `db:"id"`
	BlockNumber        int64           `db:"block_number"`
	ClusterVersionID   int64           `db:"cluster_version_id"`
	ClusterID          string          `db:"cluster_id"`
	TeamID             int64           `db:"team_id"`
	Status             string          `db:"status"`
	ProvingCycles      sql.NullInt64   `db:"proving_cycles"`
	ProvingTimeMS      sql.NullInt64   `db:"proving_time_ms"`
	SizeBytes          sql.NullInt64   `db:"size_bytes"`
	VerifierID         sql.NullString  `db:"verifier_id"`
	ProgramID          sql.NullInt64   `db:"program_id"`
	BlobKey            sql.NullString  `db:"blob_key"`
	SHA256             sql.NullString  `db:"proof_sha256"`
	SubmittedBy        string          `db:"submitted_by"`
	WorkerKey          string          `db:"worker_key"`
	QueuedAt           dbTime          `db:"queued_at"`
	ProvingAt          dbTime          `db:"proving_at"`
	ProvedAt           dbTime          `db:"proved_at"`
	Verification       sql.NullString  `db:"verification"`
	VerificationReason string          `db:"verification_reason"`
	VerificationMS     sql.NullFloat64 `db:"verification_ms"`
	VerifiedAt         dbTime          `db:"verified_at"`
	CreatedAt          dbTime          `db:"created_at"`
	UpdatedAt          dbTime          `db:"updated_at"`
}

func (r proofRow) proof() Proof {
	p := Proof{
		ID:                 r.ID,
		BlockNumber:        r.BlockNumber,
		ClusterVersionID:   r.ClusterVersionID,
		ClusterID:          r.ClusterID,
		TeamID:             r.TeamID,
		Status:             r.Status,
		ProvingCycles:      nullInt(r.ProvingCycles),
		ProvingTimeMS:      nullInt(r.ProvingTimeMS),
		SizeBytes:          nullInt(r.SizeBytes),
		VerifierID:         nullString(r.VerifierID),
		ProgramID:          nullInt(r.ProgramID),
		BlobKey:            nullString(r.BlobKey),
		SHA256:             nullString(r.SHA256),
		SubmittedBy:        r.SubmittedBy,
		WorkerKey:          r.WorkerKey,
		QueuedAt:           r.QueuedAt.ptr(),
		ProvingAt:          r.ProvingAt.ptr(),
		ProvedAt:           r.ProvedAt.ptr(),
		Verification:       nullString(r.Verification),
		VerificationReason: r.VerificationReason,
		VerifiedAt:         r.VerifiedAt.ptr(),
		CreatedAt:          r.CreatedAt.Time,
		UpdatedAt:          r.UpdatedAt.Time,
	}
	if r.VerificationMS.Valid {
		v := r.VerificationMS.Float64
		p.VerificationMS = &v
	}
	return p
}

const proofColumns = `id, block_number, cluster_version_id, cluster_id, team_id, status, proving_cycles,
	proving_time_ms, size_bytes, verifier_id, program_id, blob_key, proof_sha256, submitted_by, worker_key,
	queued_at, proving_at, proved_at, verification, verification_reason, verification_ms, verified_at,
	created_at, updated_at`

// ProofReport is one queued, proving or proved report about the proof of
// a block by a cluster version. The figures and the blob only count for
// proved reports.
type ProofReport struct {
	BlockNumber      int64
	ClusterVersionID int64
	ClusterID        string
	TeamID           int64
	Status           string
	ProvingCycles    *int64
	ProvingTimeMS    *int64
	SizeBytes        *int64
	VerifierID       *string
	BlobKey          *string
	SHA256           *string
	SubmittedBy      string
	WorkerKey        string
}

// UpsertProof applies rep in one transaction (normally the caller's Tx): it
// records the block if it is new, inserts the proof or moves the
// existing one to rep.Status, and stamps the state's time with at. A proof
// already proved is never changed: that is ECONFLICT, decided by the
// statement itself so that concurrent reports cannot both win.
func (c *conn) UpsertProof(ctx context.Context, rep ProofReport, at time.Time) (p Proof, _ error) {
	var stamp string
	switch rep.Status {
	case ProofQueued:
		stamp = "queued_at"
	case ProofProving:
		stamp = "proving_at"
	case ProofProved:
		stamp = "proved_at"
	default:
		return Proof{}, proofgrid.Errorf(proofgrid.EINVALID, "unknown proof status %q", rep.Status)
	}
	err := c.inTx(ctx, func(tx *Tx) error {
		var err error
		p, err = tx.upsertProof(ctx, rep, stamp, at)
		return err
	})
	return p, err
}

func (t *Tx) upsertProof(ctx context.Context, rep ProofReport, stamp string, at time.Time) (Proof, error) {
	if _, _, err := t.RecordBlock(ctx, BlockInfo{Number: rep.BlockNumber}, at); err != nil {
		return Proof{}, err
	}
	var programID *int64
	if rep.Status == ProofProved && rep.VerifierID != nil && *rep.VerifierID != "" {
		id, err := t.ensureProgram(ctx, *rep.VerifierID, at)
		if err != nil {
			return Proof{}, err
		}
		programID = &id
	}
	sets := []string{"status = excluded.status", stamp + " = excluded." + stamp, "updated_at = excluded.updated_at",
		"submitted_by = excluded.submitted_by", "worker_key = excluded.worker_key"}
	cols := []string{"block_number", "cluster_version_id", "cluster_id", "team_id", "status", stamp,
		"submitted_by", "worker_key", "created_at", "updated_at"}
	args := []any{rep.BlockNumber, rep.ClusterVersionID, rep.ClusterID, rep.TeamID, rep.Status, at,
		rep.SubmittedBy, rep.WorkerKey, at, at}
	if rep.Status == ProofQueued {
		// Back to queued is a new attempt: it has not started proving, so
		// proving_timestamp never precedes queued_timestamp.
		sets = append(sets, "proving_at = NULL")
	}
	if rep.Status == ProofProved {
		for _, col := range []string{"proving_cycles", "proving_time_ms", "size_bytes", "verifier_id", "program_id", "blob_key", "proof_sha256"} {
			sets = append(sets, col+" = excluded."+col)
		}
		cols = append(cols, "proving_cycles", "proving_time_ms", "size_bytes", "verifier_id", "program_id", "blob_key", "proof_sha256")
		args = append(args, rep.ProvingCycles, rep.ProvingTimeMS, rep.SizeBytes, rep.VerifierID, programID, rep.BlobKey, rep.SHA256)
	}
	// created_at is left out of the conflict branch: it stays the first
	// report's time.
	var r proofRow
	err := getContext(ctx, t.w, &r,
		`INSERT INTO proofs (`+strings.Join(cols, ", ")+`)
		 VALUES (`+strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")+`)
		 ON CONFLICT (block_number, cluster_version_id) DO UPDATE SET `+strings.Join(sets, ", ")+`
		 WHERE proofs.status <> 'proved'
		 RETURNING `+proofColumns,
		args...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Proof{}, proofgrid.Errorf(proofgrid.ECONFLICT, "Proof already proved")
	case isForeignKeyViolation(err):
		return Proof{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "cluster version %d not found", rep.ClusterVersionID)
	case err != nil:
		return Proof{}, fmt.Errorf("storage: upsert proof: %w", err)
	}
	return r.proof(), nil
}

// ensureProgram returns the id of the program with the given verifier id,
// creating it when new.
func (t *Tx) ensureProgram(ctx context.Context, verifierID string, at time.Time) (int64, error) {
	if _, err := execContext(ctx, t.w,
		`INSERT INTO programs (verifier_id, created_at) VALUES (?, ?) ON CONFLICT (verifier_id) DO NOTHING`,
		verifierID, at); err != nil {
		return 0, fmt.Errorf("storage: insert program: %w", err)
	}
	var id int64
	if err := getContext(ctx, t.w, &id, `SELECT id FROM programs WHERE verifier_id = ?`, verifierID); err != nil {
		return 0, fmt.Errorf("storage: program id: %w", err)
	}
	return id, nil
}

// ProofAt returns the proof of block number by cluster version versionID,
// or ENOTFOUND.
func (c *conn) ProofAt(ctx context.Context, number, versionID int64) (Proof, error) {
	var r proofRow
	err := getContext(ctx, c.r, &r,
		`SELECT `+proofColumns+` FROM proofs WHERE block_number = ? AND cluster_version_id = ?`, number, versionID)
	if errors.Is(err, sql.ErrNoRows) {
		return Proof{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "proof not found")
	} else if err != nil {
		return Proof{}, fmt.Errorf("storage: proof: %w", err)
	}
	return r.proof(), nil
}

// SetProofVerification records the verifier's outcome (valid, invalid or
// cannot_verify) for proof id. An unknown proof is ENOTFOUND.
func (c *conn) SetProofVerification(ctx context.Context, id int64, outcome, reason string, ms float64, at time.Time) error {
	res, err := execContext(ctx, c.w,
		`UPDATE proofs SET verification = ?, verification_reason = ?, verification_ms = ?, verified_at = ?
		 WHERE id = ?`, outcome, reason, ms, at, id)
	if err != nil {
		return fmt.Errorf("storage: set proof verification: %w", err)
	}
	if n, err := rowsAffected(res); err != nil {
		return err
	} else if n == 0 {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "proof %d not found", id)
	}
	return nil
}

// ClusterProof names a proof of a block by a cluster: its id, the cluster
// version it is attached to and its status.
type ClusterProof struct {
	ID               int64  `db:"id"`
	ClusterVersionID int64  `db:"cluster_version_id"`
	Status           string `db:"status"`
}

// ProofOfCluster returns cluster clusterID's proof of block number,
// whichever version it is attached to, and false when the cluster has
// none.
func (c *conn) ProofOfCluster(ctx context.Context, number int64, clusterID string) (ClusterProof, bool, error) {
	var p ClusterProof
	err := getContext(ctx, c.r, &p,
		`SELECT id, cluster_version_id, status FROM proofs WHERE block_number = ? AND cluster_id = ? ORDER BY id LIMIT 1`, number, clusterID)
	if errors.Is(err, sql.ErrNoRows) {
		return ClusterProof{}, false, nil
	} else if err != nil {
		return ClusterProof{}, false, fmt.Errorf("storage: proof of cluster: %w", err)
	}
	return p, true, nil
}

// MoveProof attaches the unproved proof id to cluster version versionID,
// and reports false when it is proved (and stays where it is) or gone.
func (c *conn) MoveProof(ctx context.Context, id, versionID int64, at time.Time) (bool, error) {
	res, err := execContext(ctx, c.w,
		`UPDATE proofs SET cluster_version_id = ?, updated_at = ? WHERE id = ? AND status <> 'proved'`, versionID, at, id)
	if err != nil {
		return false, fmt.Errorf("storage: move proof: %w", err)
	}
	n, err := rowsAffected(res)
	return n == 1, err
}

// ReopenedProof is a proof whose verification ReopenVerifications cleared.
type ReopenedProof struct {
	ID     int64 `db:"id"`
	TeamID int64 `db:"team_id"`
}

// ReopenVerifications clears the cannot_verify outcome of the proved
// proofs of block number whose reason is reason (the verdict of an input
// that was missing then), so that they can be verified again, and returns
// them.
func (c *conn) ReopenVerifications(ctx context.Context, number int64, reason string) ([]ReopenedProof, error) {
	var out []ReopenedProof
	err := selectContext(ctx, c.w, &out,
		`UPDATE proofs SET verification = NULL, verification_reason = '', verification_ms = NULL, verified_at = NULL
		 WHERE block_number = ? AND verification = 'cannot_verify' AND verification_reason = ?
		 RETURNING id, team_id`, number, reason)
	if err != nil {
		return nil, fmt.Errorf("storage: reopen verifications: %w", err)
	}
	return out, nil
}

// ReopenTeamVerifications clears the cannot_verify outcome of team's
// proved proofs whose reason is one of reasons, and returns them.
func (c *conn) ReopenTeamVerifications(ctx context.Context, team int64, reasons []string) ([]ReopenedProof, error) {
	var out []ReopenedProof
	for _, reason := range reasons {
		var some []ReopenedProof
		err := selectContext(ctx, c.w, &some,
			`UPDATE proofs SET verification = NULL, verification_reason = '', verification_ms = NULL, verified_at = NULL
			 WHERE team_id = ? AND verification = 'cannot_verify' AND verification_reason = ?
			 RETURNING id, team_id`, team, reason)
		if err != nil {
			return nil, fmt.Errorf("storage: reopen verifications: %w", err)
		}
		out = append(out, some...)
	}
	return out, nil
}

// ProofView is a proof with everything a listing shows about it.
type ProofView struct {
	Proof          Proof
	Block          Block
	ClusterVersion ClusterVersion
	Cluster        Cluster
	ZKVMVersion    ZKVMVersion
	ZKVM           ZKVM
	Team           Team
}

type proofViewRow struct {
	P            proofRow          `db:"p"`
	B            blockRow          `db:"b"`
	CV           clusterVersionRow `db:"cv"`
	C            clusterRow        `db:"c"`
	ZV           zkvmVersionRow    `db:"zv"`
	Z            zkvmRow           `db:"z"`
	TeamName     string            `db:"t_name"`
	TeamCreateAt dbTime            `db:"t_created_at"`
}

func (r proofViewRow) view() ProofView {
	return ProofView{
		Proof:          r.P.proof(),
		Block:          r.B.block(),
		ClusterVersion: r.CV.version(),
		Cluster:        r.C.cluster(),
		ZKVMVersion:    r.ZV.version(),
		ZKVM:           r.Z.zkvm(),
		Team:           Team{ID: r.P.TeamID, Name: r.TeamName, CreatedAt: r.TeamCreateAt.Time},
	}
}

// aliased selects each column of a comma-separated list from table alias
// a under the name "a.column", which sqlx maps into the struct field
// tagged db:"a".
func aliased(a, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		parts[i] = a + "." + p + ` AS "` + a + "." + p + `"`
	}
	return strings.Join(parts, ", ")
}

var proofViewSelect = `SELECT ` + aliased("p", proofColumns) + `, ` + aliased("b", blockColumns) + `, ` +
	aliased("cv", clusterVersionColumns) + `, ` + aliased("c", clusterColumns) + `, ` +
	aliased("zv", zkvmVersionColumns) + `, ` + aliased("z", zkvmColumns) + `,
	t.name AS t_name, t.created_at AS t_created_at` + proofViewFrom

const proofViewFrom = `
	FROM proofs p
	JOIN blocks b ON b.block_number = p.block_number
	JOIN cluster_versions cv ON cv.id = p.cluster_version_id
	JOIN clusters c ON c.id = p.cluster_id
	JOIN zkvm_versions zv ON zv.id = cv.zkvm_version_id
	JOIN zkvms z ON z.id = zv.zkvm_id
	JOIN teams t ON t.id = p.team_id`

// ProofFilter selects proofs for ListProofs. Zero fields select all.
type ProofFilter struct {
	BlockNumber *int64
	BlockHash   string
	ClusterIDs  []string
	Status      string
	Limit       int
	Offset      int
}

// ListProofs returns one page of the proofs f selects, newest block first,
// and how many f selects in all.
func (c *conn) ListProofs(ctx context.Context, f ProofFilter) ([]ProofView, int64, error) {
	var where []string
	var args []any
	if f.BlockNumber != nil {
		where, args = append(where, "p.block_number = ?"), append(args, *f.BlockNumber)
	}
	if f.BlockHash != "" {
		where, args = append(where, "b.hash = ?"), append(args, strings.ToLower(f.BlockHash))
	}
	if len(f.ClusterIDs) > 0 {
		where = append(where, "p.cluster_id IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.ClusterIDs)), ", ")+")")
		for _, id := range f.ClusterIDs {
			args = append(args, id)
		}
	}
	if f.Status != "" {
		where, args = append(where, "p.status = ?"), append(args, f.Status)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int64
	if err := getContext(ctx, c.r, &total, `SELECT COUNT(*) FROM proofs p JOIN blocks b ON b.block_number = p.block_number`+cond, args...); err != nil {
		return nil, 0, fmt.Errorf("storage: count proofs: %w", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	views, err := c.proofViews(ctx, cond+` ORDER BY p.block_number DESC, p.id DESC LIMIT ? OFFSET ?`,
		append(args, limit, max(f.Offset, 0))...)
	return views, total, err
}

// ProofView returns proof id with its block, cluster and zkVM, or
// ENOTFOUND.
func (c *conn) ProofView(ctx context.Context, id int64) (ProofView, error) {
	views, err := c.proofViews(ctx, ` WHERE p.id = ?`, id)
	if err != nil {
		return ProofView{}, err
	}
	if len(views) == 0 {
		return ProofView{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "No proof found")
	}
	return views[0], nil
}

// ProvedProofsOfBlock returns the proved proofs of block number, by id.
func (c *conn) ProvedProofsOfBlock(ctx context.Context, number int64) ([]ProofView, error) {
	return c.proofViews(ctx, ` WHERE p.block_number = ? AND p.status = ? ORDER BY p.id`, number, ProofProved)
}

// LatestProvedProofsOfCluster returns up to limit proved proofs of cluster
// id, most recently proved first.
func (c *conn) LatestProvedProofsOfCluster(ctx context.Context, clusterID string, limit int) ([]ProofView, error) {
	return c.proofViews(ctx, ` WHERE p.cluster_id = ? AND p.status = ? ORDER BY p.proved_at DESC, p.id DESC LIMIT ?`,
		clusterID, ProofProved, limit)
}

func (c *conn) proofViews(ctx context.Context, tail string, args ...any) ([]ProofView, error) {
	var rows []proofViewRow
	if err := selectContext(ctx, c.r, &rows, proofViewSelect+tail, args...); err != nil {
		return nil, fmt.Errorf("storage: list proofs: %w", err)
	}
	out := make([]ProofView, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.view())
	}
	return out, nil
}

// VerificationKeyRef is an active cluster version that names a
// verification key, with what identifies it in listings.
type VerificationKeyRef struct {
	ClusterID    string
	ClusterIndex int64
	VersionIndex int64
	TeamID       int64
	TeamName     string
	ZKVMSlug     string
	VKPath       string
}

// ActiveVerificationKeys returns the active versions of active clusters
// that name a verification key.
func (c *conn) ActiveVerificationKeys(ctx context.Context) ([]VerificationKeyRef, error) {
	var rows []struct {
		ClusterID    string `db:"cluster_id"`
		ClusterIndex int64  `db:"cluster_idx"`
		VersionIndex int64  `db:"version_idx"`
		TeamID       int64  `db:"team_id"`
		TeamName     string `db:"team_name"`
		ZKVMSlug     string `db:"zkvm_slug"`
		VKPath       string `db:"vk_path"`
	}
	err := selectContext(ctx, c.r, &rows,
		`SELECT c.id AS cluster_id, c.idx AS cluster_idx, cv.idx AS version_idx, c.team_id, t.name AS team_name,
		   z.slug AS zkvm_slug, cv.vk_path
		 FROM cluster_versions cv
		 JOIN clusters c ON c.id = cv.cluster_id
		 JOIN teams t ON t.id = c.team_id
		 JOIN zkvm_versions zv ON zv.id = cv.zkvm_version_id
		 JOIN zkvms z ON z.id = zv.zkvm_id
		 WHERE cv.is_active = ? AND c.is_active = ? AND cv.vk_path IS NOT NULL AND cv.vk_path <> ''
		 ORDER BY c.team_id, c.idx`, true, true)
	if err != nil {
		return nil, fmt.Errorf("storage: active verification keys: %w", err)
	}
	out := make([]VerificationKeyRef, 0, len(rows))
	for _, r := range rows {
		out = append(out, VerificationKeyRef(r))
	}
	return out, nil
}
