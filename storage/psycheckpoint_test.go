package storage_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// TestReplacePsyDistributions replaces a checkpoint's distribution three
// times: the first writes every row, the second (the same rows) writes
// none, and the third updates a changed row in place, inserts a new one
// and deletes one that is gone. Unchanged rows keep the revision that
// wrote them; every call returns what PsyDistributions reads.
func TestReplacePsyDistributions(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		cp := start.Unix() / 600
		if err := db.ClosePsyCheckpoint(ctx, cp, start, start.Add(10*time.Minute), 100, `{}`, start); err != nil {
			t.Fatal(err)
		}
		d := func(w, c string, jobs, reward int64) storage.PsyDistribution {
			return storage.PsyDistribution{CheckpointID: cp, WorkerPublicKey: w, CircuitType: c, JobCount: jobs, TotalRewards: reward}
		}
		type rev struct {
			key string
			rev int64
		}
		replace := func(at time.Time, rows ...storage.PsyDistribution) ([]storage.PsyDistribution, []rev) {
			t.Helper()
			var out []storage.PsyDistribution
			var revs []rev
			err := db.InTx(ctx, func(tx *storage.Tx) error {
				c, err := tx.BeginPsyCheckpointComputation(ctx, cp)
				if err != nil {
					return err
				}
				if out, err = tx.ReplacePsyDistributions(ctx, c, rows, at); err != nil {
					return err
				}
				read, err := tx.PsyDistributions(ctx, cp)
				if err != nil || !reflect.DeepEqual(read, out) {
					t.Fatalf("returned %+v, stored %+v (%v)", out, read, err)
				}
				q := storage.SQLTx(tx)
				r, err := q.QueryContext(ctx, q.Rebind(`SELECT worker_public_key || '/' || circuit_type, revision
					FROM psy_reward_distributions WHERE checkpoint_id = ? ORDER BY worker_public_key, circuit_type`), cp)
				if err != nil {
					return err
				}
				defer r.Close()
				for r.Next() {
					var v rev
					if err := r.Scan(&v.key, &v.rev); err != nil {
						return err
					}
					revs = append(revs, v)
				}
				return r.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
			return out, revs
		}
		first, revs := replace(start, d("a", "A", 2, 10), d("b", "A", 1, 5), d("c", "B", 3, 15))
		if len(first) != 3 || !reflect.DeepEqual(revs, []rev{{"a/A", 1}, {"b/A", 1}, {"c/B", 1}}) {
			t.Fatalf("first: %+v %v", first, revs)
		}
		again, revs := replace(start.Add(time.Hour), d("c", "B", 3, 15), d("a", "A", 2, 10), d("b", "A", 1, 5))
		if !reflect.DeepEqual(again, first) || !reflect.DeepEqual(revs, []rev{{"a/A", 1}, {"b/A", 1}, {"c/B", 1}}) {
			t.Fatalf("unchanged: %+v %v", again, revs)
		}
		later := start.Add(2 * time.Hour)
		third, revs := replace(later, d("a", "A", 2, 10), d("b", "A", 1, 7), d("d", "C", 4, 8))
		if !reflect.DeepEqual(revs, []rev{{"a/A", 1}, {"b/A", 3}, {"d/C", 3}}) || len(third) != 3 {
			t.Fatalf("changed: %+v %v", third, revs)
		}
		if third[0] != first[0] {
			t.Fatalf("unchanged row %+v became %+v", first[0], third[0])
		}
		if b := third[1]; b.ID != first[1].ID || !b.CreatedAt.Equal(first[1].CreatedAt) || b.TotalRewards != 7 {
			t.Fatalf("changed row %+v, was %+v", b, first[1])
		}
		if n := third[2]; n.WorkerPublicKey != "d" || n.JobCount != 4 || n.TotalRewards != 8 || !n.CreatedAt.Equal(later) {
			t.Fatalf("new row %+v", n)
		}
	})
}
