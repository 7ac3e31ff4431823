package zkvm

import (
	"context"
	"io"
	"sync"
	"time"
)

// Command is one run of an arbitrary program under the rules of the exec
// backends: no shell, exactly the environment given (build it with
// ChildEnv), stdin from /dev/null, its own process group killed as a whole
// on timeout, on cancellation and once the program exits.
type Command struct {
	// Argv is the program and its arguments; Argv[0] is looked up in PATH
	// when it contains no slash.
	Argv []string
	// Env is the whole environment of the program.
	Env []string
	// Dir is the working directory; empty means the caller's.
	Dir string
	// Timeout bounds the run; it must be positive.
	Timeout time.Duration
	// Output, when not nil, receives stdout and stderr as the program
	// writes them, interleaved in one stream.
	Output io.Writer
}

// CommandResult is how a Command ended.
type CommandResult struct {
	// ExitCode is the exit status, or -1 when the program did not start
	// or a signal ended it.
	ExitCode int
	// State says how it ended, e.g. "exit status 3" or "signal: killed".
	State string
	// StartErr is why the program could not be started, if it could not.
	StartErr error
	// TimedOut is set when Timeout ended a run that had not succeeded.
	TimedOut bool
	Wall     time.Duration
}

// RunCommand runs c and waits for it. The error is non-nil only when ctx
// ends first; a program that cannot start, fails or times out is described
// by the result.
func RunCommand(ctx context.Context, c Command) (CommandResult, error) {
	var out io.Writer
	if c.Output != nil {
		out = &lockedWriter{w: c.Output}
	}
	r, err := run(ctx, c.Argv, c.Env, c.Dir, c.Timeout, out)
	res := CommandResult{ExitCode: -1}
	if r != nil {
		res = CommandResult{ExitCode: r.exitCode, State: r.state, StartErr: r.startErr, TimedOut: r.timedOut, Wall: r.wall}
	}
	return res, err
}

// ChildEnv builds a program's environment the way the exec backends do:
// the variables of environ that DefaultPassEnv or pass name (proofgrid's
// own PROOFGRID_* never), then extra, whose entries win.
func ChildEnv(environ, pass, extra []string) []string { return childEnv(environ, pass, extra) }

// CheckPassEnv checks the names of a pass-env list (see ExecProver.PassEnv).
func CheckPassEnv(pass []string) error { return checkPassEnv(pass) }

// lockedWriter serialises the writes of the stdout and stderr copiers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
