package zkvm

import "time"

// Outcome is the result of verifying one proof. The three values stay
// distinct everywhere: a proof nobody could check is not a bad proof.
type Outcome string

// Verification outcomes.
const (
	// OutcomeValid means a verifier checked the proof and accepted it.
	OutcomeValid Outcome = "valid"
	// OutcomeInvalid means a verifier checked the proof and rejected it,
	// malformed bytes included.
	OutcomeInvalid Outcome = "invalid"
	// OutcomeCannotVerify means no check happened: no verifier or
	// verification key for the zkVM, or the verifier failed or timed out.
	OutcomeCannotVerify Outcome = "cannot_verify"
)

// Valid reports whether o is one of the three known outcomes.
func (o Outcome) Valid() bool {
	return o == OutcomeValid || o == OutcomeInvalid || o == OutcomeCannotVerify
}

// Verdict is what a verifier says about one proof.
type Verdict struct {
	Outcome Outcome `json:"outcome"`
	// Reason says why the proof is invalid or could not be verified; it
	// is empty for valid proofs. It is safe to show to the proof's owner.
	Reason string `json:"reason,omitempty"`
	// Duration is how long the verification took.
	Duration time.Duration `json:"duration_ns"`
}
