package pool

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/proofgrid/proofgrid"
)

// Assignment kinds. A miner holds at most one active assignment of any
// kind at a time.
const (
	KindLease    = "lease"    // evaluate + evolve + gossip, POST /tasks/lease
	KindEvaluate = "evaluate" // an evaluation batch, POST /tasks/request
	KindEvolve   = "evolve"   // an evolution batch, POST /tasks/request
)

// Assignment states. An active assignment past its expiry counts as
// expired whether or not a sweep has written it so.
const (
	AssignmentActive    = "active"
	AssignmentSubmitted = "submitted"
	AssignmentExpired   = "expired"
)

// TaskRequest asks for an evaluation or evolution batch.
type TaskRequest struct {
	TaskType *string `json:"task_type"`
}

// LeaseRequest asks for a lease. Nil fields take the configured defaults.
type LeaseRequest struct {
	TaskType      *string `json:"task_type"`
	EvalBatchSize *int    `json:"eval_batch_size"`
	SeedBatchSize *int    `json:"seed_batch_size"`
	GossipLimit   *int    `json:"gossip_limit"`
	// SimWindowNumber attributes the lease's work to another reward window;
	// development only.
	SimWindowNumber *int64 `json:"sim_window_number"`
}

// LeaseParams is a LeaseRequest after validation, defaults filled in.
type LeaseParams struct {
	TaskType      string
	EvalBatchSize int
	SeedBatchSize int
	GossipLimit   int
	// SimWindow is nil unless the request named a window.
	SimWindow *int64
}

// ValidateTaskType checks a requested task type against the catalogue;
// nil or empty means the default.
func ValidateTaskType(cfg *Config, tt *string) (string, error) {
	if tt == nil || *tt == "" {
		return cfg.DefaultTaskType, nil
	}
	if !KnownTaskType(*tt) {
		return "", proofgrid.Errorf(proofgrid.EINVALID, "task_type %q is not served here; use one of %s", *tt, strings.Join(TaskTypes(), ", "))
	}
	return *tt, nil
}

// ValidateLease checks r against the lease rules: batch sizes within
// MinBatchSize..MaxBatchSize, gossip_limit within 0..MaxGossipLimit, a known
// task type, and sim_window_number only in development and not negative.
func ValidateLease(cfg *Config, r LeaseRequest) (LeaseParams, error) {
	tt, err := ValidateTaskType(cfg, r.TaskType)
	if err != nil {
		return LeaseParams{}, err
	}
	p := LeaseParams{TaskType: tt, EvalBatchSize: cfg.EvalBatchSize, SeedBatchSize: cfg.SeedBatchSize, GossipLimit: cfg.GossipLimit}
	size := func(name string, v *int, dst *int, lo, hi int) error {
		if v == nil {
			return nil
		}
		if *v < lo || *v > hi {
			return proofgrid.Errorf(proofgrid.EINVALID, "%s must be between %d and %d, got %d", name, lo, hi, *v)
		}
		*dst = *v
		return nil
	}
	if err := size("eval_batch_size", r.EvalBatchSize, &p.EvalBatchSize, MinBatchSize, MaxBatchSize); err != nil {
		return LeaseParams{}, err
	}
	if err := size("seed_batch_size", r.SeedBatchSize, &p.SeedBatchSize, MinBatchSize, MaxBatchSize); err != nil {
		return LeaseParams{}, err
	}
	if err := size("gossip_limit", r.GossipLimit, &p.GossipLimit, 0, MaxGossipLimit); err != nil {
		return LeaseParams{}, err
	}
	if r.SimWindowNumber != nil {
		if !cfg.Development {
			return LeaseParams{}, proofgrid.Errorf(proofgrid.EFORBIDDEN, "sim_window_number is for development deployments only; leave it out")
		}
		if *r.SimWindowNumber < 0 {
			return LeaseParams{}, proofgrid.Errorf(proofgrid.EINVALID, "sim_window_number must not be negative, got %d", *r.SimWindowNumber)
		}
		w := *r.SimWindowNumber
		p.SimWindow = &w
	}
	return p, nil
}

// Evaluation is one miner's score for one algorithm.
type Evaluation struct {
	AlgorithmID int64   `json:"algorithm_id"`
	Score       float64 `json:"score"`
}

// Evolution is an algorithm a miner derived from others.
type Evolution struct {
	ParentAlgorithmIDs []int64 `json:"parent_algorithm_ids"`
	AlgorithmDSL       string  `json:"algorithm_dsl"`
}

// Gossip lists algorithms a miner recommends to others of a task type.
type Gossip struct {
	TaskType     string  `json:"task_type"`
	AlgorithmIDs []int64 `json:"algorithm_ids"`
}

// LeaseSubmission is what a miner hands back for a lease.
type LeaseSubmission struct {
	Evaluations []Evaluation `json:"evaluations"`
	Evolutions  []Evolution  `json:"evolutions"`
	Gossip      *Gossip      `json:"gossip"`
	Iterations  int64        `json:"iterations"`
}

// EvaluationSubmission is what a miner hands back for an evaluation batch.
type EvaluationSubmission struct {
	Evaluations []Evaluation `json:"evaluations"`
}

// EvolutionSubmission is what a miner hands back for an evolution batch:
// the evolved algorithm and its parents, each given by algorithm id or by
// its exact DSL text.
type EvolutionSubmission struct {
	EvolvedFunction string            `json:"evolved_function"`
	ParentFunctions []json.RawMessage `json:"parent_functions"`
}

// ScoreMicros converts a submitted score to micro-units, refusing what is
// not a finite number within 0..MaxScore.
func ScoreMicros(field string, score float64) (int64, error) {
	if math.IsNaN(score) || math.IsInf(score, 0) || score < 0 || score > MaxScore {
		return 0, proofgrid.Errorf(proofgrid.EINVALID, "%s must be a number between 0 and %d, got %v", field, MaxScore, score)
	}
	return int64(math.Round(score * microsPerUnit)), nil
}

// Score converts micro-units back to a score.
func Score(micros int64) float64 { return float64(micros) / microsPerUnit }

// ValidateEvaluations checks the evaluations of a submission against the
// algorithms the assignment handed out (allowed): each once, each
// allowed, each score valid. It returns the scores in micro-units.
func ValidateEvaluations(evals []Evaluation, allowed map[int64]bool) ([]int64, error) {
	if len(evals) > MaxBatchSize {
		return nil, proofgrid.Errorf(proofgrid.EINVALID, "evaluations has %d entries; at most %d", len(evals), MaxBatchSize)
	}
	seen := map[int64]bool{}
	out := make([]int64, len(evals))
	for i, e := range evals {
		field := "evaluations[" + strconv.Itoa(i) + "]"
		if !allowed[e.AlgorithmID] {
			return nil, proofgrid.Errorf(proofgrid.EINVALID, "%s.algorithm_id %d was not handed out to evaluate in this assignment", field, e.AlgorithmID)
		}
		if seen[e.AlgorithmID] {
			return nil, proofgrid.Errorf(proofgrid.EINVALID, "%s.algorithm_id %d is evaluated twice", field, e.AlgorithmID)
		}
		seen[e.AlgorithmID] = true
		m, err := ScoreMicros(field+".score", e.Score)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// ValidateDSL checks the text of an evolved algorithm.
func ValidateDSL(field, dsl string) error {
	switch {
	case strings.TrimSpace(dsl) == "":
		return proofgrid.Errorf(proofgrid.EINVALID, "%s is empty", field)
	case len(dsl) > MaxDSLBytes:
		return proofgrid.Errorf(proofgrid.EINVALID, "%s is %d bytes; at most %d", field, len(dsl), MaxDSLBytes)
	case !utf8.ValidString(dsl):
		return proofgrid.Errorf(proofgrid.EINVALID, "%s is not valid UTF-8", field)
	case strings.ContainsRune(dsl, 0):
		return proofgrid.Errorf(proofgrid.EINVALID, "%s contains a NUL byte", field)
	}
	return nil
}

// ValidateEvolutions checks the evolutions of a lease submission: at most
// budget of them, each with 1..MaxParents distinct parents among those the
// lease handed out (parents), and a valid DSL.
func ValidateEvolutions(evos []Evolution, budget int, parents map[int64]bool) error {
	if len(evos) > budget {
		return proofgrid.Errorf(proofgrid.EINVALID, "evolutions has %d entries but this lease's evolve_budget is %d", len(evos), budget)
	}
	for i, e := range evos {
		field := "evolutions[" + strconv.Itoa(i) + "]"
		if err := ValidateParents(field+".parent_algorithm_ids", e.ParentAlgorithmIDs, parents); err != nil {
			return err
		}
		if err := ValidateDSL(field+".algorithm_dsl", e.AlgorithmDSL); err != nil {
			return err
		}
	}
	return nil
}

// ValidateParents checks a list of parent algorithm ids.
func ValidateParents(field string, ids []int64, parents map[int64]bool) error {
	if len(ids) == 0 || len(ids) > MaxParents {
		return proofgrid.Errorf(proofgrid.EINVALID, "%s must name 1 to %d parents, got %d", field, MaxParents, len(ids))
	}
	seen := map[int64]bool{}
	for _, id := range ids {
		if !parents[id] {
			return proofgrid.Errorf(proofgrid.EINVALID, "%s: algorithm %d was not handed out in this assignment", field, id)
		}
		if seen[id] {
			return proofgrid.Errorf(proofgrid.EINVALID, "%s names algorithm %d twice", field, id)
		}
		seen[id] = true
	}
	return nil
}

// ValidateGossip checks the optional gossip of a lease submission.
func ValidateGossip(g *Gossip, taskType string, limit int) error {
	if g == nil {
		return nil
	}
	if g.TaskType != taskType {
		return proofgrid.Errorf(proofgrid.EINVALID, "gossip.task_type must be the lease's task type %q, got %q", taskType, g.TaskType)
	}
	if len(g.AlgorithmIDs) > limit {
		return proofgrid.Errorf(proofgrid.EINVALID, "gossip.algorithm_ids has %d entries; at most %d", len(g.AlgorithmIDs), limit)
	}
	seen := map[int64]bool{}
	for _, id := range g.AlgorithmIDs {
		if id <= 0 {
			return proofgrid.Errorf(proofgrid.EINVALID, "gossip.algorithm_ids: %d is not an algorithm id", id)
		}
		if seen[id] {
			return proofgrid.Errorf(proofgrid.EINVALID, "gossip.algorithm_ids names %d twice", id)
		}
		seen[id] = true
	}
	return nil
}

// ValidateIterations checks the iterations count of a lease submission.
func ValidateIterations(n int64) error {
	if n < 0 || n > MaxIterations {
		return proofgrid.Errorf(proofgrid.EINVALID, "iterations must be between 0 and %d, got %d", MaxIterations, n)
	}
	return nil
}
