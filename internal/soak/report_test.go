package main

import (
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/queue"
)

// cleanReport is two blocks proved and verified once for two cluster
// versions, with one worker event each and one fully paid checkpoint.
func cleanReport() *report {
	valid := "valid"
	now := time.Now()
	r := &report{fed: []int64{1, 2}, blocks: map[int64]bool{1: true, 2: true}, versions: []int64{10, 11},
		events: map[string]int{}, outbox: map[string]int{}}
	id := int64(0)
	for _, b := range r.fed {
		for _, v := range r.versions {
			id++
			r.proofs = append(r.proofs, proofRow{ID: id, Block: b, Version: v, Status: "proved", Verification: &valid,
				BlockCreated: now, ProvedAt: &now, VerifiedAt: &now})
			r.events[queue.ProveBlockID(uint64(b), v)] = 1
			r.events[queue.ProofVerifyID(id)] = 1
		}
	}
	r.checkpoints = []checkpointRow{{ID: 1, Status: "processed", Pool: 1000, Paid: 1000, Jobs: 4, Eligible: 4}}
	return r
}

func TestReportProblems(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(r *report)
		want   []string // substrings of the problems, in order
	}{
		{"clean", func(*report) {}, nil},
		{"block lost", func(r *report) { delete(r.blocks, 2) }, []string{"1 fed blocks missing from the database: 2"}},
		{"proof lost", func(r *report) { r.proofs = r.proofs[1:] },
			[]string{"1 block/cluster-version pairs without a proved proof (lost): 1/10"}},
		{"proof not proved", func(r *report) { r.proofs[3].Status = "proving" },
			[]string{"1 block/cluster-version pairs without a proved proof (lost): 2/11"}},
		{"proof doubled", func(r *report) { r.proofs = append(r.proofs, r.proofs[0]) },
			[]string{"1 block/cluster-version pairs with more than one proof (doubled): 1/10"}},
		{"verdict lost", func(r *report) { r.proofs[1].Verification = nil },
			[]string{"1 proved proofs without a verdict (lost): 1/11"}},
		{"verdict doubled", func(r *report) { r.events[queue.ProofVerifyID(2)] = 2 },
			[]string{"1 proofs whose verdict is not exactly one worker event: 1/11 (2 verdict events)"}},
		{"worker event lost", func(r *report) { delete(r.events, queue.ProveBlockID(2, 10)) },
			[]string{"1 proved proofs without their completed prove:block worker event (lost): 2/10"}},
		{"worker event doubled", func(r *report) { r.events[queue.ProveBlockID(1, 10)] = 2 },
			[]string{"1 proofs with more than one completed prove:block worker event (doubled): 1/10"}},
		{"checkpoint underpaid", func(r *report) { r.checkpoints[0].Paid = 999 },
			[]string{"checkpoint 1 paid 999 of its pool 1000"}},
		{"checkpoint job doubled", func(r *report) { r.checkpoints[0].Jobs = 5 },
			[]string{"checkpoint 1 rewarded 5 jobs, it has 4 eligible completed jobs"}},
		{"open checkpoint is not checked", func(r *report) { r.checkpoints[0].Status, r.checkpoints[0].Paid = "closed", 0 }, nil},
		{"stale outbox", func(r *report) { r.outbox["enqueued proof:verify"] = 3 },
			[]string{"3 outbox rows failed or unfinished for over 90 seconds"}},
		{"recent outbox is fine", func(r *report) { r.outboxRecent = 5 }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := cleanReport()
			c.change(r)
			got := r.problems()
			if len(got) != len(c.want) {
				t.Fatalf("problems %q, want %d matching %q", got, len(c.want), c.want)
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d is %q, want it to contain %q", i, got[i], w)
				}
			}
			if r.ok() != (len(c.want) == 0) {
				t.Errorf("ok() = %v with problems %q", r.ok(), got)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"--duration", "90s", "--coordinator-flags", "--blob-store postgres"})
	if err != nil {
		t.Fatal(err)
	}
	if c.duration != 90*time.Second || c.blockEvery != 2*time.Second || c.checkpoint != 20*time.Second {
		t.Errorf("duration %v, block every %v, checkpoint %v", c.duration, c.blockEvery, c.checkpoint)
	}
	if got := fields(c.coordFlags); len(got) != 2 || got[0] != "--blob-store" || got[1] != "postgres" {
		t.Errorf("coordinator flags %q", got)
	}
	for _, bad := range [][]string{{"--duration", "5s"}, {"--checkpoint", "1500ms"}, {"--block-every", "0s"}, {"extra"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}
