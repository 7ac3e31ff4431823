// Package pool holds the rules of the mining Pool: what a lease may ask
// for and what its submission may carry, how the scores of several miners
// for one algorithm become a verified result (k-of-n agreement within a
// tolerance ratio), how results move reputation and the SOTA threshold,
// and how each reward window's pool is split between the miners in
// consensus. The rules are pure functions over their inputs; Service
// applies them to the database.
//
// Scores travel as JSON numbers and are kept as integer micro-units
// (score × 10⁶, rounded), so agreement, consensus and every comparison are
// integer arithmetic and give the same answer on every replica and
// database.
package pool
