package storage

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
)

// API token modes. A read token may only read; a write token may also
// change its team's data; an admin token may also manage its team (its
// clusters, its verification keys). An admin token flagged Operator may do
// anything, for every team.
const (
	TokenModeAdmin = "admin"
	TokenModeRead  = "read"
	TokenModeWrite = "write"
)

// ValidTokenMode reports whether m is a known API token mode.
func ValidTokenMode(m string) bool {
	return m == TokenModeAdmin || m == TokenModeRead || m == TokenModeWrite
}

// APIToken is a team's bearer token as stored: only its SHA-256 is kept,
// so a token is shown once, when it is created, and never again.
type APIToken struct {
	ID     int64  `json:"id"`
	TeamID int64  `json:"team_id"`
	Mode   string `json:"mode"`
	Label  string `json:"label"`
	// Prefix is the start of the token, enough to tell tokens apart in a
	// list without revealing them.
	Prefix string `json:"prefix"`
	// Hash is the hex SHA-256 of the whole token.
	Hash string `json:"-"`
	// Operator marks a global credential: it acts on every team's data and
	// on what belongs to no team (blocks, zkVMs, stake, rewards, the
	// monitor). Only admin tokens are operator tokens.
	Operator   bool       `json:"operator"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

type apiTokenRow struct {
	ID         int64  `db:"id"`
	TeamID     int64  `db:"team_id"`
	Mode       string `db:"mode"`
	Label      string `db:"label"`
	Prefix     string `db:"prefix"`
	Hash       string `db:"hash"`
	Operator   bool   `db:"operator"`
	CreatedAt  dbTime `db:"created_at"`
	LastUsedAt dbTime `db:"last_used_at"`
	RevokedAt  dbTime `db:"revoked_at"`
}

func (r apiTokenRow) token() APIToken {
	return APIToken{
		ID:         r.ID,
		TeamID:     r.TeamID,
		Mode:       r.Mode,
		Label:      r.Label,
		Prefix:     r.Prefix,
		Hash:       r.Hash,
		Operator:   r.Operator,
		CreatedAt:  r.CreatedAt.Time,
		LastUsedAt: r.LastUsedAt.ptr(),
		RevokedAt:  r.RevokedAt.ptr(),
	}
}

const apiTokenColumns = `id, team_id, mode, label, prefix, hash, operator, created_at, last_used_at, revoked_at`

// CreateAPIToken stores t (TeamID, Mode, Label, Prefix, Hash, Operator) and
// returns it with its id and creation time. Hash must be a hex SHA-256,
// which keeps a raw token from being stored by mistake, and lower case, so
// that lookups by hash match; an operator token must be an admin token
// (EINVALID otherwise). An unknown team is ENOTFOUND, a hash already
// stored ECONFLICT.
func (c *conn) CreateAPIToken(ctx context.Context, t APIToken) (APIToken, error) {
	if !ValidTokenMode(t.Mode) {
		return APIToken{}, proofgrid.Errorf(proofgrid.EINVALID, "token mode %q is not admin, read or write", t.Mode)
	}
	if b, err := hex.DecodeString(t.Hash); err != nil || len(b) != 32 || t.Hash != strings.ToLower(t.Hash) {
		return APIToken{}, proofgrid.Errorf(proofgrid.EINVALID, "token hash is not a lower-case hex SHA-256")
	}
	if t.Operator && t.Mode != TokenModeAdmin {
		return APIToken{}, proofgrid.Errorf(proofgrid.EINVALID, "an operator token must have mode admin, not %q", t.Mode)
	}
	var r apiTokenRow
	err := getContext(ctx, c.w, &r,
		`INSERT INTO api_tokens (team_id, mode, label, prefix, hash, operator, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING `+apiTokenColumns,
		t.TeamID, t.Mode, t.Label, t.Prefix, t.Hash, t.Operator, c.now())
	switch {
	case isUniqueViolation(err):
		return APIToken{}, proofgrid.Errorf(proofgrid.ECONFLICT, "token already exists")
	case isForeignKeyViolation(err):
		return APIToken{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "team %d not found", t.TeamID)
	case err != nil:
		return APIToken{}, fmt.Errorf("storage: create api token: %w", err)
	}
	return r.token(), nil
}

// APITokenByHash returns the live token whose SHA-256 is hash. A revoked
// token is ENOTFOUND, like an unknown one, so that callers cannot
// authenticate with it by forgetting to check.
func (c *conn) APITokenByHash(ctx context.Context, hash string) (APIToken, error) {
	var r apiTokenRow
	err := getContext(ctx, c.r, &r,
		`SELECT `+apiTokenColumns+` FROM api_tokens WHERE hash = ? AND revoked_at IS NULL`, hash)
	if errors.Is(err, sql.ErrNoRows) {
		return APIToken{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "token not found")
	} else if err != nil {
		return APIToken{}, fmt.Errorf("storage: api token by hash: %w", err)
	}
	return r.token(), nil
}

// TouchAPIToken records that token id was used at at. It never moves
// last_used_at backwards, so concurrent requests may touch in any order.
// An unknown id is ENOTFOUND.
func (c *conn) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	res, err := execContext(ctx, c.w,
		`UPDATE api_tokens SET last_used_at = ?
		 WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
		at, id, at)
	if err != nil {
		return fmt.Errorf("storage: touch api token: %w", err)
	}
	return c.expectToken(ctx, res, id)
}

// RevokeAPIToken revokes token id now. Revoking a revoked token changes
// nothing (the first revocation time stays); an unknown id is ENOTFOUND.
func (c *conn) RevokeAPIToken(ctx context.Context, id int64) error {
	res, err := execContext(ctx, c.w,
		`UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,
		c.now(), id)
	if err != nil {
		return fmt.Errorf("storage: revoke api token: %w", err)
	}
	return c.expectToken(ctx, res, id)
}

// expectToken turns an update that matched no row into ENOTFOUND when the
// token does not exist, and into success when the update was a no-op.
func (c *conn) expectToken(ctx context.Context, res sql.Result, id int64) error {
	n, err := rowsAffected(res)
	if err != nil || n > 0 {
		return err
	}
	ok, err := exists(ctx, c.r, `SELECT 1 FROM api_tokens WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("storage: api token: %w", err)
	} else if !ok {
		return proofgrid.Errorf(proofgrid.ENOTFOUND, "token %d not found", id)
	}
	return nil
}
