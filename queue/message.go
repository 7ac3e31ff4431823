package queue

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Message is one task ready to be enqueued: its type, the queue it runs on,
// its deterministic TaskID and its JSON payload. Producers build a Message
// with the constructor of its kind (ProveBlock, ProofVerify, ...) and hand it
// to the outbox (storage.Tx.Enqueue) or to an asynq client (Task, Options);
// handlers read it back with Decode. No producer builds payload JSON by hand.
type Message struct {
	Type    string
	Queue   string
	TaskID  string
	Payload []byte
}

// Task returns the asynq task of m.
func (m Message) Task() *asynq.Task { return asynq.NewTask(m.Type, m.Payload) }

// Options returns the asynq options of m's kind, with m's queue and TaskID.
func (m Message) Options() ([]asynq.Option, error) { return Options(m.Type, m.TaskID, m.Queue) }

// message encodes payload for a kind of the catalogue. Payloads are plain
// structs of this package, so encoding cannot fail; a failure is a
// programming error.
func message(taskType, queueName, taskID string, payload any) Message {
	b, err := json.Marshal(payload)
	if err != nil {
		panic(fmt.Sprintf("queue: encode %s payload: %v", taskType, err))
	}
	if queueName == "" {
		queueName = kinds[taskType].Queue
	}
	return Message{Type: taskType, Queue: queueName, TaskID: taskID, Payload: b}
}

// ProveBlock asks the prover agents of p's cluster to prove one block.
func ProveBlock(p ProveBlockPayload) Message {
	return message(TypeProveBlock, ProveQueue(p.ClusterID), ProveBlockID(p.BlockNumber, p.ClusterVersionID), p)
}

// ProofVerify asks the coordinator to verify one proved proof, on the
// queue of the proof's team (VerifyQueue).
func ProofVerify(p ProofVerifyPayload) Message {
	return message(TypeProofVerify, VerifyQueue(p.TeamID), ProofVerifyID(p.ProofID), p)
}

// SubmissionVerify asks a verifier to check one zkGolf submission.
func SubmissionVerify(p SubmissionVerifyPayload) Message {
	return message(TypeSubmissionVerify, "", SubmissionVerifyID(p.SubmissionID), p)
}

// ResultVerify asks the coordinator to check one Pool result.
func ResultVerify(p ResultVerifyPayload) Message {
	return message(TypeResultVerify, "", ResultVerifyID(p.ResultID), p)
}

// ResultVerifyAfter asks the coordinator to check one Pool result again
// after its evaluation evaluationID arrived. A result is decided only once
// enough evaluations agree, so each evaluation needs a check of its own:
// ResultVerify's one TaskID per result would make every check after the
// first a no-op for as long as asynq retains the first.
func ResultVerifyAfter(p ResultVerifyPayload, evaluationID int64) Message {
	return message(TypeResultVerify, "", ResultVerifyAfterID(p.ResultID, evaluationID), p)
}

// RewardCheckpoint asks the coordinator to compute one checkpoint's
// distribution.
func RewardCheckpoint(p RewardCheckpointPayload) Message {
	return message(TypeRewardCheckpoint, "", RewardCheckpointID(p.CheckpointID), p)
}

// MerkleEpoch asks the coordinator to build one epoch's claim tree.
func MerkleEpoch(p MerkleEpochPayload) Message {
	return message(TypeMerkleEpoch, "", MerkleEpochID(p.EpochID), p)
}

// AVSOperation asks one AVS machine's agent to run operation op.
func AVSOperation(op string, p AVSOperationPayload) Message {
	return message(TypeAVSPrefix+op, AVSQueue(p.MachineID), TypeAVSPrefix+op+":"+p.RequestID, p)
}

// WindowRun asks for the run of the periodic task taskType that belongs to
// the window starting at window. Its TaskID names the window, so every
// replica enqueueing the same run enqueues it once.
func WindowRun(taskType string, window time.Time) Message {
	return message(taskType, "", WindowID(taskType, window), WindowPayload{Window: window.Unix()})
}

// Run is the run of p that belongs to the window starting at window: a
// WindowRun whose payload also says when the window ends, which
// DropPassedWindows reads.
func (p Periodic) Run(window time.Time) Message {
	return message(p.Type, "", WindowID(p.Type, window), WindowPayload{Window: window.Unix(), End: window.Add(p.Every).Unix()})
}
