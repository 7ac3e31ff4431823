// Package rewardstest helps tests feed the reward pipeline: a way to
// record many jobs at once, as proofs and the Psy ingest do.
package rewardstest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/rewards"
	"github.com/proofgrid/proofgrid/storage"
)

// Job is a prove:block job that took 1.5 s and ended at End.
type Job struct {
	Worker, Circuit, Status string
	End                     time.Time
	Realm                   int64
	// Source defaults to an enrolled agent.
	Source rewards.Source
}

var seq atomic.Int64

// Record records jobs with svc in one transaction, each under a key of
// its own.
func Record(tb testing.TB, db *storage.DB, svc *rewards.Service, jobs ...Job) {
	tb.Helper()
	err := db.InTx(context.Background(), func(tx *storage.Tx) error {
		for _, j := range jobs {
			n := seq.Add(1)
			src := j.Source
			if src == "" {
				src = rewards.SourceAgent
			}
			if _, err := svc.RecordJob(context.Background(), tx, rewards.Job{
				Key: fmt.Sprintf("test:%d", n), Source: src, RealmID: j.Realm, Worker: j.Worker, Topic: "prove:block",
				CircuitType: j.Circuit, JobID: fmt.Sprintf("job-%d", n), Status: j.Status,
				Start: j.End.Add(-1500 * time.Millisecond), End: j.End, DurationMS: 1500,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// CheckpointLength is the checkpoint length of Config: ids are Unix time
// / 600.
const CheckpointLength = 10 * time.Minute

// Config is the pipeline the reward tests compute by hand: 10-minute
// checkpoints with a minute's grace, a pool of 1000, weights A=3, B=1 and
// 1 for other circuit types, conversion batches of 700, on the clock now.
func Config(now func() time.Time) rewards.Config {
	return rewards.Config{CheckpointLength: CheckpointLength, CheckpointGrace: time.Minute, RewardPool: 1000,
		Weights: map[string]int64{"A": 3, "B": 1, "*": 1}, Batch: 700, Now: now}
}
