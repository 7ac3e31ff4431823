package storage

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
)

// SetNow replaces d's clock, which stamps the rows a method writes without
// being given a time (outbox messages, tokens, teams).
func SetNow(d *DB, now func() time.Time) { d.now = now }

// SQLTx returns the transaction under t, for tests that check connection
// settings with raw SQL.
func SQLTx(t *Tx) *sqlx.Tx { return t.sqlTx }

// Queued reports how many writes wait for b's next transaction.
func (b *Batcher) Queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// PipelinedBatches counts the heartbeat batches db wrote with set-based
// statements (PostgreSQL's pipeline, SQLite's VALUES lists).
func PipelinedBatches(db *DB) int64 { return db.pipelined.Load() }

// MigrateDownTo rolls d's schema back to version, undoing the migrations
// above it, and MigrateUp applies them again: for tests of a migration's
// data changes.
func MigrateDownTo(ctx context.Context, d *DB, version int64) error {
	p, err := d.migrations()
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, version)
	return err
}

// SetMetricsDeleteBatch bounds the points of each DELETE of
// DeleteMetricsBefore on d.
func SetMetricsDeleteBatch(d *DB, n int) { d.metricsDeleteBatch = n }
