// Package zkvm holds the zkVM backends that the coordinator and the prover
// agent share: the three verification outcomes, a built-in demo backend
// that does real, checkable work (a Keccak-256 hash chain over the block
// hash) and an exec backend that runs a real zkVM prover or verifier as a
// child process, with its argument placeholders and result line. The proof
// state machine (queued, proving, proved) lives in package proofs.
//
// The package is pure domain code: it imports neither the HTTP framework,
// nor the task queue, nor SQL. Storage and transport stay with the callers.
package zkvm
