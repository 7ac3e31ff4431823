//go:build unix

package verifier

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// SandboxMain is the rlimit helper ("agent sandbox"): it sets the limits
// its flags name on its own process and then execs the command after
// "--", which inherits them, as do its children. Go's os/exec cannot set
// resource limits on a child, and setting them on the agent itself would
// limit the agent, hence the extra exec. It returns only on failure, with
// the exit status to use (127 for a program that is not found, 126 for
// one that cannot run, 2 for bad usage).
//
//	agent sandbox [--cpu-seconds N] [--memory-bytes N] [--file-bytes N] -- PROGRAM ARGS...
func SandboxMain(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var l Limits
	fs.Int64Var(&l.CPUSeconds, "cpu-seconds", 0, "CPU time limit (RLIMIT_CPU); 0: none")
	fs.Int64Var(&l.MemoryBytes, "memory-bytes", 0, "address space limit (RLIMIT_AS); 0: none")
	fs.Int64Var(&l.FileBytes, "file-bytes", 0, "largest file the command may write (RLIMIT_FSIZE); 0: none")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprintln(stderr, "sandbox: usage: sandbox [limits] -- PROGRAM ARGS...")
		return 2
	}
	if err := setLimits(l); err != nil {
		fmt.Fprintf(stderr, "sandbox: %v\n", err)
		return 126
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(stderr, "sandbox: %v\n", err)
		return 127
	}
	err = syscall.Exec(path, argv, os.Environ())
	fmt.Fprintf(stderr, "sandbox: exec %s: %v\n", path, err)
	if errors.Is(err, syscall.ENOENT) {
		return 127
	}
	return 126
}
