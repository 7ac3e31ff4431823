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

// TestConvertWorkerEvents copies worker events into job events of the
// given checkpoints, more than one SQLite statement holds, then again with
// one more: converted ones are skipped, every copied field matches its
// worker event, and nothing is left unconverted.
func TestConvertWorkerEvents(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		end := time.Date(2024, 1, 1, 0, 5, 0, 123456789, time.UTC)
		var wevs []storage.WorkerEvent
		for i := range 2101 {
			wevs = append(wevs, storage.WorkerEvent{Key: "k" + strconv.Itoa(i), RealmID: int64(i % 3),
				WorkerPublicKey: "w" + strconv.Itoa(i%4), Topic: "prove", CircuitType: "c" + strconv.Itoa(i%2),
				JobID: "j" + strconv.Itoa(i), Status: storage.WorkerEventFailed, StartTime: end.Add(-time.Second),
				EndTime: end.Add(time.Duration(i) * time.Millisecond), DurationMS: int64(i), Eligible: i%2 == 0})
		}
		if err := db.BulkInsertWorkerEvents(ctx, wevs); err != nil {
			t.Fatal(err)
		}
		ends, err := db.UnconvertedWorkerEvents(ctx, 0, 1<<40, 5000)
		if err != nil || len(ends) != len(wevs) || !ends[5].EndTime.Equal(stored(wevs[5].EndTime)) {
			t.Fatalf("%d unconverted, %v", len(ends), err)
		}
		var cs []storage.PsyConversion
		for i, e := range ends[:2100] {
			cs = append(cs, storage.PsyConversion{WorkerEventID: e.ID, CheckpointID: int64(10 + i%2)})
		}
		if n, err := db.ConvertWorkerEvents(ctx, cs); err != nil || n != 2100 {
			t.Fatalf("convert = %d, %v", n, err)
		}
		// The one left is the 2101st event: a range that ends at the
		// 2100th does not reach it.
		if left, err := db.UnconvertedWorkerEvents(ctx, 0, ends[2099].ID, 10); err != nil || len(left) != 0 {
			t.Fatalf("up to the 2100th: %d unconverted, %v", len(left), err)
		}
		if left, err := db.UnconvertedWorkerEvents(ctx, ends[1].ID, ends[2100].ID, 10); err != nil || len(left) != 1 || left[0].ID != ends[2100].ID {
			t.Fatalf("after the 2nd: %+v, %v", left, err)
		}
		if next, ok, err := db.NextWorkerEventID(ctx, ends[2099].ID); err != nil || !ok || next != ends[2100].ID {
			t.Fatalf("next after the 2100th = %d, %v, %v", next, ok, err)
		}
		if _, ok, err := db.NextWorkerEventID(ctx, ends[2100].ID); err != nil || ok {
			t.Fatalf("next after the last = %v, %v", ok, err)
		}
		cs = append(cs[:3:3], storage.PsyConversion{WorkerEventID: ends[2100].ID, CheckpointID: 11})
		if n, err := db.ConvertWorkerEvents(ctx, cs); err != nil || n != 1 {
			t.Fatalf("convert again = %d, %v", n, err)
		}
		if left, err := db.UnconvertedWorkerEvents(ctx, 0, 1<<40, 10); err != nil || len(left) != 0 {
			t.Fatalf("%d left unconverted, %v", len(left), err)
		}
		got, err := db.PsyJobEvents(ctx, 11, 2000, 0)
		if err != nil || len(got) != 1051 {
			t.Fatalf("%d job events in checkpoint 11, %v", len(got), err)
		}
		for _, g := range got {
			i, _ := strconv.Atoi(g.JobID[1:])
			w := wevs[i]
			want := storage.PsyJobEvent{ID: g.ID, WorkerEventID: ends[i].ID, CheckpointID: 11, RealmID: w.RealmID,
				JobID: w.JobID, WorkerPublicKey: w.WorkerPublicKey, Topic: w.Topic, CircuitType: w.CircuitType,
				Status: w.Status, DurationMS: w.DurationMS, StartTime: stored(w.StartTime), EndTime: stored(w.EndTime),
				Eligible: w.Eligible}
			if !reflect.DeepEqual(g, want) {
				t.Fatalf("job event %+v, want %+v", g, want)
			}
		}
	})
}
