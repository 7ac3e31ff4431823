package queue

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// Task types: stable "domain:action" strings. Changing one orphans the
// tasks already in Redis, so add new names instead.
const (
	TypeProofVerify      = "proof:verify"
	TypeSubmissionVerify = "submission:verify"
	TypeResultVerify     = "result:verify"
	TypeRewardCheckpoint = "reward:checkpoint"
	TypeMerkleEpoch      = "merkle:epoch"
	TypeProveBlock       = "prove:block"
	// TypeAVSPrefix prefixes AVS operations: "avs:update", "avs:restart", ...
	TypeAVSPrefix = "avs:"

	TypeJobStatusRefresh = "maintenance:job_status_refresh"
	TypeTPSBroadcast     = "maintenance:tps_broadcast"
	TypeHeartbeatSweep   = "maintenance:heartbeat_sweep"
	TypeMetricsRetention = "maintenance:metrics_retention"
	TypeOutboxReconcile  = "maintenance:outbox_reconcile"
	TypeRewardSweep      = "maintenance:reward_sweep"
	TypeEventConversion  = "maintenance:event_conversion"

	// TypePoolWindowRewards settles a Pool reward window and hands its
	// credits to the ledger; periodic, one run per window.
	TypePoolWindowRewards = "pool:window_rewards"
)

// AVS operations an operator can ask an AVS agent to run.
const (
	AVSUpdate        = "update"
	AVSRestart       = "restart"
	AVSRegisterCheck = "register_check"
)

// Queues served by the coordinator's own asynq server. Agents serve only
// their per-cluster or per-machine queues (ProveQueue, AVSQueue) and the
// shared queue of verifier agents (QueueVerifyGolf).
const (
	QueueVerify      = "verify"
	QueueReward      = "reward"
	QueueMerkle      = "merkle"
	QueueMaintenance = "maintenance"
)

// QueueVerifyGolf is the queue of zkGolf submission checks. Verifier agents
// consume it, one task at a time each; the coordinator does not, because a
// checker builds untrusted code and belongs on a machine of its own.
// asynq hands out a queue's pending tasks oldest first, which makes
// verification FIFO.
const QueueVerifyGolf = "verify.golf"

// VerifyShards is how many queues proof verifications are spread over, by
// team (VerifyQueue). It is fixed, not configured: every replica must send
// a proof's verification to the same queue, where its TaskID keeps it
// unique, and must serve every shard.
const VerifyShards = 8

// verifyWeight is the priority weight of QueueVerify and of each shard:
// one team's verifications weigh what all verifications weighed before
// they were sharded.
const verifyWeight = 4

// VerifyQueue is the queue of a team's proof verifications:
// "verify.<team id mod VerifyShards>". Work of no team (team 0) goes to
// QueueVerify.
//
// The coordinator serves the shards with equal weights and without strict
// priority, so each time a worker is free asynq picks among the non-empty
// shards with equal chances: a team with a thousand verifications waiting
// takes a free worker no more often than a team with one. Another team's
// verification waits for the first free worker, then for at most a few
// picks, however many the noisy team queued. Teams that share a shard
// share its turn.
func VerifyQueue(teamID int64) string {
	if teamID == 0 {
		return QueueVerify
	}
	n := teamID % VerifyShards
	if n < 0 {
		n += VerifyShards
	}
	return verifyShard(n)
}

func verifyShard(n int64) string { return QueueVerify + "." + strconv.FormatInt(n, 10) }

// CoordinatorQueues maps the coordinator's queues to their asynq priority
// weights. Maintenance is cheap and time-sensitive, so it weighs most;
// each verification shard weighs as much as QueueVerify.
var CoordinatorQueues = coordinatorQueues()

func coordinatorQueues() map[string]int {
	q := map[string]int{
		QueueMaintenance: 6,
		QueueVerify:      verifyWeight,
		QueueReward:      3,
		QueueMerkle:      2,
	}
	for n := range int64(VerifyShards) {
		q[verifyShard(n)] = verifyWeight
	}
	return q
}

// ProveQueue is the queue the prover agents of one cluster consume.
func ProveQueue(clusterID string) string { return "prove.cluster-" + clusterID }

// AVSQueue is the queue of one AVS machine's agent.
func AVSQueue(machineID string) string { return "avs.machine-" + machineID }

// Kind is how one task type is enqueued: its queue and its limits.
type Kind struct {
	Type string
	// Queue is empty for types whose queue depends on the payload
	// (prove:block, avs:*); the caller names it.
	Queue     string
	MaxRetry  int
	Timeout   time.Duration
	Retention time.Duration
}

// kinds is the catalogue. Retention keeps finished tasks visible in
// asynqmon and keeps their TaskID taken, which is what makes re-enqueueing
// the same work a no-op for that long. A zkGolf checker's own wall-clock
// limit (default 1200 s) ends before submission:verify's task timeout,
// which only backs it up.
var kinds = map[string]Kind{
	TypeProofVerify:      {TypeProofVerify, QueueVerify, 10, 10 * time.Minute, 24 * time.Hour},
	TypeSubmissionVerify: {TypeSubmissionVerify, QueueVerifyGolf, 3, 1300 * time.Second, 7 * 24 * time.Hour},
	TypeResultVerify:     {TypeResultVerify, QueueVerify, 10, 5 * time.Minute, 24 * time.Hour},
	TypeRewardCheckpoint: {TypeRewardCheckpoint, QueueReward, 20, 15 * time.Minute, 24 * time.Hour},
	TypeMerkleEpoch:      {TypeMerkleEpoch, QueueMerkle, 20, 15 * time.Minute, 7 * 24 * time.Hour},
	TypeProveBlock:       {TypeProveBlock, "", 5, 2 * time.Hour, 24 * time.Hour},
	TypeJobStatusRefresh: {TypeJobStatusRefresh, QueueMaintenance, 0, 30 * time.Second, 0},
	TypeTPSBroadcast:     {TypeTPSBroadcast, QueueMaintenance, 0, 10 * time.Second, 0},
	TypeHeartbeatSweep:   {TypeHeartbeatSweep, QueueMaintenance, 1, 30 * time.Second, 0},
	TypeMetricsRetention: {TypeMetricsRetention, QueueMaintenance, 3, 5 * time.Minute, 0},
	TypeOutboxReconcile:  {TypeOutboxReconcile, QueueMaintenance, 1, time.Minute, 0},
	TypeRewardSweep:      {TypeRewardSweep, QueueMaintenance, 1, time.Minute, 0},
	TypeEventConversion:  {TypeEventConversion, QueueMaintenance, 3, time.Minute, 0},
	// Retried for a while: a ledger that is down must not cost a window.
	TypePoolWindowRewards: {TypePoolWindowRewards, QueueMaintenance, 10, 5 * time.Minute, 0},
}

// avsKind applies to every "avs:<op>" type.
var avsKind = Kind{Queue: "", MaxRetry: 3, Timeout: 30 * time.Minute, Retention: 7 * 24 * time.Hour}

// Lookup returns the catalogue entry of a task type.
func Lookup(taskType string) (Kind, bool) {
	if k, ok := kinds[taskType]; ok {
		return k, true
	}
	if op, ok := strings.CutPrefix(taskType, TypeAVSPrefix); ok && op != "" {
		k := avsKind
		k.Type = taskType
		return k, true
	}
	return Kind{}, false
}

// Types lists every fixed task type of the catalogue (not the avs:* family).
func Types() []string {
	out := make([]string, 0, len(kinds))
	for t := range kinds {
		out = append(out, t)
	}
	return out
}

// Options returns the asynq options to enqueue a task of taskType with the
// given TaskID. queueName overrides the catalogue's queue and is required
// for types without a fixed queue.
func Options(taskType, taskID, queueName string) ([]asynq.Option, error) {
	k, ok := Lookup(taskType)
	if !ok {
		return nil, fmt.Errorf("queue: unknown task type %q", taskType)
	}
	if queueName == "" {
		queueName = k.Queue
	}
	if queueName == "" {
		return nil, fmt.Errorf("queue: task type %q needs an explicit queue", taskType)
	}
	opts := []asynq.Option{asynq.Queue(queueName), asynq.MaxRetry(k.MaxRetry), asynq.Timeout(k.Timeout)}
	if taskID != "" {
		opts = append(opts, asynq.TaskID(taskID))
	}
	if k.Retention > 0 {
		opts = append(opts, asynq.Retention(k.Retention))
	}
	return opts, nil
}

// Payloads. Each is JSON with snake_case keys.

// ProofVerifyPayload asks to verify one proved proof.
type ProofVerifyPayload struct {
	ProofID int64 `json:"proof_id"`
	// TeamID is the team that reported the proof; it picks the queue
	// (VerifyQueue). Zero means no team.
	TeamID int64 `json:"team_id,omitempty"`
}

// SubmissionVerifyPayload asks to check one zkGolf submission.
type SubmissionVerifyPayload struct {
	SubmissionID string `json:"submission_id"`
}

// ResultVerifyPayload asks to replay and score one Pool result.
type ResultVerifyPayload struct {
	ResultID int64 `json:"result_id"`
}

// RewardCheckpointPayload asks to compute one checkpoint's distribution.
type RewardCheckpointPayload struct {
	CheckpointID int64 `json:"checkpoint_id"`
}

// MerkleEpochPayload asks to build one epoch's claim tree.
type MerkleEpochPayload struct {
	EpochID int64 `json:"epoch_id"`
}

// ProveBlockPayload asks a prover agent of a cluster to prove one block.
type ProveBlockPayload struct {
	BlockNumber      uint64 `json:"block_number"`
	BlockHash        string `json:"block_hash"`
	ClusterID        string `json:"cluster_id"`
	ClusterVersionID int64  `json:"cluster_version_id"`
}

// AVSOperationPayload asks an AVS agent to run one operation.
type AVSOperationPayload struct {
	RequestID string            `json:"request_id"`
	MachineID string            `json:"machine_id"`
	AVS       string            `json:"avs"`
	Args      map[string]string `json:"args,omitempty"`
}

// WindowPayload is the payload of periodic tasks: the start of the window
// (unix seconds) the run belongs to and, for runs the scheduler enqueued,
// its end (0 when unknown: such a run is never taken for a past one).
type WindowPayload struct {
	Window int64 `json:"window"`
	End    int64 `json:"end,omitempty"`
}

// Task IDs: deterministic, so enqueueing the same work twice is a no-op.

// ProofVerifyID is the TaskID of a proof's verification. It does not name
// the queue: a proof's team, and so its shard, never changes.
func ProofVerifyID(proofID int64) string {
	return TypeProofVerify + ":" + strconv.FormatInt(proofID, 10)
}

// SubmissionVerifyID is the TaskID of a submission's check.
func SubmissionVerifyID(id string) string { return TypeSubmissionVerify + ":" + id }

// ResultVerifyID is the TaskID of a Pool result's verification.
func ResultVerifyID(id int64) string { return TypeResultVerify + ":" + strconv.FormatInt(id, 10) }

// ResultVerifyAfterID is the TaskID of checking a Pool result again after
// its evaluation evaluationID arrived.
func ResultVerifyAfterID(id, evaluationID int64) string {
	return ResultVerifyID(id) + ":" + strconv.FormatInt(evaluationID, 10)
}

// RewardCheckpointID is the TaskID of a checkpoint's reward computation.
func RewardCheckpointID(id int64) string {
	return TypeRewardCheckpoint + ":" + strconv.FormatInt(id, 10)
}

// MerkleEpochID is the TaskID of an epoch's tree build.
func MerkleEpochID(id int64) string { return TypeMerkleEpoch + ":" + strconv.FormatInt(id, 10) }

// ProveBlockID is the TaskID of proving one block for one cluster version.
func ProveBlockID(block uint64, clusterVersionID int64) string {
	return TypeProveBlock + ":" + strconv.FormatUint(block, 10) + ":" + strconv.FormatInt(clusterVersionID, 10)
}

// WindowID is the TaskID of a periodic task's run for one window.
func WindowID(taskType string, window time.Time) string {
	return taskType + ":" + strconv.FormatInt(window.Unix(), 10)
}

// Decode reads a task's JSON payload. A payload that does not decode will
// never decode, so the error wraps asynq.SkipRetry.
func Decode[T any](t *asynq.Task) (T, error) {
	var v T
	if err := json.Unmarshal(t.Payload(), &v); err != nil {
		return v, fmt.Errorf("queue: decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return v, nil
}
