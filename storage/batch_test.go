package storage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// observedWrite is the batched write of heartbeat n of machineID.
func observedWrite(t *testing.T, machineID string, n int) func(context.Context, *storage.Tx) error {
	t.Helper()
	at := base.Add(time.Duration(n) * time.Second)
	hb := heartbeat(n, at)
	o := storage.Observation{MachineID: machineID, SeenAt: at, CPUPercent: float64(n), RunningJobs: n}
	write, err := storage.ObservedHeartbeatWrite(machineID, at, hb, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	return write
}

func historyLen(t *testing.T, db *storage.DB, machineID string) int {
	t.Helper()
	points, err := db.MachineMetrics(context.Background(), machineID, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(points)
}

// waitQueued waits until n writes wait for b's next transaction.
func waitQueued(t *testing.T, b *storage.Batcher, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.Queued() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", b.Queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBatcherStoresConcurrentHeartbeats(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		const machines, goroutines, each = 4, 16, 10
		var ms []proofgrid.Machine
		for i := range machines {
			ms = append(ms, mustMachine(t, db, team.ID, fmt.Sprintf("m-%d", i), fmt.Sprintf("gpu-%d", i)))
		}
		b := storage.NewBatcher(db, 0)
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					n := g*each + i
					if err := b.Do(ctx, ms[g%machines].ID, observedWrite(t, ms[g%machines].ID, n)); err != nil {
						t.Errorf("heartbeat %d: %v", n, err)
					}
				}
			})
		}
		wg.Wait()
		b.Close()
		for _, m := range ms {
			if got, want := historyLen(t, db, m.ID), goroutines/machines*each; got != want {
				t.Errorf("machine %s: %d history rows, want %d", m.ID, got, want)
			}
		}
		fleet, err := db.FleetMachines(ctx, storage.FleetFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, fm := range fleet {
			if fm.Observation == nil {
				t.Errorf("machine %s has no observation", fm.ID)
			}
		}
	})
}

// TestBatcherOneTransactionAckAfterCommit holds a batch open inside its
// transaction: its callers are not answered and its rows are not visible
// until it commits, and the writes queued meanwhile share the next
// transaction.
func TestBatcherOneTransactionAckAfterCommit(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		m := mustMachine(t, db, team.ID, "m-1", "gpu-1")
		b := storage.NewSerialBatcher(db)
		defer b.Close()

		entered, release := make(chan struct{}), make(chan struct{})
		first := observedWrite(t, m.ID, 0)
		firstDone := make(chan error, 1)
		go func() {
			firstDone <- b.Do(ctx, m.ID, func(ctx context.Context, tx *storage.Tx) error {
				if err := first(ctx, tx); err != nil {
					return err
				}
				close(entered)
				<-release
				return nil
			})
		}()
		<-entered

		const k = 8
		var mu sync.Mutex
		txs := map[*storage.Tx]int{}
		done := make(chan error, k)
		for i := 1; i <= k; i++ {
			write := observedWrite(t, m.ID, i)
			go func() {
				done <- b.Do(ctx, m.ID, func(ctx context.Context, tx *storage.Tx) error {
					mu.Lock()
					txs[tx]++
					mu.Unlock()
					return write(ctx, tx)
				})
			}()
		}
		waitQueued(t, b, k)

		// The first heartbeat is written but not committed.
		select {
		case err := <-firstDone:
			t.Fatalf("Do returned %v before its transaction committed", err)
		case <-time.After(50 * time.Millisecond):
		}
		if n := historyLen(t, db, m.ID); n != 0 {
			t.Fatalf("%d history rows visible before commit, want 0", n)
		}
		close(release)
		if err := <-firstDone; err != nil {
			t.Fatalf("first heartbeat: %v", err)
		}
		for range k {
			if err := <-done; err != nil {
				t.Errorf("queued heartbeat: %v", err)
			}
		}
		if n := historyLen(t, db, m.ID); n != k+1 {
			t.Errorf("%d history rows, want %d", n, k+1)
		}
		if len(txs) != 1 {
			t.Errorf("the %d queued heartbeats ran in %d transactions, want 1", k, len(txs))
		}
	})
}

// TestBatcherBadWriteFailsAlone queues good heartbeats with two bad
// writes in one batch: an unknown machine, and a failed statement (which
// aborts a PostgreSQL transaction). Only the bad ones fail.
func TestBatcherBadWriteFailsAlone(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		m := mustMachine(t, db, team.ID, "m-1", "gpu-1")
		b := storage.NewSerialBatcher(db)
		defer b.Close()

		entered, release := make(chan struct{}), make(chan struct{})
		go b.Do(ctx, "", func(context.Context, *storage.Tx) error {
			close(entered)
			<-release
			return nil
		})
		<-entered

		const good = 6
		type result struct {
			name string
			err  error
		}
		results := make(chan result, good+2)
		do := func(name string, write func(context.Context, *storage.Tx) error) {
			go func() { results <- result{name, b.Do(ctx, name, write)} }()
		}
		for i := range good {
			do(fmt.Sprintf("good %d", i), observedWrite(t, m.ID, i))
		}
		do("unknown machine", observedWrite(t, "00000000-0000-4000-8000-000000000000", 99))
		do("failed statement", func(ctx context.Context, tx *storage.Tx) error {
			_, err := storage.SQLTx(tx).ExecContext(ctx, "INSERT INTO no_such_table VALUES (1)")
			return err
		})
		waitQueued(t, b, good+2)
		close(release)

		for range good + 2 {
			r := <-results
			switch r.name {
			case "unknown machine":
				wantCode(t, r.err, proofgrid.ENOTFOUND)
			case "failed statement":
				if r.err == nil {
					t.Error("failed statement: Do returned nil")
				}
			default:
				if r.err != nil {
					t.Errorf("%s: %v", r.name, r.err)
				}
			}
		}
		if n := historyLen(t, db, m.ID); n != good {
			t.Errorf("%d history rows, want %d", n, good)
		}
	})
}

// TestBatcherCloseDrains closes a Batcher while writes wait: every
// accepted write is committed before Close returns, and later ones are
// refused.
func TestBatcherCloseDrains(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		m := mustMachine(t, db, team.ID, "m-1", "gpu-1")
		b := storage.NewSerialBatcher(db)

		entered, release := make(chan struct{}), make(chan struct{})
		go b.Do(ctx, "", func(context.Context, *storage.Tx) error {
			close(entered)
			<-release
			return nil
		})
		<-entered
		const k = 5
		done := make(chan error, k)
		for i := range k {
			write := observedWrite(t, m.ID, i)
			go func() { done <- b.Do(ctx, m.ID, write) }()
		}
		waitQueued(t, b, k)

		closed := make(chan struct{})
		go func() { b.Close(); close(closed) }()
		select {
		case <-closed:
			t.Fatal("Close returned while a batch was in its transaction")
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		<-closed
		if n := historyLen(t, db, m.ID); n != k {
			t.Errorf("%d history rows after Close, want %d", n, k)
		}
		for range k {
			if err := <-done; err != nil {
				t.Errorf("queued heartbeat: %v", err)
			}
		}
		wantCode(t, b.Do(ctx, m.ID, observedWrite(t, m.ID, 100)), proofgrid.EUNAVAILABLE)
	})
}

// TestHistoryRowsOfOneTransaction writes more heartbeats in one
// transaction than one history INSERT takes: every row is stored, with
// its own figures.
func TestHistoryRowsOfOneTransaction(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "alpha")
		m := mustMachine(t, db, team.ID, "m-1", "gpu-1")
		const n = 300
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			for i := range n {
				if err := observedWrite(t, m.ID, i)(ctx, tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		points, err := db.MachineMetrics(ctx, m.ID, time.Time{}, n+1)
		if err != nil {
			t.Fatal(err)
		}
		if len(points) != n {
			t.Fatalf("%d history rows, want %d", len(points), n)
		}
		for i, p := range points {
			// Newest first: heartbeat n-1-i.
			if want := float64(n - 1 - i); p.CPUPercent != want || p.Sample.CPU.UsagePercent != want {
				t.Fatalf("row %d: cpu %v, sample cpu %v; want %v", i, p.CPUPercent, p.Sample.CPU.UsagePercent, want)
			}
		}
	})
}
