package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/proofgrid/proofgrid"
)

// Ledger epoch statuses.
const (
	LedgerEpochPending   = "pending"
	LedgerEpochPublished = "published"
)

// LedgerNodeChunk is the number of 32-byte tree nodes stored per row of
// ledger_epoch_nodes (4 KiB). A proof of a tree of n leaves reads one row
// per level below the top seven, so O(log n) small rows, never the whole
// tree.
const LedgerNodeChunk = 128

// LedgerEpoch is one published (or being published) claim tree of the
// ledger: the cumulative amount of every account credited up to Cutoff.
type LedgerEpoch struct {
	ID     int64
	Cutoff time.Time
	Status string
	Root   [32]byte
	// LeafCount is the number of accounts, NodeCount the tree's nodes
	// (2·LeafCount − 1), EntryCount the ledger entries the epoch covers.
	LeafCount, NodeCount, EntryCount int64
	// TotalUnits is the sum of all leaves; NewUnits what this epoch added
	// to the previous one's total.
	TotalUnits, NewUnits *big.Int
	CreatedAt            time.Time
	PublishedAt          *time.Time
}

type ledgerEpochRow struct {
	ID          int64  `db:"id"`
	Cutoff      dbTime `db:"cutoff"`
	Status      string `db:"status"`
	Root        []byte `db:"root"`
	LeafCount   int64  `db:"leaf_count"`
	NodeCount   int64  `db:"node_count"`
	EntryCount  int64  `db:"entry_count"`
	TotalUnits  string `db:"total_units"`
	NewUnits    string `db:"new_units"`
	CreatedAt   dbTime `db:"created_at"`
	PublishedAt dbTime `db:"published_at"`
}

func (r ledgerEpochRow) epoch() (LedgerEpoch, error) {
	e := LedgerEpoch{ID: r.ID, Cutoff: r.Cutoff.Time, Status: r.Status, LeafCount: r.LeafCount, NodeCount: r.NodeCount,
		EntryCount: r.EntryCount, CreatedAt: r.CreatedAt.Time, PublishedAt: r.PublishedAt.ptr()}
	copy(e.Root[:], r.Root)
	var err error
	if e.TotalUnits, err = parseUnits(r.TotalUnits); err != nil {
		return e, err
	}
	e.NewUnits, err = parseUnits(r.NewUnits)
	return e, err
}

const ledgerEpochColumns = `id, cutoff, status, root, leaf_count, node_count, entry_count,
	CAST(total_units AS TEXT) AS total_units, CAST(new_units AS TEXT) AS new_units, created_at, published_at`

func (c *conn) ledgerEpoch(ctx context.Context, what string, where string, args ...any) (LedgerEpoch, error) {
	var r ledgerEpochRow
	err := getContext(ctx, c.r, &r, `SELECT `+ledgerEpochColumns+` FROM ledger_epochs `+where, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return LedgerEpoch{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "%s not found", what)
	} else if err != nil {
		return LedgerEpoch{}, fmt.Errorf("storage: get %s: %w", what, err)
	}
	return r.epoch()
}

// LedgerEpoch returns epoch id, or ENOTFOUND.
func (c *conn) LedgerEpoch(ctx context.Context, id int64) (LedgerEpoch, error) {
	return c.ledgerEpoch(ctx, fmt.Sprintf("epoch %d", id), `WHERE id = ?`, id)
}

// LatestLedgerEpoch returns the epoch with the highest id, published or
// not, or ENOTFOUND when there is none.
func (c *conn) LatestLedgerEpoch(ctx context.Context) (LedgerEpoch, error) {
	return c.ledgerEpoch(ctx, "epoch", `ORDER BY id DESC LIMIT 1`)
}

// LatestPublishedLedgerEpoch returns the newest published epoch, or
// ENOTFOUND when none is published.
func (c *conn) LatestPublishedLedgerEpoch(ctx context.Context) (LedgerEpoch, error) {
	return c.ledgerEpoch(ctx, "published epoch", `WHERE status = ? ORDER BY id DESC LIMIT 1`, LedgerEpochPublished)
}

// LedgerEpochs returns the published epochs, newest first, at most limit
// (default 100).
func (c *conn) LedgerEpochs(ctx context.Context, limit int) ([]LedgerEpoch, error) {
	if limit <= 0 {
		limit = 100
	}
	var rows []ledgerEpochRow
	err := selectContext(ctx, c.r, &rows, `SELECT `+ledgerEpochColumns+` FROM ledger_epochs WHERE status = ?
		ORDER BY id DESC LIMIT ?`, LedgerEpochPublished, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: list epochs: %w", err)
	}
	out := make([]LedgerEpoch, 0, len(rows))
	for _, r := range rows {
		e, err := r.epoch()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// LockLedgerEpochs makes the transaction the only one that may add an
// epoch until it ends, so that the next id and the cut-off checks it reads
// stay true. Readers are not blocked. SQLite's write transactions are
// exclusive already.
func (t *Tx) LockLedgerEpochs(ctx context.Context) error {
	if t.dialect != DialectPostgres {
		return nil
	}
	if _, err := execContext(ctx, t.w, `LOCK TABLE ledger_epochs IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("storage: lock epochs: %w", err)
	}
	return nil
}

// LedgerEpochByCutoff returns the epoch cut off at cutoff, or ENOTFOUND.
func (c *conn) LedgerEpochByCutoff(ctx context.Context, cutoff time.Time) (LedgerEpoch, error) {
	return c.ledgerEpoch(ctx, "epoch", `WHERE cutoff = ?`, cutoff)
}

// InsertLedgerEpoch stores a pending epoch (ID, Cutoff, EntryCount,
// CreatedAt). An id or cut-off stored already is ECONFLICT.
func (c *conn) InsertLedgerEpoch(ctx context.Context, e LedgerEpoch) error {
	_, err := execContext(ctx, c.w, `INSERT INTO ledger_epochs (id, cutoff, status, entry_count, created_at)
		VALUES (?, ?, ?, ?, ?)`, e.ID, e.Cutoff, LedgerEpochPending, e.EntryCount, e.CreatedAt)
	if isUniqueViolation(err) {
		return proofgrid.Errorf(proofgrid.ECONFLICT, "epoch %d (or one cut off at %s) exists already", e.ID, e.Cutoff.Format(time.RFC3339Nano))
	} else if err != nil {
		return fmt.Errorf("storage: insert epoch %d: %w", e.ID, err)
	}
	return nil
}

// LedgerLeaf is one account's leaf of an epoch's tree.
type LedgerLeaf struct {
	EpochID        int64
	Account        string
	AccountBytes   [32]byte
	Recipient      string
	RecipientBytes [32]byte
	// Amount is the account's cumulative amount as of the epoch.
	Amount *big.Int
	// TreeIndex is the leaf's position in the tree's node array.
	TreeIndex int
}

type ledgerLeafRow struct {
	EpochID        int64  `db:"epoch_id"`
	Account        string `db:"account"`
	AccountBytes   []byte `db:"account_bytes"`
	Recipient      string `db:"recipient"`
	RecipientBytes []byte `db:"recipient_bytes"`
	Amount         string `db:"amount"`
	TreeIndex      int    `db:"tree_index"`
}

func (r ledgerLeafRow) leaf() (LedgerLeaf, error) {
	l := LedgerLeaf{EpochID: r.EpochID, Account: r.Account, Recipient: r.Recipient, TreeIndex: r.TreeIndex}
	copy(l.AccountBytes[:], r.AccountBytes)
	copy(l.RecipientBytes[:], r.RecipientBytes)
	var err error
	l.Amount, err = parseUnits(r.Amount)
	return l, err
}

const ledgerLeafColumns = `epoch_id, account, account_bytes, recipient, recipient_bytes, CAST(amount AS TEXT) AS amount, tree_index`

// LedgerPublication is what publishing an epoch stores.
type LedgerPublication struct {
	EpochID int64
	Root    [32]byte
	// Leaves are in the order the tree was built from (by AccountBytes),
	// which is the order of the values in the tree's dump.
	Leaves []LedgerLeaf
	// Nodes is the tree in OpenZeppelin's array layout.
	Nodes                [][32]byte
	EntryCount           int64
	TotalUnits, NewUnits *big.Int
	PublishedAt          time.Time
}

// PublishLedgerEpoch stores the tree of pending epoch p.EpochID and marks
// it published, in one transaction that holds the epoch's row. It reports
// false, storing nothing, when the epoch is published already: of several
// replicas that build the same epoch, the first to commit publishes it.
// It is a method of DB only: on PostgreSQL leaves and nodes go in by COPY,
// on a connection of its own.
func (d *DB) PublishLedgerEpoch(ctx context.Context, p LedgerPublication) (bool, error) {
	if len(p.Nodes) != 2*len(p.Leaves)-1 {
		return false, proofgrid.Errorf(proofgrid.EINVALID, "epoch %d: %d leaves need %d nodes, got %d", p.EpochID, len(p.Leaves), 2*len(p.Leaves)-1, len(p.Nodes))
	}
	chunks := (len(p.Nodes) + LedgerNodeChunk - 1) / LedgerNodeChunk
	chunk := func(i int) []byte {
		lo, hi := i*LedgerNodeChunk, min((i+1)*LedgerNodeChunk, len(p.Nodes))
		b := make([]byte, 0, 32*(hi-lo))
		for k := lo; k < hi; k++ {
			b = append(b, p.Nodes[k][:]...)
		}
		return b
	}
	const update = `UPDATE ledger_epochs SET status = ?, root = ?, leaf_count = ?, node_count = ?, entry_count = ?,
		total_units = ?, new_units = ?, published_at = ? WHERE id = ?`
	updateArgs := []any{LedgerEpochPublished, p.Root[:], len(p.Leaves), len(p.Nodes), p.EntryCount,
		p.TotalUnits.String(), p.NewUnits.String(), p.PublishedAt, p.EpochID}
	if d.dialect == DialectPostgres {
		published := false
		err := d.withPgx(ctx, func(c *pgx.Conn) error {
			tx, err := c.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(context.WithoutCancel(ctx))
			var status string
			err = tx.QueryRow(ctx, `SELECT status FROM ledger_epochs WHERE id = $1 FOR UPDATE`, p.EpochID).Scan(&status)
			if errors.Is(err, pgx.ErrNoRows) {
				return proofgrid.Errorf(proofgrid.ENOTFOUND, "epoch %d not found", p.EpochID)
			} else if err != nil || status == LedgerEpochPublished {
				return err
			}
			i := 0
			_, err = tx.CopyFrom(ctx, pgx.Identifier{"ledger_epoch_leaves"}, []string{"epoch_id", "account_bytes", "account",
				"recipient", "recipient_bytes", "amount", "tree_index"}, pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(p.Leaves) {
					return nil, nil
				}
				l := &p.Leaves[i]
				i++
				return []any{p.EpochID, l.AccountBytes[:], l.Account, l.Recipient, l.RecipientBytes[:], numeric(l.Amount), int64(l.TreeIndex)}, nil
			}))
			if err != nil {
				return err
			}
			k := 0
			_, err = tx.CopyFrom(ctx, pgx.Identifier{"ledger_epoch_nodes"}, []string{"epoch_id", "chunk", "nodes"},
				pgx.CopyFromFunc(func() ([]any, error) {
					if k == chunks {
						return nil, nil
					}
					k++
					return []any{p.EpochID, int64(k - 1), chunk(k - 1)}, nil
				}))
			if err != nil {
				return err
			}
			args := bindArgs(postgresDriver, updateArgs)
			if _, err := tx.Exec(ctx, d.wdb.Rebind(update), args...); err != nil {
				return err
			}
			if err := tx.Commit(ctx); err != nil {
				return err
			}
			published = true
			return nil
		})
		if err != nil && proofgrid.ErrorCode(err) == "" {
			err = fmt.Errorf("storage: publish epoch %d: %w", p.EpochID, err)
		}
		return published, err
	}
	published := false
	err := d.InTx(ctx, func(t *Tx) error {
		var status string
		err := getContext(ctx, t.w, &status, `SELECT status FROM ledger_epochs WHERE id = ?`, p.EpochID)
		if errors.Is(err, sql.ErrNoRows) {
			return proofgrid.Errorf(proofgrid.ENOTFOUND, "epoch %d not found", p.EpochID)
		} else if err != nil || status == LedgerEpochPublished {
			return err
		}
		err = t.insertBatches(ctx, `INSERT INTO ledger_epoch_leaves (epoch_id, account_bytes, account, recipient,
			recipient_bytes, amount, tree_index) VALUES `, 7, len(p.Leaves), func(i int, args []any) []any {
			l := &p.Leaves[i]
			return append(args, p.EpochID, l.AccountBytes[:], l.Account, l.Recipient, l.RecipientBytes[:], l.Amount.String(), l.TreeIndex)
		})
		if err != nil {
			return err
		}
		err = t.insertBatches(ctx, `INSERT INTO ledger_epoch_nodes (epoch_id, chunk, nodes) VALUES `, 3, chunks,
			func(i int, args []any) []any { return append(args, p.EpochID, i, chunk(i)) })
		if err != nil {
			return err
		}
		if _, err := execContext(ctx, t.w, update, updateArgs...); err != nil {
			return err
		}
		published = true
		return nil
	})
	if err != nil && proofgrid.ErrorCode(err) == "" {
		err = fmt.Errorf("storage: publish epoch %d: %w", p.EpochID, err)
	}
	return published && err == nil, err
}

// LedgerLeaf returns the leaf of account in epoch epochID, or ENOTFOUND
// when the account has none there.
func (c *conn) LedgerLeaf(ctx context.Context, epochID int64, account [32]byte) (LedgerLeaf, error) {
	var r ledgerLeafRow
	err := getContext(ctx, c.r, &r, `SELECT `+ledgerLeafColumns+` FROM ledger_epoch_leaves
		WHERE epoch_id = ? AND account_bytes = ?`, epochID, account[:])
	if errors.Is(err, sql.ErrNoRows) {
		return LedgerLeaf{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "no claim for this account in epoch %d", epochID)
	} else if err != nil {
		return LedgerLeaf{}, fmt.Errorf("storage: get leaf: %w", err)
	}
	return r.leaf()
}

// LedgerLeaves returns every leaf of epoch epochID in build order (by
// AccountBytes).
func (c *conn) LedgerLeaves(ctx context.Context, epochID int64) ([]LedgerLeaf, error) {
	rows, err := c.r.QueryxContext(ctx, c.r.Rebind(`SELECT `+ledgerLeafColumns+` FROM ledger_epoch_leaves
		WHERE epoch_id = ? ORDER BY account_bytes`), epochID)
	if err != nil {
		return nil, fmt.Errorf("storage: list leaves: %w", err)
	}
	defer rows.Close()
	var out []LedgerLeaf
	for rows.Next() {
		var r ledgerLeafRow
		if err := rows.StructScan(&r); err != nil {
			return nil, fmt.Errorf("storage: list leaves: %w", err)
		}
		l, err := r.leaf()
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: list leaves: %w", err)
	}
	return out, nil
}

// LedgerNodes returns the nodes at indices of epoch epochID's tree,
// reading only the chunks that hold them.
func (c *conn) LedgerNodes(ctx context.Context, epochID int64, indices []int) ([][32]byte, error) {
	want := make([]int, 0, len(indices))
	for _, i := range indices {
		want = append(want, i/LedgerNodeChunk)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if len(want) == 0 {
		return nil, nil
	}
	args := []any{epochID}
	for _, k := range want {
		args = append(args, k)
	}
	var rows []struct {
		Chunk int    `db:"chunk"`
		Nodes []byte `db:"nodes"`
	}
	err := selectContext(ctx, c.r, &rows, `SELECT chunk, nodes FROM ledger_epoch_nodes WHERE epoch_id = ? AND chunk IN (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(want)), ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("storage: read nodes: %w", err)
	}
	byChunk := make(map[int][]byte, len(rows))
	for _, r := range rows {
		byChunk[r.Chunk] = r.Nodes
	}
	out := make([][32]byte, len(indices))
	for k, i := range indices {
		b, off := byChunk[i/LedgerNodeChunk], 32*(i%LedgerNodeChunk)
		if off+32 > len(b) {
			return nil, fmt.Errorf("storage: epoch %d has no node %d", epochID, i)
		}
		copy(out[k][:], b[off:off+32])
	}
	return out, nil
}

// LedgerTreeNodes returns every node of epoch epochID's tree, in order.
func (c *conn) LedgerTreeNodes(ctx context.Context, epochID int64) ([][32]byte, error) {
	rows, err := c.r.QueryxContext(ctx, c.r.Rebind(`SELECT nodes FROM ledger_epoch_nodes WHERE epoch_id = ? ORDER BY chunk`), epochID)
	if err != nil {
		return nil, fmt.Errorf("storage: read nodes: %w", err)
	}
	defer rows.Close()
	var out [][32]byte
	var b []byte
	for rows.Next() {
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("storage: read nodes: %w", err)
		}
		for off := 0; off+32 <= len(b); off += 32 {
			out = append(out, [32]byte(b[off:off+32]))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: read nodes: %w", err)
	}
	return out, nil
}

// LedgerClaim is one simulated claim: Paid units went to Recipient for
// Account's cumulative Amount as of epoch EpochID.
type LedgerClaim struct {
	ID           int64
	EpochID      int64
	Account      string
	AccountBytes [32]byte
	Recipient    string
	Amount       *big.Int
	Paid         *big.Int
	CreatedAt    time.Time
}

// RecordLedgerClaim records a simulated claim of leaf (already verified
// against its epoch's root): it pays the leaf's amount minus what the
// account has claimed so far and returns the claim. A leaf whose amount
// is not above the account's claimed total is ECONFLICT: it was claimed
// already.
func (c *conn) RecordLedgerClaim(ctx context.Context, leaf LedgerLeaf, now time.Time) (LedgerClaim, error) {
	cl := LedgerClaim{EpochID: leaf.EpochID, Account: leaf.Account, AccountBytes: leaf.AccountBytes,
		Recipient: leaf.Recipient, Amount: leaf.Amount, CreatedAt: now}
	err := c.inTx(ctx, func(tx *Tx) error {
		lock := ""
		if tx.dialect == DialectPostgres {
			lock = " FOR UPDATE"
			// The row must exist to be locked; a new account's row starts
			// at 0.
			if _, err := execContext(ctx, tx.w, `INSERT INTO ledger_claims (account_bytes, claimed, updated_at) VALUES (?, 0, ?)
				ON CONFLICT (account_bytes) DO NOTHING`, leaf.AccountBytes[:], now); err != nil {
				return fmt.Errorf("storage: claim: %w", err)
			}
		}
		var claimedText string
		err := getContext(ctx, tx.w, &claimedText, `SELECT CAST(claimed AS TEXT) FROM ledger_claims WHERE account_bytes = ?`+lock, leaf.AccountBytes[:])
		if errors.Is(err, sql.ErrNoRows) {
			claimedText = "0"
		} else if err != nil {
			return fmt.Errorf("storage: claim: %w", err)
		}
		claimed, err := parseUnits(claimedText)
		if err != nil {
			return err
		}
		if leaf.Amount.Cmp(claimed) <= 0 {
			return proofgrid.Errorf(proofgrid.ECONFLICT, "%s has claimed %s units already; this claim is for %s in total", leaf.Account, claimed, leaf.Amount)
		}
		cl.Paid = new(big.Int).Sub(leaf.Amount, claimed)
		if _, err := execContext(ctx, tx.w, `INSERT INTO ledger_claims (account_bytes, claimed, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (account_bytes) DO UPDATE SET claimed = excluded.claimed, updated_at = excluded.updated_at`,
			leaf.AccountBytes[:], leaf.Amount.String(), now); err != nil {
			return fmt.Errorf("storage: claim: %w", err)
		}
		err = getContext(ctx, tx.w, &cl.ID, `INSERT INTO ledger_claim_events (epoch_id, account, account_bytes, recipient,
			amount, paid, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, leaf.EpochID, leaf.Account, leaf.AccountBytes[:],
			leaf.Recipient, leaf.Amount.String(), cl.Paid.String(), now)
		if err != nil {
			return fmt.Errorf("storage: claim: %w", err)
		}
		return nil
	})
	return cl, err
}

// LedgerClaims returns the simulated claims made against epoch epochID,
// oldest first, at most limit (default 1000).
func (c *conn) LedgerClaims(ctx context.Context, epochID int64, limit int) ([]LedgerClaim, error) {
	if limit <= 0 {
		limit = 1000
	}
	var rows []struct {
		ID           int64  `db:"id"`
		EpochID      int64  `db:"epoch_id"`
		Account      string `db:"account"`
		AccountBytes []byte `db:"account_bytes"`
		Recipient    string `db:"recipient"`
		Amount       string `db:"amount"`
		Paid         string `db:"paid"`
		CreatedAt    dbTime `db:"created_at"`
	}
	err := selectContext(ctx, c.r, &rows, `SELECT id, epoch_id, account, account_bytes, recipient, CAST(amount AS TEXT) AS amount,
		CAST(paid AS TEXT) AS paid, created_at FROM ledger_claim_events WHERE epoch_id = ? ORDER BY id LIMIT ?`, epochID, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: list claims: %w", err)
	}
	out := make([]LedgerClaim, 0, len(rows))
	for _, r := range rows {
		cl := LedgerClaim{ID: r.ID, EpochID: r.EpochID, Account: r.Account, Recipient: r.Recipient, CreatedAt: r.CreatedAt.Time}
		copy(cl.AccountBytes[:], r.AccountBytes)
		var err error
		if cl.Amount, err = parseUnits(r.Amount); err != nil {
			return nil, err
		}
		if cl.Paid, err = parseUnits(r.Paid); err != nil {
			return nil, err
		}
		out = append(out, cl)
	}
	return out, nil
}
