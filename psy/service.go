// Package psy holds the rules of the Psy surface: signed user
// registration, worker and user events, the conversion of worker events
// into checkpointed job events, checkpoint closing and reward
// computation, the rollups behind the aggregation endpoints, and the TPS
// figures broadcast to WebSocket clients.
//
// It sits between the Psy HTTP surface (and the coordinator's task
// handlers) and storage; it imports neither Fiber nor asynq's runtime.
package psy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/storage"
)

// Defaults of Config.
const (
	DefaultCheckpointGrace  = time.Minute
	DefaultRewardPool       = 1_000_000
	DefaultStaleAfter       = time.Minute
	DefaultBatch            = 5000
	DefaultJobStatusRefresh = 10 * time.Second
	DefaultRewardSweep      = 30 * time.Second
	DefaultEventConversion  = 5 * time.Second
	DefaultTPSBroadcast     = 12 * time.Second
	DefaultRateLimit        = 1000
	DefaultRateWindow       = time.Minute
)

// DefaultWeightKey is the key of Config.Weights that sets the weight of
// circuit types the table does not name.
const DefaultWeightKey = "*"

// conversionLookback is how far below its cursor conversion looks again.
// On PostgreSQL ids are taken in insertion order but become visible in
// commit order, so a worker event can appear after others with higher ids;
// such an event is converted on a later run as long as it commits within
// this many ids.
const conversionLookback = 10_000

// Config configures a Service. Zero values mean defaults.
type Config struct {
	// CheckpointLength is the length of a checkpoint window (default 10
	// minutes); windows count from CheckpointOrigin (default the Unix
	// epoch), so checkpoint n covers [origin + n·length, origin +
	// (n+1)·length).
	CheckpointLength time.Duration
	CheckpointOrigin time.Time
	// CheckpointGrace is how long after its window a checkpoint stays open
	// for late events (default 1 minute).
	CheckpointGrace time.Duration
	// RewardPool is the number of reward units each checkpoint
	// distributes (default 1 000 000).
	RewardPool int64
	// Weights maps a circuit type to the points of one completed job;
	// the key "*" sets the weight of every other type (default 1).
	Weights map[string]int64
	// StaleAfter is how old the rollups may be and still count as healthy
	// (default 1 minute).
	StaleAfter time.Duration
	// Batch bounds the rows of one conversion or rollup transaction
	// (default 5000).
	Batch int
	// Intervals of the periodic tasks.
	JobStatusRefreshEvery time.Duration // default 10 s
	RewardSweepEvery      time.Duration // default 30 s
	EventConversionEvery  time.Duration // default 5 s
	TPSBroadcastEvery     time.Duration // default 12 s
	// RateLimit requests per RateWindow per client on the Psy routes
	// (defaults 1000 per minute); a negative RateLimit turns limiting off.
	RateLimit  int
	RateWindow time.Duration

	Now    func() time.Time
	Logger *slog.Logger
}

// Resolve fills defaults and validates c.
func (c *Config) Resolve() error {
	if c.CheckpointGrace <= 0 {
		c.CheckpointGrace = DefaultCheckpointGrace
	}
	if c.RewardPool == 0 {
		c.RewardPool = DefaultRewardPool
	}
	if c.RewardPool < 0 {
		return fmt.Errorf("psy: reward pool %d is negative", c.RewardPool)
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = DefaultStaleAfter
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.JobStatusRefreshEvery, DefaultJobStatusRefresh)
	def(&c.RewardSweepEvery, DefaultRewardSweep)
	def(&c.EventConversionEvery, DefaultEventConversion)
	def(&c.TPSBroadcastEvery, DefaultTPSBroadcast)
	def(&c.RateWindow, DefaultRateWindow)
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if err := c.weights().Validate(); err != nil {
		return err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

func (c *Config) weights() rewards.Weights {
	w := rewards.Weights{ByCircuit: map[string]int64{}, Default: 1}
	for k, v := range c.Weights {
		if k == DefaultWeightKey {
			w.Default = v
		} else {
			w.ByCircuit[k] = v
		}
	}
	return w
}

// ParseWeights parses "Type=weight,Type=weight,*=weight", the form the
// PSY_REWARD_WEIGHTS environment variable takes.
func ParseWeights(s string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		var n int64
		if _, err := fmt.Sscan(strings.TrimSpace(v), &n); !ok || err != nil || strings.TrimSpace(k) == "" || n < 0 {
			return nil, fmt.Errorf("psy: weight %q: want circuit_type=non-negative integer", part)
		}
		out[strings.TrimSpace(k)] = n
	}
	return out, nil
}

// Notifier is told that outbox rows were committed; *outbox.Relay is one.
type Notifier interface{ Notify() }

// Service applies the Psy rules over storage.
type Service struct {
	db      *storage.DB
	cfg     Config
	rule    rewards.Window
	weights string // JSON of the weight table, fixed into each checkpoint at close
	outbox  Notifier
}

// New returns a Service; outbox may be nil.
func New(db *storage.DB, cfg Config, outbox Notifier) (*Service, error) {
	if err := cfg.Resolve(); err != nil {
		return nil, err
	}
	rule, err := rewards.NewWindow(cfg.CheckpointLength, cfg.CheckpointOrigin)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(cfg.weights())
	if err != nil {
		return nil, err
	}
	return &Service{db: db, cfg: cfg, rule: rule, weights: string(b), outbox: outbox}, nil
}

// Config returns the resolved configuration.
func (s *Service) Config() Config { return s.cfg }

// Rule returns the checkpoint rule.
func (s *Service) Rule() rewards.Window { return s.rule }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// RegisterRequest is the body of POST /register.
type RegisterRequest struct {
	PublicKey     string `json:"public_key"`
	TwitterHandle string `json:"twitter_handle"`
	Label         string `json:"label"`
	Signature     string `json:"signature"`
}

// Register verifies the signature of r over RegistrationMessage and
// stores the user with a RegisterUser event. A key registered already is
// ECONFLICT.
func (s *Service) Register(ctx context.Context, r RegisterRequest) (storage.PsyUser, error) {
	var problems []string
	if r.PublicKey == "" {
		problems = append(problems, "public_key is required")
	}
	if r.Signature == "" {
		problems = append(problems, "signature is required")
	}
	if n := len(r.TwitterHandle); n == 0 || n > 64 {
		problems = append(problems, "twitter_handle must be 1..64 characters")
	}
	if n := len(r.Label); n == 0 || n > 200 {
		problems = append(problems, "label must be 1..200 characters")
	}
	if strings.ContainsAny(r.TwitterHandle+r.Label, "\r\n") {
		problems = append(problems, "twitter_handle and label may not contain line breaks")
	}
	if len(problems) > 0 {
		return storage.PsyUser{}, &proofgrid.Error{Code: proofgrid.EINVALID, Message: "invalid registration", Details: problems}
	}
	key, err := ParseKey(r.PublicKey)
	if err != nil {
		return storage.PsyUser{}, err
	}
	if err := key.Verify(RegistrationMessage(key.Canonical, r.TwitterHandle, r.Label), r.Signature); err != nil {
		return storage.PsyUser{}, err
	}
	now := s.now()
	return s.db.CreatePsyUser(ctx, storage.PsyUser{
		PublicKey: key.Canonical, KeyType: key.Type, Address: key.Address,
		TwitterHandle: r.TwitterHandle, Label: r.Label, CreatedAt: now,
	}, s.rule.Of(now))
}

// User returns the user registered with publicKey (any accepted form).
func (s *Service) User(ctx context.Context, publicKey string) (storage.PsyUser, error) {
	key, err := ParseKey(publicKey)
	if err != nil {
		return storage.PsyUser{}, err
	}
	return s.db.PsyUserByKey(ctx, key.Canonical)
}

// AuthenticateWorker checks that a registered user signed msg with sig
// and returns the user.
func (s *Service) AuthenticateWorker(ctx context.Context, publicKey string, msg []byte, sig string) (storage.PsyUser, error) {
	key, err := ParseKey(publicKey)
	if err != nil {
		return storage.PsyUser{}, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "%s: %s", HeaderPublicKey, proofgrid.ErrorMessage(err))
	}
	u, err := s.db.PsyUserByKey(ctx, key.Canonical)
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		return storage.PsyUser{}, proofgrid.Errorf(proofgrid.EUNAUTHORIZED, "%s is not registered: POST /register first", key.Canonical)
	} else if err != nil {
		return storage.PsyUser{}, err
	}
	// A user registered with an address verifies through the address; one
	// registered with a full key through that key.
	reg, err := ParseKey(u.PublicKey)
	if err != nil {
		return storage.PsyUser{}, err
	}
	if err := reg.Verify(msg, sig); err != nil {
		return storage.PsyUser{}, err
	}
	return u, nil
}

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

// IngestWorkerEvents stores the events a worker reported about itself as
// worker events keyed "psy:<public key>:<event key>", all or none.
func (s *Service) IngestWorkerEvents(ctx context.Context, worker storage.PsyUser, evs []WorkerEventInput) (IngestResult, error) {
	if len(evs) == 0 || len(evs) > MaxIngestEvents {
		return IngestResult{}, proofgrid.Errorf(proofgrid.EINVALID, "send 1..%d events", MaxIngestEvents)
	}
	now := s.now()
	rows := make([]storage.WorkerEvent, 0, len(evs))
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
		if e.EndTime.IsZero() || e.StartTime.IsZero() || e.StartTime.After(e.EndTime) {
			problems = append(problems, "start_time and end_time are required, start_time <= end_time")
		} else if e.EndTime.After(now.Add(time.Minute)) {
			problems = append(problems, "end_time is in the future")
		}
		if len(problems) > 0 {
			return IngestResult{}, &proofgrid.Error{Code: proofgrid.EINVALID, Message: fmt.Sprintf("event %d is invalid", i), Details: problems}
		}
		if len(e.Error) > 1000 {
			e.Error = e.Error[:1000]
		}
		rows = append(rows, storage.WorkerEvent{
			Key: "psy:" + worker.PublicKey + ":" + e.EventKey, RealmID: e.RealmID, WorkerPublicKey: worker.PublicKey,
			Topic: e.Topic, CircuitType: e.CircuitType, JobID: e.JobID, Status: e.Status, Error: e.Error,
			StartTime: e.StartTime, EndTime: e.EndTime, DurationMS: e.EndTime.Sub(e.StartTime).Milliseconds(),
			CheckpointID: s.rule.Of(e.EndTime), CreatedAt: now,
		})
	}
	var res IngestResult
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		res = IngestResult{}
		for _, r := range rows {
			added, err := tx.InsertWorkerEvent(ctx, r)
			if err != nil {
				return err
			}
			if added {
				res.Accepted++
			} else {
				res.Duplicate++
			}
		}
		return nil
	})
	return res, err
}

// UserEventInput is one user event sent through the admin ingest API.
type UserEventInput struct {
	EventKey  string    `json:"event_key"`
	UserID    string    `json:"user_id"`
	PublicKey string    `json:"public_key"`
	TxType    string    `json:"tx_type"`
	Timestamp time.Time `json:"timestamp"`
}

// IngestUserEvents stores user events, idempotent by event key, all or
// none. The checkpoint of each is the one its timestamp falls in.
func (s *Service) IngestUserEvents(ctx context.Context, evs []UserEventInput) (IngestResult, error) {
	if len(evs) == 0 || len(evs) > MaxIngestEvents {
		return IngestResult{}, proofgrid.Errorf(proofgrid.EINVALID, "send 1..%d events", MaxIngestEvents)
	}
	now := s.now()
	for i, e := range evs {
		if e.EventKey == "" || len(e.EventKey) > 200 || e.UserID == "" || len(e.UserID) > 200 || len(e.PublicKey) > 200 ||
			!storage.ValidPsyTxType(e.TxType) || e.Timestamp.IsZero() {
			return IngestResult{}, proofgrid.Errorf(proofgrid.EINVALID,
				"event %d: event_key and user_id (1..200 characters), timestamp and tx_type (RegisterUser, DeployContract or UserTransaction) are required", i)
		}
	}
	var res IngestResult
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		res = IngestResult{}
		for _, e := range evs {
			added, err := tx.InsertPsyUserEvent(ctx, storage.PsyUserEvent{
				Key: "ingest:" + e.EventKey, UserID: e.UserID, PublicKey: e.PublicKey, TxType: e.TxType,
				CheckpointID: s.rule.Of(e.Timestamp), Timestamp: e.Timestamp, CreatedAt: now,
			})
			if err != nil {
				return err
			}
			if added {
				res.Accepted++
			} else {
				res.Duplicate++
			}
		}
		return nil
	})
	return res, err
}

// MaxContractFunctions caps the functions of one contract.
const MaxContractFunctions = 1000

// RecordContracts stores contracts (replacing the metadata of known
// UUIDs) and a DeployContract user event for each new one, all or none.
func (s *Service) RecordContracts(ctx context.Context, cs []storage.PsyContract) (IngestResult, error) {
	if len(cs) == 0 || len(cs) > MaxIngestEvents {
		return IngestResult{}, proofgrid.Errorf(proofgrid.EINVALID, "send 1..%d contracts", MaxIngestEvents)
	}
	now := s.now()
	for i, c := range cs {
		if c.UUID == "" || len(c.UUID) > 100 || c.Deployer == "" || len(c.Deployer) > 200 || c.StateTreeHeight < 0 ||
			c.StateTreeHeight > 256 || len(c.Functions) > MaxContractFunctions || c.DeployedAt.IsZero() || len(c.Description) > 10_000 {
			return IngestResult{}, proofgrid.Errorf(proofgrid.EINVALID,
				"contract %d: uuid (1..100), deployer (1..200), deployed_at and state_tree_height (0..256) are required; at most %d functions", i, MaxContractFunctions)
		}
		for _, f := range c.Functions {
			if f.Name == "" || len(f.Name) > 200 || len(f.Description) > 1000 {
				return IngestResult{}, proofgrid.Errorf(proofgrid.EINVALID, "contract %d: each function needs a name (1..200)", i)
			}
		}
	}
	var res IngestResult
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		res = IngestResult{}
		for _, c := range cs {
			c.CreatedAt = now
			created, err := tx.UpsertPsyContract(ctx, c)
			if err != nil {
				return err
			}
			if !created {
				res.Duplicate++
				continue
			}
			res.Accepted++
			if _, err := tx.InsertPsyUserEvent(ctx, storage.PsyUserEvent{
				Key: "contract:" + c.UUID, UserID: c.Deployer, PublicKey: c.Deployer, TxType: storage.PsyTxDeployContract,
				CheckpointID: s.rule.Of(c.DeployedAt), Timestamp: c.DeployedAt, CreatedAt: now,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return res, err
}

// Convert turns worker events into job events until none is left, and
// returns how many it converted.
//
// A job event belongs to the checkpoint its end time falls in while that
// checkpoint is open (its window plus grace has not passed); an event that
// arrives later goes to the current checkpoint instead, so that a closed
// checkpoint's events, and so its rewards, never change.
func (s *Service) Convert(ctx context.Context) (int, error) {
	total := 0
	for {
		n, more, err := s.convertBatch(ctx)
		total += n
		if err != nil || !more {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

func (s *Service) convertBatch(ctx context.Context) (int, bool, error) {
	now := s.now()
	var n int
	var more bool
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		n, more = 0, false
		st, err := tx.LockPsyState(ctx, storage.PsyStateEvents)
		if err != nil {
			return err
		}
		evs, err := tx.UnconvertedWorkerEvents(ctx, max(st.IntValue-conversionLookback, 0), s.cfg.Batch)
		if err != nil || len(evs) == 0 {
			return err
		}
		status := map[int64]string{}
		jobs := make([]storage.PsyJobEvent, 0, len(evs))
		for _, e := range evs {
			cp, err := s.assign(ctx, tx, e.EndTime, now, status)
			if err != nil {
				return err
			}
			jobs = append(jobs, storage.PsyJobEvent{
				WorkerEventID: e.ID, CheckpointID: cp, RealmID: e.RealmID, JobID: e.JobID,
				WorkerPublicKey: e.WorkerPublicKey, Topic: e.Topic, CircuitType: e.CircuitType, Status: e.Status,
				DurationMS: e.DurationMS, StartTime: e.StartTime, EndTime: e.EndTime,
			})
		}
		if _, err := tx.InsertPsyJobEvents(ctx, jobs); err != nil {
			return err
		}
		st.IntValue = max(st.IntValue, evs[len(evs)-1].ID)
		n, more = len(evs), len(evs) == s.cfg.Batch
		return tx.SetPsyState(ctx, st)
	})
	return n, more, err
}

// assign returns the open checkpoint an event that ended at end goes to.
// status caches the checkpoints this transaction touched.
func (s *Service) assign(ctx context.Context, tx *storage.Tx, end, now time.Time, status map[int64]string) (int64, error) {
	id := s.rule.Of(end)
	if _, cpEnd := s.rule.Bounds(id); !cpEnd.Add(s.cfg.CheckpointGrace).After(now) {
		id = max(id, s.rule.Of(now))
	}
	// An admin may have closed a checkpoint early; move on to the next.
	for range 10_000 {
		st, ok := status[id]
		if !ok {
			start, cpEnd := s.rule.Bounds(id)
			var err error
			if st, err = tx.TouchPsyCheckpoint(ctx, id, start, cpEnd, now); err != nil {
				return 0, err
			}
			status[id] = st
		}
		if st == storage.PsyCheckpointOpen {
			return id, nil
		}
		id++
	}
	return 0, fmt.Errorf("psy: no open checkpoint found after %d", id)
}

// SweepResult tells what a reward sweep did.
type SweepResult struct {
	Converted int
	Closed    []int64
	Pending   []int64
}

// Sweep converts waiting worker events, closes the checkpoints whose
// window and grace have passed, and queues a reward:checkpoint task for
// every closed checkpoint not processed yet, through the outbox.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	var err error
	if res.Converted, err = s.Convert(ctx); err != nil {
		return res, fmt.Errorf("convert: %w", err)
	}
	now := s.now()
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.LockPsyState(ctx, storage.PsyStateEvents); err != nil {
			return err
		}
		closed, err := tx.ClosePsyCheckpoints(ctx, now.Add(-s.cfg.CheckpointGrace), s.cfg.RewardPool, s.weights, now)
		if err != nil {
			return err
		}
		pending, err := tx.PsyCheckpointIDs(ctx, storage.PsyCheckpointClosed)
		if err != nil {
			return err
		}
		for _, id := range pending {
			if err := tx.Enqueue(ctx, queue.RewardCheckpoint(queue.RewardCheckpointPayload{CheckpointID: id})); err != nil {
				return err
			}
		}
		res.Closed, res.Pending = closed, pending
		return nil
	})
	if err == nil && len(res.Pending) > 0 && s.outbox != nil {
		s.outbox.Notify()
	}
	return res, err
}

// Compute computes (or recomputes) the reward distribution of a closed
// checkpoint and returns it. The distribution depends only on the
// checkpoint's job events and the pool and weights fixed when it closed,
// so every computation writes the same rows. Two computations of one
// checkpoint run one after the other (its row is locked), and each
// replaces the rows in one transaction.
func (s *Service) Compute(ctx context.Context, id int64) ([]storage.PsyDistribution, error) {
	var out []storage.PsyDistribution
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		started := time.Now()
		cp, err := tx.BeginPsyCheckpointComputation(ctx, id)
		if err != nil {
			return err
		}
		cells, err := tx.PsyCheckpointCells(ctx, id)
		if err != nil {
			return err
		}
		var w rewards.Weights
		if err := json.Unmarshal([]byte(cp.Weights), &w); err != nil {
			return fmt.Errorf("psy: weights of checkpoint %d: %w", id, err)
		}
		stats := tally(cells)
		shares, err := rewards.Distribute(cp.Pool, w, stats.work)
		if err != nil {
			return err
		}
		now := s.now()
		rows := make([]storage.PsyDistribution, 0, len(shares))
		cp.TotalRewards = 0
		for _, sh := range shares {
			cp.TotalRewards += sh.Reward
			rows = append(rows, storage.PsyDistribution{CheckpointID: id, WorkerPublicKey: sh.Worker,
				CircuitType: sh.CircuitType, JobCount: sh.Jobs, TotalRewards: sh.Reward})
		}
		if err := tx.ReplacePsyDistributions(ctx, cp, rows, now); err != nil {
			return err
		}
		ms := float64(time.Since(started).Microseconds()) / 1000
		cp.TotalJobs, cp.CompletedJobs, cp.FailedJobs, cp.UniqueWorkers = stats.total, stats.completed, stats.failed, stats.workers
		cp.ProcessingMS, cp.ProcessedAt = &ms, &now
		if err := tx.FinishPsyCheckpoint(ctx, cp); err != nil {
			return err
		}
		out, err = tx.PsyDistributions(ctx, id)
		return err
	})
	return out, err
}

type checkpointTally struct {
	total, completed, failed, workers int64
	work                              []rewards.Work
}

func tally(cells []storage.PsyCell) checkpointTally {
	var t checkpointTally
	workers := map[string]bool{}
	for _, c := range cells {
		t.total += c.Jobs
		workers[c.WorkerPublicKey] = true
		switch c.Status {
		case storage.WorkerEventCompleted:
			t.completed += c.Jobs
			t.work = append(t.work, rewards.Work{Worker: c.WorkerPublicKey, CircuitType: c.CircuitType, Jobs: c.Jobs})
		case storage.WorkerEventFailed:
			t.failed += c.Jobs
		}
	}
	t.workers = int64(len(workers))
	return t
}

// CalculateNow closes checkpoint id if its window has ended (an admin may
// close it before its grace period is over) and computes its rewards. A
// checkpoint whose window has not ended yet is ECONFLICT.
func (s *Service) CalculateNow(ctx context.Context, id int64) ([]storage.PsyDistribution, error) {
	start, end := s.rule.Bounds(id)
	now := s.now()
	if end.After(now) {
		return nil, proofgrid.Errorf(proofgrid.ECONFLICT, "checkpoint %d ends at %s; its rewards can be calculated after that", id, end.Format(time.RFC3339))
	}
	if _, err := s.Convert(ctx); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.LockPsyState(ctx, storage.PsyStateEvents); err != nil {
			return err
		}
		return tx.ClosePsyCheckpoint(ctx, id, start, end, s.cfg.RewardPool, s.weights, now)
	})
	if err != nil {
		return nil, err
	}
	return s.Compute(ctx, id)
}

// ProcessingStatus is the body of /admin/checkpoint-processing-status.
type ProcessingStatus struct {
	PendingCount            int     `json:"pending_count"`
	PendingCheckpoints      []int64 `json:"pending_checkpoints"`
	LastProcessedCheckpoint *int64  `json:"last_processed_checkpoint"`
	Status                  string  `json:"status"`
}

// Processing returns the reward processing status.
func (s *Service) Processing(ctx context.Context) (ProcessingStatus, error) {
	pending, last, err := s.db.PsyProcessingStatus(ctx)
	if err != nil {
		return ProcessingStatus{}, err
	}
	if pending == nil {
		pending = []int64{}
	}
	st := ProcessingStatus{PendingCount: len(pending), PendingCheckpoints: pending, LastProcessedCheckpoint: last}
	switch len(pending) {
	case 0:
		st.Status = "up to date"
	case 1:
		st.Status = "1 checkpoint pending"
	default:
		st.Status = fmt.Sprintf("%d checkpoints pending", len(pending))
	}
	return st, nil
}

// Refresh brings the rollups up to date with the job events and user
// events, in batches, and records when it last caught up. It stops after
// budget (when positive) and reports whether it caught up.
func (s *Service) Refresh(ctx context.Context, budget time.Duration) (bool, error) {
	started := time.Now()
	caught := false
	for !caught {
		var err error
		if caught, err = s.rollupJobs(ctx); err != nil {
			return false, fmt.Errorf("job rollup: %w", err)
		}
		if budget > 0 && time.Since(started) > budget {
			break
		}
	}
	userCaught := false
	for !userCaught {
		var err error
		if userCaught, err = s.rollupUserEvents(ctx); err != nil {
			return false, fmt.Errorf("user event rollup: %w", err)
		}
		if budget > 0 && time.Since(started) > budget {
			break
		}
	}
	return caught && userCaught, nil
}

type bucketKey struct {
	bucket string
	start  time.Time
}

func (s *Service) rollupJobs(ctx context.Context) (bool, error) {
	caught := false
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		st, err := tx.LockPsyState(ctx, storage.PsyStateRollup)
		if err != nil {
			return err
		}
		evs, err := tx.UnrolledPsyJobEvents(ctx, s.cfg.Batch)
		if err != nil {
			return err
		}
		deltas := map[bucketKey]*storage.PsyEventRollup{}
		workers := map[storage.PsyBucketWorker]bool{}
		type jobKey struct {
			hour    time.Time
			realm   int64
			status  string
			circuit string
		}
		jobs := map[jobKey]*storage.PsyJobRollup{}
		ids := make([]int64, 0, len(evs))
		for _, e := range evs {
			ids = append(ids, e.ID)
			for _, b := range EventBuckets {
				start, _ := BucketStart(b, e.EndTime)
				k := bucketKey{b, start}
				d := deltas[k]
				if d == nil {
					d = &storage.PsyEventRollup{Bucket: b, BucketStart: start}
					deltas[k] = d
				}
				d.TotalEvents++
				switch e.Status {
				case storage.WorkerEventCompleted:
					d.Completed++
				case storage.WorkerEventFailed:
					d.Failed++
				}
				workers[storage.PsyBucketWorker{Bucket: b, BucketStart: start, Worker: e.WorkerPublicKey}] = true
			}
			hour, _ := BucketStart(BucketHour, e.EndTime)
			jk := jobKey{hour, e.RealmID, e.Status, e.CircuitType}
			j := jobs[jk]
			if j == nil {
				j = &storage.PsyJobRollup{HourStart: hour, RealmID: e.RealmID, Status: e.Status, CircuitType: e.CircuitType}
				jobs[jk] = j
			}
			j.JobCount++
			j.DurationMSSum += e.DurationMS
		}
		if len(evs) > 0 {
			if err := tx.AddPsyEventRollups(ctx, sortedDeltas(deltas), sortedWorkers(workers)); err != nil {
				return err
			}
			js := make([]storage.PsyJobRollup, 0, len(jobs))
			for _, j := range jobs {
				js = append(js, *j)
			}
			// A fixed order keeps concurrent upserts from deadlocking.
			sort.Slice(js, func(a, b int) bool {
				x, y := js[a], js[b]
				if !x.HourStart.Equal(y.HourStart) {
					return x.HourStart.Before(y.HourStart)
				}
				if x.RealmID != y.RealmID {
					return x.RealmID < y.RealmID
				}
				if x.Status != y.Status {
					return x.Status < y.Status
				}
				return x.CircuitType < y.CircuitType
			})
			if err := tx.AddPsyJobRollups(ctx, js); err != nil {
				return err
			}
			if err := tx.MarkPsyJobEventsRolledUp(ctx, ids); err != nil {
				return err
			}
		}
		caught = len(evs) < s.cfg.Batch
		now := s.now()
		st.TimeValue, st.Flag = &now, caught
		return tx.SetPsyState(ctx, st)
	})
	return caught, err
}

func sortedDeltas(m map[bucketKey]*storage.PsyEventRollup) []storage.PsyEventRollup {
	out := make([]storage.PsyEventRollup, 0, len(m))
	for _, d := range m {
		out = append(out, *d)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Bucket != out[b].Bucket {
			return out[a].Bucket < out[b].Bucket
		}
		return out[a].BucketStart.Before(out[b].BucketStart)
	})
	return out
}

func sortedWorkers(m map[storage.PsyBucketWorker]bool) []storage.PsyBucketWorker {
	out := make([]storage.PsyBucketWorker, 0, len(m))
	for w := range m {
		out = append(out, w)
	}
	sort.Slice(out, func(a, b int) bool {
		x, y := out[a], out[b]
		if x.Bucket != y.Bucket {
			return x.Bucket < y.Bucket
		}
		if !x.BucketStart.Equal(y.BucketStart) {
			return x.BucketStart.Before(y.BucketStart)
		}
		return x.Worker < y.Worker
	})
	return out
}

func (s *Service) rollupUserEvents(ctx context.Context) (bool, error) {
	caught := false
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		st, err := tx.LockPsyState(ctx, storage.PsyStateUserRollup)
		if err != nil {
			return err
		}
		evs, err := tx.UnrolledPsyUserEvents(ctx, s.cfg.Batch)
		if err != nil {
			return err
		}
		deltas := map[bucketKey]*storage.PsyUserEventRollup{}
		ids := make([]int64, 0, len(evs))
		for _, e := range evs {
			ids = append(ids, e.ID)
			for _, b := range EventBuckets {
				start, _ := BucketStart(b, e.Timestamp)
				k := bucketKey{b, start}
				d := deltas[k]
				if d == nil {
					d = &storage.PsyUserEventRollup{Bucket: b, BucketStart: start}
					deltas[k] = d
				}
				d.TotalEvents++
				switch e.TxType {
				case storage.PsyTxRegisterUser:
					d.RegisterUser++
				case storage.PsyTxDeployContract:
					d.DeployContract++
				case storage.PsyTxUserTransaction:
					d.UserTx++
				}
			}
		}
		if len(evs) > 0 {
			out := make([]storage.PsyUserEventRollup, 0, len(deltas))
			for _, d := range deltas {
				out = append(out, *d)
			}
			sort.Slice(out, func(a, b int) bool {
				if out[a].Bucket != out[b].Bucket {
					return out[a].Bucket < out[b].Bucket
				}
				return out[a].BucketStart.Before(out[b].BucketStart)
			})
			if err := tx.AddPsyUserEventRollups(ctx, out); err != nil {
				return err
			}
			if err := tx.MarkPsyUserEventsRolledUp(ctx, ids); err != nil {
				return err
			}
		}
		caught = len(evs) < s.cfg.Batch
		now := s.now()
		st.TimeValue, st.Flag = &now, caught
		return tx.SetPsyState(ctx, st)
	})
	return caught, err
}

// RollupHealthy reports whether the rollups are fresh: each refreshed
// within StaleAfter and caught up with what it found then, and no worker
// event older than StaleAfter waits for conversion.
func (s *Service) RollupHealthy(ctx context.Context) (bool, error) {
	now := s.now()
	for _, name := range []string{storage.PsyStateRollup, storage.PsyStateUserRollup} {
		st, err := s.db.PsyState(ctx, name)
		if err != nil {
			return false, err
		}
		if !st.Flag || st.TimeValue == nil || now.Sub(*st.TimeValue) > s.cfg.StaleAfter {
			return false, nil
		}
	}
	ev, err := s.db.PsyState(ctx, storage.PsyStateEvents)
	if err != nil {
		return false, err
	}
	waiting, err := s.db.WorkerEventsWaiting(ctx, max(ev.IntValue-conversionLookback, 0), now.Add(-s.cfg.StaleAfter))
	if err != nil {
		return false, err
	}
	return !waiting, nil
}
