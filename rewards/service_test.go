package rewards_test

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/internal/clocktest"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/rewards/rewardstest"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

type fixture struct {
	db    *storage.DB
	svc   *rewards.Service
	clock *clocktest.Clock
}

// The checkpoint length of the fixtures: ids are Unix time / 600.
const cpLen = rewardstest.CheckpointLength

// trustedKey is the one ingest key the fixtures' operator trusts; it is
// configured in another spelling than the stored one.
const trustedKey = "0xAA11"

func newFixture(t *testing.T, db *storage.DB) *fixture {
	t.Helper()
	f := &fixture{db: db, clock: clocktest.New(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))}
	var err error
	cfg := rewardstest.Config(f.clock.Now)
	cfg.TrustedIngestKeys = []string{trustedKey}
	f.svc, err = rewards.New(db, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type ev = rewardstest.Job

func (f *fixture) add(t *testing.T, evs ...ev) {
	t.Helper()
	rewardstest.Record(t, f.db, f.svc, evs...)
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
			ev{Worker: "alice", Circuit: "A", Status: "Completed", End: in, Realm: 1}, ev{Worker: "alice", Circuit: "A", Status: "Completed", End: in, Realm: 1},
			ev{Worker: "bob", Circuit: "A", Status: "Completed", End: in, Realm: 1}, ev{Worker: "bob", Circuit: "B", Status: "Completed", End: in, Realm: 2},
			ev{Worker: "bob", Circuit: "B", Status: "Completed", End: in, Realm: 2},
			ev{Worker: "carol", Circuit: "B", Status: "Completed", End: in, Realm: 2},
			ev{Worker: "carol", Circuit: "B", Status: "Failed", End: in, Realm: 2}, ev{Worker: "dave", Circuit: "A", Status: "Failed", End: in, Realm: 1},
			ev{Worker: "erin", Circuit: "B", Status: "Cancelled", End: in, Realm: 1},
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
		if err != nil || len(st.Pending) != 1 || st.LastProcessed != nil {
			t.Fatalf("processing before: %+v %v", st, err)
		}

		got, err := f.svc.Compute(ctx, cp)
		if err != nil {
			t.Fatal(err)
		}
		// By hand (see TestDistributeHandComputed): points alice/A 6,
		// bob/A 3, bob/B 2, carol/B 1 of 12; pool 1000 → 500, 250, 166 r8,
		// 83 r4; the unit left goes to bob/B.
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
		stats, err := f.svc.Checkpoint(ctx, cp)
		if err != nil || stats.TotalJobs != 9 || stats.CompletedJobs != 6 || stats.FailedJobs != 2 || stats.UniqueWorkers != 5 ||
			stats.TotalRewards != 1000 || stats.Status != storage.PsyCheckpointProcessed || stats.ProcessingMS == nil {
			t.Fatalf("stats: %+v %v", stats, err)
		}
		sum, err := f.svc.Summary(ctx, cp)
		if err != nil || !reflect.DeepEqual(sum.ByCircuit, map[string]int64{"A": 750, "B": 250}) {
			t.Fatalf("summary: %+v %v", sum, err)
		}
		st, err = f.svc.Processing(ctx)
		if err != nil || len(st.Pending) != 0 || st.LastProcessed == nil || *st.LastProcessed != cp {
			t.Fatalf("processing after: %+v %v", st, err)
		}

		// A late event that ended inside the closed checkpoint goes to the
		// current one; recomputing gives the very same rows.
		f.add(t, ev{Worker: "zed", Circuit: "A", Status: "Completed", End: in, Realm: 1})
		if n, err := f.svc.Convert(ctx); err != nil || n != 1 {
			t.Fatalf("convert late: %d %v", n, err)
		}
		late, err := f.svc.JobEvents(ctx, f.svc.Rule().Of(f.clock.Now()), 10, 0)
		if err != nil || len(late) != 1 || late[0].WorkerPublicKey != "zed" {
			t.Fatalf("late event: %+v %v", late, err)
		}
		again, err := f.svc.Compute(ctx, cp)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("recomputation differs:\n%+v\n%+v (%v)", again, got, err)
		}
		if st, err := f.svc.Checkpoint(ctx, cp); err != nil || st.TotalRewards != 1000 {
			t.Fatalf("stats after recomputation: %+v %v", st, err)
		}
		if _, err := f.svc.Compute(ctx, cp+1000); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			t.Fatalf("unknown checkpoint: %v", err)
		}
	})
}

// TestEligibility checks who may draw from a checkpoint's pool: a
// thousand events an untrusted registered key reported about itself draw
// nothing beside one job of an enrolled agent, which takes the whole pool;
// the coordinator's own verification and a team key's report draw
// nothing; a trusted ingest key draws. Every job still counts in the
// checkpoint's statistics.
func TestEligibility(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		cpStart := time.Date(2024, 1, 1, 0, 10, 0, 0, time.UTC)
		cp := cpStart.Unix() / 600
		in := cpStart.Add(time.Minute)
		f.clock.Set(in)
		var evs []ev
		for range 1000 {
			evs = append(evs, ev{Worker: "0xbad0", Circuit: "A", Status: "Completed", End: in, Source: rewards.SourceIngest})
		}
		evs = append(evs,
			ev{Worker: "agent", Circuit: "B", Status: "Completed", End: in},
			ev{Worker: rewards.CoordinatorWorker, Circuit: "B", Status: "Completed", End: in, Source: rewards.SourceCoordinator},
			ev{Worker: "team:x", Circuit: "A", Status: "Completed", End: in, Source: rewards.SourceTeam},
		)
		f.add(t, evs...)
		f.clock.Set(cpStart.Add(cpLen + time.Second))
		got, err := f.svc.CalculateNow(ctx, cp)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].WorkerPublicKey != "agent" || got[0].TotalRewards != 1000 || got[0].JobCount != 1 {
			t.Fatalf("distribution = %+v, want the agent alone with the whole pool", got)
		}
		stats, err := f.svc.Checkpoint(ctx, cp)
		if err != nil || stats.TotalJobs != 1003 || stats.CompletedJobs != 1003 || stats.UniqueWorkers != 4 {
			t.Fatalf("stats = %+v %v; every job still counts", stats, err)
		}
		listed, err := db.WorkerEvents(ctx, storage.WorkerEventFilter{WorkerPublicKey: "0xbad0", Limit: 2000})
		if err != nil || len(listed) != 1000 || listed[0].Eligible {
			t.Fatalf("untrusted events: %d listed, %v", len(listed), err)
		}

		// The trusted key (configured as 0xAA11) draws beside the agent.
		next := cpStart.Add(cpLen + time.Minute)
		f.clock.Set(next)
		f.add(t,
			ev{Worker: "0xaa11", Circuit: "A", Status: "Completed", End: next, Source: rewards.SourceIngest},
			ev{Worker: "agent", Circuit: "A", Status: "Completed", End: next},
		)
		f.clock.Set(next.Add(cpLen - 30*time.Second)) // the window ended, its grace has not
		got, err = f.svc.CalculateNow(ctx, cp+1)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].WorkerPublicKey != "0xaa11" || got[0].TotalRewards != 500 || got[1].TotalRewards != 500 {
			t.Fatalf("distribution with a trusted key = %+v", got)
		}
		for _, c := range []struct {
			src    rewards.Source
			worker string
			want   bool
		}{
			{rewards.SourceAgent, "anyone", true},
			{rewards.SourceIngest, "AA11", true},
			{rewards.SourceIngest, "0xaa12", false},
			{rewards.SourceCoordinator, rewards.CoordinatorWorker, false},
			{rewards.SourceTeam, "team:x", false},
			{"", "x", false},
		} {
			if got := f.svc.Eligible(c.src, c.worker); got != c.want {
				t.Errorf("Eligible(%q, %q) = %v, want %v", c.src, c.worker, got, c.want)
			}
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
			evs = append(evs, ev{Worker: fmt.Sprintf("w%03d", i%97), Circuit: []string{"A", "B", "C"}[i%3], Status: "Completed",
				End: cpStart.Add(time.Duration(i) * 100 * time.Millisecond)})
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

// TestRecordJobsBatch records jobs in one multi-row batch: a key repeated
// in the batch or stored before is not new, a replayed batch adds
// nothing, eligibility is decided per job, and an invalid job stores none.
func TestRecordJobsBatch(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		end := time.Date(2024, 1, 1, 0, 5, 0, 0, time.UTC)
		job := func(key, worker string, src rewards.Source) rewards.Job {
			return rewards.Job{Key: key, Source: src, Worker: worker, Topic: "prove", CircuitType: "A", JobID: key,
				Status: storage.WorkerEventCompleted, Start: end.Add(-time.Second), End: end, DurationMS: 1000}
		}
		record := func(jobs []rewards.Job) ([]bool, error) {
			var added []bool
			err := db.InTx(ctx, func(tx *storage.Tx) error {
				var err error
				added, err = f.svc.RecordJobs(ctx, tx, jobs)
				return err
			})
			return added, err
		}
		if _, err := record([]rewards.Job{job("old", "agent-1", rewards.SourceAgent)}); err != nil {
			t.Fatal(err)
		}
		// More rows than one INSERT statement holds.
		var jobs []rewards.Job
		for i := range 1200 {
			jobs = append(jobs, job(fmt.Sprintf("k%d", i), "agent-2", rewards.SourceAgent))
		}
		jobs = append(jobs, job("old", "agent-1", rewards.SourceAgent), job("k5", "agent-2", rewards.SourceAgent),
			job("trusted", "0xaa11", rewards.SourceIngest), job("untrusted", "0xbb22", rewards.SourceIngest))
		added, err := record(jobs)
		if err != nil || len(added) != len(jobs) {
			t.Fatalf("RecordJobs = %d flags, %v", len(added), err)
		}
		want := make([]bool, len(jobs))
		for i := range want {
			want[i] = true
		}
		want[1200], want[1201] = false, false // "old" stored before, "k5" earlier in the batch
		if !reflect.DeepEqual(added, want) {
			t.Fatalf("new flags: %v", added)
		}
		if added, err := record(jobs); err != nil || len(added) != len(jobs) || added[0] || added[len(jobs)-1] {
			t.Fatalf("replayed batch: %v", err)
		} else {
			for i, a := range added {
				if a {
					t.Fatalf("replayed job %d is new", i)
				}
			}
		}
		evs, err := db.WorkerEvents(ctx, storage.WorkerEventFilter{Limit: 5000})
		if err != nil || len(evs) != 1203 {
			t.Fatalf("%d worker events, %v", len(evs), err)
		}
		eligible := map[string]bool{}
		for _, e := range evs {
			eligible[e.Key] = e.Eligible
			if e.CheckpointID != end.Unix()/600 {
				t.Fatalf("event %s in checkpoint %d", e.Key, e.CheckpointID)
			}
		}
		if !eligible["k0"] || !eligible["trusted"] || eligible["untrusted"] {
			t.Fatalf("eligibility: %v %v %v", eligible["k0"], eligible["trusted"], eligible["untrusted"])
		}
		bad := job("bad", "agent-3", rewards.SourceAgent)
		bad.Status = "Done"
		if _, err := record([]rewards.Job{job("fine", "agent-3", rewards.SourceAgent), bad}); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Fatalf("invalid job: %v", err)
		}
		if evs, _ := db.WorkerEvents(ctx, storage.WorkerEventFilter{WorkerPublicKey: "agent-3"}); len(evs) != 0 {
			t.Fatalf("an invalid batch stored %d events", len(evs))
		}
	})
}

// TestConvertSkipsUnusedIDs converts worker events on both sides of a run
// of unused ids longer than a conversion batch (PostgreSQL burns an id
// for every row an INSERT ... ON CONFLICT skips): conversion goes on past
// it, converts every event once, and a second run finds nothing.
func TestConvertSkipsUnusedIDs(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		end := f.clock.Now().Add(-time.Minute)
		events := func(from, n int) []storage.WorkerEvent {
			var evs []storage.WorkerEvent
			for i := from; i < from+n; i++ {
				evs = append(evs, storage.WorkerEvent{Key: "k" + strconv.Itoa(i), WorkerPublicKey: "w", Topic: "prove",
					CircuitType: "A", JobID: "j" + strconv.Itoa(i), Status: storage.WorkerEventCompleted,
					StartTime: end.Add(-time.Second), EndTime: end, DurationMS: 1000, CreatedAt: end})
			}
			return evs
		}
		// Batches are 700 events: 12 repeats of the first 100 leave 1 200
		// unused ids on PostgreSQL.
		for range 13 {
			if _, err := db.InsertWorkerEvents(ctx, events(0, 100)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.InsertWorkerEvents(ctx, events(100, 100)); err != nil {
			t.Fatal(err)
		}
		ids, err := db.UnconvertedWorkerEvents(ctx, 0, 1<<40, 1000)
		if err != nil || len(ids) != 200 {
			t.Fatalf("%d worker events, %v", len(ids), err)
		}
		if gap := ids[100].ID - ids[99].ID; db.Dialect() == storage.DialectPostgres && gap <= 700 {
			t.Fatalf("ids %d and %d: no gap longer than a batch", ids[99].ID, ids[100].ID)
		}
		if n, err := f.svc.Convert(ctx); err != nil || n != 200 {
			t.Fatalf("convert = %d, %v", n, err)
		}
		if n, err := f.svc.Convert(ctx); err != nil || n != 0 {
			t.Fatalf("convert again = %d, %v", n, err)
		}
		got, err := f.svc.JobEvents(ctx, f.svc.Rule().Of(end), 1000, 0)
		if err != nil || len(got) != 200 || got[0].WorkerEventID != ids[0].ID || got[199].WorkerEventID != ids[199].ID {
			t.Fatalf("%d job events, %v", len(got), err)
		}
	})
}
