//go:build unix

package zkvm

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// setProcessGroup starts cmd as the leader of a new process group and makes
// cancellation kill the whole group: a prover is often a script that starts
// the real work in children, and killing only the script would leave them
// holding GPUs and the output pipes.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		err := killProcessGroup(cmd.Process.Pid)
		if err != nil && !errors.Is(err, os.ErrProcessDone) {
			// The group could not be signalled; the leader at least can.
			return cmd.Process.Kill()
		}
		return err
	}
}

// killProcessGroup sends SIGKILL to the process group led by pid. It
// returns os.ErrProcessDone when the group is already gone.
func killProcessGroup(pid int) error {
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
