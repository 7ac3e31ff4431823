package storage

import (
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
	n := 0
	for _, sh := range b.shards {
		n += len(sh.queue)
	}
	return n
}

// NewSerialBatcher returns a Batcher with one transaction in flight on
// either dialect, so that tests can tell which writes share one.
func NewSerialBatcher(db *DB) *Batcher {
	b := NewBatcher(db, 0)
	b.shards = b.shards[:1]
	return b
}

// PipelinedBatches counts the heartbeat batches db wrote through
// PostgreSQL's pipeline.
func PipelinedBatches(db *DB) int64 { return db.pipelined.Load() }
