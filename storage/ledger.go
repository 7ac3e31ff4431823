package storage

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/proofgrid/proofgrid"
)

// Ledger entry sources.
const (
	LedgerSourcePool  = "pool"
	LedgerSourcePsy   = "psy"
	LedgerSourceAdmin = "admin"
)

// LedgerEntry is one credit of the reward ledger: Amount base units to an
// account. Entries are never changed or deleted; an account's balance is
// the sum of its entries.
type LedgerEntry struct {
	ID int64 `json:"id"`
	// Key makes crediting idempotent: an entry whose key is stored already
	// is not written again.
	Key    string `json:"key"`
	Source string `json:"source"`
	// Account is the account's native text form (an SS58 hotkey, a 0x
	// public key or address); AccountBytes its bytes32 form, the leaf's.
	Account      string    `json:"account"`
	AccountBytes [32]byte  `json:"-"`
	Amount       *big.Int  `json:"amount_units"`
	Reason       string    `json:"reason"`
	CreatedAt    time.Time `json:"created_at"`
}

type ledgerEntryRow struct {
	ID           int64  `db:"id"`
	Key          string `db:"entry_key"`
	Source       string `db:"source"`
	Account      string `db:"account"`
	AccountBytes []byte `db:"account_bytes"`
	Amount       string `db:"amount"`
	Reason       string `db:"reason"`
	CreatedAt    dbTime `db:"created_at"`
}

func (r ledgerEntryRow) entry() (LedgerEntry, error) {
	e := LedgerEntry{ID: r.ID, Key: r.Key, Source: r.Source, Account: r.Account, Reason: r.Reason, CreatedAt: r.CreatedAt.Time}
	copy(e.AccountBytes[:], r.AccountBytes)
	var err error
	e.Amount, err = parseUnits(r.Amount)
	return e, err
}

const ledgerEntryColumns = `id, entry_key, source, account, account_bytes, CAST(amount AS TEXT) AS amount, reason, created_at`

// parseUnits reads an amount the database stored.
func parseUnits(s string) (*big.Int, error) {
	v, ok := new(big.Int).SetString(strings.TrimSpace(s), 10)
	if !ok {
		return nil, fmt.Errorf("storage: amount %q is not a decimal integer", s)
	}
	return v, nil
}

// validUnits reports whether a is a stored amount: 0 < a < 2^256.
func validUnits(a *big.Int) bool {
	return a != nil && a.Sign() > 0 && a.BitLen() <= 256
}

func checkLedgerEntry(e *LedgerEntry) error {
	switch {
	case strings.TrimSpace(e.Key) == "":
		return proofgrid.Errorf(proofgrid.EINVALID, "ledger entry has no key")
	case e.Source == "" || e.Account == "":
		return proofgrid.Errorf(proofgrid.EINVALID, "ledger entry %s: source and account are required", e.Key)
	case !validUnits(e.Amount):
		return proofgrid.Errorf(proofgrid.EINVALID, "ledger entry %s: amount must be above 0 and below 2^256", e.Key)
	case e.CreatedAt.IsZero():
		return proofgrid.Errorf(proofgrid.EINVALID, "ledger entry %s has no time", e.Key)
	}
	return nil
}

// ledgerInsertBatch bounds the rows of one multi-row INSERT (7 columns).
const ledgerInsertBatch = 500

// InsertLedgerEntries stores entries, normally on the Tx of the change that
// earned them, and returns how many were new: an entry whose Key is stored
// already changes nothing, so a source may credit the same work again.
func (c *conn) InsertLedgerEntries(ctx context.Context, entries []LedgerEntry) (int64, error) {
	for i := range entries {
		if err := checkLedgerEntry(&entries[i]); err != nil {
			return 0, err
		}
	}
	var n int64
	err := c.inTx(ctx, func(tx *Tx) error {
		for start := 0; start < len(entries); start += ledgerInsertBatch {
			batch := entries[start:min(start+ledgerInsertBatch, len(entries))]
			args := make([]any, 0, len(batch)*7)
			for _, e := range batch {
				args = append(args, e.Key, e.Source, e.Account, e.AccountBytes[:], e.Amount.String(), e.Reason, e.CreatedAt)
			}
			res, err := execContext(ctx, tx.w, `INSERT INTO ledger_entries (entry_key, source, account, account_bytes,
				amount, reason, created_at) VALUES `+valuesList(len(batch), 7)+` ON CONFLICT (entry_key) DO NOTHING`, args...)
			if err != nil {
				return fmt.Errorf("storage: insert ledger entries: %w", err)
			}
			k, err := rowsAffected(res)
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	return n, err
}

// LedgerEntries returns the entries of account, newest first, at most
// limit (default 1000).
func (c *conn) LedgerEntries(ctx context.Context, account [32]byte, limit int) ([]LedgerEntry, error) {
	if limit <= 0 {
		limit = 1000
	}
	var rows []ledgerEntryRow
	err := selectContext(ctx, c.r, &rows, `SELECT `+ledgerEntryColumns+` FROM ledger_entries
		WHERE account_bytes = ? ORDER BY created_at DESC, id DESC LIMIT ?`, account[:], limit)
	if err != nil {
		return nil, fmt.Errorf("storage: list ledger entries: %w", err)
	}
	out := make([]LedgerEntry, 0, len(rows))
	for _, r := range rows {
		e, err := r.entry()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// LedgerEntryCount returns the number of entries made up to cutoff,
// inclusive.
func (c *conn) LedgerEntryCount(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	if err := getContext(ctx, c.r, &n, `SELECT COUNT(*) FROM ledger_entries WHERE created_at <= ?`, cutoff); err != nil {
		return 0, fmt.Errorf("storage: count ledger entries: %w", err)
	}
	return n, nil
}

// LedgerBalance is the total of one account's entries.
type LedgerBalance struct {
	// Account is the smallest native form the account was credited under
	// (an account credited as SS58 and as 0x hex is one bytes32).
	Account      string
	AccountBytes [32]byte
	Amount       *big.Int
	Entries      int64
}

// LedgerBalances returns the balance of every account credited up to
// cutoff (inclusive), ordered by AccountBytes. Sums are exact at any size:
// PostgreSQL adds NUMERICs, SQLite's TEXT amounts are added in Go.
func (c *conn) LedgerBalances(ctx context.Context, cutoff time.Time) ([]LedgerBalance, error) {
	q := `SELECT account_bytes, account, amount, 1 FROM ledger_entries WHERE created_at <= ? ORDER BY account_bytes`
	if c.dialect == DialectPostgres {
		q = `SELECT account_bytes, MIN(account), CAST(SUM(amount) AS TEXT), COUNT(*) FROM ledger_entries
			WHERE created_at <= ? GROUP BY account_bytes ORDER BY account_bytes`
	}
	rows, err := c.r.QueryxContext(ctx, c.r.Rebind(q), bindArgs(c.r.DriverName(), []any{cutoff})...)
	if err != nil {
		return nil, fmt.Errorf("storage: ledger balances: %w", err)
	}
	defer rows.Close()
	var (
		out     []LedgerBalance
		key     []byte
		account string
		amount  string
		entries int64
		v       big.Int
	)
	for rows.Next() {
		if err := rows.Scan(&key, &account, &amount, &entries); err != nil {
			return nil, fmt.Errorf("storage: ledger balances: %w", err)
		}
		if _, ok := v.SetString(amount, 10); !ok {
			return nil, fmt.Errorf("storage: ledger amount %q is not a decimal integer", amount)
		}
		if n := len(out); n > 0 && string(out[n-1].AccountBytes[:]) == string(key) {
			b := &out[n-1]
			b.Amount.Add(b.Amount, &v)
			b.Entries += entries
			b.Account = min(b.Account, account)
			continue
		}
		b := LedgerBalance{Account: account, Amount: new(big.Int).Set(&v), Entries: entries}
		copy(b.AccountBytes[:], key)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: ledger balances: %w", err)
	}
	return out, nil
}

// BulkInsertLedgerEntries loads many entries at once, for benchmarks and
// imports: COPY on PostgreSQL, prepared multi-row INSERTs in one
// transaction on SQLite. It is a method of DB only, as COPY needs a
// connection of its own. Unlike InsertLedgerEntries a duplicate key fails
// the load.
func (d *DB) BulkInsertLedgerEntries(ctx context.Context, entries []LedgerEntry) error {
	for i := range entries {
		if err := checkLedgerEntry(&entries[i]); err != nil {
			return err
		}
	}
	if d.dialect == DialectPostgres {
		i := 0
		return d.copyFrom(ctx, "ledger_entries", []string{"entry_key", "source", "account", "account_bytes", "amount",
			"reason", "created_at"}, func() ([]any, error) {
			if i == len(entries) {
				return nil, nil
			}
			e := &entries[i]
			i++
			return []any{e.Key, e.Source, e.Account, e.AccountBytes[:], numeric(e.Amount), e.Reason, e.CreatedAt.UTC()}, nil
		})
	}
	return d.InTx(ctx, func(t *Tx) error {
		return t.insertBatches(ctx, `INSERT INTO ledger_entries (entry_key, source, account, account_bytes, amount, reason,
			created_at) VALUES `, 7, len(entries), func(i int, args []any) []any {
			e := &entries[i]
			return append(args, e.Key, e.Source, e.Account, e.AccountBytes[:], e.Amount.String(), e.Reason, e.CreatedAt)
		})
	})
}

// insertBatches runs head + VALUES for n rows in batches of
// ledgerInsertBatch, with one prepared statement for every full batch.
// row appends the arguments of row i.
func (t *Tx) insertBatches(ctx context.Context, head string, cols, n int, row func(i int, args []any) []any) error {
	tx := t.sqlTx
	full, err := tx.PrepareContext(ctx, tx.Rebind(head+valuesList(ledgerInsertBatch, cols)))
	if err != nil {
		return fmt.Errorf("storage: bulk insert: %w", err)
	}
	defer full.Close()
	args := make([]any, 0, ledgerInsertBatch*cols)
	for start := 0; start < n; start += ledgerInsertBatch {
		end := min(start+ledgerInsertBatch, n)
		args = args[:0]
		for i := start; i < end; i++ {
			args = row(i, args)
		}
		args = bindArgs(tx.DriverName(), args)
		if end-start == ledgerInsertBatch {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, tx.Rebind(head+valuesList(end-start, cols)), args...)
		}
		if err != nil {
			return fmt.Errorf("storage: bulk insert: %w", err)
		}
	}
	return nil
}

// copyFrom runs one COPY into table on a connection of its own
// (PostgreSQL only).
func (d *DB) copyFrom(ctx context.Context, table string, cols []string, next func() ([]any, error)) error {
	return d.withPgx(ctx, func(c *pgx.Conn) error {
		if _, err := c.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(next)); err != nil {
			return fmt.Errorf("storage: copy into %s: %w", table, err)
		}
		return nil
	})
}

// withPgx runs fn on one pgx connection of the pool (PostgreSQL only).
func (d *DB) withPgx(ctx context.Context, fn func(c *pgx.Conn) error) error {
	conn, err := d.wdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("storage: connection: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("storage: driver connection is %T, not pgx", dc)
		}
		return fn(c.Conn())
	})
}

// numeric returns v for pgx's binary NUMERIC encoding (COPY).
func numeric(v *big.Int) pgtype.Numeric {
	return pgtype.Numeric{Int: v, Exp: 0, Valid: true}
}
