// Package storage keeps proofgrid's state in SQL: SQLite for a single
// coordinator (the default), PostgreSQL when several coordinators share one
// database. The same repository code serves both dialects; the schema is
// applied by embedded goose migrations, one directory per dialect.
//
// Repository methods return *proofgrid.Error with code ENOTFOUND for a
// missing row, ECONFLICT for a unique violation and EINVALID for input that
// cannot be stored; any other error is an infrastructure failure.
//
// Timestamps are stored in UTC with microsecond precision, the precision of
// PostgreSQL's timestamptz, so both dialects hand back the same value. On
// SQLite they are TEXT in the fixed-width form 2006-01-02T15:04:05.000000Z,
// which keeps text comparison and ORDER BY equal to time order.
package storage

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	// Drivers: pgx registers "pgx", modernc registers "sqlite".
	_ "github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"

	"github.com/proofgrid/proofgrid"
)

// Dialects a DB can speak. They are also the names of the migration
// directories.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Driver names as registered with database/sql.
const (
	sqliteDriver   = "sqlite"
	postgresDriver = "pgx"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

func init() {
	// sqlx knows "sqlite3" but not modernc's "sqlite"; without this, Rebind
	// would leave queries untouched by accident rather than by design.
	sqlx.BindDriver(sqliteDriver, sqlx.QUESTION)
}

// conn is what every repository method runs on: a DB's pools, or one
// transaction. DB and Tx embed it, so both have the same repository
// methods, and code that holds a Tx has no other handle to reach for.
type conn struct {
	// w takes writes, r plain reads. On a DB, w is the writer pool and r
	// the read-only pool; on a Tx both are the transaction, so its reads
	// see its own writes.
	w, r    sqlx.ExtContext
	dialect string
	now     func() time.Time
	db      *DB
	// tx is the transaction this conn runs in; nil on a DB.
	tx *Tx
}

// inTx runs fn in a new transaction on a DB, or in the current one on a
// Tx: transactions do not nest, so a method that needs several statements
// to be atomic gets that either way. Inside an enclosing transaction an
// error from fn leaves it to the enclosing caller to roll back, and a
// retry after a failed statement (CreateCluster's) cannot help on
// PostgreSQL, which aborts the whole transaction at the first error.
func (c *conn) inTx(ctx context.Context, fn func(tx *Tx) error) error {
	if c.tx != nil {
		return fn(c.tx)
	}
	return c.db.InTx(ctx, fn)
}

// Dialect returns DialectSQLite or DialectPostgres.
func (c *conn) Dialect() string { return c.dialect }

// DB is a connection to the proofgrid database, SQLite or PostgreSQL.
// It is safe for concurrent use.
type DB struct {
	conn
	// wdb takes every write and every transaction. On SQLite it is limited
	// to one connection; see openSQLite.
	wdb *sqlx.DB
	// ro serves plain reads. On SQLite it is a separate pool of read-only
	// connections, which WAL lets run beside the writer; on PostgreSQL it
	// is the same pool as wdb.
	ro *sqlx.DB
	// prepared holds SQLite's prepared statements of hot paths.
	prepared preparedStmts
	// conditions judges machines as heartbeats are written; see
	// SetConditionFunc.
	conditions atomic.Pointer[conditionHook]
	// metricsDeleteBatch, when set, replaces the metricsDeleteBatch
	// constant (tests).
	metricsDeleteBatch int
	// pipelined counts the heartbeat batches written by the set-based
	// path (pipelineHeartbeats, writeHeartbeats).
	pipelined atomic.Int64
	// checkpointer runs a SQLite file's WAL checkpoints; nil on
	// PostgreSQL and in-memory SQLite.
	checkpointer *walCheckpointer
}

// newDB returns a DB that writes through w and reads through r.
func newDB(w, r *sqlx.DB, dialect string) *DB {
	d := &DB{wdb: w, ro: r}
	d.conn = conn{w: w, r: r, dialect: dialect, now: time.Now, db: d}
	return d
}

// Tx is one transaction of a DB, begun by DB.InTx. It has the repository
// methods of a DB, run inside the transaction, and the methods that make
// sense only there (row locks). A Tx must not be used after fn returns.
type Tx struct {
	conn
	sqlTx *sqlx.Tx
	// metrics are history rows of heartbeats written in this transaction,
	// inserted together before it commits (flushMetrics).
	metrics [][]any
}

// Open connects to the database named by rawURL and checks that it answers.
// It does not migrate; call Migrate for that.
//
// PostgreSQL: postgres://... or postgresql://... (any pgx connection URL).
// SQLite: sqlite:///absolute/path.db, sqlite://relative/path.db, a file:
// URI, or a bare path; the parent directory is created. Query parameters of
// a SQLite URL are passed to the driver (for example
// _pragma=cache_size(-20000)); the defaults below apply to whatever they
// leave unset.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	switch {
	case rawURL == "":
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "database URL is empty")
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return openPostgres(ctx, rawURL)
	default:
		return openSQLite(ctx, rawURL)
	}
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	db, err := sqlx.Open(postgresDriver, rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage: open postgres: %w", err)
	}
	// A bound keeps a few coordinator replicas within PostgreSQL's default
	// max_connections (100); idle connections are kept so that bursts do
	// not pay for new TLS and auth handshakes.
	db.SetMaxOpenConns(25)
	db.SetMaxIdleConns(25)
	db.SetConnMaxIdleTime(5 * time.Minute)
	d := newDB(db, db, DialectPostgres)
	if err := d.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// openSQLite opens two pools on the same file.
//
// Writers: SQLite allows one writer at a time. With several write
// connections, a second writer waits in SQLite's busy handler, which polls
// with sleeps of up to 100 ms and gives up with SQLITE_BUSY after
// busy_timeout; a deferred transaction that reads and then writes can even
// fail at once, without waiting, when another connection wrote in between.
// Limiting the write pool to one connection moves that wait into
// database/sql's pool, which queues callers without polling, never times out
// on its own (only the caller's ctx does), and cannot produce SQLITE_BUSY
// from within this process. _txlock=immediate and busy_timeout stay as a
// guard against other processes on the same file (a `migrate` run, a
// sqlite3 shell).
//
// Readers: WAL lets readers run beside the writer, so plain reads use a
// second pool of query_only connections and do not queue behind writes.
// query_only makes a write sent to the wrong pool fail loudly in tests.
//
// The one-writer pool is why InTx hands fn a Tx with every repository
// method: a DB method that writes, called inside fn, would wait for the
// connection fn is holding.
func openSQLite(ctx context.Context, rawURL string) (*DB, error) {
	src, err := parseSQLiteURL(rawURL)
	if err != nil {
		return nil, err
	}
	if !src.memory {
		if dir := filepath.Dir(src.path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("storage: create database directory: %w", err)
			}
		}
	}

	wq := cloneValues(src.query)
	setDefaultPragma(wq, "busy_timeout", "10000")
	setDefaultPragma(wq, "journal_mode", "WAL")
	setDefaultPragma(wq, "foreign_keys", "1")
	setDefaultPragma(wq, "synchronous", "NORMAL")
	if wq.Get("_txlock") == "" {
		wq.Set("_txlock", "immediate")
	}
	// A file database's checkpoints run beside the writer (see
	// walCheckpointer), which keeps only a backstop of its own.
	var ckpt *walCheckpointer
	if !src.memory {
		setDefaultPragma(wq, "wal_autocheckpoint", walBackstopPages)
		cq := cloneValues(src.query)
		setDefaultPragma(cq, "busy_timeout", "10000")
		if ckpt, err = newWALCheckpointer(src.dsn(cq)); err != nil {
			return nil, err
		}
	}
	w, err := openSQLiteWriter(src.dsn(wq), ckpt)
	if err != nil {
		ckpt.close()
		return nil, fmt.Errorf("storage: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Open the writer first: its pragmas switch the file to WAL before any
	// reader connection exists.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		ckpt.close()
		return nil, fmt.Errorf("storage: open sqlite %s: %w", src.path, err)
	}

	d := newDB(w, w, DialectSQLite)
	if src.memory {
		// Each connection to :memory: is a database of its own, so the
		// single writer connection must serve reads too.
		return d, nil
	}
	d.checkpointer = ckpt

	rq := cloneValues(src.query)
	setDefaultPragma(rq, "busy_timeout", "10000")
	setDefaultPragma(rq, "foreign_keys", "1")
	setDefaultPragma(rq, "query_only", "1")
	r, err := sqlx.Open(sqliteDriver, src.dsn(rq))
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("storage: open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	// Keep readers open: a new SQLite connection re-reads the schema and
	// re-runs the pragmas.
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		d.Close()
		r.Close()
		return nil, fmt.Errorf("storage: open sqlite %s: %w", src.path, err)
	}
	d.ro, d.r = r, r
	return d, nil
}

// openSQLiteWriter opens the writer pool on dsn; with a checkpointer, each
// of its commits wakes it.
func openSQLiteWriter(dsn string, ckpt *walCheckpointer) (*sqlx.DB, error) {
	if ckpt == nil {
		return sqlx.Open(sqliteDriver, dsn)
	}
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	c := commitHooked{Connector: base, onCommit: ckpt.committed}
	return sqlx.NewDb(sql.OpenDB(c), sqliteDriver), nil
}

// sqliteSource is a parsed SQLite database URL.
type sqliteSource struct {
	path   string     // file system path, for creating its directory
	uri    bool       // a file: URI, which SQLite parses itself
	name   string     // what goes before '?' in the driver's DSN
	query  url.Values // caller's parameters
	memory bool
}

func (s sqliteSource) dsn(q url.Values) string {
	if len(q) == 0 {
		return s.name
	}
	return s.name + "?" + q.Encode()
}

func parseSQLiteURL(rawURL string) (sqliteSource, error) {
	var s sqliteSource
	rest := rawURL
	switch {
	case strings.HasPrefix(rest, "sqlite://"):
		rest = strings.TrimPrefix(rest, "sqlite://")
	case strings.HasPrefix(rest, "sqlite:"):
		rest = strings.TrimPrefix(rest, "sqlite:")
	case strings.HasPrefix(rest, "file:"):
		s.uri = true
	default:
		if i := strings.Index(rest, "://"); i > 0 && !strings.ContainsAny(rest[:i], `/\.`) {
			return s, proofgrid.Errorf(proofgrid.EINVALID, "unsupported database URL scheme %q", rest[:i])
		}
	}
	name, rawQuery, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return s, proofgrid.Errorf(proofgrid.EINVALID, "database URL query: %v", err)
	}
	s.name, s.query = name, q

	s.path = name
	if s.uri {
		p := strings.TrimPrefix(name, "file:")
		// file:///abs/path has an empty authority; file:rel.db has none.
		if strings.HasPrefix(p, "//") {
			p = strings.TrimPrefix(p, "//")
			if host, tail, ok := strings.Cut(p, "/"); ok && (host == "" || host == "localhost") {
				p = "/" + tail
			}
		}
		if p, err = url.PathUnescape(p); err != nil {
			return s, proofgrid.Errorf(proofgrid.EINVALID, "database URL path: %v", err)
		}
		s.path = p
		s.memory = p == ":memory:" || q.Get("mode") == "memory"
	} else {
		s.memory = name == ":memory:"
	}
	if s.path == "" {
		return s, proofgrid.Errorf(proofgrid.EINVALID, "database URL %q names no file", rawURL)
	}
	return s, nil
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// setDefaultPragma adds _pragma=name(value) unless the caller's URL already
// sets that pragma, so a URL can override any default.
func setDefaultPragma(q url.Values, name, value string) {
	for _, p := range q["_pragma"] {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == name || strings.HasPrefix(p, name+"(") || strings.HasPrefix(p, name+"=") || strings.HasPrefix(p, name+" ") {
			return
		}
	}
	q.Add("_pragma", name+"("+value+")")
}

// SQL returns the pool that takes writes, for a component that keeps its
// own tables in the same database (blob.Postgres).
func (d *DB) SQL() *sql.DB { return d.wdb.DB }

// Rebind rewrites the ? placeholders of query into the dialect's form.
func (d *DB) Rebind(query string) string { return d.wdb.Rebind(query) }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.wdb.PingContext(ctx); err != nil {
		return fmt.Errorf("storage: ping %s: %w", d.dialect, err)
	}
	if d.ro != d.wdb {
		if err := d.ro.PingContext(ctx); err != nil {
			return fmt.Errorf("storage: ping %s readers: %w", d.dialect, err)
		}
	}
	return nil
}

// Close closes every connection. Calls in flight may fail.
func (d *DB) Close() error {
	d.closePrepared()
	var err error
	if d.ro != d.wdb {
		err = d.ro.Close()
	}
	err = errors.Join(d.wdb.Close(), err)
	if d.checkpointer != nil {
		err = errors.Join(err, d.checkpointer.close())
	}
	return err
}

// Migrate applies the embedded migrations that the database lacks. It is
// safe to run from several processes at once: on PostgreSQL they serialise
// on an advisory lock, on SQLite on the database's write lock.
func (d *DB) Migrate(ctx context.Context) error {
	p, err := d.migrations()
	if err != nil {
		return err
	}
	// p.Close would close d's pool, which the provider does not own.
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("storage: migrate %s: %w", d.dialect, err)
	}
	return nil
}

// migrations returns the goose provider of d's embedded migrations.
func (d *DB) migrations() (*goose.Provider, error) {
	dir, err := fs.Sub(migrations, "migrations/"+d.dialect)
	if err != nil {
		return nil, fmt.Errorf("storage: migrations: %w", err)
	}
	opts := []goose.ProviderOption{
		// Go migrations registered globally by any other package must not
		// leak into this schema.
		goose.WithDisableGlobalRegistry(true),
		// Versions are numbered by range (00001 foundation, 001xx fleet,
		// ...), so a change to an early range lands below versions a
		// database already has; it is applied all the same.
		goose.WithAllowOutofOrder(true),
	}
	gd := goose.DialectSQLite3
	if d.dialect == DialectPostgres {
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("storage: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, d.wdb.DB, dir, opts...)
	if err != nil {
		return nil, fmt.Errorf("storage: migrations: %w", err)
	}
	return p, nil
}

// InTx runs fn in a transaction, committing when fn returns nil and rolling
// back when it returns an error or panics. tx has every repository method
// of d, run in the transaction (methods that open a transaction of their
// own on d join this one), so fn needs nothing but tx. Use only tx: on
// SQLite the transaction holds the only write connection, so a method of d
// that writes would wait for it until ctx ends.
func (d *DB) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	stx, err := d.wdb.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("storage: begin: %w", err)
	}
	tx := &Tx{sqlTx: stx}
	tx.conn = conn{w: stx, r: stx, dialect: d.dialect, now: d.now, db: d, tx: tx}
	defer func() {
		if p := recover(); p != nil {
			_ = stx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := tx.flushMetrics(ctx); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("storage: commit: %w", err)
	}
	return nil
}
