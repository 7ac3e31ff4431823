// Package proofgrid holds the shared vocabulary of the coordinator and the
// agent: machines and their hardware samples, GPUs, job kinds, the agent
// request-signing scheme and the one error type that every API surface maps
// to its own status codes and body shape.
//
// It imports the standard library only, so every other package may depend
// on it.
package proofgrid
