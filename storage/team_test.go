package storage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

func TestCreateTeam(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		before := time.Now().Add(-time.Second)
		a := mustTeam(t, db, "alpha")
		after := time.Now().Add(time.Second)
		if a.ID <= 0 || a.Name != "alpha" {
			t.Errorf("team = %+v", a)
		}
		if a.CreatedAt.Before(before) || a.CreatedAt.After(after) || a.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt = %v, want UTC between %v and %v", a.CreatedAt, before, after)
		}
		b := mustTeam(t, db, "beta")
		if b.ID == a.ID {
			t.Errorf("second team reused id %d", a.ID)
		}

		_, err := db.CreateTeam(ctx, "alpha")
		wantCode(t, err, proofgrid.ECONFLICT)
		_, err = db.CreateTeam(ctx, "  ")
		wantCode(t, err, proofgrid.EINVALID)

		byID, err := db.TeamByID(ctx, a.ID)
		if err != nil || byID != a {
			t.Errorf("TeamByID = %+v, %v; want %+v", byID, err, a)
		}
		byName, err := db.TeamByName(ctx, "beta")
		if err != nil || byName != b {
			t.Errorf("TeamByName = %+v, %v; want %+v", byName, err, b)
		}
		_, err = db.TeamByID(ctx, a.ID+b.ID+100)
		wantCode(t, err, proofgrid.ENOTFOUND)
		_, err = db.TeamByName(ctx, "gamma")
		wantCode(t, err, proofgrid.ENOTFOUND)
	})
}

func TestEnsureTeam(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		existing := mustTeam(t, db, "existing")
		got, err := db.EnsureTeam(ctx, "existing")
		if err != nil || got != existing {
			t.Fatalf("EnsureTeam(existing) = %+v, %v; want %+v", got, err, existing)
		}

		// Many callers racing to create the same team all get that one team.
		const n = 20
		ids := make([]int64, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				team, err := db.EnsureTeam(ctx, "raced")
				ids[i], errs[i] = team.ID, err
			})
		}
		wg.Wait()
		want, err := db.TeamByName(ctx, "raced")
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if errs[i] != nil || ids[i] != want.ID {
				t.Errorf("caller %d: id %d, %v; want %d", i, ids[i], errs[i], want.ID)
			}
		}
		if want.ID == existing.ID {
			t.Errorf("new team got the id of another")
		}
		_, err = db.EnsureTeam(ctx, "")
		wantCode(t, err, proofgrid.EINVALID)
	})
}

// TestTeamsAreIndependentPerDatabase guards the test helpers themselves:
// each test must get a database of its own, even on a shared server.
func TestTeamsAreIndependentPerDatabase(t *testing.T) {
	for i := range 3 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			storagetest.Run(t, func(t *testing.T, db *storage.DB) {
				if _, err := db.CreateTeam(context.Background(), "same-name"); err != nil {
					t.Fatalf("CreateTeam in a fresh database: %v", err)
				}
			})
		})
	}
}
