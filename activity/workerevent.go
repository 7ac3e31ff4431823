package activity

import (
	"context"
	"fmt"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/storage"
)

// WorkerEventInput is one event a worker reports about its own job
// through the signed ingest endpoint.
type WorkerEventInput struct {
	// EventKey identifies the event among the worker's events; sending it
	// again is a no-op.
	EventKey    string    `json:"event_key"`
	RealmID     int64     `json:"realm_id"`
	Topic       string    `json:"topic"`
	CircuitType string    `json:"circuit_type"`
	JobID       string    `json:"job_id"`
	Status      string    `json:"status"`
	StartTime   time.Time `json:"start_time"`
	EndTime     time.Time `json:"end_time"`
	Error       string    `json:"error,omitempty"`
}

// MaxIngestEvents caps the events of one ingest request.
const MaxIngestEvents = 1000

// IngestResult tells how many events of a batch were new.
type IngestResult struct {
	Accepted  int `json:"accepted"`
	Duplicate int `json:"duplicate"`
}

func (r *IngestResult) count(added bool) {
	if added {
		r.Accepted++
	} else {
		r.Duplicate++
	}
}

func checkBatch(n int, what string) error {
	if n == 0 || n > MaxIngestEvents {
		return proofgrid.Errorf(proofgrid.EINVALID, "send 1..%d %s", MaxIngestEvents, what)
	}
	return nil
}

// IngestWorkerEvents records the events a worker reported about itself
// with the reward pipeline, keyed "psy:<public key>:<event key>", all or
// none. They are stored and shown whoever sent them; they earn only when
// the operator trusts the worker's key (rewards.SourceIngest).
func (s *Service) IngestWorkerEvents(ctx context.Context, worker storage.PsyUser, evs []WorkerEventInput) (IngestResult, error) {
	if err := checkBatch(len(evs), "events"); err != nil {
		return IngestResult{}, err
	}
	now := s.now()
	jobs := make([]rewards.Job, 0, len(evs))
	for i, e := range evs {
		var problems []string
		if e.EventKey == "" || len(e.EventKey) > 200 {
			problems = append(problems, "event_key must be 1..200 characters")
		}
		if e.JobID == "" || len(e.JobID) > 200 || e.Topic == "" || len(e.Topic) > 100 || e.CircuitType == "" || len(e.CircuitType) > 100 {
			problems = append(problems, "job_id (1..200), topic and circuit_type (1..100) are required")
		}
		if !storage.ValidWorkerEventStatus(e.Status) {
			problems = append(problems, fmt.Sprintf("status must be one of Pending, InProgress, Completed, Failed, Cancelled, got %q", e.Status))
		}
		if e.RealmID < 0 {
			problems = append(problems, "realm_id must not be negative")
		}
		// An unfinished job has no end yet: the time it was reported in
		// that state stands in, which gives it a place in time and a
		// checkpoint like any event (it earns nothing there).
		if e.EndTime.IsZero() && (e.Status == storage.WorkerEventPending || e.Status == storage.WorkerEventInProgress) {
			e.EndTime = now
		}
		if e.EndTime.IsZero() || e.StartTime.IsZero() || e.StartTime.After(e.EndTime) {
			problems = append(problems, "start_time and end_time are required (end_time may be left out while Pending or InProgress), start_time <= end_time")
		} else if e.EndTime.After(now.Add(time.Minute)) {
			problems = append(problems, "end_time is in the future")
		}
		if len(problems) > 0 {
			return IngestResult{}, &proofgrid.Error{Code: proofgrid.EINVALID, Message: fmt.Sprintf("event %d is invalid", i), Details: problems}
		}
		if len(e.Error) > 1000 {
			e.Error = e.Error[:1000]
		}
		jobs = append(jobs, rewards.Job{
			Key: "psy:" + worker.PublicKey + ":" + e.EventKey, Source: rewards.SourceIngest, Worker: worker.PublicKey,
			RealmID: e.RealmID, Topic: e.Topic, CircuitType: e.CircuitType, JobID: e.JobID, Status: e.Status, Error: e.Error,
			Start: e.StartTime, End: e.EndTime, DurationMS: e.EndTime.Sub(e.StartTime).Milliseconds(),
		})
	}
	var res IngestResult
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		res = IngestResult{}
		added, err := s.rewards.RecordJobs(ctx, tx, jobs)
		for _, a := range added {
			res.count(a)
		}
		return err
	})
	return res, err
}

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

// WorkerEvents lists worker events with the checkpoint each was assigned
// to (nil until converted).
func (s *Service) WorkerEvents(ctx context.Context, q WorkerEventQuery) ([]storage.PsyWorkerEvent, error) {
	prefixes, exclude := CategoryFilter(q.Category)
	f := storage.PsyWorkerEventFilter{RealmID: q.RealmID, Status: q.Status, Topic: q.Topic, CircuitType: q.CircuitType,
		CircuitPrefixes: prefixes, ExcludePrefixes: exclude, FromCheckpoint: q.FromCheckpoint, ToCheckpoint: q.ToCheckpoint,
		Limit: q.Limit, Offset: q.Offset, Ascending: q.Ascending}
	if q.PublicKey != "" {
		var err error
		if f.PublicKey, err = s.workerKey(ctx, q.PublicKey); err != nil {
			return nil, err
		}
	}
	return s.db.PsyWorkerEvents(ctx, f)
}
