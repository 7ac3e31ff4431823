package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// TestOpenSQLiteURLs opens every accepted form of SQLite URL and checks that
// the database lands in the file it names, creating missing directories.
func TestOpenSQLiteURLs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		url  string
		file string // relative to dir
	}{
		{"sqlite://" + filepath.Join(dir, "abs", "a.db"), "abs/a.db"},
		{"sqlite://rel/b.db", "rel/b.db"},
		{"sqlite:rel2/c.db", "rel2/c.db"},
		{"file://" + filepath.Join(dir, "uri", "d.db") + "?cache=private", "uri/d.db"},
		{"file:urirel/e.db", "urirel/e.db"},
		{filepath.Join(dir, "bare", "f.db"), "bare/f.db"},
		{"bare2/g.db?_pragma=cache_size(-4000)", "bare2/g.db"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			ctx := context.Background()
			db, err := storage.Open(ctx, tt.url)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer db.Close()
			if got := db.Dialect(); got != storage.DialectSQLite {
				t.Errorf("Dialect() = %q, want %q", got, storage.DialectSQLite)
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if _, err := db.CreateTeam(ctx, "t"); err != nil {
				t.Fatalf("CreateTeam: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, tt.file)); err != nil {
				t.Errorf("database file: %v", err)
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	for _, u := range []string{"", "mysql://localhost/db", "sqlite://", "sqlite://?_pragma=foreign_keys(1)"} {
		_, err := storage.Open(context.Background(), u)
		wantCode(t, err, proofgrid.EINVALID)
	}
}

// TestSQLitePragmas checks the settings the package promises on the
// connection that writes.
func TestSQLitePragmas(t *testing.T) {
	t.Parallel()
	db := storagetest.SQLite(t)
	want := map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"busy_timeout": "10000",
		"synchronous":  "1", // NORMAL
	}
	err := db.InTx(context.Background(), func(tx *storage.Tx) error {
		for name, w := range want {
			var got string
			if err := storage.SQLTx(tx).Get(&got, "PRAGMA "+name); err != nil {
				return err
			}
			if strings.ToLower(got) != w {
				t.Errorf("PRAGMA %s = %q, want %q", name, got, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSQLiteURLOverridesPragma checks that a pragma in the URL wins over the
// package's default.
func TestSQLiteURLOverridesPragma(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := storage.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "x.db")+"?_pragma=busy_timeout(1234)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got int
	err = db.InTx(ctx, func(tx *storage.Tx) error { return storage.SQLTx(tx).Get(&got, "PRAGMA busy_timeout") })
	if err != nil || got != 1234 {
		t.Fatalf("busy_timeout = %d, %v; want 1234", got, err)
	}
}

func TestDialectAndRebind(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		want := map[string]string{
			storage.DialectSQLite:   "SELECT ? + ?",
			storage.DialectPostgres: "SELECT $1 + $2",
		}
		if !slices.Contains(storagetest.Dialects, db.Dialect()) || !strings.HasSuffix(t.Name(), "/"+db.Dialect()) {
			t.Fatalf("Dialect() = %q in subtest %s", db.Dialect(), t.Name())
		}
		if got := db.Rebind("SELECT ? + ?"); got != want[db.Dialect()] {
			t.Errorf("Rebind = %q, want %q", got, want[db.Dialect()])
		}
		if err := db.Ping(context.Background()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
}

func TestMigrateTwice(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		mustTeam(t, db, "before")
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if _, err := db.TeamByName(ctx, "before"); err != nil {
			t.Fatalf("data lost by second Migrate: %v", err)
		}
	})
}

func TestInTx(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		insert := func(tx *storage.Tx, name string) error {
			_, err := tx.CreateTeam(ctx, name)
			return err
		}

		errBoom := errors.New("boom")
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			if err := insert(tx, "rolled-back"); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("InTx = %v, want fn's error", err)
		}
		_, err = db.TeamByName(ctx, "rolled-back")
		wantCode(t, err, proofgrid.ENOTFOUND)

		func() {
			defer func() {
				if p := recover(); p != "panic in tx" {
					t.Errorf("recovered %v, want the panic to propagate", p)
				}
			}()
			_ = db.InTx(ctx, func(tx *storage.Tx) error {
				if err := insert(tx, "panicked"); err != nil {
					return err
				}
				panic("panic in tx")
			})
		}()
		_, err = db.TeamByName(ctx, "panicked")
		wantCode(t, err, proofgrid.ENOTFOUND)

		// The write connection must be free again after the panic.
		if err := db.InTx(ctx, func(tx *storage.Tx) error { return insert(tx, "committed") }); err != nil {
			t.Fatalf("InTx: %v", err)
		}
		if _, err := db.TeamByName(ctx, "committed"); err != nil {
			t.Fatalf("committed team: %v", err)
		}
	})
}

// TestSQLiteTwoHandles writes to one SQLite file through two DBs at once,
// as a coordinator and a migrate command or a second process would: the
// immediate transactions and busy timeout must make them take turns
// instead of failing with SQLITE_BUSY.
func TestSQLiteTwoHandles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	var dbs []*storage.DB
	for range 2 {
		db, err := storage.Open(ctx, "sqlite://"+path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, db)
	}
	team := mustTeam(t, dbs[0], "alpha")
	m := mustMachine(t, dbs[0], team.ID, "m-1", "gpu-1")

	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			db := dbs[g%2]
			for i := range 10 {
				at := base.Add(time.Duration(g*10+i) * time.Second)
				if err := db.RecordHeartbeat(ctx, m.ID, at, heartbeat(i, at)); err != nil {
					t.Errorf("handle %d: %v", g%2, err)
					return
				}
			}
		})
	}
	wg.Wait()
	ps, err := dbs[1].MachineMetrics(ctx, m.ID, time.Time{}, 0)
	if err != nil || len(ps) != 100 {
		t.Fatalf("MachineMetrics = %d points, %v; want 100", len(ps), err)
	}
}

// TestWALCheckpointedBesideTheWriter checks that a SQLite database's
// committed writes reach the database file itself shortly after they
// commit, without a checkpoint by the writer: its own automatic checkpoint
// waits for thousands of pages, far more than this test writes, so only
// the background checkpointer can have copied them.
func TestWALCheckpointedBesideTheWriter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "proofgrid.db")
	db, err := storage.Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	team, err := db.CreateTeam(ctx, "checkpointed")
	if err != nil {
		t.Fatal(err)
	}

	// The database file alone, copied without its -wal, holds only what
	// a checkpoint moved there.
	teamsInFile := func() []string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		copyPath := filepath.Join(t.TempDir(), "copy.db")
		if err := os.WriteFile(copyPath, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := sql.Open("sqlite", copyPath)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var names []string
		rows, err := c.QueryContext(ctx, `SELECT name FROM teams ORDER BY id`)
		if err != nil {
			return nil // torn copy or no schema yet: try again
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if rows.Scan(&n) == nil {
				names = append(names, n)
			}
		}
		return names
	}
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(teamsInFile(), team.Name) {
		if time.Now().After(deadline) {
			t.Fatalf("team %q was not checkpointed into %s within 5 s", team.Name, path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
