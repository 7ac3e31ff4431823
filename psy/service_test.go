package psy_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/internal/clocktest"
	"github.com/proofgrid/proofgrid/psy"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

type fixture struct {
	db    *storage.DB
	svc   *psy.Service
	clock *clocktest.Clock
	seq   int
}

// The checkpoint length of the fixtures: ids are Unix time / 600.
const cpLen = 10 * time.Minute

func newFixture(t *testing.T, db *storage.DB) *fixture {
	t.Helper()
	f := &fixture{db: db, clock: clocktest.New(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))}
	var err error
	f.svc, err = psy.New(db, psy.Config{
		CheckpointLength: cpLen, CheckpointGrace: time.Minute, RewardPool: 1000,
		Weights: map[string]int64{"A": 3, "B": 1, "*": 1}, Batch: 700, Now: f.clock.Now,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type ev struct {
	worker, circuit, status string
	end                     time.Time
	realm                   int64
}

func (f *fixture) add(t *testing.T, evs ...ev) {
	t.Helper()
	err := f.db.InTx(context.Background(), func(tx *storage.Tx) error {
		for _, e := range evs {
			f.seq++
			if _, err := tx.InsertWorkerEvent(context.Background(), storage.WorkerEvent{
				Key: fmt.Sprintf("test:%d", f.seq), RealmID: e.realm, WorkerPublicKey: e.worker, Topic: "prove:block",
				CircuitType: e.circuit, JobID: fmt.Sprintf("job-%d", f.seq), Status: e.status,
				StartTime: e.end.Add(-1500 * time.Millisecond), EndTime: e.end, DurationMS: 1500,
				CheckpointID: 0, CreatedAt: f.clock.Now(),
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAggregationsAcrossBuckets records events spread over six weeks, so
// that they cross 2-minute, hour, day, ISO-week and month boundaries, and
// checks every bucket of both aggregation endpoints against counts made
// here, on both databases.
func TestAggregationsAcrossBuckets(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		rng := rand.New(rand.NewPCG(7, 9))
		start := time.Date(2024, 1, 28, 23, 0, 0, 0, time.UTC) // a Sunday, three days before February
		var evs []ev
		var users []psy.UserEventInput
		statuses := []string{"Completed", "Completed", "Completed", "Failed", "Cancelled"}
		txTypes := []string{storage.PsyTxUserTransaction, storage.PsyTxDeployContract, storage.PsyTxRegisterUser}
		for i := range 2500 {
			// Dense around the start (many per 2 min), then sparse.
			var at time.Time
			if i < 1000 {
				at = start.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
			} else {
				at = start.Add(time.Duration(rng.Int64N(int64(42 * 24 * time.Hour))))
			}
			at = at.Truncate(time.Microsecond)
			evs = append(evs, ev{fmt.Sprintf("w%02d", rng.IntN(30)), "A", statuses[rng.IntN(len(statuses))], at, int64(rng.IntN(3))})
			if i%2 == 0 {
				users = append(users, psy.UserEventInput{EventKey: fmt.Sprint(i), UserID: fmt.Sprint(rng.IntN(50)),
					PublicKey: "0xuser", TxType: txTypes[rng.IntN(3)], Timestamp: at})
			}
		}
		f.add(t, evs...)
		for i := 0; i < len(users); i += psy.MaxIngestEvents {
			if _, err := f.svc.IngestUserEvents(ctx, users[i:min(i+psy.MaxIngestEvents, len(users))]); err != nil {
				t.Fatal(err)
			}
		}
		f.clock.Set(start.Add(43 * 24 * time.Hour))
		if healthy, err := f.svc.RollupHealthy(ctx); err != nil || healthy {
			t.Fatalf("healthy before any refresh: %v %v", healthy, err)
		}
		if n, err := f.svc.Convert(ctx); err != nil || n != len(evs) {
			t.Fatalf("converted %d of %d: %v", n, len(evs), err)
		}
		if caught, err := f.svc.Refresh(ctx, 0); err != nil || !caught {
			t.Fatalf("refresh: %v %v", caught, err)
		}
		if healthy, err := f.svc.RollupHealthy(ctx); err != nil || !healthy {
			t.Fatalf("not healthy after refresh: %v %v", healthy, err)
		}

		for _, b := range psy.EventBuckets {
			type counts struct{ total, completed, failed, workers int64 }
			want := map[time.Time]*counts{}
			seen := map[string]bool{}
			for _, e := range evs {
				bs, _ := psy.BucketStart(b, e.end)
				c := want[bs]
				if c == nil {
					c = &counts{}
					want[bs] = c
				}
				c.total++
				switch e.status {
				case "Completed":
					c.completed++
				case "Failed":
					c.failed++
				}
				if k := bs.String() + e.worker; !seen[k] {
					seen[k] = true
					c.workers++
				}
			}
			var got []psy.EventAggregation
			for off := 0; ; off += 1000 {
				page, err := f.svc.WorkerEventAggregations(ctx, psy.AggregationQuery{Bucket: b, Limit: 1000, Offset: off, Ascending: true})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, page...)
				if len(page) < 1000 {
					break
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%s: %d buckets, want %d", b, len(got), len(want))
			}
			for i, g := range got {
				if i > 0 && !got[i-1].TimeBucket.Before(g.TimeBucket) {
					t.Fatalf("%s: buckets out of order", b)
				}
				w := want[g.TimeBucket]
				if w == nil || g.TotalEvents != w.total || g.CompletedEvents != w.completed || g.FailedEvents != w.failed || g.UniqueWorkers != w.workers {
					t.Fatalf("%s bucket %v: got %+v, want %+v", b, g.TimeBucket, g, w)
				}
			}

			wantUsers := map[time.Time][4]int64{}
			for _, u := range users {
				bs, _ := psy.BucketStart(b, u.Timestamp)
				c := wantUsers[bs]
				c[0]++
				switch u.TxType {
				case storage.PsyTxRegisterUser:
					c[1]++
				case storage.PsyTxDeployContract:
					c[2]++
				default:
					c[3]++
				}
				wantUsers[bs] = c
			}
			var gotUsers []psy.UserEventAggregation
			for off := 0; ; off += 1000 {
				page, err := f.svc.UserEventAggregations(ctx, psy.AggregationQuery{Bucket: b, Limit: 1000, Offset: off})
				if err != nil {
					t.Fatal(err)
				}
				gotUsers = append(gotUsers, page...)
				if len(page) < 1000 {
					break
				}
			}
			if len(gotUsers) != len(wantUsers) {
				t.Fatalf("%s: %d user buckets, want %d", b, len(gotUsers), len(wantUsers))
			}
			for _, g := range gotUsers {
				w := wantUsers[g.TimeBucket]
				if [4]int64{g.TotalEvents, g.RegisterUserCount, g.DeployContractCount, g.UserTxCount} != w {
					t.Fatalf("%s user bucket %v: got %+v, want %v", b, g.TimeBucket, g, w)
				}
			}
		}

		// A time range keeps the bucket holding its start.
		from := time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)
		to := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
		days, err := f.svc.WorkerEventAggregations(ctx, psy.AggregationQuery{Bucket: psy.BucketMonth, Start: &from, End: &to, Limit: 10})
		if err != nil || len(days) != 1 || !days[0].TimeBucket.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("month range: %+v %v", days, err)
		}

		// The hourly job rollup matches too.
		sum, err := f.svc.Jobs(ctx, 0, nil)
		if err != nil || sum.TotalJobs != int64(len(evs)) || !sum.MaterializedViewHealthy {
			t.Fatalf("jobs: total %d healthy %v, %v", sum.TotalJobs, sum.MaterializedViewHealthy, err)
		}
		counts, err := f.svc.JobCounts(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		wantCounts := map[string]int64{"Completed": 0, "Failed": 0, "Cancelled": 0, "InProgress": 0, "Pending": 0}
		for _, e := range evs {
			wantCounts[e.status]++
		}
		if !reflect.DeepEqual(counts, wantCounts) {
			t.Fatalf("job counts %v, want %v", counts, wantCounts)
		}

		// New events make the rollups stale once they wait longer than
		// StaleAfter without a refresh.
		f.add(t, ev{"w01", "A", "Completed", f.clock.Now(), 0})
		f.clock.Set(f.clock.Now().Add(2 * time.Minute))
		if healthy, err := f.svc.RollupHealthy(ctx); err != nil || healthy {
			t.Fatalf("healthy with a stale rollup: %v %v", healthy, err)
		}
	})
}

// TestCheckpointRewards computes a checkpoint's rewards and compares them
// with a table computed by hand, then checks recomputation, late events,
// the outbox task and the processing status.
func TestCheckpointRewards(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		cpStart := time.Date(2024, 1, 1, 0, 10, 0, 0, time.UTC)
		cp := cpStart.Unix() / 600
		in := cpStart.Add(3 * time.Minute)
		f.clock.Set(in)
		f.add(t,
			ev{"alice", "A", "Completed", in, 1}, ev{"alice", "A", "Completed", in, 1},
			ev{"bob", "A", "Completed", in, 1}, ev{"bob", "B", "Completed", in, 2}, ev{"bob", "B", "Completed", in, 2},
			ev{"carol", "B", "Completed", in, 2},
			ev{"carol", "B", "Failed", in, 2}, ev{"dave", "A", "Failed", in, 1}, ev{"erin", "B", "Cancelled", in, 1},
		)
		if _, err := f.svc.CalculateNow(ctx, cp); proofgrid.ErrorCode(err) != proofgrid.ECONFLICT {
			t.Fatalf("calculate an open window: %v", err)
		}
		// Within the grace period the checkpoint stays open.
		f.clock.Set(cpStart.Add(cpLen + 30*time.Second))
		res, err := f.svc.Sweep(ctx)
		if err != nil || len(res.Closed) != 0 || res.Converted != 9 {
			t.Fatalf("sweep in grace: %+v %v", res, err)
		}
		f.clock.Set(cpStart.Add(cpLen + 2*time.Minute))
		if res, err = f.svc.Sweep(ctx); err != nil || !reflect.DeepEqual(res.Closed, []int64{cp}) || !reflect.DeepEqual(res.Pending, []int64{cp}) {
			t.Fatalf("sweep: %+v %v", res, err)
		}
		msg, err := db.OutboxMessage(ctx, queue.RewardCheckpointID(cp))
		if err != nil || msg.TaskType != queue.TypeRewardCheckpoint || msg.Queue != queue.QueueReward {
			t.Fatalf("outbox: %+v %v", msg, err)
		}
		st, err := f.svc.Processing(ctx)
		if err != nil || st.PendingCount != 1 || st.LastProcessedCheckpoint != nil || st.Status != "1 checkpoint pending" {
			t.Fatalf("processing before: %+v %v", st, err)
		}

		got, err := f.svc.Compute(ctx, cp)
		if err != nil {
			t.Fatal(err)
		}
		// By hand (see rewards' own test): points alice/A 6, bob/A 3,
		// bob/B 2, carol/B 1 of 12; pool 1000 → 500, 250, 166 r8, 83 r4; the
		// unit left goes to bob/B.
		type row struct {
			worker, circuit string
			jobs, reward    int64
		}
		want := []row{{"alice", "A", 2, 500}, {"bob", "A", 1, 250}, {"bob", "B", 2, 167}, {"carol", "B", 1, 83}}
		if len(got) != len(want) {
			t.Fatalf("distribution: %+v", got)
		}
		for i, w := range want {
			g := got[i]
			if g.CheckpointID != cp || g.WorkerPublicKey != w.worker || g.CircuitType != w.circuit || g.JobCount != w.jobs || g.TotalRewards != w.reward {
				t.Fatalf("row %d: got %+v, want %+v", i, g, w)
			}
		}
		stats, err := f.svc.CheckpointStatsOf(ctx, cp)
		if err != nil || stats.TotalJobs != 9 || stats.CompletedJobs != 6 || stats.FailedJobs != 2 || stats.UniqueWorkers != 5 ||
			stats.TotalRewardsDistributed != 1000 || stats.Status != storage.PsyCheckpointProcessed || stats.ProcessingTime == nil {
			t.Fatalf("stats: %+v %v", stats, err)
		}
		sum, err := f.svc.Summary(ctx, cp)
		if err != nil || sum.ProcessingStatus != psy.ProcessingCompleted || !reflect.DeepEqual(sum.RewardDistribution, map[string]int64{"A": 750, "B": 250}) {
			t.Fatalf("summary: %+v %v", sum, err)
		}
		st, err = f.svc.Processing(ctx)
		if err != nil || st.PendingCount != 0 || st.LastProcessedCheckpoint == nil || *st.LastProcessedCheckpoint != cp {
			t.Fatalf("processing after: %+v %v", st, err)
		}

		// A late event that ended inside the closed checkpoint goes to the
		// current one; recomputing gives the very same rows.
		f.add(t, ev{"zed", "A", "Completed", in, 1})
		if n, err := f.svc.Convert(ctx); err != nil || n != 1 {
			t.Fatalf("convert late: %d %v", n, err)
		}
		late, err := db.PsyJobEvents(ctx, f.svc.Rule().Of(f.clock.Now()), 10, 0)
		if err != nil || len(late) != 1 || late[0].WorkerPublicKey != "zed" {
			t.Fatalf("late event: %+v %v", late, err)
		}
		again, err := f.svc.Compute(ctx, cp)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("recomputation differs:\n%+v\n%+v (%v)", again, got, err)
		}
		if st, err := f.svc.CheckpointStatsOf(ctx, cp); err != nil || st.TotalRewardsDistributed != 1000 {
			t.Fatalf("stats after recomputation: %+v %v", st, err)
		}
		legacy, err := f.svc.RewardOf(ctx, "bob", cp)
		if err != nil || legacy.TotalRewards != 417 || legacy.JobCount != 3 || len(legacy.RewardBreakdown) != 2 {
			t.Fatalf("legacy rewards: %+v %v", legacy, err)
		}
		wr, err := f.svc.WorkerRewards(ctx, "alice", "1h", nil, nil, 10)
		if err != nil || wr.TotalRewards != 500 || len(wr.Aggregations) != 1 || wr.Aggregations[0].CheckpointsParticipated != 1 ||
			!wr.Aggregations[0].TimeBucket.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("worker rewards: %+v %v", wr, err)
		}
		board, err := f.svc.Leaderboard(ctx, 2)
		if err != nil || len(board) != 2 || board[0].WorkerPublicKey != "alice" || board[1].WorkerPublicKey != "bob" || board[0].Rank != 1 {
			t.Fatalf("leaderboard: %+v %v", board, err)
		}
		if _, err := f.svc.Compute(ctx, cp+1000); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			t.Fatalf("unknown checkpoint: %v", err)
		}
	})
}

// TestConcurrentRecomputation runs two computations of one checkpoint at
// once, several times over, while the checkpoint holds thousands of
// events: they must leave exactly one distribution, the right one.
func TestConcurrentRecomputation(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		cpStart := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		var evs []ev
		for i := range 3000 {
			evs = append(evs, ev{fmt.Sprintf("w%03d", i%97), []string{"A", "B", "C"}[i%3], "Completed", cpStart.Add(time.Duration(i) * 100 * time.Millisecond), 0})
		}
		f.clock.Set(cpStart.Add(5 * time.Minute))
		f.add(t, evs...)
		if _, err := f.svc.Convert(ctx); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(cpStart.Add(time.Hour))
		first, err := f.svc.CalculateNow(ctx, cpStart.Unix()/600)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, d := range first {
			total += d.TotalRewards
		}
		if total != 1000 || len(first) != 97*3 {
			t.Fatalf("first computation: %d rows, %d units", len(first), total)
		}
		for round := range 5 {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = f.svc.Compute(ctx, cpStart.Unix()/600)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			got, err := db.PsyDistributions(ctx, cpStart.Unix()/600)
			if err != nil || !reflect.DeepEqual(got, first) {
				t.Fatalf("round %d: distribution changed (%d rows, %v)", round, len(got), err)
			}
		}
	})
}
