// Package rewards is the reward pipeline: the one place where a finished
// job becomes a worker event (RecordJob, which also decides whether the
// job may earn), then a job event in a checkpoint (Convert), a closed
// checkpoint (Sweep, CalculateNow) and a distribution of the checkpoint's
// pool (Compute).
//
// Its rules are pure and stay so: how time is cut into checkpoints
// (Window) and how a pool is split between the workers whose eligible
// jobs completed in it (Distribute), integer arithmetic over their inputs,
// so the same inputs give the same distribution on every replica, on
// every database and on every recomputation. Service applies them over
// storage; the package imports neither Fiber nor asynq's runtime.
package rewards

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
)

// Weights maps a circuit type to the points one completed job of that type
// earns. Types not in the map earn Default points.
type Weights struct {
	ByCircuit map[string]int64 `json:"by_circuit"`
	Default   int64            `json:"default"`
}

// Of returns the weight of circuitType.
func (w Weights) Of(circuitType string) int64 {
	if v, ok := w.ByCircuit[circuitType]; ok {
		return v
	}
	return w.Default
}

// Validate refuses negative weights, which would let one worker's jobs
// take reward away from another's.
func (w Weights) Validate() error {
	if w.Default < 0 {
		return fmt.Errorf("rewards: default weight %d is negative", w.Default)
	}
	for k, v := range w.ByCircuit {
		if v < 0 {
			return fmt.Errorf("rewards: weight of %q is %d, negative", k, v)
		}
	}
	return nil
}

// Work is what one worker completed of one circuit type in a checkpoint.
type Work struct {
	Worker      string
	CircuitType string
	Jobs        int64
}

// Share is one row of a distribution: Work plus the units it earned.
type Share struct {
	Worker      string
	CircuitType string
	Jobs        int64
	Points      int64
	Reward      int64
}

// Distribute splits pool between the cells of work in proportion to their
// points (jobs × weight of the circuit type), with the largest-remainder
// method:
//
//  1. each cell gets floor(pool × points / total points);
//  2. the units left over (fewer than the number of cells) go one each to
//     the cells with the largest remainder (pool × points mod total),
//     ties broken by worker key, then circuit type, both ascending.
//
// When at least one cell has points the rewards sum to pool exactly. Cells
// with no points (zero jobs or zero weight) are left out, so no cell at all
// is returned when none has points. The result is sorted by worker
// key, then circuit type, and does not depend on the order of work.
// Duplicate (worker, circuit type) cells are merged.
func Distribute(pool int64, w Weights, work []Work) ([]Share, error) {
	if pool < 0 {
		return nil, fmt.Errorf("rewards: pool %d is negative", pool)
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	merged := map[[2]string]int64{}
	for _, c := range work {
		if c.Jobs < 0 {
			return nil, fmt.Errorf("rewards: %s/%s has %d jobs", c.Worker, c.CircuitType, c.Jobs)
		}
		k := [2]string{c.Worker, c.CircuitType}
		sum, carry := bits.Add64(uint64(merged[k]), uint64(c.Jobs), 0)
		if carry != 0 || sum > 1<<62 {
			return nil, fmt.Errorf("rewards: job count of %s/%s overflows", c.Worker, c.CircuitType)
		}
		merged[k] = int64(sum)
	}
	shares := make([]Share, 0, len(merged))
	var total uint64
	for k, jobs := range merged {
		weight := w.Of(k[1])
		hi, pts := bits.Mul64(uint64(jobs), uint64(weight))
		if hi != 0 || pts > 1<<62 {
			return nil, fmt.Errorf("rewards: points of %s/%s overflow", k[0], k[1])
		}
		if pts == 0 {
			continue
		}
		var carry uint64
		total, carry = bits.Add64(total, pts, 0)
		if carry != 0 || total > 1<<62 {
			return nil, fmt.Errorf("rewards: total points overflow")
		}
		shares = append(shares, Share{Worker: k[0], CircuitType: k[1], Jobs: jobs, Points: int64(pts)})
	}
	slices.SortFunc(shares, func(a, b Share) int {
		return cmp.Or(cmp.Compare(a.Worker, b.Worker), cmp.Compare(a.CircuitType, b.CircuitType))
	})
	if total == 0 {
		return nil, nil
	}
	// pool × points needs up to 125 bits; Mul64/Div64 keep it exact.
	rem := make([]uint64, len(shares))
	var given uint64
	for i := range shares {
		hi, lo := bits.Mul64(uint64(pool), uint64(shares[i].Points))
		q, r := bits.Div64(hi, lo, total) // hi < total since points <= total
		shares[i].Reward = int64(q)
		rem[i] = r
		given += q
	}
	left := uint64(pool) - given
	if left > 0 {
		order := make([]int, len(shares))
		for i := range order {
			order[i] = i
		}
		// shares is already in (worker, circuit type) order, so a stable
		// sort by remainder breaks ties by worker key, then circuit type.
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rem[b], rem[a]) })
		for _, i := range order[:left] {
			shares[i].Reward++
		}
	}
	return shares, nil
}
