package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// SQLite in WAL mode appends every commit to the -wal file; a checkpoint
// copies those pages back into the database file (and syncs it). By default
// the connection that commits runs it, inside the commit that crosses
// wal_autocheckpoint pages. proofgrid has one writer connection, through
// which every write transaction goes one after another (the heartbeat
// batches above all), so each checkpoint stalled all of them: on two
// cores, about a tenth of the heartbeat rate at 16 senders (docs/benchmarks.md).
//
// A walCheckpointer runs the checkpoints instead, from a connection of its
// own, in PASSIVE mode, which never blocks the writer or the readers. It
// wakes on the writer's commits (a commit hook), waits checkpointEvery so
// that one checkpoint copies a page changed by many commits once, and
// sleeps while nothing is written. The writer keeps its own automatic
// checkpoint at walBackstopPages, far above what the checkpointer lets the
// WAL reach: a passive checkpoint cannot restart the WAL file under
// writes that never pause, and a checkpoint the writer runs right after
// its commit can, so the file stays bounded either way.
type walCheckpointer struct {
	db      *sql.DB
	wake    chan struct{}
	stop    chan struct{}
	stopped sync.WaitGroup
}

const (
	// checkpointEvery is the least time between two checkpoints.
	checkpointEvery = 100 * time.Millisecond
	// walBackstopPages is the writer's own wal_autocheckpoint (pages of
	// 4 KiB): 64 MiB.
	walBackstopPages = "16384"
)

// newWALCheckpointer opens the checkpointer's connection to dsn and starts
// its goroutine.
func newWALCheckpointer(dsn string) (*walCheckpointer, error) {
	db, err := sql.Open(sqliteDriver, dsn)
	if err != nil {
		return nil, fmt.Errorf("storage: open sqlite checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	c := &walCheckpointer{db: db, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	c.stopped.Add(1)
	go c.run()
	return c, nil
}

// committed is the writer's commit hook: it must not block, and it runs
// before the commit completes (hence the wait in run).
func (c *walCheckpointer) committed() {
	select {
	case c.wake <- struct{}{}:
	default: // a checkpoint is pending already
	}
}

func (c *walCheckpointer) run() {
	defer c.stopped.Done()
	// A failure (a full disk, say) repeats on every wake: it is logged
	// when it starts and when it ends, not ten times a second.
	failing := false
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		// Commits that come during the wait fold into this checkpoint;
		// one that comes during the checkpoint wakes the next.
		select {
		case <-c.stop:
			return
		case <-time.After(checkpointEvery):
		}
		err := c.checkpoint(context.Background())
		switch {
		case err != nil && !failing:
			// The writer's backstop is walBackstopPages unless the URL
			// set wal_autocheckpoint, so the message names the setting.
			slog.Warn("storage: SQLite WAL checkpoints are failing; the -wal file grows until the writer's own "+
				"checkpoint runs (wal_autocheckpoint pages)", "err", err)
		case err == nil && failing:
			slog.Info("storage: SQLite WAL checkpoints work again")
		}
		failing = err != nil
	}
}

// checkpoint runs one passive checkpoint: it copies what it can and never
// waits for the writer or a reader.
func (c *walCheckpointer) checkpoint(ctx context.Context) error {
	_, err := c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
	return err
}

// close stops the goroutine and closes the connection; nil does nothing.
func (c *walCheckpointer) close() error {
	if c == nil {
		return nil
	}
	close(c.stop)
	c.stopped.Wait()
	return c.db.Close()
}

// commitHooked opens the connections of the driver's own Connector and
// sets a commit hook on each (the embedding modernc's NewConnector
// documents for connection-scoped setup).
type commitHooked struct {
	driver.Connector
	onCommit func()
}

// Connect implements driver.Connector.
func (c commitHooked) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	hooks, ok := conn.(sqlite.HookRegisterer)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("storage: sqlite connection %T takes no commit hook", conn)
	}
	hooks.RegisterCommitHook(func() int32 {
		c.onCommit()
		return 0 // let the commit go on
	})
	return conn, nil
}
