package activity_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/activity"
	"github.com/proofgrid/proofgrid/internal/clocktest"
	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/rewards/rewardstest"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

type fixture struct {
	db      *storage.DB
	rewards *rewards.Service
	svc     *activity.Service
	clock   *clocktest.Clock
}

// The checkpoint length of the fixtures: ids are Unix time / 600.
const cpLen = rewardstest.CheckpointLength

func newFixture(t *testing.T, db *storage.DB) *fixture {
	t.Helper()
	f := &fixture{db: db, clock: clocktest.New(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))}
	var err error
	f.rewards, err = rewards.New(db, rewardstest.Config(f.clock.Now), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.svc, err = activity.New(db, f.rewards, activity.Config{Batch: 700, Now: f.clock.Now}); err != nil {
		t.Fatal(err)
	}
	return f
}

type ev = rewardstest.Job

// add records enrolled agents' jobs through the reward pipeline.
func (f *fixture) add(t *testing.T, evs ...ev) {
	t.Helper()
	rewardstest.Record(t, f.db, f.rewards, evs...)
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
		var users []activity.UserEventInput
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
			evs = append(evs, ev{Worker: fmt.Sprintf("w%02d", rng.IntN(30)), Circuit: "A", Status: statuses[rng.IntN(len(statuses))], End: at, Realm: int64(rng.IntN(3))})
			if i%2 == 0 {
				users = append(users, activity.UserEventInput{EventKey: fmt.Sprint(i), UserID: fmt.Sprint(rng.IntN(50)),
					PublicKey: "0xuser", TxType: txTypes[rng.IntN(3)], Timestamp: at})
			}
		}
		f.add(t, evs...)
		for i := 0; i < len(users); i += activity.MaxIngestEvents {
			if _, err := f.svc.IngestUserEvents(ctx, users[i:min(i+activity.MaxIngestEvents, len(users))]); err != nil {
				t.Fatal(err)
			}
		}
		f.clock.Set(start.Add(43 * 24 * time.Hour))
		if healthy, err := f.svc.RollupHealthy(ctx); err != nil || healthy {
			t.Fatalf("healthy before any refresh: %v %v", healthy, err)
		}
		if n, err := f.rewards.Convert(ctx); err != nil || n != len(evs) {
			t.Fatalf("converted %d of %d: %v", n, len(evs), err)
		}
		if caught, err := f.svc.Refresh(ctx, 0); err != nil || !caught {
			t.Fatalf("refresh: %v %v", caught, err)
		}
		if healthy, err := f.svc.RollupHealthy(ctx); err != nil || !healthy {
			t.Fatalf("not healthy after refresh: %v %v", healthy, err)
		}

		for _, b := range activity.EventBuckets {
			type counts struct{ total, completed, failed, workers int64 }
			want := map[time.Time]*counts{}
			seen := map[string]bool{}
			for _, e := range evs {
				bs, _ := activity.BucketStart(b, e.End)
				c := want[bs]
				if c == nil {
					c = &counts{}
					want[bs] = c
				}
				c.total++
				switch e.Status {
				case "Completed":
					c.completed++
				case "Failed":
					c.failed++
				}
				if k := bs.String() + e.Worker; !seen[k] {
					seen[k] = true
					c.workers++
				}
			}
			var got []storage.PsyEventRollup
			for off := 0; ; off += 1000 {
				page, err := f.svc.WorkerEventAggregations(ctx, activity.AggregationQuery{Bucket: b, Limit: 1000, Offset: off, Ascending: true})
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
				if i > 0 && !got[i-1].BucketStart.Before(g.BucketStart) {
					t.Fatalf("%s: buckets out of order", b)
				}
				w := want[g.BucketStart]
				if w == nil || g.TotalEvents != w.total || g.Completed != w.completed || g.Failed != w.failed || g.UniqueWorkers != w.workers {
					t.Fatalf("%s bucket %v: got %+v, want %+v", b, g.BucketStart, g, w)
				}
			}

			wantUsers := map[time.Time][4]int64{}
			for _, u := range users {
				bs, _ := activity.BucketStart(b, u.Timestamp)
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
			var gotUsers []storage.PsyUserEventRollup
			for off := 0; ; off += 1000 {
				page, err := f.svc.UserEventAggregations(ctx, activity.AggregationQuery{Bucket: b, Limit: 1000, Offset: off})
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
				w := wantUsers[g.BucketStart]
				if [4]int64{g.TotalEvents, g.RegisterUser, g.DeployContract, g.UserTx} != w {
					t.Fatalf("%s user bucket %v: got %+v, want %v", b, g.BucketStart, g, w)
				}
			}
		}

		// A time range keeps the bucket holding its start.
		from := time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)
		to := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
		days, err := f.svc.WorkerEventAggregations(ctx, activity.AggregationQuery{Bucket: activity.BucketMonth, Start: &from, End: &to, Limit: 10})
		if err != nil || len(days) != 1 || !days[0].BucketStart.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("month range: %+v %v", days, err)
		}

		// The hourly job rollup matches too.
		sum, err := f.svc.Jobs(ctx, 0, nil)
		if err != nil || sum.Total != int64(len(evs)) || !sum.Healthy {
			t.Fatalf("jobs: total %d healthy %v, %v", sum.Total, sum.Healthy, err)
		}
		counts, err := f.svc.JobCounts(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		wantCounts := map[string]int64{"Completed": 0, "Failed": 0, "Cancelled": 0, "InProgress": 0, "Pending": 0}
		for _, e := range evs {
			wantCounts[e.Status]++
		}
		if !reflect.DeepEqual(counts, wantCounts) {
			t.Fatalf("job counts %v, want %v", counts, wantCounts)
		}

		// New events make the rollups stale once they wait longer than
		// StaleAfter without a refresh.
		f.add(t, ev{Worker: "w01", Circuit: "A", Status: "Completed", End: f.clock.Now(), Realm: 0})
		f.clock.Set(f.clock.Now().Add(2 * time.Minute))
		if healthy, err := f.svc.RollupHealthy(ctx); err != nil || healthy {
			t.Fatalf("healthy with a stale rollup: %v %v", healthy, err)
		}
	})
}

// TestRewardStats reads a computed checkpoint back through the worker
// reward endpoints' methods and the leaderboard.
func TestRewardStats(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		cpStart := time.Date(2024, 1, 1, 0, 10, 0, 0, time.UTC)
		cp := cpStart.Unix() / 600
		in := cpStart.Add(3 * time.Minute)
		f.clock.Set(in)
		f.add(t,
			ev{Worker: "alice", Circuit: "A", Status: "Completed", End: in, Realm: 1}, ev{Worker: "alice", Circuit: "A", Status: "Completed", End: in, Realm: 1},
			ev{Worker: "bob", Circuit: "A", Status: "Completed", End: in, Realm: 1}, ev{Worker: "bob", Circuit: "B", Status: "Completed", End: in, Realm: 2}, ev{Worker: "bob", Circuit: "B", Status: "Completed", End: in, Realm: 2},
			ev{Worker: "carol", Circuit: "B", Status: "Completed", End: in, Realm: 2}, ev{Worker: "carol", Circuit: "B", Status: "Failed", End: in, Realm: 2}, ev{Worker: "dave", Circuit: "A", Status: "Failed", End: in, Realm: 1},
		)
		f.clock.Set(cpStart.Add(cpLen + 30*time.Second)) // the window ended, its grace has not
		if _, err := f.rewards.CalculateNow(ctx, cp); err != nil {
			t.Fatal(err)
		}
		// Rewards as TestCheckpointRewards computes them by hand: alice
		// 500, bob 250 + 167, carol 83.
		legacy, err := f.svc.RewardOf(ctx, "bob", cp)
		if err != nil || legacy.Rewards != 417 || legacy.Jobs != 3 || len(legacy.ByCircuit) != 2 {
			t.Fatalf("rewards of bob: %+v %v", legacy, err)
		}
		wr, err := f.svc.Rewards(ctx, "alice", activity.BucketHour, nil, nil, 10)
		if err != nil || wr.Totals.TotalRewards != 500 || len(wr.Buckets) != 1 || wr.Buckets[0].Checkpoints != 1 ||
			!wr.Buckets[0].Start.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) || wr.Buckets[0].AvgPerJob != 250 {
			t.Fatalf("worker rewards: %+v %v", wr, err)
		}
		rec, err := f.svc.RewardRecordOf(ctx, "carol")
		if err != nil || rec.Totals.TotalRewards != 83 || rec.Totals.TotalJobs != 1 || rec.AvgPerJob != 83 {
			t.Fatalf("reward record: %+v %v", rec, err)
		}
		board, err := f.svc.Leaderboard(ctx, 2)
		if err != nil || len(board) != 2 || board[0].Worker != "alice" || board[1].Worker != "bob" || board[0].Rank != 1 {
			t.Fatalf("leaderboard: %+v %v", board, err)
		}
		w, err := f.svc.Worker(ctx, "carol")
		if err != nil || w.Activity.Completed != 1 || w.Activity.Failed != 1 || w.Activity.SuccessRate != 0.5 || w.TotalRewards != 83 {
			t.Fatalf("worker: %+v %v", w, err)
		}
	})
}
