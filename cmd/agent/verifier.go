package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent"
	"github.com/proofgrid/proofgrid/agent/verifier"
	"github.com/proofgrid/proofgrid/golf"
	"github.com/proofgrid/proofgrid/internal/envflag"
)

// verifierFlags are the "agent run" settings of the submission:verify job.
type verifierFlags struct {
	checker  string
	command  string
	timeout  time.Duration
	passEnv  string
	workRoot string
	limits   verifier.Limits
	noLimits bool
}

// Default resource limits of an exec checker. A Lean build with Mathlib
// needs several GiB of address space; raise them with the flags.
const (
	defaultCheckerMemory = 16 << 30
	defaultCheckerFile   = 1 << 30
)

func (v *verifierFlags) bind(s *envflag.Set) {
	s.String(&v.checker, "verifier-checker", "", "zkGolf checker: lint (built in, no Lean) or exec (a command); default lint", "PROOFGRID_AGENT_VERIFIER_CHECKER")
	s.String(&v.command, "verifier-command", "",
		`exec checker command template, a JSON array or words; placeholders {workdir} {challenge_dir} {submission_dir} {solution_dir} {config} {slug} {instance} {submission_id} {allocations} {constraints}`,
		"PROOFGRID_AGENT_VERIFIER_COMMAND")
	s.String(&v.passEnv, "verifier-pass-env", "", `comma-separated variables passed to the checker besides PATH, HOME, locale and the like; "ELAN_*" names a prefix`, "PROOFGRID_AGENT_VERIFIER_PASS_ENV")
	s.String(&v.workRoot, "verifier-workdir", "", "where scratch directories go; default the system temporary directory", "PROOFGRID_AGENT_VERIFIER_WORKDIR")
	s.Duration(&v.timeout, "verifier-timeout", 0, "wall-clock limit of one check; default 20m", "PROOFGRID_AGENT_VERIFIER_TIMEOUT")
	s.Int64(&v.limits.CPUSeconds, "verifier-cpu-seconds", 0, "CPU time limit of the checker; default the wall-clock limit", "PROOFGRID_AGENT_VERIFIER_CPU_SECONDS")
	s.Int64(&v.limits.MemoryBytes, "verifier-memory-bytes", 0, "address space limit of each checker process; default 16 GiB", "PROOFGRID_AGENT_VERIFIER_MEMORY_BYTES")
	s.Int64(&v.limits.FileBytes, "verifier-file-bytes", 0, "largest file the checker may write; default 1 GiB", "PROOFGRID_AGENT_VERIFIER_FILE_BYTES")
	s.Bool(&v.noLimits, "verifier-no-limits", false, "run the checker without resource limits (the wall-clock limit stays)", "PROOFGRID_AGENT_VERIFIER_NO_LIMITS")
}

// handlers returns the job handlers of a verifier agent, and nil for
// other agents. A verifier checks one submission at a time.
func (v *verifierFlags) handlers(c *agent.Config, log *slog.Logger) (agent.RegisterFunc, error) {
	if c.Role != proofgrid.RoleVerifier {
		return nil, nil
	}
	if c.Concurrency > 1 {
		return nil, errors.New("a verifier checks one submission at a time: leave --concurrency at 1")
	}
	c.Concurrency = 1
	var checker verifier.Checker
	switch v.checker {
	case "", "lint":
		checker = verifier.Lint{}
	case "exec":
		command, err := splitCommand(v.command)
		if err != nil {
			return nil, fmt.Errorf("--verifier-command: %w", err)
		}
		e := verifier.Exec{Command: command, Timeout: v.timeout, PassEnv: splitList(v.passEnv)}
		if e.Timeout <= 0 {
			e.Timeout = verifier.DefaultTimeout
		}
		if !v.noLimits {
			exe, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("finding the agent binary for the sandbox helper: %w", err)
			}
			e.Sandbox = []string{exe, "sandbox"}
			e.Limits = v.limits
			if e.Limits.CPUSeconds == 0 {
				e.Limits.CPUSeconds = int64(e.Timeout / time.Second)
			}
			if e.Limits.MemoryBytes == 0 {
				e.Limits.MemoryBytes = defaultCheckerMemory
			}
			if e.Limits.FileBytes == 0 {
				e.Limits.FileBytes = defaultCheckerFile
			}
		}
		if err := e.Validate(); err != nil {
			return nil, err
		}
		checker = e
	default:
		return nil, fmt.Errorf("--verifier-checker must be lint or exec, not %q", v.checker)
	}
	return verifier.Register(verifier.Config{Checker: checker, WorkRoot: v.workRoot, Logger: log}), nil
}

// runCheck is "agent check lint DIR": the built-in checker on a directory
// of submission files, for contestants to run before submitting. Exit
// status 0 when every rule passes, 1 otherwise.
func runCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "lint" {
		fmt.Fprintln(stderr, "usage: agent check lint [--permitted-axioms a,b] [--max-file-bytes N] DIR")
		return 2
	}
	fs := flag.NewFlagSet("check lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	axioms := fs.String("permitted-axioms", "propext,Quot.sound,Classical.choice", "comma-separated axioms the challenge permits (its config's permitted_axioms)")
	maxFile := fs.Int64("max-file-bytes", golf.DefaultMaxFileBytes, "largest file accepted")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: agent check lint [--permitted-axioms a,b] [--max-file-bytes N] DIR")
		return 2
	}
	res, err := golf.Lint(fs.Arg(0), golf.LintConfig{PermittedAxioms: splitList(*axioms), MaxFileBytes: *maxFile}, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "agent check: %v\n", err)
		return 1
	}
	if !res.OK {
		return 1
	}
	return 0
}
