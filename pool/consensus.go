package pool

import (
	"fmt"
	"slices"
)

// Vote is one evaluation considered for consensus.
type Vote struct {
	EvaluationID int64
	Hotkey       string
	Micros       int64
}

// Consensus is the outcome of Agree.
type Consensus struct {
	// Verified is true when exactly one largest group of agreeing scores
	// has at least k members.
	Verified bool
	// Micros is the consensus score: the lowest score of the agreeing
	// group, which every member reached.
	Micros int64
	// Agreeing and Outliers list the evaluation ids of the considered votes
	// inside and outside the group (empty unless Verified).
	Agreeing, Outliers []int64
	// Final is true when the outcome cannot change: verified, or n votes
	// considered without consensus (the result is disputed).
	Final bool
	// Reason says why a result is not verified.
	Reason string
}

// Agree decides a result from its votes, given in the order they arrived:
//
//  1. only the first n votes are considered;
//  2. two scores a ≤ b agree when b ≤ a·(1 + tolerance), in integer
//     micro-units and parts per million: b·10⁶ ≤ a·(10⁶ + tolerancePPM);
//  3. a group is a run of sorted scores whose highest agrees with its
//     lowest; the largest group must have at least k members and be the
//     only group of that size (two groups of equal size are a tie, and a
//     tie is not consensus);
//  4. the consensus score is the group's lowest score; votes in the group
//     agree, the other considered votes are outliers.
//
// With fewer than n votes and no consensus the result stays open; with n
// it is final (disputed).
func Agree(votes []Vote, k, n int, tolerancePPM int64) Consensus {
	if len(votes) > n {
		votes = votes[:n]
	}
	final := len(votes) >= n
	if len(votes) < k {
		return Consensus{Final: final, Reason: fmt.Sprintf("k not reached: %d of %d evaluations so far, %d must agree", len(votes), n, k)}
	}
	sorted := slices.Clone(votes)
	slices.SortStableFunc(sorted, func(a, b Vote) int {
		if a.Micros != b.Micros {
			if a.Micros < b.Micros {
				return -1
			}
			return 1
		}
		if a.EvaluationID < b.EvaluationID {
			return -1
		}
		if a.EvaluationID > b.EvaluationID {
			return 1
		}
		return 0
	})
	best, bestStart, groups := 0, 0, 0
	j, prev := 0, -1
	for i := range sorted {
		// The end of the largest group starting at i never moves left as
		// i moves right.
		j = max(j, i)
		for j+1 < len(sorted) && agrees(sorted[i].Micros, sorted[j+1].Micros, tolerancePPM) {
			j++
		}
		// A group with the same end as the previous one is inside it, not
		// a different group.
		if j == prev {
			continue
		}
		prev = j
		switch size := j - i + 1; {
		case size > best:
			best, bestStart, groups = size, i, 1
		case size == best:
			groups++
		}
	}
	switch {
	case best < k:
		return Consensus{Final: final, Reason: fmt.Sprintf("no consensus: at most %d of %d scores agree within %s, %d must", best, len(votes), ppm(tolerancePPM), k)}
	case groups > 1:
		return Consensus{Final: final, Reason: fmt.Sprintf("tie: %d groups of %d agreeing scores", groups, best)}
	}
	c := Consensus{Verified: true, Final: true, Micros: sorted[bestStart].Micros}
	in := map[int64]bool{}
	for _, v := range sorted[bestStart : bestStart+best] {
		in[v.EvaluationID] = true
	}
	for _, v := range votes {
		if in[v.EvaluationID] {
			c.Agreeing = append(c.Agreeing, v.EvaluationID)
		} else {
			c.Outliers = append(c.Outliers, v.EvaluationID)
		}
	}
	return c
}

// agrees reports whether hi ≤ lo·(1 + tolerance), for lo ≤ hi. Scores are
// at most MaxScore·10⁶ = 10¹² micro-units and the factor at most 2·10⁶, so
// the products stay below 2⁶³.
func agrees(lo, hi, tolerancePPM int64) bool {
	return hi*tolerancePPMOfUnitRatio <= lo*(tolerancePPMOfUnitRatio+tolerancePPM)
}

func ppm(v int64) string {
	return fmt.Sprintf("%d.%02d%%", v/10_000, v%10_000/100)
}

// ReputationDeltas is the reputation each miner gains or loses from a
// verified consensus: +gain for each agreeing evaluation, −loss for each
// outlier. It is empty for a consensus that is not verified.
func ReputationDeltas(c Consensus, votes []Vote, gain, loss int64) map[string]int64 {
	out := map[string]int64{}
	if !c.Verified {
		return out
	}
	who := map[int64]string{}
	for _, v := range votes {
		who[v.EvaluationID] = v.Hotkey
	}
	for _, id := range c.Agreeing {
		out[who[id]] += gain
	}
	for _, id := range c.Outliers {
		out[who[id]] -= loss
	}
	return out
}
