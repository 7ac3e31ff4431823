//go:build unix

package merkle_test

import "syscall"

// cpuTime returns the CPU time this process has used, all threads together,
// in nanoseconds.
func cpuTime() int64 {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return u.Utime.Nano() + u.Stime.Nano()
}
