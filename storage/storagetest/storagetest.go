// Package storagetest gives tests a fresh, migrated storage.DB on each
// dialect, so that every repository is exercised on SQLite and PostgreSQL
// alike.
//
// SQLite databases are real files under the test's temporary directory.
// PostgreSQL databases are created per test (CREATE DATABASE) on the server
// named by PROOFGRID_TEST_POSTGRES_URL and dropped when the test ends, so
// tests may run in parallel. Without that variable the PostgreSQL variant
// is skipped, unless CI=true or PROOFGRID_REQUIRE_POSTGRES=1, where a
// missing server must fail the run rather than pass it silently.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	// The admin connection below uses pgx directly through database/sql.
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/proofgrid/proofgrid/storage"
)

// Environment variables read by this package.
const (
	// EnvPostgresURL names a PostgreSQL server (any database on it) where
	// the connecting role may create databases.
	EnvPostgresURL = "PROOFGRID_TEST_POSTGRES_URL"
	// EnvRequirePostgres set to 1 turns a missing EnvPostgresURL from a
	// skip into a failure, as does CI=true.
	EnvRequirePostgres = "PROOFGRID_REQUIRE_POSTGRES"
)

// Dialects lists the dialects that Run covers, in order.
var Dialects = []string{storage.DialectSQLite, storage.DialectPostgres}

// setupTimeout bounds creating and migrating one database; a server that
// hangs fails the test instead of the whole run's timeout.
const setupTimeout = time.Minute

// Run runs fn once per dialect, each as a parallel subtest named after the
// dialect with a database of its own.
func Run(t *testing.T, fn func(t *testing.T, db *storage.DB)) {
	t.Helper()
	for _, dialect := range Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, dialect))
		})
	}
}

// Open returns a fresh migrated database of the given dialect, closed (and
// on PostgreSQL dropped) when tb ends.
func Open(tb testing.TB, dialect string) *storage.DB {
	tb.Helper()
	switch dialect {
	case storage.DialectSQLite:
		return SQLite(tb)
	case storage.DialectPostgres:
		return Postgres(tb)
	default:
		tb.Fatalf("storagetest: unknown dialect %q", dialect)
		return nil
	}
}

// SQLite returns a fresh migrated SQLite database in a file under
// tb.TempDir().
func SQLite(tb testing.TB) *storage.DB {
	tb.Helper()
	return openMigrated(tb, URL(tb, storage.DialectSQLite))
}

// Postgres returns a fresh migrated PostgreSQL database of its own, dropped
// when tb ends. It skips tb when EnvPostgresURL is unset, or fails it when
// PostgreSQL is required (see the package documentation).
func Postgres(tb testing.TB) *storage.DB {
	tb.Helper()
	// URL registers the drop before openMigrated registers Close, so the
	// database is closed before it is dropped: cleanups run last in, first
	// out.
	return openMigrated(tb, URL(tb, storage.DialectPostgres))
}

// PostgresURL returns EnvPostgresURL, skipping tb when it is unset, or
// failing it when PostgreSQL is required.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvPostgresURL)
	if u != "" {
		return u
	}
	if os.Getenv("CI") == "true" || os.Getenv(EnvRequirePostgres) == "1" {
		tb.Fatalf("storagetest: %s is not set, and PostgreSQL is required here (CI=true or %s=1); run the tests through scripts/testenv.sh", EnvPostgresURL, EnvRequirePostgres)
	}
	tb.Skipf("storagetest: %s is not set; skipping PostgreSQL (run through scripts/testenv.sh to include it)", EnvPostgresURL)
	return ""
}

func openMigrated(tb testing.TB, u string) *storage.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	db, err := storage.Open(ctx, u)
	if err != nil {
		tb.Fatalf("storagetest: open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("storagetest: close: %v", err)
		}
	})
	if err := db.Migrate(ctx); err != nil {
		tb.Fatalf("storagetest: migrate: %v", err)
	}
	return db
}

var admins struct {
	sync.Mutex
	m map[string]*sql.DB
}

// adminDB returns a connection to the server at u for creating and dropping
// databases. It is shared by the tests of the process and closed with it:
// closing it in one test's cleanup would break tests still running.
func adminDB(tb testing.TB, u string) *sql.DB {
	tb.Helper()
	admins.Lock()
	defer admins.Unlock()
	if db, ok := admins.m[u]; ok {
		return db
	}
	db, err := sql.Open("pgx", u)
	if err != nil {
		tb.Fatalf("storagetest: %s: %v", EnvPostgresURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		tb.Fatalf("storagetest: connect to %s: %v", EnvPostgresURL, err)
	}
	if admins.m == nil {
		admins.m = make(map[string]*sql.DB)
	}
	admins.m[u] = db
	return db
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("storagetest: random: %v", err)
	}
	return hex.EncodeToString(b)
}
