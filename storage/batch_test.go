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
func observedWrite(t *testing.T, machineID string, n int) storage.Write {
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

// holdBatcher makes b's goroutine wait inside a transaction until release
// is closed, so that the writes queued meanwhile form the next batch.
func holdBatcher(ctx context.Context, b *storage.Batcher) (release chan struct{}) {
	entered, release := make(chan struct{}), make(chan struct{})
	go b.Do(ctx, storage.WriteFunc(func(context.Context, *storage.Tx) error {
		close(entered)
		<-release
		return nil
	}))
	<-entered
	return release
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
					if err := b.Do(ctx, observedWrite(t, ms[g%machines].ID, n)); err != nil {
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
		b := storage.NewBatcher(db, 0)
		defer b.Close()

		entered, release := make(chan struct{}), make(chan struct{})
		first := observedWrite(t, m.ID, 0)
		firstDone := make(chan error, 1)
		go func() {
			firstDone <- b.Do(ctx, storage.WriteFunc(func(ctx context.Context, tx *storage.Tx) error {
				if err := first.Apply(ctx, tx); err != nil {
					return err
				}
				close(entered)
				<-release
				return nil
			}))
		}()
		<-entered

		const k = 8
		var mu sync.Mutex
		txs := map[*storage.Tx]int{}
		done := make(chan error, k)
		for i := 1; i <= k; i++ {
			write := observedWrite(t, m.ID, i)
			go func() {
				done <- b.Do(ctx, storage.WriteFunc(func(ctx context.Context, tx *storage.Tx) error {
					mu.Lock()
					txs[tx]++
					mu.Unlock()
					return write.Apply(ctx, tx)
				}))
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
		b := storage.NewBatcher(db, 0)
		defer b.Close()

		release := holdBatcher(ctx, b)

		const good = 6
		type result struct {
			name string
			err  error
		}
		results := make(chan result, good+2)
		do := func(name string, write storage.Write) {
			go func() { results <- result{name, b.Do(ctx, write)} }()
		}
		for i := range good {
			do(fmt.Sprintf("good %d", i), observedWrite(t, m.ID, i))
		}
		do("unknown machine", observedWrite(t, "00000000-0000-4000-8000-000000000000", 99))
		do("failed statement", storage.WriteFunc(func(ctx context.Context, tx *storage.Tx) error {
			_, err := storage.SQLTx(tx).ExecContext(ctx, "INSERT INTO no_such_table VALUES (1)")
			return err
		}))
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
		b := storage.NewBatcher(db, 0)

		release := holdBatcher(ctx, b)
		const k = 5
		done := make(chan error, k)
		for i := range k {
			write := observedWrite(t, m.ID, i)
			go func() { done <- b.Do(ctx, write) }()
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
		wantCode(t, b.Do(ctx, observedWrite(t, m.ID, 100)), proofgrid.EUNAVAILABLE)
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
				if err := observedWrite(t, m.ID, i).Apply(ctx, tx); err != nil {
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

// TestPipelinedHeartbeatsStoreWhatOneByOneDoes writes the same heartbeats
// to two teams' machines: one team's one transaction each, the other's in
// batches (set-based statements, on PostgreSQL through the pipeline; a
// batch with a late heartbeat through the general path). Everything stored
// must match: machines, observations, deployments, judgements and history.
func TestPipelinedHeartbeatsStoreWhatOneByOneDoes(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		// A judge whose every output derives from its input.
		db.SetConditionFunc(func(_ context.Context, m storage.FleetMachine) storage.Judgement {
			j := storage.Judgement{Flags: len(m.Deployments), Basis: "b1:" + m.AgentVersion, DueAt: m.LastSeenAt.Add(time.Minute)}
			if m.Observation != nil && m.Observation.LastActiveAt != nil {
				idle := m.Observation.LastActiveAt.Add(time.Hour)
				j.IdleAt = &idle
				j.Flags += 100 * m.Observation.RunningJobs
			}
			off := m.LastSeenAt.Add(2 * time.Minute)
			j.OfflineAt = &off
			return j
		})
		// 40 machines: a round of the batch is cut into chunks of 32 and 8.
		const machines = 40
		teams := [2]storage.Team{mustTeam(t, db, "one-by-one"), mustTeam(t, db, "batched")}
		var ids [2][machines]string
		for k, team := range teams {
			for i := range machines {
				ids[k][i] = mustMachine(t, db, team.ID, fmt.Sprintf("%s-%d", team.Name, i), fmt.Sprintf("m-%d", i)).ID
			}
		}
		yes := true
		// heartbeat n of machine i: running jobs on even n, deployments
		// on machine 1, a late one (n = 2 after n = 3) on machine 2, no
		// agent version on n = 1.
		write := func(id string, i, n int) storage.Write {
			at := base.Add(time.Duration(n) * time.Second)
			hb := heartbeat(n, at)
			hb.Status.RunningJobs = (n + 1) % 2
			// No version (which keeps the stored one), later a new one.
			switch n {
			case 1:
				hb.AgentVersion = ""
			case 3:
				hb.AgentVersion = "v1.1.0"
			}
			o := storage.Observation{MachineID: id, SeenAt: at, CPUPercent: float64(n), RunningJobs: hb.Status.RunningJobs}
			if o.RunningJobs > 0 {
				o.LastActiveAt = &at
			}
			var deps []storage.AVSDeployment
			if i == 1 {
				// The first of each AVS and chain is kept.
				deps = []storage.AVSDeployment{
					{AVSID: "eigenda", Chain: "holesky", Version: fmt.Sprint(n), OperatorAddress: "0xab", Healthy: n%2 == 0, Registered: &yes},
					{AVSID: "eigenda", Chain: "holesky", Version: "dup", OperatorAddress: "0xab"},
					{AVSID: "eigenda", Chain: "mainnet", Version: fmt.Sprint(n + 10), OperatorAddress: "0xcd", Healthy: true},
				}
			}
			w, err := storage.ObservedHeartbeatWrite(id, at, hb, o, deps)
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		state := func(k int) []string {
			fleet, err := db.FleetMachines(ctx, storage.FleetFilter{TeamID: teams[k].ID})
			if err != nil {
				t.Fatal(err)
			}
			far := base.Add(24 * time.Hour)
			conds, err := db.DueConditions(ctx, teams[k].ID, "b1:v1.0.0", far)
			if err != nil {
				t.Fatal(err)
			}
			byID := map[string]storage.ConditionRow{}
			for _, c := range conds {
				byID[c.MachineID] = c
			}
			var out []string
			for i, fm := range fleet {
				o := *fm.Observation
				active := o.LastActiveAt
				o.MachineID, o.LastActiveAt = "", nil
				deps := fmt.Sprint(len(fm.Deployments))
				for _, d := range fm.Deployments {
					deps += fmt.Sprintf(" %s/%s v%s healthy=%v at %s", d.AVSID, d.Chain, d.Version, d.Healthy, d.ReportedAt.Format(time.RFC3339Nano))
				}
				c := byID[fm.ID]
				pts, err := db.MachineMetrics(ctx, fm.ID, time.Time{}, 0)
				if err != nil {
					t.Fatal(err)
				}
				var hist []float64
				for _, p := range pts {
					hist = append(hist, p.CPUPercent)
				}
				out = append(out, fmt.Sprintf("machine %d: seen %s version %s obs %+v active %s deps %s judged flags=%d due=%s off=%v idle=%v basis=%q history %v",
					i, fm.LastSeenAt.Format(time.RFC3339Nano), fm.AgentVersion, o, fmtTime(active), deps,
					c.Flags, c.DueAt.Format(time.RFC3339Nano), fmtTime(c.OfflineAt), fmtTime(c.IdleAt), c.Basis, hist))
			}
			return out
		}
		// Heartbeat numbers per round; machine 2 gets the late one (2
		// after 3), the others 4 instead.
		rounds := [][]int{{0, 1}, {3, 2}}
		number := func(i, n int) int {
			if i != 2 && n == 2 {
				return 4
			}
			return n
		}
		b := storage.NewBatcher(db, 0)
		defer b.Close()
		for r, round := range rounds {
			for i := range machines {
				for _, n := range round {
					w := write(ids[0][i], i, number(i, n))
					if err := db.InTx(ctx, func(tx *storage.Tx) error { return w.Apply(ctx, tx) }); err != nil {
						t.Fatal(err)
					}
				}
			}
			// The batched team's round is one batch, queued behind a
			// write that holds the batcher.
			release := holdBatcher(ctx, b)
			done := make(chan error, len(round)*machines)
			queued := 0
			for _, n := range round {
				for i := range machines {
					w := write(ids[1][i], i, number(i, n))
					go func() { done <- b.Do(ctx, w) }()
					queued++
					// Keep each machine's heartbeats in order.
					waitQueued(t, b, queued)
				}
			}
			close(release)
			for range queued {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}

			want, got := state(0), state(1)
			if len(want) != machines {
				t.Fatalf("%d machines, want %d", len(want), machines)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("round %d, batched:\n  %s\none by one:\n  %s", r, got[i], want[i])
				}
			}
		}
		if got := storage.PipelinedBatches(db); got != 1 {
			t.Errorf("%d batches set-based, want 1 (the second has a late heartbeat)", got)
		}
	})
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "nil"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Without a judge, a set-based batch marks its machines' conditions stale,
// once per heartbeat, as one-by-one writes do.
func TestPipelinedHeartbeatsMarkStaleWithoutJudge(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		team := mustTeam(t, db, "stale")
		ids := []string{mustMachine(t, db, team.ID, "a", "k-a").ID, mustMachine(t, db, team.ID, "b", "k-b").ID}
		versions := func() map[string]int64 {
			rows, err := db.DueConditions(ctx, team.ID, "some-basis", base)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]int64{}
			for _, r := range rows {
				if r.Basis != "" {
					t.Errorf("machine %s judged under %q, want stale", r.MachineID, r.Basis)
				}
				out[r.MachineID] = r.Version
			}
			return out
		}
		before := versions()
		b := storage.NewBatcher(db, 0)
		defer b.Close()
		release := holdBatcher(ctx, b)
		done := make(chan error, 4)
		queued := 0
		for n := range 2 { // two heartbeats of each machine: two rounds
			for _, id := range ids {
				w := observedWrite(t, id, n)
				go func() { done <- b.Do(ctx, w) }()
				queued++
				waitQueued(t, b, queued) // in this order
			}
		}
		close(release)
		for range 4 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if got := storage.PipelinedBatches(db); got != 1 {
			t.Fatalf("%d batches pipelined, want 1", got)
		}
		after := versions()
		for _, id := range ids {
			if after[id] != before[id]+2 {
				t.Errorf("machine %s: conditions version %d → %d, want two more (one per heartbeat)", id, before[id], after[id])
			}
		}
	})
}
