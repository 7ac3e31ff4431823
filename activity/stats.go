package activity

import (
	"cmp"
	"context"
	"database/sql"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/registry"
	"github.com/proofgrid/proofgrid/storage"
)

// Window of the "24h" figures.
const day = 24 * time.Hour

// successRate is completed over completed plus failed jobs (cancelled and
// unfinished ones do not count), 0 when there are none.
func successRate(completed, failed int64) float64 {
	if completed+failed == 0 {
		return 0
	}
	return round(float64(completed) / float64(completed+failed))
}

// round keeps four decimals, so that floats print the same on both
// databases.
func round(f float64) float64 { return math.Round(f*10_000) / 10_000 }

// seconds turns an average in milliseconds into rounded seconds, 0 when
// there is none.
func seconds(ms sql.NullFloat64) float64 {
	if !ms.Valid {
		return 0
	}
	return round(ms.Float64 / 1000)
}

// Overview is the network's last 24 hours.
type Overview struct {
	At              time.Time
	WorkerEvents24h int64
	UserEvents24h   int64
	// BlockHeight is the highest closed checkpoint: checkpoints are the
	// Psy network's blocks.
	BlockHeight int64
}

// Overview returns the last 24 hours' counts.
func (s *Service) Overview(ctx context.Context) (Overview, error) {
	now := s.now()
	out := Overview{At: now}
	var err error
	if out.WorkerEvents24h, err = s.db.PsyWorkerEventsSince(ctx, now.Add(-day)); err != nil {
		return out, err
	}
	if out.UserEvents24h, err = s.db.PsyUserEventsSince(ctx, now.Add(-day)); err != nil {
		return out, err
	}
	out.BlockHeight, err = s.db.LatestClosedPsyCheckpoint(ctx)
	return out, err
}

// RealmsOverview is every realm's last 24 hours together.
type RealmsOverview struct {
	Total, Active, Jobs24h int64
	// AvgCompletion is in seconds, over completed jobs.
	AvgCompletion float64
}

// Realms returns realm statistics over the last 24 hours.
func (s *Service) Realms(ctx context.Context) (RealmsOverview, error) {
	var out RealmsOverview
	total, err := s.db.PsyRealmCount(ctx)
	if err != nil {
		return out, err
	}
	acts, err := s.db.PsyActivitySince(ctx, "realm", "", s.now().Add(-day))
	if err != nil {
		return out, err
	}
	var weighted float64
	var completed int64
	for _, a := range acts {
		out.Active++
		out.Jobs24h += a.Total
		if a.AvgDurationMS.Valid {
			weighted += a.AvgDurationMS.Float64 * float64(a.Completed)
			completed += a.Completed
		}
	}
	out.Total = max(total, out.Active)
	if completed > 0 {
		out.AvgCompletion = round(weighted / float64(completed) / 1000)
	}
	return out, nil
}

// Activity is the last 24 hours of one realm or one worker.
type Activity struct {
	Jobs, Completed, Failed, Workers int64
	// AvgCompletion is in seconds, over completed jobs.
	AvgCompletion float64
	SuccessRate   float64
}

func activityOf(acts []storage.PsyActivity) Activity {
	if len(acts) == 0 {
		return Activity{}
	}
	a := acts[0]
	return Activity{Jobs: a.Total, Completed: a.Completed, Failed: a.Failed, Workers: a.Workers,
		AvgCompletion: seconds(a.AvgDurationMS), SuccessRate: successRate(a.Completed, a.Failed)}
}

// Realm returns one realm's last 24 hours; a realm without jobs has
// zeros.
func (s *Service) Realm(ctx context.Context, realm int64) (Activity, error) {
	acts, err := s.db.PsyActivitySince(ctx, "realm", strconv.FormatInt(realm, 10), s.now().Add(-day))
	return activityOf(acts), err
}

// WorkerActivity is a worker's last 24 hours and all-time rewards.
type WorkerActivity struct {
	// Worker is the key in its stored form.
	Worker       string
	Activity     Activity
	TotalRewards int64
}

// workerKey returns the key a worker's events and rewards are stored
// under: that of the registered user key names, by its full key or its
// Ethereum address (as /user_info finds users), else key in its canonical
// form (a proving pipeline worker, or a key never registered).
func (s *Service) workerKey(ctx context.Context, key string) (string, error) {
	k := registry.CanonicalWorker(key)
	if _, err := registry.ParseKey(k); err != nil {
		return k, nil
	}
	u, err := s.db.PsyUserByKey(ctx, k)
	switch {
	case err == nil:
		return u.PublicKey, nil
	case proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND:
		return k, nil
	}
	return "", err
}

// Worker returns a worker's last 24 hours and all-time rewards.
func (s *Service) Worker(ctx context.Context, key string) (WorkerActivity, error) {
	w, err := s.workerKey(ctx, key)
	if err != nil {
		return WorkerActivity{}, err
	}
	out := WorkerActivity{Worker: w}
	acts, err := s.db.PsyActivitySince(ctx, "worker", out.Worker, s.now().Add(-day))
	if err != nil {
		return out, err
	}
	out.Activity = activityOf(acts)
	totals, err := s.db.PsyWorkerTotalsOf(ctx, out.Worker)
	out.TotalRewards = totals.TotalRewards
	return out, err
}

// JobSum is the jobs of one status and circuit type.
type JobSum struct {
	Status, CircuitType string
	Jobs                int64
	// AvgDuration is in seconds.
	AvgDuration float64
}

// JobSums is the job rollup of a time window, by status and circuit type.
type JobSums struct {
	Rows  []JobSum
	Total int64
	At    time.Time
	// Healthy tells whether the rollups are fresh (RollupHealthy).
	Healthy bool
}

// since returns the start of the window of the last hours hours, at the
// top of an hour: the job rollup counts whole UTC hours.
func (s *Service) since(hours int) *time.Time {
	if hours <= 0 {
		return nil
	}
	t, _ := BucketStart(BucketHour, s.now().Add(-time.Duration(hours)*time.Hour))
	return &t
}

// Jobs returns the job rollup of the last hours hours (all time when
// hours <= 0), optionally of one realm, by status and circuit type.
func (s *Service) Jobs(ctx context.Context, hours int, realm *int64) (JobSums, error) {
	rows, err := s.db.PsyJobSums(ctx, s.since(hours), realm)
	if err != nil {
		return JobSums{}, err
	}
	out := JobSums{Rows: summarise(rows), At: s.now()}
	for _, r := range out.Rows {
		out.Total += r.Jobs
	}
	out.Healthy, err = s.RollupHealthy(ctx)
	return out, err
}

// JobsOfRealm returns one realm's rows of Jobs.
func (s *Service) JobsOfRealm(ctx context.Context, hours int, realm int64) ([]JobSum, error) {
	rows, err := s.db.PsyJobSums(ctx, s.since(hours), &realm)
	if err != nil {
		return nil, err
	}
	return summarise(rows), nil
}

func summarise(rows []storage.PsyJobRollup) []JobSum {
	type key struct{ status, circuit string }
	sums := map[key]*storage.PsyJobRollup{}
	var keys []key
	for _, r := range rows {
		k := key{r.Status, r.CircuitType}
		if sums[k] == nil {
			sums[k] = &storage.PsyJobRollup{}
			keys = append(keys, k)
		}
		sums[k].JobCount += r.JobCount
		sums[k].DurationMSSum += r.DurationMSSum
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.status, b.status), cmp.Compare(a.circuit, b.circuit)) })
	out := make([]JobSum, 0, len(keys))
	for _, k := range keys {
		v := sums[k]
		out = append(out, JobSum{Status: k.status, CircuitType: k.circuit, Jobs: v.JobCount,
			AvgDuration: round(float64(v.DurationMSSum) / float64(v.JobCount) / 1000)})
	}
	return out
}

// RealmJobs is one realm's jobs in a time window.
type RealmJobs struct {
	RealmID, Total, Completed, Failed int64
	SuccessRate                       float64
}

// JobsByRealm returns the job rollup of the last hours hours by realm.
func (s *Service) JobsByRealm(ctx context.Context, hours int) ([]RealmJobs, error) {
	rows, err := s.db.PsyJobSums(ctx, s.since(hours), nil)
	if err != nil {
		return nil, err
	}
	out := []RealmJobs{}
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].RealmID != r.RealmID {
			out = append(out, RealmJobs{RealmID: r.RealmID})
		}
		cur := &out[len(out)-1]
		cur.Total += r.JobCount
		switch r.Status {
		case storage.WorkerEventCompleted:
			cur.Completed += r.JobCount
		case storage.WorkerEventFailed:
			cur.Failed += r.JobCount
		}
	}
	for i := range out {
		out[i].SuccessRate = successRate(out[i].Completed, out[i].Failed)
	}
	return out, nil
}

// JobCounts returns job counts by status from the rollup (all time when
// hours <= 0); every status is present.
func (s *Service) JobCounts(ctx context.Context, hours int) (map[string]int64, error) {
	rows, err := s.db.PsyJobSums(ctx, s.since(hours), nil)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, st := range []string{storage.WorkerEventCompleted, storage.WorkerEventFailed, storage.WorkerEventInProgress,
		storage.WorkerEventPending, storage.WorkerEventCancelled} {
		out[st] = 0
	}
	for _, r := range rows {
		out[r.Status] += r.JobCount
	}
	return out, nil
}

// CheckpointReward is a worker's rewards in one checkpoint.
type CheckpointReward struct {
	Worker       string
	CheckpointID int64
	Rewards      int64
	Jobs         int64
	// ByCircuit is the worker's distribution rows, by circuit type.
	ByCircuit []storage.PsyWorkerReward
}

// RewardOf returns a worker's rewards in one checkpoint (zeros when it
// earned none; ENOTFOUND for an unknown checkpoint).
func (s *Service) RewardOf(ctx context.Context, key string, checkpointID int64) (CheckpointReward, error) {
	w, err := s.workerKey(ctx, key)
	if err != nil {
		return CheckpointReward{}, err
	}
	out := CheckpointReward{Worker: w, CheckpointID: checkpointID}
	cp, err := s.db.PsyCheckpoint(ctx, checkpointID)
	if err != nil {
		return out, err
	}
	if out.ByCircuit, err = s.db.PsyWorkerRewards(ctx, out.Worker, &cp.Start, &cp.Start); err != nil {
		return out, err
	}
	for _, r := range out.ByCircuit {
		out.Rewards += r.TotalRewards
		out.Jobs += r.JobCount
	}
	return out, nil
}

// RewardBucket is a worker's rewards in one time bucket.
type RewardBucket struct {
	Start       time.Time
	Rewards     int64
	Jobs        int64
	Checkpoints int64
	// AvgPerJob is Rewards / Jobs, rounded.
	AvgPerJob float64
}

// WorkerRewards is a worker's rewards by bucket, newest first, with the
// totals of every bucket in the time range (not only those returned).
type WorkerRewards struct {
	Worker  string
	Buckets []RewardBucket
	Totals  storage.PsyWorkerTotals
}

// Rewards groups a worker's rewards into buckets of size bucket by the
// start of each checkpoint, over checkpoints starting in [start, end]
// (nil bounds are open), newest bucket first, at most limit buckets.
func (s *Service) Rewards(ctx context.Context, key, bucket string, start, end *time.Time, limit int) (WorkerRewards, error) {
	w, err := s.workerKey(ctx, key)
	if err != nil {
		return WorkerRewards{}, err
	}
	out := WorkerRewards{Worker: w, Buckets: []RewardBucket{}}
	var from *time.Time
	if start != nil {
		f, err := BucketStart(bucket, *start)
		if err != nil {
			return out, err
		}
		from = &f
	}
	rows, err := s.db.PsyWorkerRewards(ctx, out.Worker, from, end)
	if err != nil {
		return out, err
	}
	seen := map[int64]bool{}
	lastCP := int64(math.MinInt64)
	for _, r := range rows {
		b, err := BucketStart(bucket, r.CheckpointStart)
		if err != nil {
			return out, err
		}
		if len(out.Buckets) == 0 || !out.Buckets[len(out.Buckets)-1].Start.Equal(b) {
			out.Buckets = append(out.Buckets, RewardBucket{Start: b})
			lastCP = math.MinInt64
		}
		cur := &out.Buckets[len(out.Buckets)-1]
		cur.Rewards += r.TotalRewards
		cur.Jobs += r.JobCount
		if r.CheckpointID != lastCP {
			cur.Checkpoints++
			lastCP = r.CheckpointID
		}
		out.Totals.TotalRewards += r.TotalRewards
		out.Totals.TotalJobs += r.JobCount
		if !seen[r.CheckpointID] {
			seen[r.CheckpointID] = true
			out.Totals.Checkpoints++
		}
	}
	for i := range out.Buckets {
		if out.Buckets[i].Jobs > 0 {
			out.Buckets[i].AvgPerJob = round(float64(out.Buckets[i].Rewards) / float64(out.Buckets[i].Jobs))
		}
	}
	slices.Reverse(out.Buckets)
	out.Buckets = out.Buckets[:min(len(out.Buckets), limit)]
	return out, nil
}

// RewardRecord is a worker's all-time reward record.
type RewardRecord struct {
	Worker string
	// Totals count rewarded jobs; FirstJob and LastJob are those of the
	// worker's first and last completed job.
	Totals    storage.PsyWorkerTotals
	AvgPerJob float64
}

// RewardRecordOf returns a worker's all-time reward record.
func (s *Service) RewardRecordOf(ctx context.Context, key string) (RewardRecord, error) {
	w, err := s.workerKey(ctx, key)
	if err != nil {
		return RewardRecord{}, err
	}
	out := RewardRecord{Worker: w}
	if out.Totals, err = s.db.PsyWorkerTotalsOf(ctx, out.Worker); err != nil {
		return out, err
	}
	if out.Totals.TotalJobs > 0 {
		out.AvgPerJob = round(float64(out.Totals.TotalRewards) / float64(out.Totals.TotalJobs))
	}
	return out, nil
}

// Rank is one worker's place on the leaderboard.
type Rank struct {
	Rank         int
	Worker       string
	Rewards24h   int64
	Completed24h int64
	SuccessRate  float64
}

// Leaderboard ranks workers by rewards of checkpoints that started in the
// last 24 hours, then by jobs completed in that time, then by key.
func (s *Service) Leaderboard(ctx context.Context, limit int) ([]Rank, error) {
	since := s.now().Add(-day)
	rewardsByWorker, err := s.db.PsyRewardsSince(ctx, since)
	if err != nil {
		return nil, err
	}
	acts, err := s.db.PsyActivitySince(ctx, "worker", "", since)
	if err != nil {
		return nil, err
	}
	ranks := map[string]*Rank{}
	for w, r := range rewardsByWorker {
		ranks[w] = &Rank{Worker: w, Rewards24h: r}
	}
	for _, a := range acts {
		r := ranks[a.Key]
		if r == nil {
			r = &Rank{Worker: a.Key}
			ranks[a.Key] = r
		}
		r.Completed24h, r.SuccessRate = a.Completed, successRate(a.Completed, a.Failed)
	}
	out := make([]Rank, 0, len(ranks))
	for _, r := range ranks {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(x, y Rank) int {
		return cmp.Or(cmp.Compare(y.Rewards24h, x.Rewards24h), cmp.Compare(y.Completed24h, x.Completed24h), cmp.Compare(x.Worker, y.Worker))
	})
	out = out[:min(len(out), limit)]
	for i := range out {
		out[i].Rank = i + 1
	}
	return out, nil
}
