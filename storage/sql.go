package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteTimeLayout is how timestamps are written on SQLite: UTC, fixed
// width, so that text order is time order; microseconds, so that both
// dialects keep the same precision.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// The helpers below take a conn's w or r, a pool or a transaction, so the
// same repository code runs on a DB and on a Tx. They rebind the
// placeholders and convert time arguments for the handle's dialect.

func execContext(ctx context.Context, q sqlx.ExtContext, query string, args ...any) (sql.Result, error) {
	return q.ExecContext(ctx, q.Rebind(query), bindArgs(q.DriverName(), args)...)
}

func getContext(ctx context.Context, q sqlx.ExtContext, dest any, query string, args ...any) error {
	return sqlx.GetContext(ctx, q, dest, q.Rebind(query), bindArgs(q.DriverName(), args)...)
}

func selectContext(ctx context.Context, q sqlx.ExtContext, dest any, query string, args ...any) error {
	return sqlx.SelectContext(ctx, q, dest, q.Rebind(query), bindArgs(q.DriverName(), args)...)
}

// bindArgs returns args with every time.Time and *time.Time in the form the
// dialect stores. Other values pass through.
func bindArgs(driver string, args []any) []any {
	out := args
	copied := false
	for i, a := range args {
		var v any
		switch t := a.(type) {
		case time.Time:
			v = timeArg(driver, t)
		case *time.Time:
			if t == nil {
				v = nil
			} else {
				v = timeArg(driver, *t)
			}
		default:
			continue
		}
		if !copied {
			out = append([]any(nil), args...)
			copied = true
		}
		out[i] = v
	}
	return out
}

func timeArg(driver string, t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if driver == sqliteDriver {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// dbTime scans a timestamp column of either dialect: PostgreSQL hands back
// a time.Time, SQLite the text this package wrote. Valid is false for NULL.
type dbTime struct {
	Time  time.Time
	Valid bool
}

// Scan implements sql.Scanner.
func (t *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = dbTime{}
		return nil
	case time.Time:
		*t = dbTime{Time: v.UTC(), Valid: true}
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("storage: cannot scan %T into a timestamp", src)
	}
}

func (t *dbTime) parse(s string) error {
	// RFC 3339 accepts the fixed-width form this package writes; the other
	// layouts cover values written by SQLite itself (CURRENT_TIMESTAMP,
	// datetime()), e.g. by hand during operations.
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = dbTime{Time: v.UTC(), Valid: true}
			return nil
		}
	}
	return fmt.Errorf("storage: cannot parse timestamp %q", s)
}

// ptr returns nil for NULL and a pointer to the time otherwise.
func (t dbTime) ptr() *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY
// violation on either dialect.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isForeignKeyViolation reports whether err is a FOREIGN KEY violation on
// either dialect.
func isForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// rowsAffected returns the count of rows a statement changed.
func rowsAffected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("storage: rows affected: %w", err)
	}
	return n, nil
}

// exists reports whether query (a SELECT 1 ...) finds a row.
func exists(ctx context.Context, q sqlx.ExtContext, query string, args ...any) (bool, error) {
	var one int
	err := getContext(ctx, q, &one, query, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, nil
}
