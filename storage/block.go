package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
)

// Block is an Ethereum block as far as proofgrid knows it. A block is
// recorded on its first mention, by a block feed or by a proof report;
// its metadata (nil until known) is filled in later.
type Block struct {
	Number           int64      `json:"block_number"`
	Hash             *string    `json:"hash"`
	Timestamp        *time.Time `json:"timestamp"`
	GasUsed          *int64     `json:"gas_used"`
	TransactionCount *int64     `json:"transaction_count"`
	// ScheduledAt is when proving tasks were written for the block; nil
	// for a block only mentioned by proof reports so far.
	ScheduledAt *time.Time `json:"scheduled_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// BlockInfo is metadata about a block; nil fields are unknown and leave
// what is stored alone.
type BlockInfo struct {
	Number           int64
	Hash             *string
	Timestamp        *time.Time
	GasUsed          *int64
	TransactionCount *int64
}

type blockRow struct {
	Number           int64          `db:"block_number"`
	Hash             sql.NullString `db:"hash"`
	Timestamp        dbTime         `db:"timestamp"`
	GasUsed          sql.NullInt64  `db:"gas_used"`
	TransactionCount sql.NullInt64  `db:"transaction_count"`
	ScheduledAt      dbTime         `db:"scheduled_at"`
	CreatedAt        dbTime         `db:"created_at"`
	UpdatedAt        dbTime         `db:"updated_at"`
}

func (r blockRow) block() Block {
	return Block{
		Number:           r.Number,
		Hash:             nullString(r.Hash),
		Timestamp:        r.Timestamp.ptr(),
		GasUsed:          nullInt(r.GasUsed),
		TransactionCount: nullInt(r.TransactionCount),
		ScheduledAt:      r.ScheduledAt.ptr(),
		CreatedAt:        r.CreatedAt.Time,
		UpdatedAt:        r.UpdatedAt.Time,
	}
}

func nullInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

const blockColumns = `block_number, hash, timestamp, gas_used, transaction_count, scheduled_at, created_at, updated_at`

// MaxBlockNumber is the largest block number both dialects store (a signed
// 64-bit integer).
const MaxBlockNumber = math.MaxInt64

// RecordBlock inserts block info.Number or fills in the metadata info
// knows (normally on the Tx that schedules its proving). Hashes are
// stored in lower case. created tells whether the row is new. A hash that
// another block already has is ECONFLICT.
func (c *conn) RecordBlock(ctx context.Context, info BlockInfo, at time.Time) (_ Block, created bool, _ error) {
	if info.Number < 0 {
		return Block{}, false, proofgrid.Errorf(proofgrid.EINVALID, "block number must not be negative")
	}
	var hash *string
	if info.Hash != nil {
		h := strings.ToLower(*info.Hash)
		hash = &h
	}
	var r blockRow
	err := getContext(ctx, c.w, &r,
		`INSERT INTO blocks (block_number, hash, timestamp, gas_used, transaction_count, created_at, updated_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (block_number) DO NOTHING RETURNING `+blockColumns,
		info.Number, hash, info.Timestamp, info.GasUsed, info.TransactionCount, at, at)
	switch {
	case err == nil:
		return r.block(), true, nil
	case isUniqueViolation(err):
		return Block{}, false, proofgrid.Errorf(proofgrid.ECONFLICT, "another block already has hash %s", *hash)
	case !errors.Is(err, sql.ErrNoRows):
		return Block{}, false, fmt.Errorf("storage: insert block: %w", err)
	}
	if hash == nil && info.Timestamp == nil && info.GasUsed == nil && info.TransactionCount == nil {
		// On a DB, the reader sees the row: it was committed before
		// the insert above found it.
		b, err := c.BlockByNumber(ctx, info.Number)
		return b, false, err
	}
	err = getContext(ctx, c.w, &r,
		`UPDATE blocks SET hash = COALESCE(?, hash), timestamp = COALESCE(?, timestamp),
		   gas_used = COALESCE(?, gas_used), transaction_count = COALESCE(?, transaction_count), updated_at = ?
		 WHERE block_number = ? RETURNING `+blockColumns,
		hash, info.Timestamp, info.GasUsed, info.TransactionCount, at, info.Number)
	if isUniqueViolation(err) {
		return Block{}, false, proofgrid.Errorf(proofgrid.ECONFLICT, "another block already has hash %s", *hash)
	} else if err != nil {
		return Block{}, false, fmt.Errorf("storage: update block: %w", err)
	}
	return r.block(), false, nil
}

// MarkBlockScheduled records that proving tasks are being
// written for block number, and reports whether this call is the first to
// do so; only the first should write them.
func (c *conn) MarkBlockScheduled(ctx context.Context, number int64, at time.Time) (bool, error) {
	res, err := execContext(ctx, c.w,
		`UPDATE blocks SET scheduled_at = ? WHERE block_number = ? AND scheduled_at IS NULL`, at, number)
	if err != nil {
		return false, fmt.Errorf("storage: schedule block: %w", err)
	}
	n, err := rowsAffected(res)
	return n == 1, err
}

// BlockByNumber returns block number, or ENOTFOUND.
func (c *conn) BlockByNumber(ctx context.Context, number int64) (Block, error) {
	var r blockRow
	err := getContext(ctx, c.r, &r, `SELECT `+blockColumns+` FROM blocks WHERE block_number = ?`, number)
	if errors.Is(err, sql.ErrNoRows) {
		return Block{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "Block not found")
	} else if err != nil {
		return Block{}, fmt.Errorf("storage: block by number: %w", err)
	}
	return r.block(), nil
}

// BlockByHash returns the block with the given hash (any letter case), or
// ENOTFOUND.
func (c *conn) BlockByHash(ctx context.Context, hash string) (Block, error) {
	var r blockRow
	err := getContext(ctx, c.r, &r, `SELECT `+blockColumns+` FROM blocks WHERE hash = ?`, strings.ToLower(hash))
	if errors.Is(err, sql.ErrNoRows) {
		return Block{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "Block not found")
	} else if err != nil {
		return Block{}, fmt.Errorf("storage: block by hash: %w", err)
	}
	return r.block(), nil
}

// LatestScheduledBlock returns the highest block number that proving was
// scheduled for, and false when there is none. A block source resumes
// after it; blocks only mentioned by proof reports do not count, so a
// report about a far-off block cannot make the source skip ahead.
func (c *conn) LatestScheduledBlock(ctx context.Context) (int64, bool, error) {
	var n sql.NullInt64
	if err := getContext(ctx, c.r, &n, `SELECT MAX(block_number) FROM blocks WHERE scheduled_at IS NOT NULL`); err != nil {
		return 0, false, fmt.Errorf("storage: latest block: %w", err)
	}
	return n.Int64, n.Valid, nil
}
