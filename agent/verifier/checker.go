package verifier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/proofgrid/proofgrid/golf"
	"github.com/proofgrid/proofgrid/zkvm"
)

// DefaultTimeout is the wall-clock limit of one check when Exec.Timeout is
// zero.
const DefaultTimeout = 1200 * time.Second

// Job is one submission laid out for a checker.
type Job struct {
	SubmissionID string
	Challenge    string
	Instance     string
	// Workdir is the run's scratch directory; everything below is in it
	// and removed afterwards.
	Workdir string
	// ChallengeDir is the challenge project's root, with the submission's
	// files already in place of the solution template (SolutionDir).
	ChallengeDir string
	// SubmissionDir holds the submitted files alone, flat.
	SubmissionDir string
	// SolutionDir is Solution/<Instance> inside ChallengeDir.
	SolutionDir string
	// ConfigPath is the comparator config inside ChallengeDir.
	ConfigPath      string
	PermittedAxioms []string
	Allocations     int64
	Constraints     int64
	MaxFileBytes    int64
}

// Verdict is a checker's answer: OK means verified.
type Verdict struct {
	OK bool
	// Reason is one line on why, for the log and the submitter.
	Reason string
	// ExitCode is the checker command's exit status, -1 when it did not
	// run to an exit (or is built in).
	ExitCode int
}

// Checker checks one submission, writing what it does to out. The error is
// for failures of the machine (a context that ended, a disk that is
// full), after which the task is retried; a submission that does not pass
// is a Verdict with OK false.
type Checker interface {
	Check(ctx context.Context, job Job, out io.Writer) (Verdict, error)
}

// Lint is the built-in checker that needs no Lean: golf.Lint's rules on
// the submitted files (Main.lean present, flat names, sizes, no
// native_decide, sorry or admit, only permitted axioms).
type Lint struct{}

// Check runs the lint rules.
func (Lint) Check(_ context.Context, job Job, out io.Writer) (Verdict, error) {
	fmt.Fprintln(out, "lint: checking the submitted files without Lean")
	res, err := golf.Lint(job.SubmissionDir, golf.LintConfig{PermittedAxioms: job.PermittedAxioms, MaxFileBytes: job.MaxFileBytes}, out)
	if err != nil {
		return Verdict{}, err
	}
	if !res.OK {
		return Verdict{ExitCode: -1, Reason: fmt.Sprintf("lint failed: %v", res.Failed)}, nil
	}
	return Verdict{OK: true, ExitCode: -1, Reason: "lint passed"}, nil
}

// Checker placeholders: {name} in Exec.Command stands for the job's value;
// the values are also in the environment as PROOFGRID_GOLF_<NAME>.
const (
	PlaceholderWorkdir       = "workdir"
	PlaceholderChallengeDir  = "challenge_dir"
	PlaceholderSubmissionDir = "submission_dir"
	PlaceholderSolutionDir   = "solution_dir"
	PlaceholderConfig        = "config"
	PlaceholderSlug          = "slug"
	PlaceholderInstance      = "instance"
	PlaceholderSubmissionID  = "submission_id"
	PlaceholderAllocations   = "allocations"
	PlaceholderConstraints   = "constraints"
)

var placeholders = []string{
	PlaceholderWorkdir, PlaceholderChallengeDir, PlaceholderSubmissionDir, PlaceholderSolutionDir, PlaceholderConfig,
	PlaceholderSlug, PlaceholderInstance, PlaceholderSubmissionID, PlaceholderAllocations, PlaceholderConstraints,
}

func (j Job) values() map[string]string {
	return map[string]string{
		PlaceholderWorkdir: j.Workdir, PlaceholderChallengeDir: j.ChallengeDir, PlaceholderSubmissionDir: j.SubmissionDir,
		PlaceholderSolutionDir: j.SolutionDir, PlaceholderConfig: j.ConfigPath, PlaceholderSlug: j.Challenge,
		PlaceholderInstance: j.Instance, PlaceholderSubmissionID: j.SubmissionID,
		PlaceholderAllocations: strconv.FormatInt(j.Allocations, 10), PlaceholderConstraints: strconv.FormatInt(j.Constraints, 10),
	}
}

// Limits are the resource limits a checker runs under (setrlimit, through
// the sandbox helper). Zero fields mean no limit of that kind.
type Limits struct {
	// CPUSeconds caps CPU time (RLIMIT_CPU): SIGXCPU, then SIGKILL.
	CPUSeconds int64
	// MemoryBytes caps the address space (RLIMIT_AS) of each process.
	MemoryBytes int64
	// FileBytes caps the size of any file written (RLIMIT_FSIZE).
	FileBytes int64
}

// Exec runs a configured checker command, e.g. the real one that builds
// the Lean project and runs leanprover/comparator on the config.
//
// Command is expanded like a zkvm exec template (one argument per
// element, no shell; see zkvm.ExpandTemplate) with the placeholders above.
// The command runs in the job's Workdir with an environment built from
// the allow list (zkvm.DefaultPassEnv and PassEnv) plus the
// PROOFGRID_GOLF_* values, in its own process group: when Timeout passes
// or the job is cancelled, the whole group is killed. With Sandbox set,
// the command is started through it with Limits as arguments, so the
// limits apply before the checker's first instruction. Exit status 0
// means verified; anything else, failed.
type Exec struct {
	Command []string
	// Timeout is the wall-clock limit; zero means DefaultTimeout.
	Timeout time.Duration
	PassEnv []string
	Limits  Limits
	// Sandbox is the argument vector prefix of the rlimit helper, normally
	// the agent binary and "sandbox" (see SandboxMain); nil runs the
	// command without limits.
	Sandbox []string
}

// Validate checks the configuration without running anything.
func (e Exec) Validate() error {
	if len(e.Command) == 0 || e.Command[0] == "" {
		return errors.New("verifier: checker command: no program named")
	}
	if err := zkvm.CheckPassEnv(e.PassEnv); err != nil {
		return fmt.Errorf("verifier: checker command: %w", err)
	}
	all := map[string]string{}
	for _, p := range placeholders {
		all[p] = "x"
	}
	if _, err := zkvm.ExpandTemplate(e.Command, all, placeholders); err != nil {
		return fmt.Errorf("verifier: checker command: %w", err)
	}
	return nil
}

// Check runs the command on job.
func (e Exec) Check(ctx context.Context, job Job, out io.Writer) (Verdict, error) {
	fail := func(format string, args ...any) (Verdict, error) {
		reason := fmt.Sprintf(format, args...)
		fmt.Fprintln(out, "checker: "+reason)
		return Verdict{ExitCode: -1, Reason: reason}, nil
	}
	if err := e.Validate(); err != nil {
		return fail("misconfigured: %v", err)
	}
	values := job.values()
	argv, err := zkvm.ExpandTemplate(e.Command, values, placeholders)
	if err != nil {
		return fail("misconfigured: %v", err)
	}
	// A program that is not there fails here, with its name, rather than
	// as an exit status from the sandbox helper.
	if _, err := exec.LookPath(argv[0]); err != nil {
		return fail("cannot run the checker: program %q not found: %v", argv[0], err)
	}
	if len(e.Sandbox) > 0 {
		argv = append(append(append([]string{}, e.Sandbox...), e.Limits.args()...), append([]string{"--"}, argv...)...)
	}
	var extra []string
	for _, p := range placeholders {
		extra = append(extra, "PROOFGRID_GOLF_"+upper(p)+"="+values[p])
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	fmt.Fprintf(out, "checker: running %q (wall-clock limit %v)\n", argv, timeout)
	res, err := zkvm.RunCommand(ctx, zkvm.Command{
		Argv: argv, Env: zkvm.ChildEnv(os.Environ(), e.PassEnv, extra), Dir: job.Workdir, Timeout: timeout, Output: out,
	})
	if err != nil {
		return Verdict{}, err
	}
	switch {
	case res.StartErr != nil:
		return fail("cannot run the checker: %v", res.StartErr)
	case res.TimedOut:
		return fail("ran past its wall-clock limit of %v and was killed with its process group", timeout)
	case res.ExitCode == 0:
		fmt.Fprintf(out, "checker: exited 0 after %v\n", res.Wall.Round(time.Millisecond))
		return Verdict{OK: true, ExitCode: 0, Reason: "checker exited 0"}, nil
	case res.ExitCode > 0:
		r, _ := fail("exited with status %d after %v", res.ExitCode, res.Wall.Round(time.Millisecond))
		r.ExitCode = res.ExitCode
		return r, nil
	}
	return fail("ended abnormally: %s", res.State)
}

func (l Limits) args() []string {
	var out []string
	if l.CPUSeconds > 0 {
		out = append(out, "--cpu-seconds", strconv.FormatInt(l.CPUSeconds, 10))
	}
	if l.MemoryBytes > 0 {
		out = append(out, "--memory-bytes", strconv.FormatInt(l.MemoryBytes, 10))
	}
	if l.FileBytes > 0 {
		out = append(out, "--file-bytes", strconv.FormatInt(l.FileBytes, 10))
	}
	return out
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
