package rewards

import (
	"context"
	"errors"
	"time"

	"github.com/proofgrid/proofgrid/storage"
)

// Source is who vouches for a job, which decides whether it may earn.
type Source string

// Sources of jobs.
const (
	// SourceAgent is a job of an enrolled agent, reported through the
	// agent's signed requests and accepted by the proof pipeline: work
	// the system assigned and can check. It earns.
	SourceAgent Source = "agent"
	// SourceCoordinator is work the coordinator does itself (verifying a
	// proof). It is the operator's bookkeeping and never earns: the
	// operator would otherwise pay itself from every checkpoint's pool.
	SourceCoordinator Source = "coordinator"
	// SourceTeam is a job a team reported with an API key, without a
	// machine behind it. It is recorded and shown, but does not earn.
	SourceTeam Source = "team"
	// SourceIngest is an event a registered Psy key reported about
	// itself. It earns only when the key is one of
	// Config.TrustedIngestKeys; anyone can register a key.
	SourceIngest Source = "ingest"
)

// CoordinatorWorker is the worker key of jobs the coordinator runs itself.
const CoordinatorWorker = "coordinator"

// Job is a finished (or failed) job, as its producer reports it.
type Job struct {
	// Key identifies the job's event; recording a key again changes
	// nothing.
	Key    string
	Source Source
	// Worker is the worker key: an agent's public key, a Psy key,
	// "team:<uuid>" or CoordinatorWorker.
	Worker    string
	MachineID string
	TeamID    *int64
	RealmID   int64
	// Topic is the task type, e.g. "prove:block"; CircuitType what was
	// proved or checked, e.g. "<zkvm slug>/<version>".
	Topic       string
	CircuitType string
	JobID       string
	// Status is one of the storage.WorkerEvent* statuses.
	Status string
	// Result is the outcome beyond the status ("proved", a verification
	// outcome); Error the failure's text.
	Result     string
	Error      string
	Start, End time.Time
	DurationMS int64
}

// Eligible reports whether a job of this source and worker may draw from
// a checkpoint's pool.
func (s *Service) Eligible(src Source, worker string) bool {
	switch src {
	case SourceAgent:
		return true
	case SourceIngest:
		return s.trusted[ingestKey(worker)]
	}
	return false
}

// RecordJob stores j as a worker event in tx, the transaction of the
// change that reports the job, and tells whether it was new. Its
// checkpoint is the one its end time falls in, and its eligibility is
// decided here, once.
func (s *Service) RecordJob(ctx context.Context, tx *storage.Tx, j Job) (bool, error) {
	if tx == nil {
		return false, errors.New("rewards: RecordJob needs the transaction of the change it records")
	}
	return tx.InsertWorkerEvent(ctx, s.workerEvent(j, s.now()))
}

// RecordJobs stores jobs as RecordJob stores each, in multi-row
// statements, and tells for each whether it was new; a job whose key came
// earlier in jobs is not. One invalid job stores none of them.
func (s *Service) RecordJobs(ctx context.Context, tx *storage.Tx, jobs []Job) ([]bool, error) {
	if tx == nil {
		return nil, errors.New("rewards: RecordJobs needs the transaction of the change it records")
	}
	now := s.now()
	evs := make([]storage.WorkerEvent, len(jobs))
	for i, j := range jobs {
		evs[i] = s.workerEvent(j, now)
	}
	return tx.InsertWorkerEvents(ctx, evs)
}

func (s *Service) workerEvent(j Job, now time.Time) storage.WorkerEvent {
	return storage.WorkerEvent{
		Key: j.Key, RealmID: j.RealmID, WorkerPublicKey: j.Worker, MachineID: j.MachineID, TeamID: j.TeamID,
		Topic: j.Topic, CircuitType: j.CircuitType, JobID: j.JobID, Status: j.Status, Result: j.Result, Error: j.Error,
		StartTime: j.Start, EndTime: j.End, DurationMS: j.DurationMS, CheckpointID: s.rule.Of(j.End),
		CreatedAt: now, Eligible: s.Eligible(j.Source, j.Worker),
	}
}
