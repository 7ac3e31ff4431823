package verifier

import (
	"fmt"
	"syscall"
)

// setLimits applies l to this process; exec keeps them. The CPU limit
// has a few seconds of grace between SIGXCPU and SIGKILL, and core dumps
// are always off: a checker's memory image is nobody's business.
func setLimits(l Limits) error {
	set := func(name string, res int, soft, hard uint64) error {
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: soft, Max: hard}); err != nil {
			return fmt.Errorf("setrlimit %s: %w", name, err)
		}
		return nil
	}
	if err := set("core", syscall.RLIMIT_CORE, 0, 0); err != nil {
		return err
	}
	if l.CPUSeconds > 0 {
		if err := set("cpu", syscall.RLIMIT_CPU, uint64(l.CPUSeconds), uint64(l.CPUSeconds)+5); err != nil {
			return err
		}
	}
	if l.MemoryBytes > 0 {
		if err := set("as", syscall.RLIMIT_AS, uint64(l.MemoryBytes), uint64(l.MemoryBytes)); err != nil {
			return err
		}
	}
	if l.FileBytes > 0 {
		if err := set("fsize", syscall.RLIMIT_FSIZE, uint64(l.FileBytes), uint64(l.FileBytes)); err != nil {
			return err
		}
	}
	return nil
}
