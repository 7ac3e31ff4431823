package pool

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/queue"
	"github.com/proofgrid/proofgrid/storage"
)

// Notifier is told when a commit wrote outbox rows (*outbox.Relay).
type Notifier interface{ Notify() }

// Service applies the Pool's rules to the database.
type Service struct {
	db     *storage.DB
	cfg    Config
	outbox Notifier
}

// New returns a Service; cfg is resolved here. outbox may be nil.
func New(db *storage.DB, cfg Config, outbox Notifier) (*Service, error) {
	if err := cfg.Resolve(); err != nil {
		return nil, err
	}
	return &Service{db: db, cfg: cfg, outbox: outbox}, nil
}

// Config returns the resolved configuration.
func (s *Service) Config() *Config { return &s.cfg }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

func (s *Service) notify() {
	if s.outbox != nil {
		s.outbox.Notify()
	}
}

// Bootstrap stores the catalogue's seed algorithms; those stored already
// are left as they are, so every replica may call it at start.
func (s *Service) Bootstrap(ctx context.Context) (int, error) {
	n := 0
	for _, tt := range Catalogue() {
		for _, seed := range tt.Seeds {
			_, inserted, err := s.db.InsertPoolAlgorithm(ctx, storage.PoolAlgorithm{
				TaskType: tt.TaskType, Digest: Digest(tt.TaskType, seed.DSL), Name: seed.Name, DSL: seed.DSL,
				Origin: "seed", CreatedAt: s.now(),
			})
			if err != nil {
				return n, fmt.Errorf("pool: seed %s/%s: %w", tt.TaskType, seed.Name, err)
			}
			if inserted {
				n++
			}
		}
	}
	return n, nil
}

// Register creates or refreshes the miner hotkey and tells whether it was
// new.
func (s *Service) Register(ctx context.Context, hotkey string) (storage.PoolMiner, bool, error) {
	return s.db.RegisterPoolMiner(ctx, hotkey, s.now())
}

// Miner returns a registered miner; an unknown one is EFORBIDDEN with a
// hint to register, since its signature was good.
func (s *Service) Miner(ctx context.Context, hotkey string) (storage.PoolMiner, error) {
	m, err := s.db.PoolMiner(ctx, hotkey)
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		return m, proofgrid.Errorf(proofgrid.EFORBIDDEN, "miner %s is not registered: POST /api/v1/miners/register first", hotkey)
	}
	return m, err
}

// PublicMiner returns a miner for public lookups: unknown is ENOTFOUND.
func (s *Service) PublicMiner(ctx context.Context, hotkey string) (storage.PoolMiner, error) {
	return s.db.PoolMiner(ctx, hotkey)
}

// SetRecipient sets where a registered miner's rewards go.
func (s *Service) SetRecipient(ctx context.Context, hotkey, recipient string) (storage.PoolMiner, error) {
	if _, err := s.Miner(ctx, hotkey); err != nil {
		return storage.PoolMiner{}, err
	}
	return s.db.SetPoolRecipient(ctx, hotkey, recipient, s.now())
}

// MinerStats is a miner's record with its work and rewards.
type MinerStats struct {
	storage.PoolMinerStats
	Rewarded *big.Int
	Active   *storage.PoolAssignment
}

// Stats returns the stats of a registered miner.
func (s *Service) Stats(ctx context.Context, hotkey string) (MinerStats, error) {
	if _, err := s.Miner(ctx, hotkey); err != nil {
		return MinerStats{}, err
	}
	st, err := s.db.PoolMinerStats(ctx, hotkey)
	if err != nil {
		return MinerStats{}, err
	}
	out := MinerStats{PoolMinerStats: st, Rewarded: new(big.Int)}
	for _, a := range st.RewardAmounts {
		v, ok := new(big.Int).SetString(a, 10)
		if !ok {
			return MinerStats{}, fmt.Errorf("pool: stored reward %q is not a number", a)
		}
		out.Rewarded.Add(out.Rewarded, v)
	}
	out.Active, err = s.db.ActivePoolAssignment(ctx, hotkey, s.now())
	return out, err
}

// Counts summarises the Pool.
func (s *Service) Counts(ctx context.Context) (storage.PoolCounts, error) {
	return s.db.PoolCounts(ctx, s.now())
}

// Leaderboard returns the top miners by reputation.
func (s *Service) Leaderboard(ctx context.Context, limit int) ([]storage.PoolMinerStats, error) {
	return s.db.PoolLeaderboard(ctx, limit)
}

// Assignment is a lease or batch with its algorithms.
type Assignment struct {
	storage.PoolAssignment
	Evaluate []storage.PoolAlgorithm
	Seeds    []storage.PoolAlgorithm
	Gossip   []storage.PoolAlgorithm
}

// Lease hands a lease to a registered miner: up to EvalBatchSize
// algorithms to evaluate, up to SeedBatchSize to evolve from, the
// evolve budget, and a gossip packet of the task type's most recently
// verified algorithms. A miner holding an active lease or batch gets
// ECONFLICT naming it.
func (s *Service) Lease(ctx context.Context, hotkey string, p LeaseParams) (Assignment, error) {
	return s.assign(ctx, hotkey, KindLease, p)
}

// Request hands a registered miner an evaluation batch when algorithms of
// the task type await evaluation, and an evolution batch otherwise.
func (s *Service) Request(ctx context.Context, hotkey, taskType string) (Assignment, error) {
	return s.assign(ctx, hotkey, "", LeaseParams{TaskType: taskType, EvalBatchSize: s.cfg.EvalBatchSize, SeedBatchSize: s.cfg.SeedBatchSize})
}

func (s *Service) assign(ctx context.Context, hotkey, kind string, p LeaseParams) (Assignment, error) {
	if _, err := s.Miner(ctx, hotkey); err != nil {
		return Assignment{}, err
	}
	now := s.now()
	if err := s.db.ExpirePoolAssignments(ctx, hotkey, now); err != nil {
		return Assignment{}, err
	}
	if cur, err := s.db.ActivePoolAssignment(ctx, hotkey, now); err != nil {
		return Assignment{}, err
	} else if cur != nil {
		return Assignment{}, activeConflict(cur)
	}
	evaluate, err := s.db.PoolAlgorithmsToEvaluate(ctx, p.TaskType, hotkey, s.cfg.N, p.EvalBatchSize)
	if err != nil {
		return Assignment{}, err
	}
	a := Assignment{PoolAssignment: storage.PoolAssignment{
		ID: uuid.NewString(), Hotkey: hotkey, Kind: kind, TaskType: p.TaskType, CreatedAt: now, ExpiresAt: now.Add(s.cfg.LeaseTTL),
	}}
	if p.SimWindow != nil {
		start := s.cfg.WindowStart(*p.SimWindow).Unix()
		a.WindowStart = &start
	}
	if kind == "" {
		kind = KindEvolve
		if len(evaluate) > 0 {
			kind = KindEvaluate
		}
		a.Kind = kind
	}
	if kind != KindEvolve {
		a.Evaluate = evaluate
	}
	if kind != KindEvaluate {
		if a.Seeds, err = s.db.PoolTopAlgorithms(ctx, p.TaskType, p.SeedBatchSize); err != nil {
			return Assignment{}, err
		}
		a.EvolveBudget = s.cfg.EvolveBudget
		if kind == KindEvolve {
			a.EvolveBudget = 1
		}
		if len(a.Seeds) == 0 {
			a.EvolveBudget = 0
		}
	}
	if kind == KindLease && p.GossipLimit > 0 {
		if a.Gossip, err = s.db.PoolRecentVerified(ctx, p.TaskType, p.GossipLimit); err != nil {
			return Assignment{}, err
		}
	}
	a.EvaluateIDs, a.SeedIDs, a.GossipIDs = ids(a.Evaluate), ids(a.Seeds), ids(a.Gossip)
	if err := s.db.InsertPoolAssignment(ctx, a.PoolAssignment); err != nil {
		if proofgrid.ErrorCode(err) == proofgrid.ECONFLICT {
			if cur, _ := s.db.ActivePoolAssignment(ctx, hotkey, now); cur != nil {
				return Assignment{}, activeConflict(cur)
			}
		}
		return Assignment{}, err
	}
	return a, nil
}

func activeConflict(cur *storage.PoolAssignment) error {
	return proofgrid.Errorf(proofgrid.ECONFLICT, "miner already holds active %s %s (expires %s): submit it or let it expire first",
		cur.Kind, cur.ID, cur.ExpiresAt.UTC().Format(time.RFC3339))
}

func ids(as []storage.PoolAlgorithm) []int64 {
	out := make([]int64, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// Pending returns the miner's active assignment with its algorithms, or
// nil.
func (s *Service) Pending(ctx context.Context, hotkey string) (*Assignment, error) {
	if _, err := s.Miner(ctx, hotkey); err != nil {
		return nil, err
	}
	cur, err := s.db.ActivePoolAssignment(ctx, hotkey, s.now())
	if err != nil || cur == nil {
		return nil, err
	}
	a := &Assignment{PoolAssignment: *cur}
	if a.Evaluate, err = s.db.PoolAlgorithmsByID(ctx, cur.EvaluateIDs); err != nil {
		return nil, err
	}
	if a.Seeds, err = s.db.PoolAlgorithmsByID(ctx, cur.SeedIDs); err != nil {
		return nil, err
	}
	return a, nil
}

// Receipt says what a submission was credited with.
type Receipt struct {
	AssignmentID string
	Kind         string
	// Accepted evaluations count for consensus; late ones arrived after
	// their result was decided or had all its evaluations, and are kept
	// without counting.
	Accepted, Late int
	Evolutions     []EvolutionReceipt
	GossipAccepted int
	WindowStart    time.Time
}

// EvolutionReceipt is the algorithm an evolution became. Duplicate means
// the DSL was known already: the evolution is not counted.
type EvolutionReceipt struct {
	AlgorithmID int64
	Duplicate   bool
}

// SubmitLease settles a lease with sub.
func (s *Service) SubmitLease(ctx context.Context, hotkey, id string, sub LeaseSubmission) (Receipt, error) {
	if err := ValidateIterations(sub.Iterations); err != nil {
		return Receipt{}, err
	}
	return s.submit(ctx, hotkey, id, KindLease, sub.Iterations, func(tx *storage.Tx, a storage.PoolAssignment, r *Receipt) error {
		if err := ValidateGossip(sub.Gossip, a.TaskType, MaxGossipLimit); err != nil {
			return err
		}
		if err := ValidateEvolutions(sub.Evolutions, a.EvolveBudget, set(a.SeedIDs, a.EvaluateIDs)); err != nil {
			return err
		}
		if err := s.evaluate(ctx, tx, a, sub.Evaluations, r); err != nil {
			return err
		}
		for _, e := range sub.Evolutions {
			if err := s.evolve(ctx, tx, a, e.ParentAlgorithmIDs, e.AlgorithmDSL, r); err != nil {
				return err
			}
		}
		if sub.Gossip != nil && len(sub.Gossip.AlgorithmIDs) > 0 {
			found, err := tx.PoolAlgorithmsByID(ctx, sub.Gossip.AlgorithmIDs)
			if err != nil {
				return err
			}
			for _, g := range found {
				if g.TaskType != a.TaskType {
					return proofgrid.Errorf(proofgrid.EINVALID, "gossip.algorithm_ids: algorithm %d is of task type %s, not %s", g.ID, g.TaskType, a.TaskType)
				}
			}
			if len(found) != len(sub.Gossip.AlgorithmIDs) {
				return proofgrid.Errorf(proofgrid.EINVALID, "gossip.algorithm_ids names algorithms that do not exist")
			}
			r.GossipAccepted = len(found)
		}
		return nil
	})
}

// SubmitEvaluation settles an evaluation batch.
func (s *Service) SubmitEvaluation(ctx context.Context, hotkey, id string, sub EvaluationSubmission) (Receipt, error) {
	return s.submit(ctx, hotkey, id, KindEvaluate, 0, func(tx *storage.Tx, a storage.PoolAssignment, r *Receipt) error {
		if len(sub.Evaluations) == 0 {
			return proofgrid.Errorf(proofgrid.EINVALID, "evaluations is empty: score at least one algorithm of the batch")
		}
		return s.evaluate(ctx, tx, a, sub.Evaluations, r)
	})
}

// SubmitEvolution settles an evolution batch. Parents are algorithm ids
// (numbers) or the exact DSL of an algorithm of the batch (strings).
func (s *Service) SubmitEvolution(ctx context.Context, hotkey, id string, sub EvolutionSubmission) (Receipt, error) {
	if err := ValidateDSL("evolved_function", sub.EvolvedFunction); err != nil {
		return Receipt{}, err
	}
	return s.submit(ctx, hotkey, id, KindEvolve, 0, func(tx *storage.Tx, a storage.PoolAssignment, r *Receipt) error {
		if a.EvolveBudget < 1 {
			return proofgrid.Errorf(proofgrid.ECONFLICT, "batch %s has no evolve budget: it handed out no algorithm to evolve from", a.ID)
		}
		seeds, err := tx.PoolAlgorithmsByID(ctx, a.SeedIDs)
		if err != nil {
			return err
		}
		var parents []int64
		for i, raw := range sub.ParentFunctions {
			field := "parent_functions[" + strconv.Itoa(i) + "]"
			var id int64
			var dsl string
			switch {
			case json.Unmarshal(raw, &id) == nil:
			case json.Unmarshal(raw, &dsl) == nil:
				id = 0
				for _, sd := range seeds {
					if sd.DSL == dsl {
						id = sd.ID
					}
				}
				if id == 0 {
					return proofgrid.Errorf(proofgrid.EINVALID, "%s is not the DSL of an algorithm of this batch", field)
				}
			default:
				return proofgrid.Errorf(proofgrid.EINVALID, "%s must be an algorithm id or the DSL of an algorithm of this batch", field)
			}
			parents = append(parents, id)
		}
		if err := ValidateParents("parent_functions", parents, set(a.SeedIDs)); err != nil {
			return err
		}
		return s.evolve(ctx, tx, a, parents, sub.EvolvedFunction, r)
	})
}

func set(lists ...[]int64) map[int64]bool {
	m := map[int64]bool{}
	for _, l := range lists {
		for _, id := range l {
			m[id] = true
		}
	}
	return m
}

// submit locks assignment id, checks that hotkey holds it, that it is of
// kind, active and not expired, runs fn and marks it submitted, all in one
// transaction. An expired assignment is marked so and refused.
func (s *Service) submit(ctx context.Context, hotkey, id, kind string, iterations int64,
	fn func(tx *storage.Tx, a storage.PoolAssignment, r *Receipt) error) (Receipt, error) {
	if _, err := s.Miner(ctx, hotkey); err != nil {
		return Receipt{}, err
	}
	now := s.now()
	var r Receipt
	var expired error
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		a, err := tx.LockPoolAssignment(ctx, id)
		if err != nil || a.Hotkey != hotkey {
			return proofgrid.Errorf(proofgrid.ENOTFOUND, "no lease or batch %q for this miner", id)
		}
		if a.Kind != kind {
			return proofgrid.Errorf(proofgrid.ECONFLICT, "%s is a %s assignment; submit it to %s", id, a.Kind, submitRoute(a.Kind))
		}
		switch {
		case a.Status == AssignmentSubmitted:
			return proofgrid.Errorf(proofgrid.ECONFLICT, "%s %s was already submitted at %s", a.Kind, id, a.SubmittedAt.UTC().Format(time.RFC3339))
		case a.Status == AssignmentExpired || !now.Before(a.ExpiresAt):
			expired = proofgrid.Errorf(proofgrid.ECONFLICT, "%s %s expired at %s: request a new one", a.Kind, id, a.ExpiresAt.UTC().Format(time.RFC3339))
			return tx.FinishPoolAssignment(ctx, id, AssignmentExpired, 0, now)
		}
		r = Receipt{AssignmentID: id, Kind: a.Kind, WindowStart: s.cfg.Window(now)}
		if a.WindowStart != nil {
			r.WindowStart = time.Unix(*a.WindowStart, 0).UTC()
		}
		if err := fn(tx, a, &r); err != nil {
			return err
		}
		return tx.FinishPoolAssignment(ctx, id, AssignmentSubmitted, iterations, now)
	})
	if err != nil {
		return Receipt{}, err
	}
	if expired != nil {
		return Receipt{}, expired
	}
	s.notify()
	return r, nil
}

func submitRoute(kind string) string {
	switch kind {
	case KindLease:
		return "/api/v1/tasks/{lease_id}/submit_lease"
	case KindEvaluate:
		return "/api/v1/tasks/{batch_id}/submit_evaluation"
	default:
		return "/api/v1/tasks/{batch_id}/submit_evolution"
	}
}

// evaluate records evaluations of the assignment a. Each one that counts
// for consensus and brings its result to k evaluations or more enqueues a
// result:verify through the outbox.
func (s *Service) evaluate(ctx context.Context, tx *storage.Tx, a storage.PoolAssignment, evals []Evaluation, r *Receipt) error {
	scores, err := ValidateEvaluations(evals, set(a.EvaluateIDs))
	if err != nil {
		return err
	}
	// Lock in id order, so two submissions never wait on each other in a
	// cycle.
	order := make([]int, len(evals))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return cmp.Compare(evals[x].AlgorithmID, evals[y].AlgorithmID) })
	for _, i := range order {
		alg, err := tx.LockPoolAlgorithm(ctx, evals[i].AlgorithmID)
		if err != nil {
			return err
		}
		outcome := storage.PoolOutcomePending
		if alg.Status != storage.PoolPending || alg.Evaluations >= int64(s.cfg.N) {
			outcome = storage.PoolOutcomeLate
		}
		evID, err := tx.InsertPoolEvaluation(ctx, storage.PoolEvaluation{
			AlgorithmID: alg.ID, Hotkey: a.Hotkey, AssignmentID: a.ID, ScoreMicros: scores[i], Outcome: outcome,
			WindowStart: r.WindowStart.Unix(), CreatedAt: s.now(),
		})
		if err != nil {
			return err
		}
		if outcome == storage.PoolOutcomeLate {
			r.Late++
			continue
		}
		r.Accepted++
		if alg.Evaluations+1 >= int64(s.cfg.K) {
			if err := tx.Enqueue(ctx, queue.ResultVerifyAfter(queue.ResultVerifyPayload{ResultID: alg.ID}, evID)); err != nil {
				return err
			}
		}
	}
	return nil
}

// evolve stores an evolved algorithm, pending evaluation by others.
func (s *Service) evolve(ctx context.Context, tx *storage.Tx, a storage.PoolAssignment, parents []int64, dsl string, r *Receipt) error {
	alg, inserted, err := tx.InsertPoolAlgorithm(ctx, storage.PoolAlgorithm{
		TaskType: a.TaskType, Digest: Digest(a.TaskType, dsl), DSL: dsl, Origin: "evolution", Author: a.Hotkey,
		ParentIDs: parents, WindowStart: r.WindowStart.Unix(), CreatedAt: s.now(),
	})
	if err != nil {
		return err
	}
	r.Evolutions = append(r.Evolutions, EvolutionReceipt{AlgorithmID: alg.ID, Duplicate: !inserted})
	return nil
}

// Verdict is the state of a result after a verification.
type Verdict struct {
	Result    storage.PoolAlgorithm
	Consensus Consensus
}

// VerifyResult decides result id from its evaluations (see Agree). A
// verified result stays verified, and verifying it again changes nothing.
// When consensus holds the result is verified with the consensus score,
// its evaluations are marked agreeing or outliers, and their miners'
// reputations move; when its first N evaluations are in without
// consensus it is disputed. Anything but verified is returned as an
// ECONFLICT error saying why, with the Verdict.
func (s *Service) VerifyResult(ctx context.Context, id int64) (Verdict, error) {
	var v Verdict
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		alg, err := tx.LockPoolAlgorithm(ctx, id)
		if err != nil {
			return err
		}
		v.Result = alg
		if alg.Status != storage.PoolPending {
			return nil
		}
		evs, err := tx.PoolVotes(ctx, id)
		if err != nil {
			return err
		}
		votes := make([]Vote, len(evs))
		for i, e := range evs {
			votes[i] = Vote{EvaluationID: e.ID, Hotkey: e.Hotkey, Micros: e.ScoreMicros}
		}
		c := Agree(votes, s.cfg.K, s.cfg.N, s.cfg.TolerancePPM())
		v.Consensus = c
		now := s.now()
		switch {
		case c.Verified:
			if err := tx.DecidePoolAlgorithm(ctx, id, storage.PoolVerified, &c.Micros, "", now); err != nil {
				return err
			}
			if err := tx.SetPoolEvaluationOutcome(ctx, c.Agreeing, storage.PoolOutcomeAgree); err != nil {
				return err
			}
			if err := tx.SetPoolEvaluationOutcome(ctx, c.Outliers, storage.PoolOutcomeOutlier); err != nil {
				return err
			}
			if err := tx.AddPoolReputation(ctx, ReputationDeltas(c, votes, s.cfg.ReputationGain, s.cfg.ReputationLoss)); err != nil {
				return err
			}
		case c.Final:
			if err := tx.DecidePoolAlgorithm(ctx, id, storage.PoolDisputed, nil, c.Reason, now); err != nil {
				return err
			}
			considered := make([]int64, 0, s.cfg.N)
			for _, vt := range votes[:min(len(votes), s.cfg.N)] {
				considered = append(considered, vt.EvaluationID)
			}
			if err := tx.SetPoolEvaluationOutcome(ctx, considered, storage.PoolOutcomeDisputed); err != nil {
				return err
			}
		default:
			return nil
		}
		v.Result, err = tx.PoolAlgorithm(ctx, id)
		return err
	})
	if err != nil {
		return Verdict{}, err
	}
	switch v.Result.Status {
	case storage.PoolVerified:
		return v, nil
	case storage.PoolDisputed:
		reason := v.Result.Reason
		return v, proofgrid.Errorf(proofgrid.ECONFLICT, "result %d is disputed: %s", id, reason)
	default:
		return v, proofgrid.Errorf(proofgrid.ECONFLICT, "result %d is not verified yet: %s", id, v.Consensus.Reason)
	}
}

// Results lists verified results.
func (s *Service) Results(ctx context.Context, f storage.PoolResultFilter) ([]storage.PoolAlgorithm, error) {
	return s.db.PoolResults(ctx, f)
}

// SOTA returns the best verified result of taskType, or nil when none is
// verified yet: the SOTA threshold is the best verified score.
func (s *Service) SOTA(ctx context.Context, taskType string) (*storage.PoolAlgorithm, error) {
	a, err := s.db.PoolSOTA(ctx, taskType)
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return &a, nil
}

// SettleWindow settles the reward window starting at start (a window
// boundary) and hands its credits to the ledger. The split is computed
// once and stored (SplitWindow over PoolWindowActivity); running it again
// hands the stored credits over again until the ledger has taken them,
// and then changes nothing. A window that has not ended yet is ECONFLICT.
func (s *Service) SettleWindow(ctx context.Context, start time.Time) (storage.PoolWindow, error) {
	start = start.UTC()
	if !s.cfg.Window(start).Equal(start) {
		return storage.PoolWindow{}, proofgrid.Errorf(proofgrid.EINVALID, "%s is not the start of a %v window", start.Format(time.RFC3339), s.cfg.WindowLength)
	}
	end := start.Add(s.cfg.WindowLength)
	if s.now().Before(end) {
		return storage.PoolWindow{}, proofgrid.Errorf(proofgrid.ECONFLICT, "window %s has not ended", start.Format(time.RFC3339))
	}
	w, err := s.db.PoolWindow(ctx, start.Unix())
	if proofgrid.ErrorCode(err) == proofgrid.ENOTFOUND {
		acts, err := s.db.PoolWindowActivity(ctx, start.Unix())
		if err != nil {
			return storage.PoolWindow{}, err
		}
		in := make([]Activity, len(acts))
		for i, a := range acts {
			in[i] = Activity{Hotkey: a.Hotkey, Agreed: a.Agreed, Outliers: a.Outliers, Evolutions: a.Evolutions}
		}
		pool := s.cfg.Pool()
		split := SplitWindow(pool, s.cfg.MinActivity, in)
		dist := new(big.Int)
		w = storage.PoolWindow{Start: start.Unix(), End: end.Unix(), Pool: pool.String(), SettledAt: s.now()}
		for _, r := range split {
			dist.Add(dist, r.Amount)
			w.Rewards = append(w.Rewards, storage.PoolWindowReward{Hotkey: r.Hotkey, Activity: r.Activity, Amount: r.Amount.String()})
		}
		w.Distributed = dist.String()
		if _, err := s.db.InsertPoolWindow(ctx, w); err != nil {
			return storage.PoolWindow{}, err
		}
		// Another replica may have settled it first: its split is the one.
		if w, err = s.db.PoolWindow(ctx, start.Unix()); err != nil {
			return storage.PoolWindow{}, err
		}
	} else if err != nil {
		return storage.PoolWindow{}, err
	}
	if w.Credited || s.cfg.Ledger == nil {
		return w, nil
	}
	credits := make([]Credit, 0, len(w.Rewards))
	for _, r := range w.Rewards {
		amount, ok := new(big.Int).SetString(r.Amount, 10)
		if !ok {
			return w, fmt.Errorf("pool: stored amount %q is not a number", r.Amount)
		}
		if amount.Sign() == 0 {
			continue
		}
		credits = append(credits, Credit{Key: CreditKey(start, r.Hotkey), Account: r.Hotkey, Amount: amount,
			Reason: "pool window " + start.Format(time.RFC3339)})
	}
	if len(credits) > 0 {
		if err := s.cfg.Ledger.Credit(ctx, credits); err != nil {
			return w, fmt.Errorf("pool: credit window %s: %w", start.Format(time.RFC3339), err)
		}
	}
	if err := s.db.MarkPoolWindowCredited(ctx, start.Unix(), s.now()); err != nil {
		return w, err
	}
	w.Credited = true
	return w, nil
}

// SettleDue settles the window a periodic run for the window starting at
// run is due to settle: the one that ended one whole window before run
// began, so that evaluations submitted near a window's end have a window's
// time to reach consensus before it is paid.
func (s *Service) SettleDue(ctx context.Context, run time.Time) (storage.PoolWindow, error) {
	return s.SettleWindow(ctx, s.cfg.Window(run).Add(-2*s.cfg.WindowLength))
}

// WindowStatus is the Pool's clock, for /health.
type WindowStatus struct {
	Number   int64
	Start    time.Time
	End      time.Time
	Length   time.Duration
	TaskType string
}

// Window returns the current reward window.
func (s *Service) Window() WindowStatus {
	now := s.now()
	start := s.cfg.Window(now)
	return WindowStatus{Number: s.cfg.WindowNumber(now), Start: start, End: start.Add(s.cfg.WindowLength), Length: s.cfg.WindowLength,
		TaskType: s.cfg.DefaultTaskType}
}

// Recipients returns the recipient coldkey each of hotkeys set, keyed by
// hotkey; miners that set none are left out (they are paid to their
// hotkey). Merkle epochs fix these into each published tree.
func (s *Service) Recipients(ctx context.Context, hotkeys []string) (map[string]string, error) {
	return s.db.PoolRecipients(ctx, hotkeys)
}
