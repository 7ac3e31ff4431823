package psy_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/internal/clocktest"
	"github.com/proofgrid/proofgrid/psy"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// BenchmarkCheckpointRewards measures the reward computation of one
// checkpoint holding PROOFGRID_BENCH_EVENTS job events (default
// 1 000 000; 1 000 workers × 5 circuit types, 90 % completed) against the
// plain GROUP BY of the same rows in the same run, and reports the ratio.
// The computation is that GROUP BY (all statuses) plus the integer
// distribution, the upsert of the rows and the checkpoint's statistics,
// in one transaction. Set PROOFGRID_BENCH_DIALECT=postgres for
// PostgreSQL. Each run loads the rows once and computes at least three
// times; -benchtime 1x keeps the testing package from loading them twice.
//
//	scripts/testenv.sh go test -run '^$' -bench CheckpointRewards -benchtime 1x ./psy/
//	PROOFGRID_BENCH_DIALECT=postgres scripts/testenv.sh go test -run '^$' -bench CheckpointRewards -benchtime 1x ./psy/
func BenchmarkCheckpointRewards(b *testing.B) {
	dialect := storage.DialectSQLite
	if d := os.Getenv("PROOFGRID_BENCH_DIALECT"); d != "" {
		dialect = d
	}
	n := 1_000_000
	if v := os.Getenv("PROOFGRID_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("PROOFGRID_BENCH_EVENTS=%q", v)
		}
	}
	ctx := context.Background()
	db := storagetest.Open(b, dialect)
	cpStart := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cp := cpStart.Unix() / 600
	clk := clocktest.New(cpStart.Add(time.Hour))
	svc, err := psy.New(db, psy.Config{CheckpointLength: cpLen, Weights: map[string]int64{"c0": 5, "c1": 3, "c2": 2}, Now: clk.Now}, nil)
	if err != nil {
		b.Fatal(err)
	}

	circuits := []string{"c0", "c1", "c2", "c3", "c4"}
	evs := make([]storage.PsyJobEvent, n)
	for i := range evs {
		status := storage.WorkerEventCompleted
		if (i/7)%10 == 9 {
			status = storage.WorkerEventFailed
		}
		end := cpStart.Add(time.Duration(i%600_000) * time.Millisecond)
		evs[i] = storage.PsyJobEvent{
			WorkerEventID: int64(i + 1), CheckpointID: cp, RealmID: int64(i % 4), JobID: strconv.Itoa(i),
			WorkerPublicKey: fmt.Sprintf("0x%064x", i%1000), Topic: "prove", CircuitType: circuits[(i/1000)%len(circuits)],
			Status: status, DurationMS: int64(i % 5000), StartTime: end.Add(-time.Second), EndTime: end,
		}
	}
	start := time.Now()
	if err := db.BulkInsertPsyJobEvents(ctx, evs); err != nil {
		b.Fatal(err)
	}
	load := time.Since(start)
	b.Logf("%s: loaded %d job events in %v (%.0f rows/s)", dialect, n, load.Round(time.Millisecond), float64(n)/load.Seconds())
	// Fresh planner statistics, as after any bulk load, so that neither
	// query below runs on a plan made for an empty table.
	start = time.Now()
	if err := db.AnalyzePsy(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: ANALYZE took %v", dialect, time.Since(start).Round(time.Millisecond))
	evs = nil

	// The first computation closes the checkpoint; later ones recompute.
	if _, err := svc.CalculateNow(ctx, cp); err != nil {
		b.Fatal(err)
	}
	baseline := time.Duration(1<<63 - 1)
	cellCount := 0
	for range 3 {
		start := time.Now()
		cells, err := db.PsyCompletedWork(ctx, cp)
		if err != nil || len(cells) == 0 {
			b.Fatalf("GROUP BY: %d cells, %v", len(cells), err)
		}
		baseline = min(baseline, time.Since(start))
		cellCount = len(cells)
	}

	b.ResetTimer()
	var total time.Duration
	reps := max(b.N, 3)
	for range reps {
		start := time.Now()
		ds, err := svc.Compute(ctx, cp)
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		if len(ds) != cellCount {
			b.Fatalf("%d distribution rows", len(ds))
		}
	}
	b.StopTimer()
	per := total / time.Duration(reps)
	b.ReportMetric(float64(per.Milliseconds()), "ms/compute")
	b.ReportMetric(float64(baseline.Milliseconds()), "ms/groupby")
	b.ReportMetric(per.Seconds()/baseline.Seconds(), "x_groupby")
	b.Logf("%s: %d events: compute %v, plain GROUP BY %v, ratio %.2f", dialect, n, per.Round(time.Millisecond),
		baseline.Round(time.Millisecond), per.Seconds()/baseline.Seconds())
}
