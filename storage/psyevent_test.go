package storage_test

import (
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// TestInsertPsyJobEvents stores job events in one call larger than a
// statement of the multi-row path, then again with one new event: the
// converted ones are skipped, and every field reads back as written.
func TestInsertPsyJobEvents(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		end := time.Date(2024, 1, 1, 0, 5, 0, 123456789, time.UTC)
		ev := func(i int) storage.PsyJobEvent {
			return storage.PsyJobEvent{WorkerEventID: int64(i + 1), CheckpointID: 7, RealmID: int64(i % 3),
				JobID: strconv.Itoa(i), WorkerPublicKey: "w" + strconv.Itoa(i%4), Topic: "prove", CircuitType: "c",
				Status: storage.WorkerEventCompleted, DurationMS: int64(i), StartTime: end.Add(-time.Second), EndTime: end,
				Eligible: i%2 == 0}
		}
		var evs []storage.PsyJobEvent
		for i := range 700 {
			evs = append(evs, ev(i))
		}
		if n, err := db.InsertPsyJobEvents(ctx, evs); err != nil || n != 700 {
			t.Fatalf("first insert = %d, %v", n, err)
		}
		if n, err := db.InsertPsyJobEvents(ctx, append(evs[:10:10], ev(700))); err != nil || n != 1 {
			t.Fatalf("second insert = %d, %v", n, err)
		}
		got, err := db.PsyJobEvents(ctx, 7, 1000, 0)
		if err != nil || len(got) != 701 {
			t.Fatalf("%d job events, %v", len(got), err)
		}
		for i, g := range got {
			want := ev(i)
			want.ID, want.StartTime, want.EndTime = g.ID, stored(want.StartTime), stored(want.EndTime)
			if !reflect.DeepEqual(g, want) {
				t.Fatalf("job event %d = %+v, want %+v", i, g, want)
			}
		}
	})
}
