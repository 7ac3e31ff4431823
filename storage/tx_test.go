package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// writeInTx writes a team, a machine with one heartbeat and an outbox
// message through tx, reading each back through tx. UpsertMachine and
// RecordHeartbeat need a transaction of their own on a DB; on a Tx they
// must run in tx, since on SQLite a second transaction would wait for the
// only write connection, which tx holds, until ctx ends.
func writeInTx(t *testing.T, ctx context.Context, tx *storage.Tx) {
	t.Helper()
	team, err := tx.CreateTeam(ctx, "alpha")
	if err != nil {
		t.Fatalf("CreateTeam: %v", err)
	}
	if got, err := tx.TeamByName(ctx, "alpha"); err != nil || got.ID != team.ID {
		t.Fatalf("TeamByName in tx = %+v, %v; want its own write %+v", got, err, team)
	}
	m, created, err := tx.UpsertMachine(ctx, newMachine(team.ID, "m-1", "gpu-1", "key-m-1"))
	if err != nil || !created {
		t.Fatalf("UpsertMachine = created %v, %v", created, err)
	}
	if err := tx.RecordHeartbeat(ctx, m.ID, base, heartbeat(7, base)); err != nil {
		t.Fatalf("RecordHeartbeat: %v", err)
	}
	if got, err := tx.MachineByID(ctx, m.ID); err != nil || got.LastSeenAt == nil || !got.LastSeenAt.Equal(stored(base)) {
		t.Fatalf("MachineByID in tx = %+v, %v; want last seen %v", got, err, stored(base))
	}
	if ps, err := tx.MachineMetrics(ctx, m.ID, time.Time{}, 0); err != nil || len(ps) != 1 {
		t.Fatalf("MachineMetrics in tx = %d points, %v; want 1", len(ps), err)
	}
	if err := tx.Enqueue(ctx, queue.ProofVerify(queue.ProofVerifyPayload{ProofID: 1})); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if _, err := tx.OutboxMessage(ctx, queue.ProofVerifyID(1)); err != nil {
		t.Fatalf("OutboxMessage in tx: %v", err)
	}
}

// TestTxMethodsRunInTheTransaction calls, inside InTx, Tx methods that
// write and read, including methods that open a transaction of their own
// on a DB. A deadline turns the SQLite deadlock this used to risk into a
// failure instead of a hang.
func TestTxMethodsRunInTheTransaction(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()

		err := db.InTx(ctx, func(tx *storage.Tx) error {
			writeInTx(t, ctx, tx)
			// Outside the transaction nothing of it is visible yet.
			if _, err := db.TeamByName(ctx, "alpha"); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
				t.Errorf("TeamByName outside the tx = %v; want ENOTFOUND before commit", err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("InTx: %v", err)
		}
		if _, err := db.TeamByName(ctx, "alpha"); err != nil {
			t.Fatalf("TeamByName after commit: %v", err)
		}
		if m, err := db.MachineByID(ctx, "m-1"); err != nil || m.LastSeenAt == nil {
			t.Fatalf("MachineByID after commit = %+v, %v", m, err)
		}
		if _, err := db.OutboxMessage(ctx, queue.ProofVerifyID(1)); err != nil {
			t.Fatalf("OutboxMessage after commit: %v", err)
		}
	})
}

// TestTxRollsBackNestedMethods checks that the writes of methods that
// would open their own transaction on a DB roll back with the Tx they were
// called on: they ran in it, not beside it.
func TestTxRollsBackNestedMethods(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()

		errRollback := errors.New("roll back")
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			writeInTx(t, ctx, tx)
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("InTx = %v, want fn's error", err)
		}
		_, err = db.TeamByName(ctx, "alpha")
		wantCode(t, err, proofgrid.ENOTFOUND)
		_, err = db.MachineByID(ctx, "m-1")
		wantCode(t, err, proofgrid.ENOTFOUND)
		_, err = db.OutboxMessage(ctx, queue.ProofVerifyID(1))
		wantCode(t, err, proofgrid.ENOTFOUND)
		if ps, err := db.MachineMetrics(ctx, "m-1", time.Time{}, 0); err != nil || len(ps) != 0 {
			t.Errorf("MachineMetrics after rollback = %d points, %v; want none", len(ps), err)
		}
	})
}
