package zkvm

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// runResult is what one finished child process left behind.
type runResult struct {
	// exitCode is the exit status, or -1 when the process did not start
	// or was ended by a signal.
	exitCode int
	// state describes how it ended, e.g. "exit status 3" or "signal: killed".
	state    string
	startErr error
	// timedOut is set when the run's own timeout (not the caller's
	// context) ended an unsuccessful run.
	timedOut bool
	wall     time.Duration
	stdout   *tailBuffer
	stderr   *tailBuffer
	result   resultScanner
}

// run starts argv with exactly the environment env (see childEnv), and waits for it
// or for the timeout. Stdin is /dev/null. out, when not nil, also receives
// stdout and stderr as they come; it must be safe for concurrent writes.
// The error is non-nil only when ctx ends first; every other outcome is
// described by the runResult.
func run(ctx context.Context, argv, env []string, dir string, timeout time.Duration, out io.Writer) (*runResult, error) {
	r := &runResult{exitCode: -1, stdout: newTailBuffer(OutputTailBytes), stderr: newTailBuffer(OutputTailBytes)}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = multiWriter{r.stdout, &r.result}
	cmd.Stderr = r.stderr
	if out != nil {
		cmd.Stdout = multiWriter{r.stdout, &r.result, out}
		cmd.Stderr = multiWriter{r.stderr, out}
	}
	cmd.WaitDelay = waitDelay
	setProcessGroup(cmd)

	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.startErr = err
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		return r, nil
	}
	// Wait's error repeats what ProcessState says, or reports that the
	// pipes were cut after WaitDelay, which changes nothing here.
	_ = cmd.Wait()
	r.wall = time.Since(start)
	// Helpers the command left running in its group must not outlive it.
	_ = killProcessGroup(cmd.Process.Pid)
	r.result.flush()

	r.exitCode = cmd.ProcessState.ExitCode()
	r.state = cmd.ProcessState.String()
	if err := ctx.Err(); err != nil {
		return r, fmt.Errorf("%w (command %s)", err, r.state)
	}
	// A command that finished successfully just as the deadline passed
	// keeps its result.
	r.timedOut = runCtx.Err() != nil && !cmd.ProcessState.Success()
	return r, nil
}

// multiWriter feeds every write to each of its writers, none of which fail.
type multiWriter []io.Writer

func (m multiWriter) Write(p []byte) (int, error) {
	for _, w := range m {
		_, _ = w.Write(p)
	}
	return len(p), nil
}
