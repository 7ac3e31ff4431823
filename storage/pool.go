package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/proofgrid/proofgrid"
)

// Pool algorithm states: an algorithm is also its result, pending until
// its evaluations reach consensus (verified) or its considered evaluations
// are all in without one (disputed).
const (
	PoolPending  = "pending"
	PoolVerified = "verified"
	PoolDisputed = "disputed"
)

// Pool evaluation outcomes.
const (
	PoolOutcomePending  = "pending"  // counted for consensus, not decided yet
	PoolOutcomeAgree    = "agree"    // inside the verified consensus
	PoolOutcomeOutlier  = "outlier"  // outside the verified consensus
	PoolOutcomeDisputed = "disputed" // considered, but no consensus was reached
	PoolOutcomeLate     = "late"     // arrived after the result was decided or full
)

// PoolMiner is a registered miner.
type PoolMiner struct {
	Hotkey             string
	RecipientColdkey   string
	RecipientUpdatedAt *time.Time
	Reputation         int64
	RegisteredAt       time.Time
	LastSeenAt         time.Time
}

type poolMinerRow struct {
	Hotkey             string `db:"hotkey"`
	RecipientColdkey   string `db:"recipient_coldkey"`
	RecipientUpdatedAt dbTime `db:"recipient_updated_at"`
	Reputation         int64  `db:"reputation"`
	RegisteredAt       dbTime `db:"registered_at"`
	LastSeenAt         dbTime `db:"last_seen_at"`
}

func (r poolMinerRow) miner() PoolMiner {
	return PoolMiner{Hotkey: r.Hotkey, RecipientColdkey: r.RecipientColdkey, RecipientUpdatedAt: r.RecipientUpdatedAt.ptr(),
		Reputation: r.Reputation, RegisteredAt: r.RegisteredAt.Time, LastSeenAt: r.LastSeenAt.Time}
}

const poolMinerColumns = `hotkey, recipient_coldkey, recipient_updated_at, reputation, registered_at, last_seen_at`

// RegisterPoolMiner creates the miner hotkey or refreshes its last-seen
// time, and tells whether it was new.
func (c *conn) RegisterPoolMiner(ctx context.Context, hotkey string, now time.Time) (PoolMiner, bool, error) {
	var m PoolMiner
	var created bool
	err := c.inTx(ctx, func(tx *Tx) error {
		res, err := execContext(ctx, tx.w,
			`INSERT INTO pool_miners (hotkey, registered_at, last_seen_at) VALUES (?, ?, ?) ON CONFLICT (hotkey) DO NOTHING`,
			hotkey, now, now)
		if err != nil {
			return err
		}
		n, err := rowsAffected(res)
		if err != nil {
			return err
		}
		created = n == 1
		if !created {
			if _, err := execContext(ctx, tx.w, `UPDATE pool_miners SET last_seen_at = ? WHERE hotkey = ?`, now, hotkey); err != nil {
				return err
			}
		}
		m, err = tx.PoolMiner(ctx, hotkey)
		return err
	})
	if err != nil {
		return PoolMiner{}, false, fmt.Errorf("storage: register pool miner: %w", err)
	}
	return m, created, nil
}

// PoolMiner returns the miner hotkey, or ENOTFOUND.
func (c *conn) PoolMiner(ctx context.Context, hotkey string) (PoolMiner, error) {
	var r poolMinerRow
	err := getContext(ctx, c.r, &r, `SELECT `+poolMinerColumns+` FROM pool_miners WHERE hotkey = ?`, hotkey)
	if errors.Is(err, sql.ErrNoRows) {
		return PoolMiner{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "miner %s is not registered", hotkey)
	} else if err != nil {
		return PoolMiner{}, fmt.Errorf("storage: pool miner: %w", err)
	}
	return r.miner(), nil
}

// SetPoolRecipient sets where the rewards of a registered miner go.
func (c *conn) SetPoolRecipient(ctx context.Context, hotkey, recipient string, now time.Time) (PoolMiner, error) {
	res, err := execContext(ctx, c.w,
		`UPDATE pool_miners SET recipient_coldkey = ?, recipient_updated_at = ?, last_seen_at = ? WHERE hotkey = ?`,
		recipient, now, now, hotkey)
	if err != nil {
		return PoolMiner{}, fmt.Errorf("storage: set pool recipient: %w", err)
	}
	if n, err := rowsAffected(res); err != nil {
		return PoolMiner{}, err
	} else if n == 0 {
		return PoolMiner{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "miner %s is not registered", hotkey)
	}
	return c.PoolMiner(ctx, hotkey)
}

// AddPoolReputation adds delta to the reputation of each miner of deltas.
func (c *conn) AddPoolReputation(ctx context.Context, deltas map[string]int64) error {
	for hotkey, d := range deltas {
		if d == 0 {
			continue
		}
		if _, err := execContext(ctx, c.w, `UPDATE pool_miners SET reputation = reputation + ? WHERE hotkey = ?`, d, hotkey); err != nil {
			return fmt.Errorf("storage: pool reputation: %w", err)
		}
	}
	return nil
}

// PoolMinerStats is a miner with counts of its work.
type PoolMinerStats struct {
	PoolMiner
	Evaluations        int64 `db:"evaluations"`
	Agreed             int64 `db:"agreed"`
	Outliers           int64 `db:"outliers"`
	Evolutions         int64 `db:"evolutions"`
	VerifiedEvolutions int64 `db:"verified_evolutions"`
	// RewardAmounts are its window rewards, decimal base units; they may
	// pass 2⁶³, so the caller sums them.
	RewardAmounts []string
}

type poolMinerStatsRow struct {
	poolMinerRow
	Evaluations        int64 `db:"evaluations"`
	Agreed             int64 `db:"agreed"`
	Outliers           int64 `db:"outliers"`
	Evolutions         int64 `db:"evolutions"`
	VerifiedEvolutions int64 `db:"verified_evolutions"`
}

const poolMinerStatsSelect = `SELECT m.hotkey, m.recipient_coldkey, m.recipient_updated_at, m.reputation, m.registered_at, m.last_seen_at,
	(SELECT COUNT(*) FROM pool_evaluations e WHERE e.hotkey = m.hotkey) AS evaluations,
	(SELECT COUNT(*) FROM pool_evaluations e WHERE e.hotkey = m.hotkey AND e.outcome = 'agree') AS agreed,
	(SELECT COUNT(*) FROM pool_evaluations e WHERE e.hotkey = m.hotkey AND e.outcome = 'outlier') AS outliers,
	(SELECT COUNT(*) FROM pool_algorithms a WHERE a.author = m.hotkey) AS evolutions,
	(SELECT COUNT(*) FROM pool_algorithms a WHERE a.author = m.hotkey AND a.status = 'verified') AS verified_evolutions
	FROM pool_miners m`

func (r poolMinerStatsRow) stats() PoolMinerStats {
	return PoolMinerStats{PoolMiner: r.miner(), Evaluations: r.Evaluations, Agreed: r.Agreed, Outliers: r.Outliers,
		Evolutions: r.Evolutions, VerifiedEvolutions: r.VerifiedEvolutions}
}

// PoolMinerStats returns the miner hotkey with its counts and its window
// rewards, or ENOTFOUND.
func (c *conn) PoolMinerStats(ctx context.Context, hotkey string) (PoolMinerStats, error) {
	var r poolMinerStatsRow
	err := getContext(ctx, c.r, &r, poolMinerStatsSelect+` WHERE m.hotkey = ?`, hotkey)
	if errors.Is(err, sql.ErrNoRows) {
		return PoolMinerStats{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "miner %s is not registered", hotkey)
	} else if err != nil {
		return PoolMinerStats{}, fmt.Errorf("storage: pool miner stats: %w", err)
	}
	s := r.stats()
	if err := selectContext(ctx, c.r, &s.RewardAmounts, `SELECT amount FROM pool_window_rewards WHERE hotkey = ?`, hotkey); err != nil {
		return PoolMinerStats{}, fmt.Errorf("storage: pool miner rewards: %w", err)
	}
	return s, nil
}

// PoolLeaderboard returns the top miners by reputation, then hotkey.
func (c *conn) PoolLeaderboard(ctx context.Context, limit int) ([]PoolMinerStats, error) {
	var rows []poolMinerStatsRow
	if err := selectContext(ctx, c.r, &rows, poolMinerStatsSelect+` ORDER BY m.reputation DESC, m.hotkey LIMIT ?`, limit); err != nil {
		return nil, fmt.Errorf("storage: pool leaderboard: %w", err)
	}
	out := make([]PoolMinerStats, len(rows))
	for i, r := range rows {
		out[i] = r.stats()
	}
	return out, nil
}

// PoolAlgorithm is an algorithm and, as its result, its consensus.
type PoolAlgorithm struct {
	ID       int64
	TaskType string
	Digest   string
	Name     string
	DSL      string
	// Origin is "seed" or "evolution"; Author is the evolving miner's
	// hotkey, empty for seeds.
	Origin    string
	Author    string
	ParentIDs []int64
	// WindowStart is the reward window (unix start) an evolution counts in.
	WindowStart int64
	Status      string
	ScoreMicros *int64
	Evaluations int64
	// Reason says why a disputed result has no consensus.
	Reason     string
	VerifiedAt *time.Time
	CreatedAt  time.Time
}

type poolAlgorithmRow struct {
	ID          int64         `db:"id"`
	TaskType    string        `db:"task_type"`
	Digest      string        `db:"digest"`
	Name        string        `db:"name"`
	DSL         string        `db:"dsl"`
	Origin      string        `db:"origin"`
	Author      string        `db:"author"`
	ParentIDs   string        `db:"parent_ids"`
	WindowStart int64         `db:"window_start"`
	Status      string        `db:"status"`
	ScoreMicros sql.NullInt64 `db:"score_micros"`
	Evaluations int64         `db:"evaluations"`
	Reason      string        `db:"reason"`
	VerifiedAt  dbTime        `db:"verified_at"`
	CreatedAt   dbTime        `db:"created_at"`
}

func (r poolAlgorithmRow) algorithm() PoolAlgorithm {
	a := PoolAlgorithm{ID: r.ID, TaskType: r.TaskType, Digest: r.Digest, Name: r.Name, DSL: r.DSL, Origin: r.Origin,
		Author: r.Author, WindowStart: r.WindowStart, Status: r.Status, ScoreMicros: nullInt(r.ScoreMicros),
		Evaluations: r.Evaluations, Reason: r.Reason, VerifiedAt: r.VerifiedAt.ptr(), CreatedAt: r.CreatedAt.Time}
	_ = json.Unmarshal([]byte(r.ParentIDs), &a.ParentIDs)
	return a
}

const poolAlgorithmColumns = `id, task_type, digest, name, dsl, origin, author, parent_ids, window_start, status,
	score_micros, evaluations, reason, verified_at, created_at`

func idsJSON(ids []int64) string {
	if len(ids) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

func parseIDs(s string) []int64 {
	var ids []int64
	_ = json.Unmarshal([]byte(s), &ids)
	return ids
}

// InsertPoolAlgorithm stores a (pending) and returns it with its id, and
// whether it was new: an algorithm whose digest is stored already is not
// stored again, and the stored one is returned.
func (c *conn) InsertPoolAlgorithm(ctx context.Context, a PoolAlgorithm) (PoolAlgorithm, bool, error) {
	if a.Digest == "" || a.TaskType == "" || a.DSL == "" {
		return PoolAlgorithm{}, false, proofgrid.Errorf(proofgrid.EINVALID, "pool algorithm needs a task type, a digest and a DSL")
	}
	var out PoolAlgorithm
	var inserted bool
	err := c.inTx(ctx, func(tx *Tx) error {
		res, err := execContext(ctx, tx.w,
			`INSERT INTO pool_algorithms (task_type, digest, name, dsl, origin, author, parent_ids, window_start, status, created_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING`,
			a.TaskType, a.Digest, a.Name, a.DSL, a.Origin, a.Author, idsJSON(a.ParentIDs), a.WindowStart, PoolPending, a.CreatedAt)
		if err != nil {
			return err
		}
		n, err := rowsAffected(res)
		if err != nil {
			return err
		}
		inserted = n == 1
		var r poolAlgorithmRow
		if err := getContext(ctx, tx.w, &r, `SELECT `+poolAlgorithmColumns+` FROM pool_algorithms WHERE digest = ?`, a.Digest); err != nil {
			return err
		}
		out = r.algorithm()
		return nil
	})
	if err != nil {
		return PoolAlgorithm{}, false, fmt.Errorf("storage: insert pool algorithm: %w", err)
	}
	return out, inserted, nil
}

// PoolAlgorithm returns algorithm id, or ENOTFOUND.
func (c *conn) PoolAlgorithm(ctx context.Context, id int64) (PoolAlgorithm, error) {
	var r poolAlgorithmRow
	err := getContext(ctx, c.r, &r, `SELECT `+poolAlgorithmColumns+` FROM pool_algorithms WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return PoolAlgorithm{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "result %d not found", id)
	} else if err != nil {
		return PoolAlgorithm{}, fmt.Errorf("storage: pool algorithm: %w", err)
	}
	return r.algorithm(), nil
}

// PoolAlgorithmsByID returns the algorithms of ids that exist, in the
// order of ids.
func (c *conn) PoolAlgorithmsByID(ctx context.Context, ids []int64) ([]PoolAlgorithm, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	var rows []poolAlgorithmRow
	q := `SELECT ` + poolAlgorithmColumns + ` FROM pool_algorithms WHERE id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
	if err := selectContext(ctx, c.r, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("storage: pool algorithms: %w", err)
	}
	byID := map[int64]PoolAlgorithm{}
	for _, r := range rows {
		byID[r.ID] = r.algorithm()
	}
	out := make([]PoolAlgorithm, 0, len(ids))
	for _, id := range ids {
		if a, ok := byID[id]; ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// PoolAlgorithmsToEvaluate returns up to limit pending algorithms of
// taskType that still need evaluations (fewer than maxEvaluations), that
// hotkey did not author and has not evaluated, fewest evaluations first.
func (c *conn) PoolAlgorithmsToEvaluate(ctx context.Context, taskType, hotkey string, maxEvaluations, limit int) ([]PoolAlgorithm, error) {
	var rows []poolAlgorithmRow
	err := selectContext(ctx, c.r, &rows, `SELECT `+poolAlgorithmColumns+` FROM pool_algorithms a
		WHERE a.task_type = ? AND a.status = 'pending' AND a.evaluations < ? AND a.author <> ?
		  AND NOT EXISTS (SELECT 1 FROM pool_evaluations e WHERE e.algorithm_id = a.id AND e.hotkey = ?)
		ORDER BY a.evaluations, a.id LIMIT ?`, taskType, maxEvaluations, hotkey, hotkey, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: pool algorithms to evaluate: %w", err)
	}
	return algorithms(rows), nil
}

// PoolTopAlgorithms returns up to limit algorithms of taskType to evolve
// from: verified ones by score, best first, then seeds not yet verified.
func (c *conn) PoolTopAlgorithms(ctx context.Context, taskType string, limit int) ([]PoolAlgorithm, error) {
	var rows []poolAlgorithmRow
	err := selectContext(ctx, c.r, &rows, `SELECT `+poolAlgorithmColumns+` FROM pool_algorithms
		WHERE task_type = ? AND (status = 'verified' OR origin = 'seed')
		ORDER BY CASE WHEN status = 'verified' THEN 0 ELSE 1 END, score_micros DESC, id LIMIT ?`, taskType, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: pool top algorithms: %w", err)
	}
	return algorithms(rows), nil
}

// PoolRecentVerified returns the algorithms of taskType verified most
// recently, newest first.
func (c *conn) PoolRecentVerified(ctx context.Context, taskType string, limit int) ([]PoolAlgorithm, error) {
	var rows []poolAlgorithmRow
	err := selectContext(ctx, c.r, &rows, `SELECT `+poolAlgorithmColumns+` FROM pool_algorithms
		WHERE task_type = ? AND status = 'verified' ORDER BY verified_at DESC, id DESC LIMIT ?`, taskType, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: pool recent algorithms: %w", err)
	}
	return algorithms(rows), nil
}

// PoolResultFilter selects results. Zero fields select all.
type PoolResultFilter struct {
	TaskType string
	// Status defaults to verified.
	Status    string
	MinMicros *int64
	Limit     int
}

// PoolResults returns the results f selects, best score first.
func (c *conn) PoolResults(ctx context.Context, f PoolResultFilter) ([]PoolAlgorithm, error) {
	where, args := []string{"status = ?"}, []any{f.Status}
	if f.Status == "" {
		args[0] = PoolVerified
	}
	if f.TaskType != "" {
		where, args = append(where, "task_type = ?"), append(args, f.TaskType)
	}
	if f.MinMicros != nil {
		where, args = append(where, "score_micros >= ?"), append(args, *f.MinMicros)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var rows []poolAlgorithmRow
	err := selectContext(ctx, c.r, &rows, `SELECT `+poolAlgorithmColumns+` FROM pool_algorithms WHERE `+
		strings.Join(where, " AND ")+` ORDER BY score_micros DESC, verified_at, id LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("storage: pool results: %w", err)
	}
	return algorithms(rows), nil
}

// PoolSOTA returns the best verified algorithm of taskType (the earliest
// verified among equals), or ENOTFOUND.
func (c *conn) PoolSOTA(ctx context.Context, taskType string) (PoolAlgorithm, error) {
	rs, err := c.PoolResults(ctx, PoolResultFilter{TaskType: taskType, Limit: 1})
	if err != nil {
		return PoolAlgorithm{}, err
	}
	if len(rs) == 0 {
		return PoolAlgorithm{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "no verified result for task type %s yet", taskType)
	}
	return rs[0], nil
}

func algorithms(rows []poolAlgorithmRow) []PoolAlgorithm {
	out := make([]PoolAlgorithm, len(rows))
	for i, r := range rows {
		out[i] = r.algorithm()
	}
	return out
}

// LockPoolAlgorithm locks algorithm id for the rest of t and returns it,
// so that one verification decides it at a time.
func (t *Tx) LockPoolAlgorithm(ctx context.Context, id int64) (PoolAlgorithm, error) {
	var r poolAlgorithmRow
	err := getContext(ctx, t.w, &r, `UPDATE pool_algorithms SET status = status WHERE id = ? RETURNING `+poolAlgorithmColumns, id)
	if errors.Is(err, sql.ErrNoRows) {
		return PoolAlgorithm{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "result %d not found", id)
	} else if err != nil {
		return PoolAlgorithm{}, fmt.Errorf("storage: lock pool algorithm: %w", err)
	}
	return r.algorithm(), nil
}

// DecidePoolAlgorithm records the outcome of a result: its status, its
// consensus score (nil unless verified), the reason when disputed.
func (t *Tx) DecidePoolAlgorithm(ctx context.Context, id int64, status string, micros *int64, reason string, now time.Time) error {
	var verifiedAt *time.Time
	if status == PoolVerified {
		verifiedAt = &now
	}
	_, err := execContext(ctx, t.w, `UPDATE pool_algorithms SET status = ?, score_micros = ?, reason = ?, verified_at = ? WHERE id = ?`,
		status, micros, reason, verifiedAt, id)
	if err != nil {
		return fmt.Errorf("storage: decide pool algorithm: %w", err)
	}
	return nil
}

// PoolEvaluation is one miner's score of one algorithm.
type PoolEvaluation struct {
	ID           int64  `db:"id"`
	AlgorithmID  int64  `db:"algorithm_id"`
	Hotkey       string `db:"hotkey"`
	AssignmentID string `db:"assignment_id"`
	ScoreMicros  int64  `db:"score_micros"`
	Outcome      string `db:"outcome"`
	WindowStart  int64  `db:"window_start"`
	CreatedAt    time.Time
}

type poolEvaluationRow struct {
	PoolEvaluation
	CreatedAt dbTime `db:"created_at"`
}

// InsertPoolEvaluation stores e and returns its id. An evaluation that
// counts for consensus (outcome pending) adds one to its algorithm's
// evaluations. A miner evaluates an algorithm once: a second evaluation is
// ECONFLICT.
func (c *conn) InsertPoolEvaluation(ctx context.Context, e PoolEvaluation) (int64, error) {
	var id int64
	err := c.inTx(ctx, func(tx *Tx) error {
		err := getContext(ctx, tx.w, &id,
			`INSERT INTO pool_evaluations (algorithm_id, hotkey, assignment_id, score_micros, outcome, window_start, created_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			e.AlgorithmID, e.Hotkey, e.AssignmentID, e.ScoreMicros, e.Outcome, e.WindowStart, e.CreatedAt)
		if isUniqueViolation(err) {
			return proofgrid.Errorf(proofgrid.ECONFLICT, "algorithm %d was already evaluated by this miner", e.AlgorithmID)
		} else if err != nil {
			return err
		}
		if e.Outcome == PoolOutcomePending {
			_, err = execContext(ctx, tx.w, `UPDATE pool_algorithms SET evaluations = evaluations + 1 WHERE id = ?`, e.AlgorithmID)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("storage: insert pool evaluation: %w", err)
	}
	return id, nil
}

// PoolVotes returns the evaluations of algorithm id that count for
// consensus, in the order they arrived.
func (c *conn) PoolVotes(ctx context.Context, algorithmID int64) ([]PoolEvaluation, error) {
	var rows []poolEvaluationRow
	err := selectContext(ctx, c.r, &rows, `SELECT id, algorithm_id, hotkey, assignment_id, score_micros, outcome, window_start, created_at
		FROM pool_evaluations WHERE algorithm_id = ? AND outcome <> 'late' ORDER BY id`, algorithmID)
	if err != nil {
		return nil, fmt.Errorf("storage: pool votes: %w", err)
	}
	out := make([]PoolEvaluation, len(rows))
	for i, r := range rows {
		out[i] = r.PoolEvaluation
		out[i].CreatedAt = r.CreatedAt.Time
	}
	return out, nil
}

// SetPoolEvaluationOutcome sets the outcome of the evaluations ids.
func (c *conn) SetPoolEvaluationOutcome(ctx context.Context, ids []int64, outcome string) error {
	for _, id := range ids {
		if _, err := execContext(ctx, c.w, `UPDATE pool_evaluations SET outcome = ? WHERE id = ?`, outcome, id); err != nil {
			return fmt.Errorf("storage: pool evaluation outcome: %w", err)
		}
	}
	return nil
}

// PoolAssignment is a lease or batch handed to a miner.
type PoolAssignment struct {
	ID           string
	Hotkey       string
	Kind         string
	TaskType     string
	Status       string
	EvaluateIDs  []int64
	SeedIDs      []int64
	GossipIDs    []int64
	EvolveBudget int
	// WindowStart, when set, is the reward window (unix start) the
	// assignment's work counts in (development leases); otherwise the
	// window of the submission.
	WindowStart *int64
	Iterations  int64
	CreatedAt   time.Time
	ExpiresAt   time.Time
	SubmittedAt *time.Time
}

type poolAssignmentRow struct {
	ID           string        `db:"id"`
	Hotkey       string        `db:"hotkey"`
	Kind         string        `db:"kind"`
	TaskType     string        `db:"task_type"`
	Status       string        `db:"status"`
	EvaluateIDs  string        `db:"evaluate_ids"`
	SeedIDs      string        `db:"seed_ids"`
	GossipIDs    string        `db:"gossip_ids"`
	EvolveBudget int           `db:"evolve_budget"`
	WindowStart  sql.NullInt64 `db:"window_start"`
	Iterations   int64         `db:"iterations"`
	CreatedAt    dbTime        `db:"created_at"`
	ExpiresAt    dbTime        `db:"expires_at"`
	SubmittedAt  dbTime        `db:"submitted_at"`
}

func (r poolAssignmentRow) assignment() PoolAssignment {
	return PoolAssignment{ID: r.ID, Hotkey: r.Hotkey, Kind: r.Kind, TaskType: r.TaskType, Status: r.Status,
		EvaluateIDs: parseIDs(r.EvaluateIDs), SeedIDs: parseIDs(r.SeedIDs), GossipIDs: parseIDs(r.GossipIDs),
		EvolveBudget: r.EvolveBudget, WindowStart: nullInt(r.WindowStart), Iterations: r.Iterations,
		CreatedAt: r.CreatedAt.Time, ExpiresAt: r.ExpiresAt.Time, SubmittedAt: r.SubmittedAt.ptr()}
}

const poolAssignmentColumns = `id, hotkey, kind, task_type, status, evaluate_ids, seed_ids, gossip_ids, evolve_budget,
	window_start, iterations, created_at, expires_at, submitted_at`

// ExpirePoolAssignments marks the active assignments of hotkey that are
// past their expiry as expired, which frees the miner.
func (c *conn) ExpirePoolAssignments(ctx context.Context, hotkey string, now time.Time) error {
	_, err := execContext(ctx, c.w, `UPDATE pool_assignments SET status = 'expired' WHERE hotkey = ? AND status = 'active' AND expires_at <= ?`,
		hotkey, now)
	if err != nil {
		return fmt.Errorf("storage: expire pool assignments: %w", err)
	}
	return nil
}

// ActivePoolAssignment returns the active, unexpired assignment of hotkey,
// or nil.
func (c *conn) ActivePoolAssignment(ctx context.Context, hotkey string, now time.Time) (*PoolAssignment, error) {
	var r poolAssignmentRow
	err := getContext(ctx, c.r, &r, `SELECT `+poolAssignmentColumns+` FROM pool_assignments
		WHERE hotkey = ? AND status = 'active' AND expires_at > ?`, hotkey, now)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("storage: active pool assignment: %w", err)
	}
	a := r.assignment()
	return &a, nil
}

// InsertPoolAssignment stores an active assignment. A miner that holds an
// active one already gets ECONFLICT.
func (c *conn) InsertPoolAssignment(ctx context.Context, a PoolAssignment) error {
	_, err := execContext(ctx, c.w, `INSERT INTO pool_assignments (id, hotkey, kind, task_type, status, evaluate_ids, seed_ids,
		gossip_ids, evolve_budget, window_start, created_at, expires_at) VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Hotkey, a.Kind, a.TaskType, idsJSON(a.EvaluateIDs), idsJSON(a.SeedIDs), idsJSON(a.GossipIDs), a.EvolveBudget,
		a.WindowStart, a.CreatedAt, a.ExpiresAt)
	if isUniqueViolation(err) {
		return proofgrid.Errorf(proofgrid.ECONFLICT, "miner %s already holds an active lease or batch", a.Hotkey)
	} else if err != nil {
		return fmt.Errorf("storage: insert pool assignment: %w", err)
	}
	return nil
}

// LockPoolAssignment locks assignment id for the rest of t and returns it,
// so that one submission settles it.
func (t *Tx) LockPoolAssignment(ctx context.Context, id string) (PoolAssignment, error) {
	var r poolAssignmentRow
	err := getContext(ctx, t.w, &r, `UPDATE pool_assignments SET status = status WHERE id = ? RETURNING `+poolAssignmentColumns, id)
	if errors.Is(err, sql.ErrNoRows) {
		return PoolAssignment{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "no lease or batch %q", id)
	} else if err != nil {
		return PoolAssignment{}, fmt.Errorf("storage: lock pool assignment: %w", err)
	}
	return r.assignment(), nil
}

// FinishPoolAssignment sets the final status of assignment id.
func (c *conn) FinishPoolAssignment(ctx context.Context, id, status string, iterations int64, now time.Time) error {
	var at *time.Time
	if status == "submitted" {
		at = &now
	}
	_, err := execContext(ctx, c.w, `UPDATE pool_assignments SET status = ?, iterations = ?, submitted_at = ? WHERE id = ?`,
		status, iterations, at, id)
	if err != nil {
		return fmt.Errorf("storage: finish pool assignment: %w", err)
	}
	return nil
}

// PoolCounts summarises the Pool.
type PoolCounts struct {
	Miners            int64 `db:"miners"`
	Algorithms        int64 `db:"algorithms"`
	Pending           int64 `db:"pending"`
	Verified          int64 `db:"verified"`
	Disputed          int64 `db:"disputed"`
	Evaluations       int64 `db:"evaluations"`
	ActiveAssignments int64 `db:"active_assignments"`
}

// PoolCounts returns the Pool's totals; assignments count as active until
// their expiry.
func (c *conn) PoolCounts(ctx context.Context, now time.Time) (PoolCounts, error) {
	var pc PoolCounts
	err := getContext(ctx, c.r, &pc, `SELECT
		(SELECT COUNT(*) FROM pool_miners) AS miners,
		(SELECT COUNT(*) FROM pool_algorithms) AS algorithms,
		(SELECT COUNT(*) FROM pool_algorithms WHERE status = 'pending') AS pending,
		(SELECT COUNT(*) FROM pool_algorithms WHERE status = 'verified') AS verified,
		(SELECT COUNT(*) FROM pool_algorithms WHERE status = 'disputed') AS disputed,
		(SELECT COUNT(*) FROM pool_evaluations) AS evaluations,
		(SELECT COUNT(*) FROM pool_assignments WHERE status = 'active' AND expires_at > ?) AS active_assignments`, now)
	if err != nil {
		return PoolCounts{}, fmt.Errorf("storage: pool counts: %w", err)
	}
	return pc, nil
}

// PoolWindowActivity is one miner's counted work in a reward window.
type PoolWindowActivity struct {
	Hotkey     string `db:"hotkey"`
	Agreed     int64  `db:"agreed"`
	Outliers   int64  `db:"outliers"`
	Evolutions int64  `db:"evolutions"`
}

// PoolWindowActivity returns, per miner, its agreeing and outlying
// evaluations and its evolutions in the window starting at start (unix),
// by hotkey.
func (c *conn) PoolWindowActivity(ctx context.Context, start int64) ([]PoolWindowActivity, error) {
	var rows []PoolWindowActivity
	err := selectContext(ctx, c.r, &rows, `SELECT hotkey, SUM(agreed) AS agreed, SUM(outliers) AS outliers, SUM(evolutions) AS evolutions FROM (
		SELECT hotkey,
		       SUM(CASE WHEN outcome = 'agree' THEN 1 ELSE 0 END) AS agreed,
		       SUM(CASE WHEN outcome = 'outlier' THEN 1 ELSE 0 END) AS outliers,
		       0 AS evolutions
		  FROM pool_evaluations WHERE window_start = ? GROUP BY hotkey
		UNION ALL
		SELECT author AS hotkey, 0 AS agreed, 0 AS outliers, COUNT(*) AS evolutions
		  FROM pool_algorithms WHERE origin = 'evolution' AND window_start = ? GROUP BY author
	) w GROUP BY hotkey ORDER BY hotkey`, start, start)
	if err != nil {
		return nil, fmt.Errorf("storage: pool window activity: %w", err)
	}
	return rows, nil
}

// PoolWindow is a settled reward window.
type PoolWindow struct {
	Start, End  int64
	Pool        string
	Distributed string
	Miners      int64
	Credited    bool
	SettledAt   time.Time
	CreditedAt  *time.Time
	Rewards     []PoolWindowReward
}

// PoolWindowReward is one miner's share of a window.
type PoolWindowReward struct {
	Hotkey   string `db:"hotkey"`
	Activity int64  `db:"activity"`
	Amount   string `db:"amount"`
}

type poolWindowRow struct {
	Start       int64  `db:"start_unix"`
	End         int64  `db:"end_unix"`
	Pool        string `db:"pool"`
	Distributed string `db:"distributed"`
	Miners      int64  `db:"miners"`
	Credited    int64  `db:"credited"`
	SettledAt   dbTime `db:"settled_at"`
	CreditedAt  dbTime `db:"credited_at"`
}

// InsertPoolWindow stores a settled window and its rewards, and tells
// whether it was new: a window settled already is kept as it was.
func (c *conn) InsertPoolWindow(ctx context.Context, w PoolWindow) (bool, error) {
	var inserted bool
	err := c.inTx(ctx, func(tx *Tx) error {
		res, err := execContext(ctx, tx.w, `INSERT INTO pool_windows (start_unix, end_unix, pool, distributed, miners, settled_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (start_unix) DO NOTHING`, w.Start, w.End, w.Pool, w.Distributed, len(w.Rewards), w.SettledAt)
		if err != nil {
			return err
		}
		n, err := rowsAffected(res)
		if err != nil || n == 0 {
			return err
		}
		inserted = true
		for _, r := range w.Rewards {
			if _, err := execContext(ctx, tx.w, `INSERT INTO pool_window_rewards (window_start, hotkey, activity, amount) VALUES (?, ?, ?, ?)`,
				w.Start, r.Hotkey, r.Activity, r.Amount); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("storage: insert pool window: %w", err)
	}
	return inserted, nil
}

// PoolWindow returns the settled window starting at start with its
// rewards (by hotkey), or ENOTFOUND.
func (c *conn) PoolWindow(ctx context.Context, start int64) (PoolWindow, error) {
	var r poolWindowRow
	err := getContext(ctx, c.r, &r, `SELECT start_unix, end_unix, pool, distributed, miners, credited, settled_at, credited_at
		FROM pool_windows WHERE start_unix = ?`, start)
	if errors.Is(err, sql.ErrNoRows) {
		return PoolWindow{}, proofgrid.Errorf(proofgrid.ENOTFOUND, "window %d is not settled", start)
	} else if err != nil {
		return PoolWindow{}, fmt.Errorf("storage: pool window: %w", err)
	}
	w := PoolWindow{Start: r.Start, End: r.End, Pool: r.Pool, Distributed: r.Distributed, Miners: r.Miners,
		Credited: r.Credited != 0, SettledAt: r.SettledAt.Time, CreditedAt: r.CreditedAt.ptr()}
	if err := selectContext(ctx, c.r, &w.Rewards, `SELECT hotkey, activity, amount FROM pool_window_rewards
		WHERE window_start = ? ORDER BY hotkey`, start); err != nil {
		return PoolWindow{}, fmt.Errorf("storage: pool window rewards: %w", err)
	}
	return w, nil
}

// MarkPoolWindowCredited records that the ledger took window start's
// credits.
func (c *conn) MarkPoolWindowCredited(ctx context.Context, start int64, now time.Time) error {
	_, err := execContext(ctx, c.w, `UPDATE pool_windows SET credited = 1, credited_at = ? WHERE start_unix = ?`, now, start)
	if err != nil {
		return fmt.Errorf("storage: mark pool window credited: %w", err)
	}
	return nil
}

// PoolRecipients returns the recipient coldkey each of hotkeys set, keyed
// by hotkey; a miner that set none, or is not registered, is left out.
func (c *conn) PoolRecipients(ctx context.Context, hotkeys []string) (map[string]string, error) {
	out := make(map[string]string, len(hotkeys))
	// Bounded batches keep the statement under both dialects' parameter
	// limits.
	for start := 0; start < len(hotkeys); start += 500 {
		batch := hotkeys[start:min(start+500, len(hotkeys))]
		args := make([]any, len(batch))
		for i, h := range batch {
			args[i] = h
		}
		var rows []struct {
			Hotkey    string `db:"hotkey"`
			Recipient string `db:"recipient_coldkey"`
		}
		q := `SELECT hotkey, recipient_coldkey FROM pool_miners WHERE recipient_coldkey <> '' AND hotkey IN (?` +
			strings.Repeat(", ?", len(batch)-1) + `)`
		if err := selectContext(ctx, c.r, &rows, q, args...); err != nil {
			return nil, fmt.Errorf("storage: pool recipients: %w", err)
		}
		for _, r := range rows {
			out[r.Hotkey] = r.Recipient
		}
	}
	return out, nil
}
