package storage

import (
	"context"
	"runtime"
	"sync"

	"github.com/proofgrid/proofgrid"
)

// DefaultBatchSize is how many writes a Batcher commits in one transaction
// at most when NewBatcher is given no size.
const DefaultBatchSize = 128

// smallBatch is the queue length under which the committing goroutine
// yields its processor once before taking a batch (see run). At 16
// concurrent heartbeat senders on SQLite a batch held 2.6 writes on
// average; the yield raised heartbeats/s in each of 13 alternating runs,
// by 4 - 21 % (docs/benchmarks.md).
const smallBatch = 4

// Batcher commits concurrent small writes together (group commit): each
// caller hands Do one Write, run inside a transaction, and one goroutine
// commits every write waiting at that moment in one transaction. A batch
// made only of heartbeats (HeartbeatWrite) is written with set-based
// statements, a few per batch: on PostgreSQL pipelined, two round trips
// for the whole batch (pipelineHeartbeats); on SQLite over VALUES lists
// (writeHeartbeats).
// A lone write is committed at once, without waiting for company; under
// load, the writes that arrive while one transaction commits form the
// next, and a small one first lets running handlers join it (smallBatch).
// That saves a BEGIN and COMMIT per write, and on SQLite, whose one writer
// connection serialises every transaction, the queueing for it.
//
// One transaction is in flight at a time, on both databases, so writes
// commit in the order they came and two batches never lock each other's
// rows. PostgreSQL once ran four side by side, sharded by machine, while a
// heartbeat cost a few round trips of its own; pipelined, one at a time
// forms bigger batches and did best (ratio of heartbeats to /health
// 0.094-0.105 with one, 0.096-0.097 with two, 0.081-0.089 with four, in
// alternating runs of BenchmarkHeartbeats).
//
// Do returns only after the transaction holding its write committed (or
// failed), so an acknowledgement built on a nil error is durable. When a
// batch fails, it is rolled back and each of its writes is retried in a
// transaction of its own, so one bad write fails only its own caller.
// A write may therefore run twice (once in the failed batch, which is
// rolled back): it must not have effects outside the transaction.
//
// The goroutine exists only while writes are waiting, so an idle Batcher
// holds nothing; Close refuses new writes and waits for those accepted.
type Batcher struct {
	db  *DB
	max int

	mu      sync.Mutex
	queue   []*batchItem
	running bool // a goroutine is committing batches
	closed  bool
	idle    *sync.Cond // signalled when the goroutine exits
}

type batchItem struct {
	write Write
	done  chan error
}

// Write is one write a Batcher commits: Apply runs it inside a
// transaction shared with other writes.
type Write interface {
	Apply(ctx context.Context, tx *Tx) error
}

// WriteFunc makes a function a Write.
type WriteFunc func(ctx context.Context, tx *Tx) error

// Apply calls f.
func (f WriteFunc) Apply(ctx context.Context, tx *Tx) error { return f(ctx, tx) }

// NewBatcher returns a Batcher committing at most size writes per
// transaction on db (DefaultBatchSize when size <= 0).
func NewBatcher(db *DB, size int) *Batcher {
	if size <= 0 {
		size = DefaultBatchSize
	}
	b := &Batcher{db: db, max: size}
	b.idle = sync.NewCond(&b.mu)
	return b
}

// Do runs write in a transaction shared with other concurrent writes and
// returns its error once that transaction has committed or failed. If ctx
// ends first Do returns ctx's error, and the write may still be committed.
// After Close it fails with EUNAVAILABLE.
func (b *Batcher) Do(ctx context.Context, write Write) error {
	it := &batchItem{write: write, done: make(chan error, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return proofgrid.Errorf(proofgrid.EUNAVAILABLE, "storage: shutting down")
	}
	b.queue = append(b.queue, it)
	if !b.running {
		b.running = true
		go b.run()
	}
	b.mu.Unlock()
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeHeartbeatBatch writes ws in one transaction with set-based
// statements: pipelined on PostgreSQL (pipelineHeartbeats), over VALUES
// lists on SQLite (writeHeartbeats). Any error leaves nothing stored.
func (d *DB) writeHeartbeatBatch(ctx context.Context, ws []*HeartbeatWrite) error {
	var err error
	if d.dialect == DialectPostgres {
		err = d.pipelineHeartbeats(ctx, ws)
	} else {
		judge := d.conditionFunc()
		err = d.InTx(ctx, func(tx *Tx) error { return tx.writeHeartbeats(ctx, ws, judge) })
	}
	if err == nil {
		d.pipelined.Add(1)
	}
	return err
}

// Close stops accepting writes and waits until every accepted one has
// been committed or has failed.
func (b *Batcher) Close() {
	b.mu.Lock()
	b.closed = true
	for b.running {
		b.idle.Wait()
	}
	b.mu.Unlock()
}

// run commits the queue's batches until none is waiting.
func (b *Batcher) run() {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.running = false
			b.idle.Broadcast()
			b.mu.Unlock()
			return
		}
		if len(b.queue) < smallBatch {
			// Handlers that are running now are often about to queue a
			// write: let them, once, so that it joins this transaction
			// instead of paying a BEGIN and COMMIT of its own in the next.
			// With nothing else to run, Gosched returns at once.
			b.mu.Unlock()
			runtime.Gosched()
			b.mu.Lock()
		}
		n := min(len(b.queue), b.max)
		batch := b.queue[:n:n]
		if n == len(b.queue) {
			b.queue = nil
		} else {
			b.queue = append([]*batchItem(nil), b.queue[n:]...)
		}
		b.mu.Unlock()
		b.commit(batch)
	}
}

// commit writes batch in one transaction. The transaction does not take a
// caller's context: a caller that gives up must not fail the others.
func (b *Batcher) commit(batch []*batchItem) {
	ctx := context.Background()
	// Between transactions, the statements the last one ran unprepared
	// get prepared (SQLite's writer is free now).
	b.db.prepareWanted(ctx)
	// A batch of heartbeats goes in set-based statements, a few per batch
	// rather than a few per heartbeat; what that path does not handle (a
	// late heartbeat, an unknown machine, any error) is rolled back and
	// falls through to the general path, which writes it as if the fast
	// path never ran.
	if ws, ok := heartbeatWrites(batch); ok && b.db.writeHeartbeatBatch(ctx, ws) == nil {
		for _, it := range batch {
			it.done <- nil
		}
		return
	}
	err := b.db.InTx(ctx, func(tx *Tx) error {
		for _, it := range batch {
			if err := it.write.Apply(ctx, tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(batch) == 1 {
		for _, it := range batch {
			it.done <- err
		}
		return
	}
	// PostgreSQL aborts a transaction at its first failed statement, so
	// the others cannot simply go on: each is retried alone, and gets its
	// own outcome.
	for _, it := range batch {
		it.done <- b.db.InTx(ctx, func(tx *Tx) error { return it.write.Apply(ctx, tx) })
	}
}
