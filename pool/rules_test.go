package pool_test

import (
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/pool"
)

func resolved(t *testing.T, c pool.Config) *pool.Config {
	t.Helper()
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	return &c
}

func ptr[T any](v T) *T { return &v }

func TestConfigDefaults(t *testing.T) {
	c := resolved(t, pool.Config{})
	if c.WindowLength != time.Hour || c.K != 2 || c.N != 3 || c.TolerancePPM() != 50_000 || c.EvolveBudget != 1 ||
		c.Pool().String() != "1000000000" || c.MinActivity != 3 || c.LeaseTTL != 10*time.Minute {
		t.Fatalf("defaults: %+v", c)
	}
	for _, bad := range []pool.Config{
		{WindowPool: "-1"}, {WindowPool: "1e9"}, {K: 4, N: 3}, {Tolerance: 2}, {WindowLength: 1500 * time.Millisecond},
		{EvolveBudget: 2}, {EvalBatchSize: 1}, {GossipLimit: 51},
	} {
		if err := bad.Resolve(); err == nil {
			t.Errorf("config %+v: want an error", bad)
		}
	}
	if c := resolved(t, pool.Config{EvolveBudget: -1}); c.EvolveBudget != 0 {
		t.Errorf("evolve budget -1 → %d, want 0", c.EvolveBudget)
	}
	// Windows are aligned to the Unix epoch.
	at := time.Unix(1_700_000_123, 0)
	if got := c.Window(at); got.Unix() != 1_699_999_200 || c.WindowNumber(at) != 472_222 || !c.WindowStart(472_222).Equal(got) {
		t.Errorf("window of %v: %v #%d", at, got, c.WindowNumber(at))
	}
}

func TestValidateLease(t *testing.T) {
	cfg := resolved(t, pool.Config{})
	dev := resolved(t, pool.Config{Development: true})
	for _, tc := range []struct {
		name string
		cfg  *pool.Config
		req  pool.LeaseRequest
		code string // "" for success
		frag string
	}{
		{"defaults", cfg, pool.LeaseRequest{}, "", ""},
		{"sizes at bounds", cfg, pool.LeaseRequest{EvalBatchSize: ptr(2), SeedBatchSize: ptr(50), GossipLimit: ptr(0)}, "", ""},
		{"eval batch 1", cfg, pool.LeaseRequest{EvalBatchSize: ptr(1)}, proofgrid.EINVALID, "eval_batch_size must be between 2 and 50, got 1"},
		{"eval batch 51", cfg, pool.LeaseRequest{EvalBatchSize: ptr(51)}, proofgrid.EINVALID, "eval_batch_size"},
		{"seed batch 0", cfg, pool.LeaseRequest{SeedBatchSize: ptr(0)}, proofgrid.EINVALID, "seed_batch_size"},
		{"gossip -1", cfg, pool.LeaseRequest{GossipLimit: ptr(-1)}, proofgrid.EINVALID, "gossip_limit must be between 0 and 50"},
		{"gossip 51", cfg, pool.LeaseRequest{GossipLimit: ptr(51)}, proofgrid.EINVALID, "gossip_limit"},
		{"unknown task type", cfg, pool.LeaseRequest{TaskType: ptr("imagenet")}, proofgrid.EINVALID, `task_type "imagenet" is not served`},
		{"sim window in production", cfg, pool.LeaseRequest{SimWindowNumber: ptr(int64(3))}, proofgrid.EFORBIDDEN, "development"},
		{"sim window in development", dev, pool.LeaseRequest{SimWindowNumber: ptr(int64(3))}, "", ""},
		{"negative sim window", dev, pool.LeaseRequest{SimWindowNumber: ptr(int64(-1))}, proofgrid.EINVALID, "sim_window_number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pool.ValidateLease(tc.cfg, tc.req)
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if p.TaskType != "cifar10_binary" {
					t.Errorf("task type %q", p.TaskType)
				}
				return
			}
			if proofgrid.ErrorCode(err) != tc.code || !strings.Contains(proofgrid.ErrorMessage(err), tc.frag) {
				t.Fatalf("got %v (%s), want %s containing %q", err, proofgrid.ErrorCode(err), tc.code, tc.frag)
			}
		})
	}
	p, _ := pool.ValidateLease(cfg, pool.LeaseRequest{})
	if p.EvalBatchSize != 5 || p.SeedBatchSize != 3 || p.GossipLimit != 10 || p.SimWindow != nil {
		t.Errorf("defaults: %+v", p)
	}
}

func TestValidateSubmission(t *testing.T) {
	allowed := map[int64]bool{1: true, 2: true}
	if m, err := pool.ValidateEvaluations([]pool.Evaluation{{1, 0.912345}, {2, 0}}, allowed); err != nil || !slices.Equal(m, []int64{912345, 0}) {
		t.Fatalf("good evaluations: %v %v", m, err)
	}
	for _, tc := range []struct {
		evals []pool.Evaluation
		frag  string
	}{
		{[]pool.Evaluation{{3, 0.5}}, "algorithm_id 3 was not handed out"},
		{[]pool.Evaluation{{1, 0.5}, {1, 0.6}}, "evaluated twice"},
		{[]pool.Evaluation{{1, -0.1}}, "evaluations[0].score must be a number between 0 and 1000000"},
		{[]pool.Evaluation{{1, 2e6}}, "score"},
	} {
		if _, err := pool.ValidateEvaluations(tc.evals, allowed); proofgrid.ErrorCode(err) != proofgrid.EINVALID || !strings.Contains(err.Error(), tc.frag) {
			t.Errorf("%v: got %v, want %q", tc.evals, err, tc.frag)
		}
	}
	parents := map[int64]bool{1: true, 5: true}
	good := pool.Evolution{ParentAlgorithmIDs: []int64{1, 5}, AlgorithmDSL: "model = linear(input, 2)"}
	if err := pool.ValidateEvolutions([]pool.Evolution{good}, 1, parents); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		evos   []pool.Evolution
		budget int
		frag   string
	}{
		{[]pool.Evolution{good}, 0, "evolve_budget is 0"},
		{[]pool.Evolution{good, good}, 1, "evolve_budget is 1"},
		{[]pool.Evolution{{ParentAlgorithmIDs: nil, AlgorithmDSL: "x"}}, 1, "must name 1 to 8 parents"},
		{[]pool.Evolution{{ParentAlgorithmIDs: []int64{9}, AlgorithmDSL: "x"}}, 1, "algorithm 9 was not handed out"},
		{[]pool.Evolution{{ParentAlgorithmIDs: []int64{1, 1}, AlgorithmDSL: "x"}}, 1, "twice"},
		{[]pool.Evolution{{ParentAlgorithmIDs: []int64{1}, AlgorithmDSL: "  "}}, 1, "algorithm_dsl is empty"},
		{[]pool.Evolution{{ParentAlgorithmIDs: []int64{1}, AlgorithmDSL: strings.Repeat("x", pool.MaxDSLBytes+1)}}, 1, "bytes; at most"},
		{[]pool.Evolution{{ParentAlgorithmIDs: []int64{1}, AlgorithmDSL: "\xff"}}, 1, "UTF-8"},
	} {
		if err := pool.ValidateEvolutions(tc.evos, tc.budget, parents); proofgrid.ErrorCode(err) != proofgrid.EINVALID || !strings.Contains(err.Error(), tc.frag) {
			t.Errorf("got %v, want %q", err, tc.frag)
		}
	}
	if err := pool.ValidateGossip(&pool.Gossip{TaskType: "mnist_binary", AlgorithmIDs: []int64{1}}, "cifar10_binary", 10); err == nil {
		t.Error("gossip of another task type accepted")
	}
	if err := pool.ValidateGossip(&pool.Gossip{TaskType: "cifar10_binary", AlgorithmIDs: []int64{1, 2, 3}}, "cifar10_binary", 2); err == nil {
		t.Error("gossip above its limit accepted")
	}
	if err := pool.ValidateIterations(-1); err == nil {
		t.Error("negative iterations accepted")
	}
}

func votes(scores ...float64) []pool.Vote {
	out := make([]pool.Vote, len(scores))
	for i, s := range scores {
		m, _ := pool.ScoreMicros("score", s)
		out[i] = pool.Vote{EvaluationID: int64(i + 1), Hotkey: string(rune('a' + i)), Micros: m}
	}
	return out
}

func TestAgree(t *testing.T) {
	const tol = 50_000 // 5 %
	for _, tc := range []struct {
		name       string
		votes      []pool.Vote
		k, n       int
		verified   bool
		final      bool
		micros     int64
		agree, out []int64
		reason     string
	}{
		{"three agree", votes(0.90, 0.92, 0.91), 3, 3, true, true, 900_000, []int64{1, 2, 3}, nil, ""},
		{"one outlier", votes(0.90, 0.50, 0.91), 2, 3, true, true, 900_000, []int64{1, 3}, []int64{2}, ""},
		{"three agree, one outlier", votes(0.80, 0.81, 0.30, 0.82), 3, 4, true, true, 800_000, []int64{1, 2, 4}, []int64{3}, ""},
		{"k reached early", votes(0.70, 0.71), 2, 3, true, true, 700_000, []int64{1, 2}, nil, ""},
		{"k not reached", votes(0.70), 2, 3, false, false, 0, nil, nil, "k not reached: 1 of 3 evaluations so far, 2 must agree"},
		{"no agreement yet", votes(0.70, 0.20), 2, 3, false, false, 0, nil, nil, "no consensus: at most 1 of 2 scores agree within 5.00%, 2 must"},
		{"no agreement, n reached", votes(0.70, 0.20, 0.40), 2, 3, false, true, 0, nil, nil, "no consensus"},
		{"tie of two groups", votes(0.50, 0.90, 0.51, 0.91), 2, 4, false, true, 0, nil, nil, "tie: 2 groups of 2 agreeing scores"},
		{"overlapping groups tie", votes(1.00, 1.04, 1.08), 2, 3, false, true, 0, nil, nil, "tie"},
		{"boundary agrees", votes(1.00, 1.05), 2, 2, true, true, 1_000_000, []int64{1, 2}, nil, ""},
		{"just past the boundary", votes(1.00, 1.050001), 2, 2, false, true, 0, nil, nil, "no consensus"},
		{"zeros agree", votes(0, 0, 0.5), 2, 3, true, true, 0, []int64{1, 2}, []int64{3}, ""},
		{"only first n considered", votes(0.2, 0.9, 0.6, 0.9), 2, 3, false, true, 0, nil, nil, "no consensus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := pool.Agree(tc.votes, tc.k, tc.n, tol)
			if c.Verified != tc.verified || c.Final != tc.final || c.Micros != tc.micros ||
				!slices.Equal(c.Agreeing, tc.agree) || !slices.Equal(c.Outliers, tc.out) || !strings.Contains(c.Reason, tc.reason) {
				t.Fatalf("got %+v", c)
			}
		})
	}
}

func TestReputationDeltas(t *testing.T) {
	v := votes(0.90, 0.50, 0.91)
	c := pool.Agree(v, 2, 3, 50_000)
	d := pool.ReputationDeltas(c, v, 10, 20)
	if len(d) != 3 || d["a"] != 10 || d["b"] != -20 || d["c"] != 10 {
		t.Fatalf("deltas %v", d)
	}
	if d := pool.ReputationDeltas(pool.Agree(votes(0.9), 2, 3, 50_000), v, 10, 20); len(d) != 0 {
		t.Fatalf("unverified moved reputation: %v", d)
	}
}

func TestSplitWindow(t *testing.T) {
	sum := func(rs []pool.WindowReward) *big.Int {
		s := new(big.Int)
		for _, r := range rs {
			s.Add(s, r.Amount)
		}
		return s
	}
	acts := []pool.Activity{
		{Hotkey: "c", Agreed: 2, Evolutions: 1},              // 3
		{Hotkey: "a", Agreed: 3},                             // 3
		{Hotkey: "b", Agreed: 1, Evolutions: 0},              // 1 < min 2: nothing
		{Hotkey: "d", Agreed: 2, Outliers: 2, Evolutions: 5}, // not in consensus
		{Hotkey: "e", Agreed: 1, Evolutions: 2},              // 3
		{Hotkey: "f", Evolutions: 9},                         // no agreeing evaluation
	}
	got := pool.SplitWindow(big.NewInt(100), 2, acts)
	// 100 × 3/9 = 33 r 3 each; one unit left goes to the smallest hotkey.
	want := []struct {
		h string
		a int64
	}{{"a", 34}, {"c", 33}, {"e", 33}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i, w := range want {
		if got[i].Hotkey != w.h || got[i].Amount.Int64() != w.a || got[i].Activity != 3 {
			t.Errorf("row %d: %+v, want %s %d", i, got[i], w.h, w.a)
		}
	}
	if sum(got).Int64() != 100 {
		t.Errorf("sum %v", sum(got))
	}
	// Exact split of a big pool in uneven proportions.
	pool18, _ := new(big.Int).SetString("1000000000000000000000", 10)
	got = pool.SplitWindow(pool18, 1, []pool.Activity{{Hotkey: "x", Agreed: 1}, {Hotkey: "y", Agreed: 2}, {Hotkey: "z", Agreed: 4}})
	if sum(got).Cmp(pool18) != 0 || got[0].Amount.String() != "142857142857142857143" || got[2].Amount.String() != "571428571428571428571" {
		t.Errorf("big split %v", got)
	}
	// Largest remainder before hotkey order: 10 × 1/3 and 10 × 2/3.
	got = pool.SplitWindow(big.NewInt(10), 1, []pool.Activity{{Hotkey: "a", Agreed: 1}, {Hotkey: "b", Agreed: 2}})
	if got[0].Amount.Int64() != 3 || got[1].Amount.Int64() != 7 {
		t.Errorf("remainder: %v %v", got[0].Amount, got[1].Amount)
	}
	// Nobody eligible: nothing paid, no fallback.
	if got := pool.SplitWindow(big.NewInt(100), 5, acts); got != nil {
		t.Errorf("below the minimum: %+v", got)
	}
}

func TestCatalogue(t *testing.T) {
	if !pool.KnownTaskType("cifar10_binary") || pool.KnownTaskType("nope") {
		t.Fatal("task types", pool.TaskTypes())
	}
	for _, tt := range pool.Catalogue() {
		if len(tt.Seeds) < 2 {
			t.Errorf("%s has %d seeds", tt.TaskType, len(tt.Seeds))
		}
		for _, s := range tt.Seeds {
			if err := pool.ValidateDSL("dsl", s.DSL); err != nil {
				t.Errorf("%s/%s: %v", tt.TaskType, s.Name, err)
			}
		}
	}
	if pool.Digest("a", "b") == pool.Digest("ab", "") {
		t.Error("digest does not separate task type from DSL")
	}
}
