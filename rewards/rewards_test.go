package rewards_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/rewards"
)

func TestDistributeHandComputed(t *testing.T) {
	// Pool 1000; weights A=3, B=1. Points: alice A 2 jobs = 6, bob A 1 = 3,
	// bob B 2 = 2, carol B 1 = 1: total 12.
	//   alice/A 1000·6/12 = 500 r0
	//   bob/A   1000·3/12 = 250 r0
	//   bob/B   1000·2/12 = 166 r8
	//   carol/B 1000·1/12 =  83 r4
	// floors sum to 999; the one unit left goes to the largest remainder,
	// bob/B.
	w := rewards.Weights{ByCircuit: map[string]int64{"A": 3, "B": 1}, Default: 1}
	got, err := rewards.Distribute(1000, w, []rewards.Work{
		{"carol", "B", 1}, {"bob", "B", 2}, {"alice", "A", 2}, {"bob", "A", 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []rewards.Share{
		{Worker: "alice", CircuitType: "A", Jobs: 2, Points: 6, Reward: 500},
		{Worker: "bob", CircuitType: "A", Jobs: 1, Points: 3, Reward: 250},
		{Worker: "bob", CircuitType: "B", Jobs: 2, Points: 2, Reward: 167},
		{Worker: "carol", CircuitType: "B", Jobs: 1, Points: 1, Reward: 83},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("distribution:\n got %+v\nwant %+v", got, want)
	}
}

func TestDistributeTiesByWorkerKey(t *testing.T) {
	// Three equal cells share 10: 3 each, remainder 1 each; the one unit
	// left goes to the smallest worker key.
	got, err := rewards.Distribute(10, rewards.Weights{Default: 1}, []rewards.Work{{"c", "X", 1}, {"a", "X", 1}, {"b", "X", 1}})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Worker != "a" || got[0].Reward != 4 || got[1].Reward != 3 || got[2].Reward != 3 {
		t.Fatalf("ties: %+v", got)
	}
}

func TestDistributeEdgeCases(t *testing.T) {
	w := rewards.Weights{ByCircuit: map[string]int64{"free": 0}, Default: 2}
	if got, err := rewards.Distribute(100, w, nil); err != nil || got != nil {
		t.Errorf("no work: %v, %v", got, err)
	}
	if got, err := rewards.Distribute(100, w, []rewards.Work{{"a", "free", 5}}); err != nil || got != nil {
		t.Errorf("zero weight only: %v, %v", got, err)
	}
	got, err := rewards.Distribute(100, w, []rewards.Work{{"a", "free", 5}, {"b", "other", 1}})
	if err != nil || len(got) != 1 || got[0].Worker != "b" || got[0].Reward != 100 {
		t.Errorf("zero-weight cell left out: %+v, %v", got, err)
	}
	if _, err := rewards.Distribute(-1, w, nil); err == nil {
		t.Error("negative pool accepted")
	}
	if _, err := rewards.Distribute(1, rewards.Weights{Default: -1}, nil); err == nil {
		t.Error("negative weight accepted")
	}
	if _, err := rewards.Distribute(1, w, []rewards.Work{{"a", "x", -1}}); err == nil {
		t.Error("negative jobs accepted")
	}
	// The largest pool with large point counts stays exact (128-bit).
	big := int64(1) << 62
	got, err = rewards.Distribute(big, rewards.Weights{Default: 1000}, []rewards.Work{{"a", "x", 1 << 40}, {"b", "x", 3}})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Reward+got[1].Reward != big {
		t.Errorf("big pool: %+v", got)
	}
}

// TestDistributeProperties checks, on random inputs, that the rewards sum
// to the pool, that no cell is off its exact share by a unit or more, that
// merging duplicate cells and reordering the input change nothing, and
// that computing again gives identical rows.
func TestDistributeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	circuits := []string{"UserRegistration", "ContractExecution", "ContractDeployment", "sp1/4.0", "zisk/0.9"}
	for iter := range 2000 {
		w := rewards.Weights{ByCircuit: map[string]int64{}, Default: rng.Int64N(4)}
		for _, c := range circuits[:rng.IntN(len(circuits))] {
			w.ByCircuit[c] = rng.Int64N(10)
		}
		pool := rng.Int64N(1_000_000_000)
		n := rng.IntN(60)
		work := make([]rewards.Work, n)
		for i := range work {
			work[i] = rewards.Work{
				Worker:      fmt.Sprintf("0x%02x", rng.IntN(20)),
				CircuitType: circuits[rng.IntN(len(circuits))],
				Jobs:        rng.Int64N(1000),
			}
		}
		got, err := rewards.Distribute(pool, w, work)
		if err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
		var sum, points int64
		for _, s := range got {
			sum += s.Reward
			points += s.Points
		}
		if len(got) > 0 && sum != pool {
			t.Fatalf("iter %d: rewards sum to %d, pool %d", iter, sum, pool)
		}
		for _, s := range got {
			exact := float64(pool) * float64(s.Points) / float64(points)
			if d := float64(s.Reward) - exact; d <= -1.000001 || d >= 1.000001 {
				t.Fatalf("iter %d: %s/%s got %d, exact share %.3f", iter, s.Worker, s.CircuitType, s.Reward, exact)
			}
		}
		shuffled := append([]rewards.Work(nil), work...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		// Split each cell in two: the same work reported as two rows.
		var split []rewards.Work
		for _, c := range shuffled {
			half := c.Jobs / 2
			split = append(split, rewards.Work{c.Worker, c.CircuitType, half}, rewards.Work{c.Worker, c.CircuitType, c.Jobs - half})
		}
		again, err := rewards.Distribute(pool, w, split)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, again) {
			t.Fatalf("iter %d: recomputation differs:\n%+v\n%+v", iter, got, again)
		}
	}
}

func TestWindow(t *testing.T) {
	w, err := rewards.NewWindow(0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 1, 1, 0, 9, 59, 999_000_000, time.UTC)
	id := w.Of(at)
	start, end := w.Bounds(id)
	if !start.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) || !end.Equal(start.Add(10*time.Minute)) {
		t.Errorf("bounds of %d: %v %v", id, start, end)
	}
	if w.Of(end) != id+1 || w.Of(start) != id {
		t.Error("windows are not half-open")
	}
	if got := w.Of(time.Unix(-1, 0)); got != -1 {
		t.Errorf("before the origin: %d", got)
	}
	if _, err := rewards.NewWindow(1500*time.Millisecond, time.Time{}); err == nil {
		t.Error("fractional seconds accepted")
	}
}
