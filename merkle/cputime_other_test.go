//go:build !unix

package merkle_test

// cpuTime is not measured here; the benchmarks then report no CPU time.
func cpuTime() int64 { return 0 }
