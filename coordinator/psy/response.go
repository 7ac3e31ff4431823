package psy

import (
	"fmt"
	"time"

	"github.com/proofgrid/proofgrid/activity"
	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/storage"
)

// The response bodies of the Psy API, in the Psy services document's
// shapes, and the functions that make them from domain values. Lists are
// never null: an empty list is [].

// then applies m to the value of a (value, error) pair; m must accept the
// zero value, which it gets when err is set.
func then[D, R any](m func(D) R) func(D, error) (R, error) {
	return func(v D, err error) (R, error) { return m(v), err }
}

// each maps a list, never returning nil.
func each[D, R any](m func(D) R) func([]D) []R {
	return func(in []D) []R {
		out := make([]R, 0, len(in))
		for _, v := range in {
			out = append(out, m(v))
		}
		return out
	}
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

func workerEventView(e storage.PsyWorkerEvent) WorkerEventView {
	return WorkerEventView{ID: e.ID, RealmID: e.RealmID, WorkerPublicKey: e.WorkerPublicKey, Status: e.Status,
		StartTime: e.StartTime, EndTime: e.EndTime, JobID: e.JobID, CircuitType: e.CircuitType, Topic: e.Topic,
		DurationMS: e.DurationMS, CheckpointID: e.PsyCheckpointID, Error: e.Error}
}

// EventAggregation is one bucket of /worker_events_aggregations.
type EventAggregation struct {
	TimeBucket      time.Time `json:"time_bucket"`
	TotalEvents     int64     `json:"total_events"`
	CompletedEvents int64     `json:"completed_events"`
	FailedEvents    int64     `json:"failed_events"`
	UniqueWorkers   int64     `json:"unique_workers"`
}

func eventAggregation(r storage.PsyEventRollup) EventAggregation {
	return EventAggregation{TimeBucket: r.BucketStart, TotalEvents: r.TotalEvents, CompletedEvents: r.Completed,
		FailedEvents: r.Failed, UniqueWorkers: r.UniqueWorkers}
}

// UserEventAggregation is one bucket of /user_events_aggregations.
type UserEventAggregation struct {
	TimeBucket          time.Time `json:"time_bucket"`
	TotalEvents         int64     `json:"total_events"`
	RegisterUserCount   int64     `json:"register_user_count"`
	DeployContractCount int64     `json:"deploy_contract_count"`
	UserTxCount         int64     `json:"user_tx_count"`
}

func userEventAggregation(r storage.PsyUserEventRollup) UserEventAggregation {
	return UserEventAggregation{TimeBucket: r.BucketStart, TotalEvents: r.TotalEvents, RegisterUserCount: r.RegisterUser,
		DeployContractCount: r.DeployContract, UserTxCount: r.UserTx}
}

// Stats is the body of GET /stats.
type Stats struct {
	Status          string    `json:"status"`
	WorkerEvents24h int64     `json:"worker_events_24h"`
	UserEvents24h   int64     `json:"user_events_24h"`
	BlockHeight     int64     `json:"block_height"`
	Timestamp       time.Time `json:"timestamp"`
}

func stats(o activity.Overview) Stats {
	return Stats{Status: "ok", WorkerEvents24h: o.WorkerEvents24h, UserEvents24h: o.UserEvents24h,
		BlockHeight: o.BlockHeight, Timestamp: o.At}
}

// RealmsStats is the body of GET /stats/realms. Times are seconds,
// averaged over completed jobs.
type RealmsStats struct {
	TotalRealms           int64   `json:"total_realms"`
	ActiveRealms          int64   `json:"active_realms"`
	TotalJobs24h          int64   `json:"total_jobs_24h"`
	AverageCompletionTime float64 `json:"average_completion_time"`
}

func realmsStats(o activity.RealmsOverview) RealmsStats {
	return RealmsStats{TotalRealms: o.Total, ActiveRealms: o.Active, TotalJobs24h: o.Jobs24h, AverageCompletionTime: o.AvgCompletion}
}

// RealmStats is the body of GET /stats/realms/{realm_id}.
type RealmStats struct {
	RealmID               int64   `json:"realm_id"`
	Jobs24h               int64   `json:"jobs_24h"`
	ActiveWorkers         int64   `json:"active_workers"`
	AverageCompletionTime float64 `json:"average_completion_time"`
	SuccessRate           float64 `json:"success_rate"`
}

func realmStats(id int64) func(activity.Activity) RealmStats {
	return func(a activity.Activity) RealmStats {
		return RealmStats{RealmID: id, Jobs24h: a.Jobs, ActiveWorkers: a.Workers, AverageCompletionTime: a.AvgCompletion, SuccessRate: a.SuccessRate}
	}
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

func workerStats(w activity.WorkerActivity) WorkerStats {
	a := w.Activity
	return WorkerStats{WorkerPublicKey: w.Worker, JobsCompleted24h: a.Completed, JobsFailed24h: a.Failed,
		AverageCompletionTime: a.AvgCompletion, SuccessRate: a.SuccessRate, TotalRewards: w.TotalRewards}
}

// JobStatusSummary is one row of /stats/jobs.
type JobStatusSummary struct {
	Status      string `json:"status"`
	CircuitType string `json:"circuit_type"`
	JobCount    int64  `json:"job_count"`
	// AverageDuration is in seconds.
	AverageDuration float64 `json:"average_duration"`
}

func jobStatusSummary(j activity.JobSum) JobStatusSummary {
	return JobStatusSummary{Status: j.Status, CircuitType: j.CircuitType, JobCount: j.Jobs, AverageDuration: j.AvgDuration}
}

// JobSummary is the body of GET /stats/jobs.
type JobSummary struct {
	Summary                 []JobStatusSummary `json:"summary"`
	TotalJobs               int64              `json:"total_jobs"`
	QueryTime               time.Time          `json:"query_time"`
	MaterializedViewHealthy bool               `json:"materialized_view_healthy"`
}

func jobSummary(s activity.JobSums) JobSummary {
	return JobSummary{Summary: each(jobStatusSummary)(s.Rows), TotalJobs: s.Total, QueryTime: s.At, MaterializedViewHealthy: s.Healthy}
}

// RealmJobs is one row of /stats/jobs/all-realms.
type RealmJobs struct {
	RealmID       int64   `json:"realm_id"`
	TotalJobs     int64   `json:"total_jobs"`
	CompletedJobs int64   `json:"completed_jobs"`
	FailedJobs    int64   `json:"failed_jobs"`
	SuccessRate   float64 `json:"success_rate"`
}

func realmJobs(r activity.RealmJobs) RealmJobs {
	return RealmJobs{RealmID: r.RealmID, TotalJobs: r.Total, CompletedJobs: r.Completed, FailedJobs: r.Failed, SuccessRate: r.SuccessRate}
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

func legacyReward(r activity.CheckpointReward) LegacyReward {
	return LegacyReward{WorkerPublicKey: r.Worker, CheckpointID: r.CheckpointID, TotalRewards: r.Rewards, JobCount: r.Jobs,
		RewardBreakdown: each(func(w storage.PsyWorkerReward) RewardBreakdown {
			return RewardBreakdown{CircuitType: w.CircuitType, JobCount: w.JobCount, Rewards: w.TotalRewards}
		})(r.ByCircuit)}
}

// RewardAggregation is one bucket of /rewards_aggregations/{key}.
type RewardAggregation struct {
	TimeBucket          time.Time `json:"time_bucket"`
	TotalRewards        int64     `json:"total_rewards"`
	JobCount            int64     `json:"job_count"`
	AverageRewardPerJob float64   `json:"average_reward_per_job"`
}

func rewardAggregations(w activity.WorkerRewards) []RewardAggregation {
	return each(func(b activity.RewardBucket) RewardAggregation {
		return RewardAggregation{TimeBucket: b.Start, TotalRewards: b.Rewards, JobCount: b.Jobs, AverageRewardPerJob: b.AvgPerJob}
	})(w.Buckets)
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

func workerRewardResponse(period string) func(activity.WorkerRewards) WorkerRewardResponse {
	return func(w activity.WorkerRewards) WorkerRewardResponse {
		return WorkerRewardResponse{WorkerPublicKey: w.Worker, TimePeriod: period,
			Aggregations: each(func(b activity.RewardBucket) WorkerRewardAggregation {
				return WorkerRewardAggregation{TimeBucket: b.Start, TotalRewards: b.Rewards, JobsCompleted: b.Jobs, CheckpointsParticipated: b.Checkpoints}
			})(w.Buckets),
			TotalRewards: w.Totals.TotalRewards, TotalJobs: w.Totals.TotalJobs, TotalCheckpoints: w.Totals.Checkpoints}
	}
}

// WorkerRewardStats is the body of /checkpoint/rewards/{key}/stats. Jobs
// completed counts rewarded jobs; the dates are those of the worker's
// first and last completed job.
type WorkerRewardStats struct {
	WorkerPublicKey              string     `json:"worker_public_key"`
	TotalRewardsAllTime          int64      `json:"total_rewards_all_time"`
	TotalJobsCompleted           int64      `json:"total_jobs_completed"`
	TotalCheckpointsParticipated int64      `json:"total_checkpoints_participated"`
	AverageRewardPerJob          float64    `json:"average_reward_per_job"`
	FirstJobDate                 *time.Time `json:"first_job_date"`
	LastJobDate                  *time.Time `json:"last_job_date"`
}

func workerRewardStats(r activity.RewardRecord) WorkerRewardStats {
	t := r.Totals
	return WorkerRewardStats{WorkerPublicKey: r.Worker, TotalRewardsAllTime: t.TotalRewards, TotalJobsCompleted: t.TotalJobs,
		TotalCheckpointsParticipated: t.Checkpoints, AverageRewardPerJob: r.AvgPerJob, FirstJobDate: t.FirstJob, LastJobDate: t.LastJob}
}

// LeaderboardEntry is one row of /leaderboard/workers.
type LeaderboardEntry struct {
	Rank             int     `json:"rank"`
	WorkerPublicKey  string  `json:"worker_public_key"`
	TotalRewards24h  int64   `json:"total_rewards_24h"`
	JobsCompleted24h int64   `json:"jobs_completed_24h"`
	SuccessRate      float64 `json:"success_rate"`
}

func leaderboardEntry(r activity.Rank) LeaderboardEntry {
	return LeaderboardEntry{Rank: r.Rank, WorkerPublicKey: r.Worker, TotalRewards24h: r.Rewards24h,
		JobsCompleted24h: r.Completed24h, SuccessRate: r.SuccessRate}
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

func checkpointStats(cp storage.PsyCheckpoint) CheckpointStats {
	out := CheckpointStats{CheckpointID: cp.ID, Status: cp.Status, StartTime: cp.Start, EndTime: cp.End,
		TotalJobs: cp.TotalJobs, CompletedJobs: cp.CompletedJobs, FailedJobs: cp.FailedJobs,
		TotalRewardsDistributed: cp.TotalRewards, UniqueWorkers: cp.UniqueWorkers, CreatedAt: cp.CreatedAt}
	if cp.ProcessingMS != nil {
		secs := *cp.ProcessingMS / 1000
		out.ProcessingTime, out.ProcessingTimeSeconds = &secs, &secs
	}
	return out
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

func checkpointSummary(s rewards.Summary) CheckpointSummary {
	cp := s.Checkpoint
	out := CheckpointSummary{CheckpointID: cp.ID, TotalRewards: cp.TotalRewards, TotalJobs: cp.TotalJobs,
		UniqueWorkers: cp.UniqueWorkers, RewardDistribution: s.ByCircuit}
	if out.RewardDistribution == nil {
		out.RewardDistribution = map[string]int64{}
	}
	switch cp.Status {
	case storage.PsyCheckpointOpen:
		out.ProcessingStatus = ProcessingOpen
	case storage.PsyCheckpointClosed:
		out.ProcessingStatus = ProcessingPending
	default:
		out.ProcessingStatus = ProcessingCompleted
	}
	return out
}

// ProcessingStatus is the body of /admin/checkpoint-processing-status.
type ProcessingStatus struct {
	PendingCount            int     `json:"pending_count"`
	PendingCheckpoints      []int64 `json:"pending_checkpoints"`
	LastProcessedCheckpoint *int64  `json:"last_processed_checkpoint"`
	Status                  string  `json:"status"`
}

func processingStatus(p rewards.Processing) ProcessingStatus {
	out := ProcessingStatus{PendingCount: len(p.Pending), PendingCheckpoints: p.Pending, LastProcessedCheckpoint: p.LastProcessed}
	if out.PendingCheckpoints == nil {
		out.PendingCheckpoints = []int64{}
	}
	switch len(p.Pending) {
	case 0:
		out.Status = "up to date"
	case 1:
		out.Status = "1 checkpoint pending"
	default:
		out.Status = fmt.Sprintf("%d checkpoints pending", len(p.Pending))
	}
	return out
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

// TPS is one message of the /ws/tps stream.
type TPS struct {
	Timestamp            time.Time `json:"timestamp"`
	TPS                  float64   `json:"tps"`
	BlockHeight          int64     `json:"block_height"`
	TotalTransactions24h int64     `json:"total_transactions_24h"`
}

// TPSMessage is the /ws/tps message of t.
func TPSMessage(t activity.TPS) TPS {
	return TPS{Timestamp: t.At, TPS: t.PerSecond, BlockHeight: t.BlockHeight, TotalTransactions24h: t.Transactions24h}
}
