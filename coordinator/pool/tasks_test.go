package pool_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/pool"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

func ids(t *testing.T, v any) []float64 {
	t.Helper()
	list, _ := v.([]any)
	var out []float64
	for _, a := range list {
		out = append(out, a.(map[string]any)["algorithm_id"].(float64))
	}
	return out
}

// TestPoolLeaseRules checks the lease rules through the API: batch sizes,
// gossip bounds, the development-only window, one active assignment per
// miner, the evolve budget, a double submission and an expired lease.
func TestPoolLeaseRules(t *testing.T) {
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			clk := newClock(vectorTime)
			env := start(t, dialect, clk, pool.Config{LeaseTTL: 10 * time.Minute})
			c := client{t, env.URL}
			a := newSigner(t, 1)
			h := func() map[string]string { return a.headers(t, clk.ts()) }
			c.expect(c.do("POST", "/api/v1/miners/register", nil, h()), 201, "")

			for _, tc := range []struct {
				body     map[string]any
				status   int
				fragment string
			}{
				{map[string]any{"eval_batch_size": 1}, 400, "eval_batch_size must be between 2 and 50, got 1"},
				{map[string]any{"eval_batch_size": 51}, 400, "eval_batch_size must be between 2 and 50"},
				{map[string]any{"seed_batch_size": 1}, 400, "seed_batch_size must be between 2 and 50"},
				{map[string]any{"gossip_limit": -1}, 400, "gossip_limit must be between 0 and 50"},
				{map[string]any{"gossip_limit": 51}, 400, "gossip_limit must be between 0 and 50"},
				{map[string]any{"task_type": "imagenet"}, 400, `task_type "imagenet" is not served`},
				{map[string]any{"sim_window_number": 5}, 403, "development"},
				{map[string]any{"eval_batch_size": "two"}, 400, "invalid JSON body"},
				{map[string]any{"batch": 2}, 400, "unknown field"},
			} {
				c.expect(c.do("POST", "/api/v1/tasks/lease", tc.body, h()), tc.status, tc.fragment)
			}

			lease := c.expect(c.do("POST", "/api/v1/tasks/lease", map[string]any{"eval_batch_size": 2, "seed_batch_size": 2, "gossip_limit": 5}, h()), 201, "")
			id, _ := lease["lease_id"].(string)
			evalIDs, seedIDs := ids(t, lease["evaluate_algorithms"]), ids(t, lease["seed_algorithms"])
			gossip, _ := lease["gossip"].(map[string]any)
			if id == "" || len(evalIDs) != 2 || len(seedIDs) != 2 || lease["evolve_budget"] != float64(1) || lease["task_type"] != "cifar10_binary" ||
				gossip["task_type"] != "cifar10_binary" || lease["expires_at"] != "2023-11-14T22:23:20Z" {
				t.Fatalf("lease %v", lease)
			}
			first := lease["evaluate_algorithms"].([]any)[0].(map[string]any)
			if first["algorithm_dsl"] == "" || first["origin"] != "seed" {
				t.Errorf("algorithm %v", first)
			}

			// One active assignment per miner, whichever route asks.
			c.expect(c.do("POST", "/api/v1/tasks/lease", nil, h()), 409, "already holds active lease "+id)
			c.expect(c.do("POST", "/api/v1/tasks/request", nil, h()), 409, "already holds active lease")
			p := c.expect(c.do("GET", "/api/v1/tasks/pending_evaluations", nil, h()), 200, "")
			if p["count"] != float64(1) {
				t.Fatalf("pending %v", p)
			}

			submit := "/api/v1/tasks/" + id + "/submit_lease"
			evo := map[string]any{"parent_algorithm_ids": seedIDs[:1], "algorithm_dsl": "model = linear(flatten(input), 2)\nepochs = 9"}
			evals := []map[string]any{{"algorithm_id": evalIDs[0], "score": 0.91}, {"algorithm_id": evalIDs[1], "score": 0.5}}
			for _, tc := range []struct {
				body     map[string]any
				fragment string
			}{
				{map[string]any{"evaluations": evals, "evolutions": []any{evo, evo}, "iterations": 3}, "evolve_budget is 1"},
				{map[string]any{"evaluations": []map[string]any{{"algorithm_id": 999, "score": 0.5}}}, "algorithm_id 999 was not handed out"},
				{map[string]any{"evaluations": []map[string]any{{"algorithm_id": evalIDs[0], "score": -1}}}, "score must be a number between 0"},
				{map[string]any{"evolutions": []any{map[string]any{"parent_algorithm_ids": []int{999}, "algorithm_dsl": "x"}}}, "algorithm 999 was not handed out"},
				{map[string]any{"iterations": -5}, "iterations must be between 0"},
				{map[string]any{"gossip": map[string]any{"task_type": "mnist_binary", "algorithm_ids": []int{1}}}, "gossip.task_type"},
			} {
				c.expect(c.do("POST", submit, tc.body, h()), 400, tc.fragment)
			}
			// Someone else's lease is not found for this miner.
			b := newSigner(t, 101)
			c.expect(c.do("POST", "/api/v1/miners/register", nil, b.headers(t, clk.ts())), 201, "")
			c.expect(c.do("POST", submit, map[string]any{}, b.headers(t, clk.ts())), 404, "no lease or batch")

			r := c.expect(c.do("POST", submit, map[string]any{"evaluations": evals, "evolutions": []any{evo}, "iterations": 3,
				"gossip": map[string]any{"task_type": "cifar10_binary", "algorithm_ids": seedIDs}}, h()), 200, "")
			if r["evaluations_accepted"] != float64(2) || r["evolutions_accepted"] != float64(1) || r["gossip_accepted"] != float64(2) {
				t.Fatalf("receipt %v", r)
			}
			c.expect(c.do("POST", submit, map[string]any{"evaluations": evals}, h()), 409, "already submitted")

			// The evolved algorithm is now pending evaluation by others, not by its author.
			batch := c.expect(c.do("POST", "/api/v1/tasks/request", map[string]any{"task_type": "cifar10_binary"}, b.headers(t, clk.ts())), 201, "")
			if batch["kind"] != "evaluate" || len(ids(t, batch["algorithms"])) != 5 {
				t.Fatalf("batch %v", batch)
			}
			bid := batch["batch_id"].(string)
			c.expect(c.do("POST", "/api/v1/tasks/"+bid+"/submit_evolution", map[string]any{"evolved_function": "x", "parent_functions": []int{1}}, b.headers(t, clk.ts())), 409, "submit it to /api/v1/tasks/{batch_id}/submit_evaluation")
			c.expect(c.do("POST", "/api/v1/tasks/"+bid+"/submit_evaluation", map[string]any{"evaluations": []any{}}, b.headers(t, clk.ts())), 400, "evaluations is empty")

			// An expired lease is refused and frees the miner.
			lease = c.expect(c.do("POST", "/api/v1/tasks/lease", nil, h()), 201, "")
			clk.Advance(10 * time.Minute)
			c.expect(c.do("POST", "/api/v1/tasks/"+lease["lease_id"].(string)+"/submit_lease", map[string]any{}, h()), 409, "expired at 2023-11-14T22:23:20Z")
			p = c.expect(c.do("GET", "/api/v1/tasks/pending_evaluations", nil, h()), 200, "")
			if p["count"] != float64(0) {
				t.Fatalf("expired lease still pending: %v", p)
			}
			c.expect(c.do("POST", "/api/v1/tasks/lease", nil, h()), 201, "")

			// An evolution batch when nothing waits for this miner's evaluation.
			c.expect(c.do("POST", "/api/v1/tasks/"+bid+"/submit_evaluation", map[string]any{"evaluations": []any{}}, b.headers(t, clk.ts())), 409, "expired")
		})
	}
}

// TestPoolConsensus runs three miners who agree and one outlier through
// leases, result:verify tasks (outbox → asynq → handler) and the verify
// route, then checks SOTA, reputation, results and the 409s of results
// without consensus.
func TestPoolConsensus(t *testing.T) {
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			clk := newClock(vectorTime)
			env := start(t, dialect, clk, pool.Config{K: 3, N: 4, Tolerance: 0.05})
			c := client{t, env.URL}
			// Seeds 1..4 are cifar10_binary. Scores per miner, in submission order a, d, b, c:
			//   seed 1: .90 .50 .91 .92 → verified at .90, d an outlier
			//   seed 2: .50 .50 (only a and b) → k not reached
			//   seed 3: .30 .60 .90 .93 → four in, at most two agree: disputed
			scores := map[byte][]float64{1: {0.90, 0.50, 0.30}, 4: {0.50, -1, 0.60}, 2: {0.91, 0.50, 0.90}, 3: {0.92, -1, 0.93}}
			miners := map[byte]signer{}
			for _, seed := range []byte{1, 4, 2, 3} {
				m := newSigner(t, seed)
				miners[seed] = m
				h := func() map[string]string { return m.headers(t, clk.ts()) }
				c.expect(c.do("POST", "/api/v1/miners/register", nil, h()), 201, "")
				batch := c.expect(c.do("POST", "/api/v1/tasks/request", nil, h()), 201, "")
				var evals []map[string]any
				for i, s := range scores[seed] {
					if s >= 0 {
						evals = append(evals, map[string]any{"algorithm_id": i + 1, "score": s})
					}
				}
				r := c.expect(c.do("POST", fmt.Sprintf("/api/v1/tasks/%s/submit_evaluation", batch["batch_id"]), map[string]any{"evaluations": evals}, h()), 200, "")
				if r["evaluations_accepted"] != float64(len(evals)) {
					t.Fatalf("receipt %v", r)
				}
			}
			a := miners[1]
			h := func() map[string]string { return a.headers(t, clk.ts()) }

			// The verify task runs in the coordinator's worker.
			deadline := time.Now().Add(20 * time.Second)
			var sota map[string]any
			for {
				sota = c.expect(c.do("GET", "/api/v1/results/sota?task_type=cifar10_binary", nil, nil), 200, "")
				if sota["sota_threshold"] != nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if sota["sota_threshold"] != 0.9 || sota["result_id"] != float64(1) {
				t.Fatalf("sota %v", sota)
			}
			// Idempotent: verifying a verified result again answers the same.
			for range 2 {
				v := c.expect(c.do("POST", "/api/v1/results/verify/1", nil, h()), 200, "")
				if v["verified"] != true || v["score"] != 0.9 || v["status"] != "verified" {
					t.Fatalf("verify %v", v)
				}
			}
			c.expect(c.do("POST", "/api/v1/results/verify/2", nil, h()), 409, "k not reached: 2 of 4 evaluations so far, 3 must agree")
			c.expect(c.do("POST", "/api/v1/results/verify/3", nil, h()), 409, "result 3 is disputed: no consensus: at most 2 of 4 scores agree within 5.00%")
			c.expect(c.do("POST", "/api/v1/results/verify/999", nil, h()), 404, "result 999 not found")
			c.expect(c.do("POST", "/api/v1/results/verify/x", nil, h()), 400, "positive integer")

			// Reputation: agreeing +10, the outlier −20; ties by hotkey.
			lb := c.expect(c.do("GET", "/api/v1/miners/leaderboard", nil, nil), 200, "")
			rep := map[string]float64{}
			for _, m := range lb["miners"].([]any) {
				row := m.(map[string]any)
				rep[row["hotkey"].(string)] = row["reputation"].(float64)
			}
			if rep[miners[1].hotkey] != 10 || rep[miners[2].hotkey] != 10 || rep[miners[3].hotkey] != 10 || rep[miners[4].hotkey] != -20 {
				t.Fatalf("reputation %v", lb)
			}
			if last := lb["miners"].([]any)[3].(map[string]any); last["hotkey"] != miners[4].hotkey || last["outliers"] != float64(1) {
				t.Fatalf("last on the leaderboard: %v", last)
			}

			res := c.expect(c.do("GET", "/api/v1/results?task_type=cifar10_binary&limit=10", nil, h()), 200, "")
			if res["count"] != float64(1) {
				t.Fatalf("results %v", res)
			}
			if res = c.expect(c.do("GET", "/api/v1/results/?min_score=0.95", nil, h()), 200, ""); res["count"] != float64(0) {
				t.Fatalf("min_score: %v", res)
			}
			c.expect(c.do("GET", "/api/v1/results?min_score=abc", nil, h()), 400, "min_score must be a number")
			c.expect(c.do("GET", "/api/v1/results?limit=501", nil, h()), 400, "limit must be between 1 and 500")
			c.expect(c.do("GET", "/api/v1/results", nil, nil), 401, "missing X-Key")

			st := c.expect(c.do("GET", "/api/v1/miners/stats", nil, h()), 200, "")
			ev := st["evaluations"].(map[string]any)
			if st["reputation"] != float64(10) || ev["submitted"] != float64(3) || ev["agreed"] != float64(1) || st["rewards_units"] != "0" {
				t.Fatalf("stats %v", st)
			}
		})
	}
}
