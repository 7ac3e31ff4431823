package pool_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/internal/clocktest"
	"github.com/proofgrid/proofgrid/pool"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// window0 is the start of a reward window of one hour.
var window0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func newService(t *testing.T, db *storage.DB, cfg pool.Config) (*pool.Service, *clocktest.Clock) {
	t.Helper()
	clk := clocktest.New(window0.Add(5 * time.Minute))
	cfg.Now = clk.Now
	s, err := pool.New(db, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Bootstrap(context.Background()); err != nil || n != 7 {
		t.Fatalf("bootstrap: %d %v", n, err)
	}
	if n, _ := s.Bootstrap(context.Background()); n != 0 {
		t.Fatalf("bootstrap twice stored %d seeds again", n)
	}
	return s, clk
}

// evaluateAll has miner evaluate the algorithms of scores (algorithm id →
// score) through an evaluation batch.
func evaluateAll(t *testing.T, s *pool.Service, miner string, scores map[int64]float64) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := s.Register(ctx, miner); err != nil {
		t.Fatal(err)
	}
	a, err := s.Request(ctx, miner, "cifar10_binary")
	if err != nil || a.Kind != pool.KindEvaluate {
		t.Fatalf("request: %+v %v", a, err)
	}
	var evals []pool.Evaluation
	for id, sc := range scores {
		evals = append(evals, pool.Evaluation{AlgorithmID: id, Score: sc})
	}
	if _, err := s.SubmitEvaluation(ctx, miner, a.ID, pool.EvaluationSubmission{Evaluations: evals}); err != nil {
		t.Fatal(err)
	}
}

func TestServiceTie(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s, _ := newService(t, db, pool.Config{K: 2, N: 4})
		for miner, sc := range map[string]float64{"m1": 0.50, "m2": 0.90, "m3": 0.51, "m4": 0.91} {
			evaluateAll(t, s, miner, map[int64]float64{1: sc})
		}
		_, err := s.VerifyResult(ctx, 1)
		if proofgrid.ErrorCode(err) != proofgrid.ECONFLICT || !strings.Contains(err.Error(), "disputed: tie: 2 groups of 2 agreeing scores") {
			t.Fatalf("tie: %v", err)
		}
		if sota, _ := s.SOTA(ctx, "cifar10_binary"); sota != nil {
			t.Fatalf("a tie moved SOTA: %+v", sota)
		}
		if lb, _ := s.Leaderboard(ctx, 10); lb[0].Reputation != 0 {
			t.Fatalf("a tie moved reputation: %+v", lb)
		}
		// A disputed result is not handed out again.
		a, err := s.Lease(ctx, "m1", pool.LeaseParams{TaskType: "cifar10_binary", EvalBatchSize: 2, SeedBatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, al := range a.Evaluate {
			if al.ID == 1 {
				t.Fatal("a disputed result was handed out again")
			}
		}
	})
}

func TestServiceWindowRewards(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		ledger := &pool.MemoryLedger{}
		s, clk := newService(t, db, pool.Config{K: 2, N: 3, WindowPool: "1000", MinActivity: 2, Ledger: ledger})
		// Seeds 1..3: a, b, c agree on 1 and 2; c is an outlier on 3;
		// d scores seed 4 alone, which stays pending and earns nothing.
		evaluateAll(t, s, "a", map[int64]float64{1: 0.80, 2: 0.70, 3: 0.60})
		evaluateAll(t, s, "b", map[int64]float64{1: 0.81, 2: 0.71, 3: 0.61})
		evaluateAll(t, s, "c", map[int64]float64{1: 0.82, 2: 0.72, 3: 0.10})
		evaluateAll(t, s, "d", map[int64]float64{4: 0.4})
		for _, id := range []int64{1, 2, 3} {
			if _, err := s.VerifyResult(ctx, id); err != nil {
				t.Fatalf("verify %d: %v", id, err)
			}
		}
		// e evolves once in a lease: activity 1 for e, not enough.
		if _, _, err := s.Register(ctx, "e"); err != nil {
			t.Fatal(err)
		}
		l, err := s.Lease(ctx, "e", pool.LeaseParams{TaskType: "cifar10_binary", EvalBatchSize: 2, SeedBatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SubmitLease(ctx, "e", l.ID, pool.LeaseSubmission{Evolutions: []pool.Evolution{{ParentAlgorithmIDs: l.SeedIDs[:1], AlgorithmDSL: "model = x"}}}); err != nil {
			t.Fatal(err)
		}
		if sota, _ := s.SOTA(ctx, "cifar10_binary"); sota == nil || *sota.ScoreMicros != 800_000 || sota.ID != 1 {
			t.Fatalf("sota %+v", sota)
		}

		if _, err := s.SettleWindow(ctx, window0); proofgrid.ErrorCode(err) != proofgrid.ECONFLICT {
			t.Fatalf("settling an open window: %v", err)
		}
		clk.Set(window0.Add(2 * time.Hour))
		ledger.Fail = errors.New("ledger down")
		if _, err := s.SettleWindow(ctx, window0); err == nil || !strings.Contains(err.Error(), "ledger down") {
			t.Fatalf("ledger failure: %v", err)
		}
		ledger.Fail = nil
		// The periodic run of the window starting two hours later settles window0.
		w, err := s.SettleDue(ctx, window0.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// a: 3 agreeing, b: 3, c: 2 agreeing + 1 outlier (in consensus), d and e below 2.
		// 1000 × 3/8 = 375, 375, 250: exact.
		want := map[string]string{"a": "375", "b": "375", "c": "250"}
		if !w.Credited || w.Distributed != "1000" || len(w.Rewards) != 3 {
			t.Fatalf("window %+v", w)
		}
		for _, r := range w.Rewards {
			if want[r.Hotkey] != r.Amount {
				t.Errorf("%s got %s, want %s", r.Hotkey, r.Amount, want[r.Hotkey])
			}
		}
		cr := ledger.Credits()
		sum := new(big.Int)
		for _, c := range cr {
			sum.Add(sum, c.Amount)
			if c.Key != pool.CreditKey(window0, c.Account) || c.Key != "pool:window:1740823200:"+c.Account {
				t.Errorf("credit key %q", c.Key)
			}
		}
		if len(cr) != 3 || sum.Int64() != 1000 {
			t.Fatalf("credits %+v", cr)
		}
		// Idempotent: the same window again credits nothing new.
		if _, err := s.SettleWindow(ctx, window0); err != nil || len(ledger.Credits()) != 3 {
			t.Fatalf("second settlement: %v, %d credits", err, len(ledger.Credits()))
		}
		st, err := s.Stats(ctx, "a")
		if err != nil || st.Rewarded.String() != "375" || st.Reputation != 30 {
			t.Fatalf("stats %+v %v", st, err)
		}
		if st, _ := s.Stats(ctx, "c"); st.Reputation != 0 {
			t.Fatalf("c: two agreeing, one outlier: reputation %d, want 0", st.Reputation)
		}
		// A window where nobody reached the minimum pays nothing.
		w, err = s.SettleWindow(ctx, window0.Add(time.Hour))
		if err != nil || w.Distributed != "0" || len(w.Rewards) != 0 {
			t.Fatalf("empty window %+v %v", w, err)
		}
		if _, err := s.SettleWindow(ctx, window0.Add(time.Minute)); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Fatalf("unaligned window: %v", err)
		}
	})
}
