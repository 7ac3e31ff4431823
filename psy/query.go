package psy

import (
	"context"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
)

// Window of the "24h" figures.
const day = 24 * time.Hour

// WorkerEventQuery selects worker events (GET /worker_events).
type WorkerEventQuery struct {
	RealmID                      *int64
	Status                       string
	PublicKey                    string
	Topic                        string
	CircuitType                  string
	Category                     string
	FromCheckpoint, ToCheckpoint *int64
	Offset, Limit                int
	Ascending                    bool
}

// WorkerEventView is a worker event as the Psy API shows it.
type WorkerEventView struct {
	ID              int64     `json:"id"`
	RealmID         int64     `json:"realm_id"`
	WorkerPublicKey string    `json:"worker_public_key"`
	Status          string    `json:"status"`
	StartTime       time.Time `json:"start_time"`
	EndTime         time.Time `json:"end_time"`
	JobID           string    `json:"job_id"`
	CircuitType     string    `json:"circuit_type"`
	Topic           string    `json:"topic"`
	DurationMS      int64     `json:"duration_ms"`
	// CheckpointID is the Psy checkpoint the event was assigned to; null
	// until the event is converted.
	CheckpointID *int64 `json:"checkpoint_id"`
	Error        string `json:"error,omitempty"`
}

// canonicalWorker returns the stored form of a worker key: registered Psy
// keys are 0x lower-case hex; other workers (agents, teams) keep theirs.
func canonicalWorker(k string) string {
	if key, err := ParseKey(k); err == nil {
		return key.Canonical
	}
	return k
}

// WorkerEvents lists worker events.
func (s *Service) WorkerEvents(ctx context.Context, q WorkerEventQuery) ([]WorkerEventView, error) {
	prefixes, exclude := CategoryFilter(q.Category)
	f := storage.PsyWorkerEventFilter{RealmID: q.RealmID, Status: q.Status, Topic: q.Topic, CircuitType: q.CircuitType,
		CircuitPrefixes: prefixes, ExcludePrefixes: exclude, FromCheckpoint: q.FromCheckpoint, ToCheckpoint: q.ToCheckpoint,
		Limit: q.Limit, Offset: q.Offset, Ascending: q.Ascending}
	if q.PublicKey != "" {
		f.PublicKey = canonicalWorker(q.PublicKey)
	}
	evs, err := s.db.PsyWorkerEvents(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]WorkerEventView, 0, len(evs))
	for _, e := range evs {
		out = append(out, WorkerEventView{ID: e.ID, RealmID: e.RealmID, WorkerPublicKey: e.WorkerPublicKey, Status: e.Status,
			StartTime: e.StartTime, EndTime: e.EndTime, JobID: e.JobID, CircuitType: e.CircuitType, Topic: e.Topic,
			DurationMS: e.DurationMS, CheckpointID: e.PsyCheckpointID, Error: e.Error})
	}
	return out, nil
}

// UserEvents lists user events.
func (s *Service) UserEvents(ctx context.Context, f storage.PsyUserEventFilter) ([]storage.PsyUserEvent, error) {
	evs, err := s.db.PsyUserEvents(ctx, f)
	if evs == nil && err == nil {
		evs = []storage.PsyUserEvent{}
	}
	return evs, err
}

// AggregationQuery selects buckets of an aggregation endpoint.
type AggregationQuery struct {
	Bucket        string
	Start, End    *time.Time
	Offset, Limit int
	Ascending     bool
}

func (q AggregationQuery) rollup() (storage.PsyRollupQuery, error) {
	r := storage.PsyRollupQuery{Bucket: q.Bucket, To: q.End, Limit: q.Limit, Offset: q.Offset, Ascending: q.Ascending}
	if q.Start != nil {
		// The bucket that holds start is included.
		from, err := BucketStart(q.Bucket, *q.Start)
		if err != nil {
			return r, err
		}
		r.From = &from
	}
	return r, nil
}

// EventAggregation is one bucket of /worker_events_aggregations.
type EventAggregation struct {
	TimeBucket      time.Time `json:"time_bucket"`
	TotalEvents     int64     `json:"total_events"`
	CompletedEvents int64     `json:"completed_events"`
	FailedEvents    int64     `json:"failed_events"`
	UniqueWorkers   int64     `json:"unique_workers"`
}

// WorkerEventAggregations reads the worker-event rollup. Buckets are by
// event end time.
func (s *Service) WorkerEventAggregations(ctx context.Context, q AggregationQuery) ([]EventAggregation, error) {
	rq, err := q.rollup()
	if err != nil {
		return nil, err
	}
	rows, err := s.db.PsyEventRollups(ctx, rq)
	if err != nil {
		return nil, err
	}
	out := make([]EventAggregation, 0, len(rows))
	for _, r := range rows {
		out = append(out, EventAggregation{TimeBucket: r.BucketStart, TotalEvents: r.TotalEvents,
			CompletedEvents: r.Completed, FailedEvents: r.Failed, UniqueWorkers: r.UniqueWorkers})
	}
	return out, nil
}

// UserEventAggregation is one bucket of /user_events_aggregations.
type UserEventAggregation struct {
	TimeBucket          time.Time `json:"time_bucket"`
	TotalEvents         int64     `json:"total_events"`
	RegisterUserCount   int64     `json:"register_user_count"`
	DeployContractCount int64     `json:"deploy_contract_count"`
	UserTxCount         int64     `json:"user_tx_count"`
}

// UserEventAggregations reads the user-event rollup.
func (s *Service) UserEventAggregations(ctx context.Context, q AggregationQuery) ([]UserEventAggregation, error) {
	rq, err := q.rollup()
	if err != nil {
		return nil, err
	}
	rows, err := s.db.PsyUserEventRollups(ctx, rq)
	if err != nil {
		return nil, err
	}
	out := make([]UserEventAggregation, 0, len(rows))
	for _, r := range rows {
		out = append(out, UserEventAggregation{TimeBucket: r.BucketStart, TotalEvents: r.TotalEvents,
			RegisterUserCount: r.RegisterUser, DeployContractCount: r.DeployContract, UserTxCount: r.UserTx})
	}
	return out, nil
}

// Stats is the body of GET /stats.
type Stats struct {
	Status          string    `json:"status"`
	WorkerEvents24h int64     `json:"worker_events_24h"`
	UserEvents24h   int64     `json:"user_events_24h"`
	BlockHeight     int64     `json:"block_height"`
	Timestamp       time.Time `json:"timestamp"`
}

// Stats returns the last 24 hours' counts. The block height is the
// highest closed checkpoint: checkpoints are the Psy network's blocks.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	now := s.now()
	st := Stats{Status: "ok", Timestamp: now}
	var err error
	if st.WorkerEvents24h, err = s.db.PsyWorkerEventsSince(ctx, now.Add(-day)); err != nil {
		return st, err
	}
	if st.UserEvents24h, err = s.db.PsyUserEventsSince(ctx, now.Add(-day)); err != nil {
		return st, err
	}
	st.BlockHeight, err = s.db.LatestClosedPsyCheckpoint(ctx)
	return st, err
}

// RealmsStats is the body of GET /stats/realms.
type RealmsStats struct {
	TotalRealms           int64   `json:"total_realms"`
	ActiveRealms          int64   `json:"active_realms"`
	TotalJobs24h          int64   `json:"total_jobs_24h"`
	AverageCompletionTime float64 `json:"average_completion_time"`
}

// Realms returns realm statistics over the last 24 hours. Times are
// seconds, averaged over completed jobs.
func (s *Service) Realms(ctx context.Context) (RealmsStats, error) {
	var out RealmsStats
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
		out.ActiveRealms++
		out.TotalJobs24h += a.Total
		if a.AvgDurationMS.Valid {
			weighted += a.AvgDurationMS.Float64 * float64(a.Completed)
			completed += a.Completed
		}
	}
	out.TotalRealms = max(total, out.ActiveRealms)
	if completed > 0 {
		out.AverageCompletionTime = round(weighted / float64(completed) / 1000)
	}
	return out, nil
}

// RealmStats is the body of GET /stats/realms/{realm_id}.
type RealmStats struct {
	RealmID               int64   `json:"realm_id"`
	Jobs24h               int64   `json:"jobs_24h"`
	ActiveWorkers         int64   `json:"active_workers"`
	AverageCompletionTime float64 `json:"average_completion_time"`
	SuccessRate           float64 `json:"success_rate"`
}

// Realm returns one realm's last 24 hours; a realm without jobs has
// zeros.
func (s *Service) Realm(ctx context.Context, realm int64) (RealmStats, error) {
	out := RealmStats{RealmID: realm}
	acts, err := s.db.PsyActivitySince(ctx, "realm", strconv.FormatInt(realm, 10), s.now().Add(-day))
	if err != nil || len(acts) == 0 {
		return out, err
	}
	a := acts[0]
	out.Jobs24h, out.ActiveWorkers, out.SuccessRate = a.Total, a.Workers, successRate(a.Completed, a.Failed)
	if a.AvgDurationMS.Valid {
		out.AverageCompletionTime = round(a.AvgDurationMS.Float64 / 1000)
	}
	return out, nil
}

// WorkerStats is the body of GET /stats/workers/{worker_public_key}.
type WorkerStats struct {
	WorkerPublicKey       string  `json:"worker_public_key"`
	JobsCompleted24h      int64   `json:"jobs_completed_24h"`
	JobsFailed24h         int64   `json:"jobs_failed_24h"`
	AverageCompletionTime float64 `json:"average_completion_time"`
	SuccessRate           float64 `json:"success_rate"`
	TotalRewards          int64   `json:"total_rewards"`
}

// Worker returns a worker's last 24 hours and all-time rewards.
func (s *Service) Worker(ctx context.Context, key string) (WorkerStats, error) {
	key = canonicalWorker(key)
	out := WorkerStats{WorkerPublicKey: key}
	acts, err := s.db.PsyActivitySince(ctx, "worker", key, s.now().Add(-day))
	if err != nil {
		return out, err
	}
	if len(acts) > 0 {
		a := acts[0]
		out.JobsCompleted24h, out.JobsFailed24h, out.SuccessRate = a.Completed, a.Failed, successRate(a.Completed, a.Failed)
		if a.AvgDurationMS.Valid {
			out.AverageCompletionTime = round(a.AvgDurationMS.Float64 / 1000)
		}
	}
	totals, err := s.db.PsyWorkerTotalsOf(ctx, key)
	out.TotalRewards = totals.TotalRewards
	return out, err
}

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

// JobStatusSummary is one row of /stats/jobs.
type JobStatusSummary struct {
	Status      string `json:"status"`
	CircuitType string `json:"circuit_type"`
	JobCount    int64  `json:"job_count"`
	// AverageDuration is in seconds.
	AverageDuration float64 `json:"average_duration"`
}

// JobSummary is the body of GET /stats/jobs.
type JobSummary struct {
	Summary                 []JobStatusSummary `json:"summary"`
	TotalJobs               int64              `json:"total_jobs"`
	QueryTime               time.Time          `json:"query_time"`
	MaterializedViewHealthy bool               `json:"materialized_view_healthy"`
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
func (s *Service) Jobs(ctx context.Context, hours int, realm *int64) (JobSummary, error) {
	rows, err := s.db.PsyJobSums(ctx, s.since(hours), realm)
	if err != nil {
		return JobSummary{}, err
	}
	out := JobSummary{Summary: summarise(rows), QueryTime: s.now()}
	for _, r := range out.Summary {
		out.TotalJobs += r.JobCount
	}
	out.MaterializedViewHealthy, err = s.RollupHealthy(ctx)
	return out, err
}

// JobsOfRealm returns one realm's rows of Jobs.
func (s *Service) JobsOfRealm(ctx context.Context, hours int, realm int64) ([]JobStatusSummary, error) {
	rows, err := s.db.PsyJobSums(ctx, s.since(hours), &realm)
	if err != nil {
		return nil, err
	}
	return summarise(rows), nil
}

func summarise(rows []storage.PsyJobRollup) []JobStatusSummary {
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
	sort.Slice(keys, func(a, b int) bool {
		if keys[a].status != keys[b].status {
			return keys[a].status < keys[b].status
		}
		return keys[a].circuit < keys[b].circuit
	})
	out := make([]JobStatusSummary, 0, len(keys))
	for _, k := range keys {
		v := sums[k]
		out = append(out, JobStatusSummary{Status: k.status, CircuitType: k.circuit, JobCount: v.JobCount,
			AverageDuration: round(float64(v.DurationMSSum) / float64(v.JobCount) / 1000)})
	}
	return out
}

// RealmJobs is one row of /stats/jobs/all-realms.
type RealmJobs struct {
	RealmID       int64   `json:"realm_id"`
	TotalJobs     int64   `json:"total_jobs"`
	CompletedJobs int64   `json:"completed_jobs"`
	FailedJobs    int64   `json:"failed_jobs"`
	SuccessRate   float64 `json:"success_rate"`
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
		cur.TotalJobs += r.JobCount
		switch r.Status {
		case storage.WorkerEventCompleted:
			cur.CompletedJobs += r.JobCount
		case storage.WorkerEventFailed:
			cur.FailedJobs += r.JobCount
		}
	}
	for i := range out {
		out[i].SuccessRate = successRate(out[i].CompletedJobs, out[i].FailedJobs)
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

// RewardBreakdown is one circuit type of a legacy reward answer.
type RewardBreakdown struct {
	CircuitType string `json:"circuit_type"`
	JobCount    int64  `json:"job_count"`
	Rewards     int64  `json:"rewards"`
}

// LegacyReward is the body of GET /rewards/{worker_public_key}.
type LegacyReward struct {
	WorkerPublicKey string            `json:"worker_public_key"`
	CheckpointID    int64             `json:"checkpoint_id"`
	TotalRewards    int64             `json:"total_rewards"`
	JobCount        int64             `json:"job_count"`
	RewardBreakdown []RewardBreakdown `json:"reward_breakdown"`
}

// RewardOf returns a worker's rewards in one checkpoint (zeros when it
// earned none; ENOTFOUND for an unknown checkpoint).
func (s *Service) RewardOf(ctx context.Context, key string, checkpointID int64) (LegacyReward, error) {
	key = canonicalWorker(key)
	out := LegacyReward{WorkerPublicKey: key, CheckpointID: checkpointID, RewardBreakdown: []RewardBreakdown{}}
	cp, err := s.db.PsyCheckpoint(ctx, checkpointID)
	if err != nil {
		return out, err
	}
	rows, err := s.db.PsyWorkerRewards(ctx, key, &cp.Start, &cp.Start)
	if err != nil {
		return out, err
	}
	for _, r := range rows {
		out.TotalRewards += r.TotalRewards
		out.JobCount += r.JobCount
		out.RewardBreakdown = append(out.RewardBreakdown, RewardBreakdown{CircuitType: r.CircuitType, JobCount: r.JobCount, Rewards: r.TotalRewards})
	}
	return out, nil
}

// RewardAggregation is one bucket of /rewards_aggregations/{key}.
type RewardAggregation struct {
	TimeBucket          time.Time `json:"time_bucket"`
	TotalRewards        int64     `json:"total_rewards"`
	JobCount            int64     `json:"job_count"`
	AverageRewardPerJob float64   `json:"average_reward_per_job"`
	// CheckpointsParticipated is also the jobs_completed companion of
	// /checkpoint/rewards.
	CheckpointsParticipated int64 `json:"-"`
}

// rewardBuckets groups a worker's distribution rows by the bucket of each
// checkpoint's start, newest bucket first (oldest with ascending).
func (s *Service) rewardBuckets(ctx context.Context, key, bucket string, start, end *time.Time) ([]RewardAggregation, storage.PsyWorkerTotals, error) {
	var totals storage.PsyWorkerTotals
	var from *time.Time
	if start != nil {
		f, err := BucketStart(bucket, *start)
		if err != nil {
			return nil, totals, err
		}
		from = &f
	}
	rows, err := s.db.PsyWorkerRewards(ctx, canonicalWorker(key), from, end)
	if err != nil {
		return nil, totals, err
	}
	var out []RewardAggregation
	seen := map[int64]bool{}
	lastCP := int64(math.MinInt64)
	for _, r := range rows {
		b, err := BucketStart(bucket, r.CheckpointStart)
		if err != nil {
			return nil, totals, err
		}
		if len(out) == 0 || !out[len(out)-1].TimeBucket.Equal(b) {
			out = append(out, RewardAggregation{TimeBucket: b})
			lastCP = math.MinInt64
		}
		cur := &out[len(out)-1]
		cur.TotalRewards += r.TotalRewards
		cur.JobCount += r.JobCount
		if r.CheckpointID != lastCP {
			cur.CheckpointsParticipated++
			lastCP = r.CheckpointID
		}
		totals.TotalRewards += r.TotalRewards
		totals.TotalJobs += r.JobCount
		if !seen[r.CheckpointID] {
			seen[r.CheckpointID] = true
			totals.Checkpoints++
		}
	}
	for i := range out {
		if out[i].JobCount > 0 {
			out[i].AverageRewardPerJob = round(float64(out[i].TotalRewards) / float64(out[i].JobCount))
		}
	}
	// Newest first.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, totals, nil
}

// RewardAggregations returns a worker's rewards by bucket, newest first,
// at most limit buckets.
func (s *Service) RewardAggregations(ctx context.Context, key, bucket string, start, end *time.Time, limit int) ([]RewardAggregation, error) {
	out, _, err := s.rewardBuckets(ctx, key, bucket, start, end)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []RewardAggregation{}
	}
	return out[:min(len(out), limit)], nil
}

// WorkerRewardAggregation is one bucket of /checkpoint/rewards/{key}.
type WorkerRewardAggregation struct {
	TimeBucket              time.Time `json:"time_bucket"`
	TotalRewards            int64     `json:"total_rewards"`
	JobsCompleted           int64     `json:"jobs_completed"`
	CheckpointsParticipated int64     `json:"checkpoints_participated"`
}

// WorkerRewardResponse is the body of /checkpoint/rewards/{key}. Totals
// cover every bucket in the selected time range, not only those returned.
type WorkerRewardResponse struct {
	WorkerPublicKey  string                    `json:"worker_public_key"`
	TimePeriod       string                    `json:"time_period"`
	Aggregations     []WorkerRewardAggregation `json:"aggregations"`
	TotalRewards     int64                     `json:"total_rewards"`
	TotalJobs        int64                     `json:"total_jobs"`
	TotalCheckpoints int64                     `json:"total_checkpoints"`
}

// WorkerRewards returns a worker's rewards by time period (2m, 1h, 1d, 1w
// or 1m), newest first.
func (s *Service) WorkerRewards(ctx context.Context, key, period string, start, end *time.Time, limit int) (WorkerRewardResponse, error) {
	bucket, ok := TimePeriods[period]
	if !ok {
		return WorkerRewardResponse{}, proofgrid.Errorf(proofgrid.EINVALID, "time_period must be one of 2m, 1h, 1d, 1w, 1m, got %q", period)
	}
	rows, totals, err := s.rewardBuckets(ctx, key, bucket, start, end)
	if err != nil {
		return WorkerRewardResponse{}, err
	}
	out := WorkerRewardResponse{WorkerPublicKey: canonicalWorker(key), TimePeriod: period, Aggregations: []WorkerRewardAggregation{},
		TotalRewards: totals.TotalRewards, TotalJobs: totals.TotalJobs, TotalCheckpoints: totals.Checkpoints}
	for _, r := range rows[:min(len(rows), limit)] {
		out.Aggregations = append(out.Aggregations, WorkerRewardAggregation{TimeBucket: r.TimeBucket, TotalRewards: r.TotalRewards,
			JobsCompleted: r.JobCount, CheckpointsParticipated: r.CheckpointsParticipated})
	}
	return out, nil
}

// WorkerRewardStats is the body of /checkpoint/rewards/{key}/stats.
type WorkerRewardStats struct {
	WorkerPublicKey              string     `json:"worker_public_key"`
	TotalRewardsAllTime          int64      `json:"total_rewards_all_time"`
	TotalJobsCompleted           int64      `json:"total_jobs_completed"`
	TotalCheckpointsParticipated int64      `json:"total_checkpoints_participated"`
	AverageRewardPerJob          float64    `json:"average_reward_per_job"`
	FirstJobDate                 *time.Time `json:"first_job_date"`
	LastJobDate                  *time.Time `json:"last_job_date"`
}

// WorkerRewardStatsOf returns a worker's all-time reward record. Jobs
// completed counts rewarded jobs; the dates are those of its first and
// last completed job.
func (s *Service) WorkerRewardStatsOf(ctx context.Context, key string) (WorkerRewardStats, error) {
	key = canonicalWorker(key)
	t, err := s.db.PsyWorkerTotalsOf(ctx, key)
	if err != nil {
		return WorkerRewardStats{}, err
	}
	out := WorkerRewardStats{WorkerPublicKey: key, TotalRewardsAllTime: t.TotalRewards, TotalJobsCompleted: t.TotalJobs,
		TotalCheckpointsParticipated: t.Checkpoints, FirstJobDate: t.FirstJob, LastJobDate: t.LastJob}
	if t.TotalJobs > 0 {
		out.AverageRewardPerJob = round(float64(t.TotalRewards) / float64(t.TotalJobs))
	}
	return out, nil
}

// LeaderboardEntry is one row of /leaderboard/workers.
type LeaderboardEntry struct {
	Rank             int     `json:"rank"`
	WorkerPublicKey  string  `json:"worker_public_key"`
	TotalRewards24h  int64   `json:"total_rewards_24h"`
	JobsCompleted24h int64   `json:"jobs_completed_24h"`
	SuccessRate      float64 `json:"success_rate"`
}

// Leaderboard ranks workers by rewards of checkpoints that started in the
// last 24 hours, then by jobs completed in that time, then by key.
func (s *Service) Leaderboard(ctx context.Context, limit int) ([]LeaderboardEntry, error) {
	since := s.now().Add(-day)
	rewardsByWorker, err := s.db.PsyRewardsSince(ctx, since)
	if err != nil {
		return nil, err
	}
	acts, err := s.db.PsyActivitySince(ctx, "worker", "", since)
	if err != nil {
		return nil, err
	}
	entries := map[string]*LeaderboardEntry{}
	for w, r := range rewardsByWorker {
		entries[w] = &LeaderboardEntry{WorkerPublicKey: w, TotalRewards24h: r}
	}
	for _, a := range acts {
		e := entries[a.Key]
		if e == nil {
			e = &LeaderboardEntry{WorkerPublicKey: a.Key}
			entries[a.Key] = e
		}
		e.JobsCompleted24h, e.SuccessRate = a.Completed, successRate(a.Completed, a.Failed)
	}
	out := make([]LeaderboardEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, *e)
	}
	sort.Slice(out, func(a, b int) bool {
		x, y := out[a], out[b]
		if x.TotalRewards24h != y.TotalRewards24h {
			return x.TotalRewards24h > y.TotalRewards24h
		}
		if x.JobsCompleted24h != y.JobsCompleted24h {
			return x.JobsCompleted24h > y.JobsCompleted24h
		}
		return x.WorkerPublicKey < y.WorkerPublicKey
	})
	out = out[:min(len(out), limit)]
	for i := range out {
		out[i].Rank = i + 1
	}
	return out, nil
}

// CheckpointStats is one checkpoint's statistics (CheckpointStats of the
// Psy API). Until a checkpoint is processed its job counts are live and
// its rewards zero.
type CheckpointStats struct {
	CheckpointID            int64     `json:"checkpoint_id"`
	Status                  string    `json:"status"`
	StartTime               time.Time `json:"start_time"`
	EndTime                 time.Time `json:"end_time"`
	TotalJobs               int64     `json:"total_jobs"`
	CompletedJobs           int64     `json:"completed_jobs"`
	FailedJobs              int64     `json:"failed_jobs"`
	TotalRewardsDistributed int64     `json:"total_rewards_distributed"`
	UniqueWorkers           int64     `json:"unique_workers"`
	ProcessingTime          *float64  `json:"processing_time"`
	ProcessingTimeSeconds   *float64  `json:"processing_time_seconds"`
	CreatedAt               time.Time `json:"created_at"`
}

func (s *Service) checkpointStats(ctx context.Context, cp storage.PsyCheckpoint) (CheckpointStats, error) {
	out := CheckpointStats{CheckpointID: cp.ID, Status: cp.Status, StartTime: cp.Start, EndTime: cp.End,
		TotalJobs: cp.TotalJobs, CompletedJobs: cp.CompletedJobs, FailedJobs: cp.FailedJobs,
		TotalRewardsDistributed: cp.TotalRewards, UniqueWorkers: cp.UniqueWorkers, CreatedAt: cp.CreatedAt}
	if cp.ProcessingMS != nil {
		secs := *cp.ProcessingMS / 1000
		out.ProcessingTime, out.ProcessingTimeSeconds = &secs, &secs
	}
	if cp.Status != storage.PsyCheckpointProcessed {
		cells, err := s.db.PsyCheckpointCells(ctx, cp.ID)
		if err != nil {
			return out, err
		}
		t := tally(cells)
		out.TotalJobs, out.CompletedJobs, out.FailedJobs, out.UniqueWorkers = t.total, t.completed, t.failed, t.workers
	}
	return out, nil
}

// MaxCheckpointRange caps the checkpoints one /checkpoint/stats answer
// lists.
const MaxCheckpointRange = 1000

// CheckpointStatsRange returns the statistics of checkpoints with ids in
// [from, to], the first MaxCheckpointRange of them.
func (s *Service) CheckpointStatsRange(ctx context.Context, from, to int64) ([]CheckpointStats, error) {
	cps, err := s.db.PsyCheckpoints(ctx, from, to, MaxCheckpointRange)
	if err != nil {
		return nil, err
	}
	out := make([]CheckpointStats, 0, len(cps))
	for _, cp := range cps {
		st, err := s.checkpointStats(ctx, cp)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// CheckpointStatsOf returns one checkpoint's statistics, or ENOTFOUND.
func (s *Service) CheckpointStatsOf(ctx context.Context, id int64) (CheckpointStats, error) {
	cp, err := s.db.PsyCheckpoint(ctx, id)
	if err != nil {
		return CheckpointStats{}, err
	}
	return s.checkpointStats(ctx, cp)
}

// JobEvents returns the job events of a checkpoint.
func (s *Service) JobEvents(ctx context.Context, id int64, limit, offset int) ([]storage.PsyJobEvent, error) {
	evs, err := s.db.PsyJobEvents(ctx, id, limit, offset)
	if evs == nil && err == nil {
		evs = []storage.PsyJobEvent{}
	}
	return evs, err
}

// Processing states of /checkpoint/summary.
const (
	ProcessingOpen      = "Open"
	ProcessingPending   = "Pending"
	ProcessingCompleted = "Completed"
)

// CheckpointSummary is the body of /checkpoint/summary/{id}.
type CheckpointSummary struct {
	CheckpointID       int64            `json:"checkpoint_id"`
	TotalRewards       int64            `json:"total_rewards"`
	TotalJobs          int64            `json:"total_jobs"`
	UniqueWorkers      int64            `json:"unique_workers"`
	RewardDistribution map[string]int64 `json:"reward_distribution"`
	ProcessingStatus   string           `json:"processing_status"`
}

// Summary returns a checkpoint's reward summary, or ENOTFOUND.
func (s *Service) Summary(ctx context.Context, id int64) (CheckpointSummary, error) {
	st, err := s.CheckpointStatsOf(ctx, id)
	if err != nil {
		return CheckpointSummary{}, err
	}
	out := CheckpointSummary{CheckpointID: id, TotalRewards: st.TotalRewardsDistributed, TotalJobs: st.TotalJobs,
		UniqueWorkers: st.UniqueWorkers, RewardDistribution: map[string]int64{}}
	switch st.Status {
	case storage.PsyCheckpointOpen:
		out.ProcessingStatus = ProcessingOpen
	case storage.PsyCheckpointClosed:
		out.ProcessingStatus = ProcessingPending
	default:
		out.ProcessingStatus = ProcessingCompleted
	}
	ds, err := s.db.PsyDistributions(ctx, id)
	if err != nil {
		return out, err
	}
	for _, d := range ds {
		out.RewardDistribution[d.CircuitType] += d.TotalRewards
	}
	return out, nil
}

// Distributions returns a checkpoint's distribution, or ENOTFOUND for an
// unknown checkpoint.
func (s *Service) Distributions(ctx context.Context, id int64) ([]storage.PsyDistribution, error) {
	if _, err := s.db.PsyCheckpoint(ctx, id); err != nil {
		return nil, err
	}
	ds, err := s.db.PsyDistributions(ctx, id)
	if ds == nil && err == nil {
		ds = []storage.PsyDistribution{}
	}
	return ds, err
}

// ContractView is a contract as /contracts shows it.
type ContractView struct {
	UUID            string                        `json:"uuid"`
	Deployer        string                        `json:"deployer"`
	StateTreeHeight int64                         `json:"state_tree_height"`
	FunctionCount   int                           `json:"function_count"`
	Functions       []storage.PsyContractFunction `json:"functions"`
	Description     string                        `json:"description,omitempty"`
	DeployedAt      time.Time                     `json:"deployed_at"`
}

func contractView(c storage.PsyContract) ContractView {
	return ContractView{UUID: c.UUID, Deployer: c.Deployer, StateTreeHeight: c.StateTreeHeight, FunctionCount: len(c.Functions),
		Functions: c.Functions, Description: c.Description, DeployedAt: c.DeployedAt}
}

// Contracts lists contracts, newest deployment first.
func (s *Service) Contracts(ctx context.Context, deployer string, limit, offset int) ([]ContractView, error) {
	cs, err := s.db.PsyContracts(ctx, deployer, limit, offset)
	if err != nil {
		return nil, err
	}
	out := make([]ContractView, 0, len(cs))
	for _, c := range cs {
		out = append(out, contractView(c))
	}
	return out, nil
}

// Contract returns one contract, or ENOTFOUND.
func (s *Service) Contract(ctx context.Context, uuid string) (ContractView, error) {
	c, err := s.db.PsyContract(ctx, uuid)
	if err != nil {
		return ContractView{}, err
	}
	return contractView(c), nil
}

// TPS is one message of the /ws/tps stream.
type TPS struct {
	Timestamp            time.Time `json:"timestamp"`
	TPS                  float64   `json:"tps"`
	BlockHeight          int64     `json:"block_height"`
	TotalTransactions24h int64     `json:"total_transactions_24h"`
}

// tpsWindow is the window TPS averages over: a minute smooths the bursts
// of a 12 s broadcast.
const tpsWindow = time.Minute

// CurrentTPS returns the user transactions per second over the last
// minute, the block height and the last 24 hours' transactions.
func (s *Service) CurrentTPS(ctx context.Context) (TPS, error) {
	now := s.now()
	out := TPS{Timestamp: now}
	n, err := s.db.PsyUserEventsSince(ctx, now.Add(-tpsWindow))
	if err != nil {
		return out, err
	}
	out.TPS = round(float64(n) / tpsWindow.Seconds())
	if out.TotalTransactions24h, err = s.db.PsyUserEventsSince(ctx, now.Add(-day)); err != nil {
		return out, err
	}
	out.BlockHeight, err = s.db.LatestClosedPsyCheckpoint(ctx)
	return out, err
}
