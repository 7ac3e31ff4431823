package logtest_test

import (
	"log/slog"
	"sync"
	"testing"

	"github.com/proofgrid/proofgrid/internal/logtest"
)

func TestRecordsFromConcurrentWriters(t *testing.T) {
	var b logtest.Buffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { log.Info("written", "writer", i) })
	}
	wg.Wait()
	recs := b.Records(t)
	if len(recs) != 8 {
		t.Fatalf("%d records, want 8: %s", len(recs), b.String())
	}
	seen := map[float64]bool{}
	for _, r := range recs {
		if r["msg"] != "written" {
			t.Fatalf("record %v", r)
		}
		seen[r["writer"].(float64)] = true
	}
	if len(seen) != 8 {
		t.Fatalf("writers %v, want 0 to 7 once each", seen)
	}
	if !b.Contains(`"writer":7`) || b.Contains(`"writer":8`) {
		t.Fatalf("Contains disagrees with %s", b.String())
	}
}
