package storage_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// message is the queue message that msg stores.
func message(msg storage.OutboxMessage) queue.Message {
	return queue.Message{Type: msg.TaskType, Queue: msg.Queue, TaskID: msg.ID, Payload: msg.Payload}
}

// insertOutbox enqueues msg in a transaction of its own, at msg.CreatedAt
// by db's clock when that is set.
func insertOutbox(t *testing.T, db *storage.DB, msg storage.OutboxMessage) {
	t.Helper()
	if !msg.CreatedAt.IsZero() {
		storage.SetNow(db, func() time.Time { return msg.CreatedAt })
		defer storage.SetNow(db, time.Now)
	}
	err := db.InTx(context.Background(), func(tx *storage.Tx) error {
		return tx.Enqueue(context.Background(), message(msg))
	})
	if err != nil {
		t.Fatalf("Enqueue(%s): %v", msg.ID, err)
	}
}

func outboxIDs(ms []storage.OutboxMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestOutboxLifecycle(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		msg := storage.OutboxMessage{
			ID: "proof:verify:42", TaskType: "proof:verify", Queue: "verify",
			Payload: []byte(`{"proof_id":42}`), CreatedAt: base,
		}
		insertOutbox(t, db, msg)

		pending, err := db.PendingOutbox(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := storage.OutboxMessage{
			ID: msg.ID, TaskType: msg.TaskType, Queue: msg.Queue, Payload: msg.Payload,
			State: storage.OutboxPending, CreatedAt: stored(base),
		}
		if len(pending) != 1 || !reflect.DeepEqual(pending[0], want) {
			t.Fatalf("PendingOutbox = %+v\nwant [%+v]", pending, want)
		}

		// Failed enqueues are counted; the message stays pending.
		for _, e := range []string{"redis down", "redis still down"} {
			if err := db.RecordOutboxError(ctx, msg.ID, e); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.OutboxMessage(ctx, msg.ID)
		if err != nil || got.State != storage.OutboxPending || got.Attempts != 2 || got.LastError != "redis still down" {
			t.Fatalf("after errors: %+v, %v", got, err)
		}

		enqueuedAt := base.Add(time.Minute)
		if err := db.MarkOutboxEnqueued(ctx, msg.ID, enqueuedAt); err != nil {
			t.Fatal(err)
		}
		got, _ = db.OutboxMessage(ctx, msg.ID)
		if got.State != storage.OutboxEnqueued || got.EnqueuedAt == nil || !got.EnqueuedAt.Equal(stored(enqueuedAt)) {
			t.Fatalf("after enqueue: %+v", got)
		}
		if pending, _ := db.PendingOutbox(ctx, 10); len(pending) != 0 {
			t.Errorf("enqueued message still pending: %v", outboxIDs(pending))
		}

		// Unfinished means enqueued strictly before the cutoff.
		if ms, err := db.UnfinishedOutbox(ctx, enqueuedAt, 10); err != nil || len(ms) != 0 {
			t.Errorf("UnfinishedOutbox(at enqueue) = %v, %v; want none", outboxIDs(ms), err)
		}
		if ms, err := db.UnfinishedOutbox(ctx, enqueuedAt.Add(time.Second), 10); err != nil || !reflect.DeepEqual(outboxIDs(ms), []string{msg.ID}) {
			t.Errorf("UnfinishedOutbox(after enqueue) = %v, %v; want [%s]", outboxIDs(ms), err, msg.ID)
		}

		finishedAt := base.Add(2 * time.Minute)
		if err := db.FinishOutbox(ctx, msg.ID, storage.OutboxDone, finishedAt); err != nil {
			t.Fatal(err)
		}
		// A second delivery ending differently does not change the outcome.
		if err := db.FinishOutbox(ctx, msg.ID, storage.OutboxFailed, finishedAt.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		// Nor does a relay that marks it enqueued late.
		if err := db.MarkOutboxEnqueued(ctx, msg.ID, finishedAt.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, _ = db.OutboxMessage(ctx, msg.ID)
		if got.State != storage.OutboxDone || got.FinishedAt == nil || !got.FinishedAt.Equal(stored(finishedAt)) ||
			!got.EnqueuedAt.Equal(stored(enqueuedAt)) {
			t.Fatalf("after finish: %+v", got)
		}
		if ms, _ := db.UnfinishedOutbox(ctx, finishedAt.Add(time.Hour), 10); len(ms) != 0 {
			t.Errorf("finished message is unfinished: %v", outboxIDs(ms))
		}
		wantCode(t, db.RequeueOutbox(ctx, msg.ID), proofgrid.ECONFLICT)

		counts, err := db.OutboxCounts(ctx)
		want2 := map[string]int64{"pending": 0, "enqueued": 0, "done": 1, "failed": 0}
		if err != nil || !reflect.DeepEqual(counts, want2) {
			t.Errorf("OutboxCounts = %v, %v; want %v", counts, err, want2)
		}

		n, err := db.DeleteFinishedOutbox(ctx, finishedAt)
		if err != nil || n != 0 {
			t.Errorf("DeleteFinishedOutbox(at finish) = %d, %v; want 0", n, err)
		}
		n, err = db.DeleteFinishedOutbox(ctx, finishedAt.Add(time.Second))
		if err != nil || n != 1 {
			t.Errorf("DeleteFinishedOutbox(after finish) = %d, %v; want 1", n, err)
		}
		_, err = db.OutboxMessage(ctx, msg.ID)
		wantCode(t, err, proofgrid.ENOTFOUND)
	})
}

func TestOutboxRequeue(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		insertOutbox(t, db, storage.OutboxMessage{ID: "lost", TaskType: "t", Queue: "q", CreatedAt: base})
		insertOutbox(t, db, storage.OutboxMessage{ID: "failed", TaskType: "t", Queue: "q", CreatedAt: base.Add(time.Second)})
		for _, id := range []string{"lost", "failed"} {
			if err := db.MarkOutboxEnqueued(ctx, id, base); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.FinishOutbox(ctx, "failed", storage.OutboxFailed, base); err != nil {
			t.Fatal(err)
		}
		counts, _ := db.OutboxCounts(ctx)
		if counts[storage.OutboxEnqueued] != 1 || counts[storage.OutboxFailed] != 1 {
			t.Fatalf("counts = %v", counts)
		}

		for _, id := range []string{"lost", "failed"} {
			if err := db.RequeueOutbox(ctx, id); err != nil {
				t.Fatalf("RequeueOutbox(%s): %v", id, err)
			}
			got, _ := db.OutboxMessage(ctx, id)
			if got.State != storage.OutboxPending || got.EnqueuedAt != nil || got.FinishedAt != nil {
				t.Errorf("requeued %s = %+v", id, got)
			}
		}
		pending, err := db.PendingOutbox(ctx, 10)
		if err != nil || !reflect.DeepEqual(outboxIDs(pending), []string{"lost", "failed"}) {
			t.Errorf("PendingOutbox = %v, %v", outboxIDs(pending), err)
		}
	})
}

// TestEnqueueInTx checks that a message exists exactly when the
// transaction that wrote it committed, and that writing an id twice keeps
// the first message.
func TestEnqueueInTx(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		errRollback := errors.New("roll back")
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			if _, err := tx.CreateTeam(ctx, "with-task"); err != nil {
				return err
			}
			if err := tx.Enqueue(ctx, queue.Message{Type: "t", Queue: "q", TaskID: "rolled"}); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		_, err = db.OutboxMessage(ctx, "rolled")
		wantCode(t, err, proofgrid.ENOTFOUND)
		_, err = db.TeamByName(ctx, "with-task")
		wantCode(t, err, proofgrid.ENOTFOUND)

		first := queue.Message{Type: "t", Queue: "q", TaskID: "kept", Payload: []byte("first")}
		err = db.InTx(ctx, func(tx *storage.Tx) error {
			if err := tx.Enqueue(ctx, first); err != nil {
				return err
			}
			// Twice in one transaction is as harmless as in two.
			return tx.Enqueue(ctx, first)
		})
		if err != nil {
			t.Fatal(err)
		}
		second := first
		second.Payload, second.Queue = []byte("second"), "other"
		if err := db.Enqueue(ctx, second); err != nil {
			t.Fatal(err)
		}
		got, err := db.OutboxMessage(ctx, "kept")
		if err != nil || !bytes.Equal(got.Payload, []byte("first")) || got.Queue != "q" {
			t.Errorf("after duplicate enqueue: %+v, %v; want the first message", got, err)
		}
		counts, _ := db.OutboxCounts(ctx)
		if counts[storage.OutboxPending] != 1 {
			t.Errorf("pending = %d, want 1", counts[storage.OutboxPending])
		}

		// Outside a transaction, the DB enqueues by itself, stamped by its
		// clock.
		storage.SetNow(db, func() time.Time { return base })
		if err := db.Enqueue(ctx, queue.Message{Type: "t", Queue: "q", TaskID: "empty"}); err != nil {
			t.Fatal(err)
		}
		got, err = db.OutboxMessage(ctx, "empty")
		if err != nil || got.Payload == nil || len(got.Payload) != 0 || !got.CreatedAt.Equal(stored(base)) {
			t.Errorf("empty payload message = %+v, %v", got, err)
		}

		// A typed constructor's message round-trips.
		m := queue.ProofVerify(queue.ProofVerifyPayload{ProofID: 42})
		if err := db.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, err = db.OutboxMessage(ctx, "proof:verify:42")
		if err != nil || got.TaskType != queue.TypeProofVerify || got.Queue != queue.QueueVerify || !bytes.Equal(got.Payload, m.Payload) {
			t.Errorf("proof:verify message = %+v, %v; want %+v", got, err, m)
		}

		for _, bad := range []queue.Message{
			{Type: "t", Queue: "q"},
			{TaskID: "x", Queue: "q"},
			{TaskID: "x", Type: "t"},
		} {
			err := db.InTx(ctx, func(tx *storage.Tx) error { return tx.Enqueue(ctx, bad) })
			wantCode(t, err, proofgrid.EINVALID)
		}
	})
}

func TestOutboxOrderAndLimit(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for _, m := range []struct {
			id string
			at time.Duration
		}{{"c", 3}, {"a", 1}, {"b", 2}, {"d", 4}} {
			insertOutbox(t, db, storage.OutboxMessage{ID: m.id, TaskType: "t", Queue: "q", CreatedAt: base.Add(m.at * time.Second)})
		}
		got, err := db.PendingOutbox(ctx, 3)
		if err != nil || !reflect.DeepEqual(outboxIDs(got), []string{"a", "b", "c"}) {
			t.Errorf("PendingOutbox(3) = %v, %v; want [a b c]", outboxIDs(got), err)
		}
		got, _ = db.PendingOutbox(ctx, 0)
		if len(got) != 4 {
			t.Errorf("PendingOutbox(0) = %v; want all 4", outboxIDs(got))
		}

		for _, m := range []struct {
			id string
			at time.Duration
		}{{"d", 1}, {"b", 2}, {"a", 3}} {
			if err := db.MarkOutboxEnqueued(ctx, m.id, base.Add(m.at*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		got, err = db.UnfinishedOutbox(ctx, base.Add(time.Hour), 2)
		if err != nil || !reflect.DeepEqual(outboxIDs(got), []string{"d", "b"}) {
			t.Errorf("UnfinishedOutbox = %v, %v; want [d b]", outboxIDs(got), err)
		}
	})
}

func TestOutboxUnknownAndInvalid(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		wantCode(t, db.MarkOutboxEnqueued(ctx, "nope", base), proofgrid.ENOTFOUND)
		wantCode(t, db.RecordOutboxError(ctx, "nope", "x"), proofgrid.ENOTFOUND)
		wantCode(t, db.FinishOutbox(ctx, "nope", storage.OutboxDone, base), proofgrid.ENOTFOUND)
		wantCode(t, db.RequeueOutbox(ctx, "nope"), proofgrid.ENOTFOUND)
		_, err := db.OutboxMessage(ctx, "nope")
		wantCode(t, err, proofgrid.ENOTFOUND)

		insertOutbox(t, db, storage.OutboxMessage{ID: "m", TaskType: "t", Queue: "q"})
		wantCode(t, db.FinishOutbox(ctx, "m", storage.OutboxPending, base), proofgrid.EINVALID)
		wantCode(t, db.FinishOutbox(ctx, "m", "exploded", base), proofgrid.EINVALID)
	})
}
