package storage_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

func TestPoolRepository(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		m, created, err := db.RegisterPoolMiner(ctx, "5Alice", base)
		if err != nil || !created || !m.RegisteredAt.Equal(stored(base)) {
			t.Fatalf("register: %+v %v %v", m, created, err)
		}
		if _, created, _ := db.RegisterPoolMiner(ctx, "5Alice", base.Add(time.Minute)); created {
			t.Fatal("second registration created a miner")
		}
		if _, err := db.SetPoolRecipient(ctx, "5Nobody", "5Cold", base); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			t.Fatalf("recipient of unknown miner: %v", err)
		}
		if m, err = db.SetPoolRecipient(ctx, "5Alice", "5Cold", base); err != nil || m.RecipientColdkey != "5Cold" || m.RecipientUpdatedAt == nil {
			t.Fatalf("recipient: %+v %v", m, err)
		}
		_, _, _ = db.RegisterPoolMiner(ctx, "5Bob", base)

		seed, inserted, err := db.InsertPoolAlgorithm(ctx, storage.PoolAlgorithm{TaskType: "t", Digest: "d1", DSL: "x", Origin: "seed", CreatedAt: base})
		if err != nil || !inserted || seed.ID == 0 || seed.Status != storage.PoolPending {
			t.Fatalf("insert: %+v %v %v", seed, inserted, err)
		}
		again, inserted, err := db.InsertPoolAlgorithm(ctx, storage.PoolAlgorithm{TaskType: "t", Digest: "d1", DSL: "x", Origin: "seed", CreatedAt: base})
		if err != nil || inserted || again.ID != seed.ID {
			t.Fatalf("duplicate digest: %+v %v %v", again, inserted, err)
		}
		evo, _, err := db.InsertPoolAlgorithm(ctx, storage.PoolAlgorithm{TaskType: "t", Digest: "d2", DSL: "y", Origin: "evolution",
			Author: "5Alice", ParentIDs: []int64{seed.ID}, WindowStart: 3600, CreatedAt: base})
		if err != nil || !slices.Equal(evo.ParentIDs, []int64{seed.ID}) {
			t.Fatalf("evolution: %+v %v", evo, err)
		}

		// Alice authored evo, so she is handed only the seed to evaluate.
		todo, err := db.PoolAlgorithmsToEvaluate(ctx, "t", "5Alice", 3, 10)
		if err != nil || len(todo) != 1 || todo[0].ID != seed.ID {
			t.Fatalf("to evaluate: %+v %v", todo, err)
		}
		id, err := db.InsertPoolEvaluation(ctx, storage.PoolEvaluation{AlgorithmID: seed.ID, Hotkey: "5Alice", AssignmentID: "a",
			ScoreMicros: 900_000, Outcome: storage.PoolOutcomePending, WindowStart: 3600, CreatedAt: base})
		if err != nil || id == 0 {
			t.Fatal(err)
		}
		_, err = db.InsertPoolEvaluation(ctx, storage.PoolEvaluation{AlgorithmID: seed.ID, Hotkey: "5Alice", AssignmentID: "b",
			ScoreMicros: 1, Outcome: storage.PoolOutcomePending, WindowStart: 3600, CreatedAt: base})
		wantCode(t, err, proofgrid.ECONFLICT)
		if todo, _ := db.PoolAlgorithmsToEvaluate(ctx, "t", "5Alice", 3, 10); len(todo) != 0 {
			t.Fatalf("evaluated algorithm handed out again: %+v", todo)
		}

		// Decide the seed: verified with Alice agreeing.
		err = db.InTx(ctx, func(tx *storage.Tx) error {
			a, err := tx.LockPoolAlgorithm(ctx, seed.ID)
			if err != nil || a.Evaluations != 1 {
				t.Errorf("locked %+v %v", a, err)
			}
			score := int64(900_000)
			if err := tx.DecidePoolAlgorithm(ctx, seed.ID, storage.PoolVerified, &score, "", base); err != nil {
				return err
			}
			if err := tx.SetPoolEvaluationOutcome(ctx, []int64{id}, storage.PoolOutcomeAgree); err != nil {
				return err
			}
			return tx.AddPoolReputation(ctx, map[string]int64{"5Alice": 10, "5Bob": -20})
		})
		if err != nil {
			t.Fatal(err)
		}
		sota, err := db.PoolSOTA(ctx, "t")
		if err != nil || sota.ID != seed.ID || *sota.ScoreMicros != 900_000 || sota.VerifiedAt == nil {
			t.Fatalf("sota %+v %v", sota, err)
		}
		if _, err := db.PoolSOTA(ctx, "other"); proofgrid.ErrorCode(err) != proofgrid.ENOTFOUND {
			t.Fatalf("sota of empty task type: %v", err)
		}
		min := int64(950_000)
		if rs, _ := db.PoolResults(ctx, storage.PoolResultFilter{MinMicros: &min}); len(rs) != 0 {
			t.Fatalf("min score filter: %+v", rs)
		}
		top, _ := db.PoolTopAlgorithms(ctx, "t", 5)
		if len(top) != 1 || top[0].ID != seed.ID {
			t.Fatalf("top: %+v", top)
		}
		board, err := db.PoolLeaderboard(ctx, 10)
		if err != nil || len(board) != 2 || board[0].Hotkey != "5Alice" || board[0].Reputation != 10 || board[0].Agreed != 1 ||
			board[0].Evolutions != 1 || board[1].Reputation != -20 {
			t.Fatalf("leaderboard %+v %v", board, err)
		}
		act, err := db.PoolWindowActivity(ctx, 3600)
		if err != nil || len(act) != 1 || act[0] != (storage.PoolWindowActivity{Hotkey: "5Alice", Agreed: 1, Evolutions: 1}) {
			t.Fatalf("activity %+v %v", act, err)
		}

		// One active assignment per miner; an expired one frees it.
		a := storage.PoolAssignment{ID: "l1", Hotkey: "5Bob", Kind: "lease", TaskType: "t", EvaluateIDs: []int64{seed.ID},
			EvolveBudget: 1, CreatedAt: base, ExpiresAt: base.Add(time.Minute)}
		if err := db.InsertPoolAssignment(ctx, a); err != nil {
			t.Fatal(err)
		}
		a2 := a
		a2.ID = "l2"
		wantCode(t, db.InsertPoolAssignment(ctx, a2), proofgrid.ECONFLICT)
		if got, _ := db.ActivePoolAssignment(ctx, "5Bob", base); got == nil || got.ID != "l1" || !slices.Equal(got.EvaluateIDs, []int64{seed.ID}) {
			t.Fatalf("active: %+v", got)
		}
		if got, _ := db.ActivePoolAssignment(ctx, "5Bob", base.Add(time.Minute)); got != nil {
			t.Fatalf("expired assignment still active: %+v", got)
		}
		if err := db.ExpirePoolAssignments(ctx, "5Bob", base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := db.InsertPoolAssignment(ctx, a2); err != nil {
			t.Fatalf("after expiry: %v", err)
		}

		// Windows are settled once.
		w := storage.PoolWindow{Start: 3600, End: 7200, Pool: "100", Distributed: "100", SettledAt: base,
			Rewards: []storage.PoolWindowReward{{Hotkey: "5Alice", Activity: 2, Amount: "100"}}}
		if ok, err := db.InsertPoolWindow(ctx, w); !ok || err != nil {
			t.Fatal(ok, err)
		}
		w.Rewards[0].Amount = "1"
		if ok, err := db.InsertPoolWindow(ctx, w); ok || err != nil {
			t.Fatal("window settled twice", ok, err)
		}
		got, err := db.PoolWindow(ctx, 3600)
		if err != nil || got.Credited || len(got.Rewards) != 1 || got.Rewards[0].Amount != "100" {
			t.Fatalf("window %+v %v", got, err)
		}
		if err := db.MarkPoolWindowCredited(ctx, 3600, base); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.PoolWindow(ctx, 3600); !got.Credited {
			t.Fatal("not credited")
		}
		st, err := db.PoolMinerStats(ctx, "5Alice")
		if err != nil || !slices.Equal(st.RewardAmounts, []string{"100"}) {
			t.Fatalf("stats %+v %v", st, err)
		}
		pc, err := db.PoolCounts(ctx, base)
		if err != nil || pc.Miners != 2 || pc.Algorithms != 2 || pc.Verified != 1 || pc.Pending != 1 || pc.ActiveAssignments != 1 {
			t.Fatalf("counts %+v %v", pc, err)
		}
	})
}
