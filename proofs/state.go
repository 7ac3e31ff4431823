package proofs

import (
	"fmt"

	"github.com/proofgrid/proofgrid"
)

// Proof states, spelled as Ethproofs spells proof_status.
const (
	// StateQueued means the cluster announced it will prove the block.
	StateQueued = "queued"
	// StateProving means the cluster started proving the block.
	StateProving = "proving"
	// StateProved means the proof exists; it is the only final state.
	StateProved = "proved"
)

// States lists the proof states in their usual order.
var States = []string{StateQueued, StateProving, StateProved}

// ValidState reports whether s is a known proof state.
func ValidState(s string) bool {
	switch s {
	case StateQueued, StateProving, StateProved:
		return true
	}
	return false
}

// NextState decides whether the proof of block blockNumber for one cluster
// version may move from current ("" when no proof row exists yet) to
// requested.
//
// A proof is keyed by (block number, cluster version) and every submission
// is an upsert, as in the Ethproofs service: before the proof is proved, any
// state may overwrite any other, backwards included (proving → queued is
// how a prover that restarted re-announces a block, and "" → proved is a
// prover that skipped the earlier reports). Once proved, the row is final:
// every further update, another proved included, is a conflict, so a proof
// that may already be under verification or paid for is never replaced.
//
// The error is a *proofgrid.Error with code EINVALID when requested is not a
// known state and ECONFLICT when the proof is already proved. An unknown
// current state is stored data gone wrong, not the caller's fault, so it is
// reported as a plain error (an internal error at the edge).
//
// A prover that retries a delivery and gets ECONFLICT for a proved
// submission of its own may treat it as success: the proof is recorded.
func NextState(blockNumber uint64, current, requested string) error {
	if !ValidState(requested) {
		return proofgrid.Errorf(proofgrid.EINVALID, "unknown proof status %q: want one of queued, proving, proved", requested)
	}
	switch current {
	case "", StateQueued, StateProving:
		return nil
	case StateProved:
		return proofgrid.Errorf(proofgrid.ECONFLICT, "proof for block %d of this cluster version is already proved", blockNumber)
	default:
		return fmt.Errorf("proofs: stored proof of block %d has unknown status %q", blockNumber, current)
	}
}
