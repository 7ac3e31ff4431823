// Package proving holds the rules of block proving that the coordinator's
// Ethproofs surface and the prover agent share: the proof state machine
// (queued, proving, proved), the three verification outcomes, a built-in
// demo backend that does real, checkable work (a Keccak-256 hash chain over
// the block hash) and an exec backend that runs a real zkVM prover or
// verifier as a child process.
//
// The package is pure domain code: it imports neither the HTTP framework,
// nor the task queue, nor SQL. Storage and transport stay with the callers.
package proving
