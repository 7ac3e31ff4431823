package storagetest

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/proofgrid/proofgrid/storage"
)

// URL returns the URL of a fresh, empty database of the given dialect for
// code that opens its own connection (a coordinator under test). SQLite:
// a file under tb.TempDir(); PostgreSQL: a database of its own, dropped
// when tb ends.
func URL(tb testing.TB, dialect string) string {
	tb.Helper()
	switch dialect {
	case storage.DialectSQLite:
		return "sqlite://" + filepath.Join(tb.TempDir(), "proofgrid.db")
	case storage.DialectPostgres:
	default:
		tb.Fatalf("storagetest: unknown dialect %q", dialect)
	}
	u := PostgresURL(tb)
	admin := adminDB(tb, u)
	name := "pg_test_" + randomHex(tb, 8)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		tb.Fatalf("storagetest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			tb.Errorf("storagetest: drop database %s: %v", name, err)
		}
	})
	du, err := url.Parse(u)
	if err != nil {
		tb.Fatalf("storagetest: %s: %v", EnvPostgresURL, err)
	}
	du.Path = "/" + name
	du.RawPath = ""
	return du.String()
}
