package zkvm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Limits and defaults of the exec backend.
const (
	// DefaultProveTimeout bounds one exec prover run when
	// ExecProver.Timeout is zero.
	DefaultProveTimeout = time.Hour
	// DefaultVerifyTimeout bounds one verification, by an exec verifier
	// or the demo one, when its Timeout is zero. zkVM verifiers answer in
	// seconds; a verifier that needs longer ties up a worker that other
	// teams' proofs are waiting for.
	DefaultVerifyTimeout = 30 * time.Second
	// DefaultVerifyMaxSteps caps the steps of a demo proof that
	// DemoVerifier checks when its MaxSteps is zero: 16 times the agent's
	// default work per block, a few seconds of one core.
	DefaultVerifyMaxSteps = 16 * DefaultDemoSteps
	// DefaultMaxProofBytes caps the proof file read back from an exec
	// prover when ExecProver.MaxProofBytes is zero.
	DefaultMaxProofBytes = 256 << 20
	// OutputTailBytes is how much of the end of stdout and of stderr is
	// kept from each command, for logs and error messages.
	OutputTailBytes = 64 << 10

	// waitDelay bounds how long Wait lingers after the command was killed
	// or exited while something it started still holds its output pipes.
	waitDelay = 2 * time.Second
	// reasonLineBytes caps the output quoted in a reason or an error.
	reasonLineBytes = 300
)

// ErrTimeout is wrapped by the error of an exec prover that ran past its
// timeout.
var ErrTimeout = errors.New("zkvm: command timed out")

// ExecProver runs a real zkVM prover as a child process, once per block.
//
// Each element of Command is expanded with ExpandArgs and the result run
// directly, never through a shell. The placeholders available are
// {block_number}, {block_hash}, {rpc_url}, {output} and {vk_path}; the same
// values are also in the environment as PROOFGRID_BLOCK_NUMBER,
// PROOFGRID_BLOCK_HASH, PROOFGRID_RPC_URL, PROOFGRID_OUTPUT and
// PROOFGRID_VK_PATH. The command's environment is built, not inherited:
// the agent's variables that DefaultPassEnv or PassEnv name (a GPU prover
// needs its PATH and CUDA settings), then those variables, then Env. The
// rest of the agent's environment, its credentials included, stays out.
// A VKPath that CheckVKPath refuses is not handed to the command.
//
// The prover must write its proof to the {output} path and exit 0. It may
// print a result line on stdout to report its proving time and cycle count
// (see ResultKey). On Unix the command runs in its own process group, and
// the whole group is killed when the timeout passes or the context ends, and
// once the command exits, so that no helper it started outlives the job.
type ExecProver struct {
	// Command is the argument vector template; Command[0] is the program,
	// looked up in PATH when it contains no slash.
	Command []string
	// Timeout bounds one run; zero means DefaultProveTimeout.
	Timeout time.Duration
	// Env lists extra KEY=VALUE entries; placeholders are expanded in
	// their values too.
	Env []string
	// PassEnv names further variables of the agent's environment that
	// the command receives, besides DefaultPassEnv; a name ending in "*"
	// is a prefix. proofgrid's own PROOFGRID_* variables cannot be named.
	PassEnv []string
	// Dir is the working directory; empty means the agent's.
	Dir string
	// MaxProofBytes caps the proof file; zero means DefaultMaxProofBytes.
	MaxProofBytes int64
}

// ProveRequest is one block for an exec prover.
type ProveRequest struct {
	BlockNumber uint64
	// BlockHash is the block's hash; the zero hash means unknown, and a
	// template that uses {block_hash} then fails.
	BlockHash [32]byte
	RPCURL    string
	VKPath    string
	// Output is where the prover writes the proof. Empty means a fresh
	// temporary file, removed once read. A file already at Output is
	// removed before the run, so a stale proof is never read back.
	Output string
}

// ExecResult is what one exec prover run produced. Prove returns it, with
// whatever output was captured, even when it also returns an error.
type ExecResult struct {
	Proof []byte
	// Stats holds the reported figures, or the measured ones (see
	// ResultKey).
	Stats Stats
	// Reported tells whether the prover printed a result line.
	Reported bool
	// Wall is the measured run time of the command.
	Wall time.Duration
	// ExitCode is the command's exit status, or -1 when it did not start
	// or was ended by a signal.
	ExitCode int
	// Stdout and Stderr are the last OutputTailBytes of each stream.
	Stdout, Stderr []byte
	// OutputTruncated tells whether earlier output was dropped.
	OutputTruncated bool
}

// Validate checks the configuration without running anything: a program is
// named, every placeholder is known, every Env entry is KEY=VALUE and
// every PassEnv entry a variable name or prefix.
func (p ExecProver) Validate() error {
	return validateCommand("prover", p.Command, p.Env, p.PassEnv)
}

// Prove runs the prover for one block and reads back its proof.
//
// The error wraps ErrTimeout when the run passed its timeout, and ctx's
// error when ctx ended first; it is also non-nil when the command could not
// start, exited non-zero, or left no proof (or an empty or oversized one)
// at the output path.
func (p ExecProver) Prove(ctx context.Context, req ProveRequest) (ExecResult, error) {
	res := ExecResult{ExitCode: -1}
	if err := p.Validate(); err != nil {
		return res, err
	}
	if err := CheckVKPath(req.VKPath); err != nil {
		return res, fmt.Errorf("zkvm: prover of block %d: %w", req.BlockNumber, err)
	}
	output := req.Output
	if output == "" {
		dir, err := os.MkdirTemp("", "proofgrid-prove-")
		if err != nil {
			return res, fmt.Errorf("zkvm: output directory: %w", err)
		}
		defer os.RemoveAll(dir)
		output = filepath.Join(dir, "proof.bin")
	} else if err := os.Remove(output); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("zkvm: removing stale proof: %w", err)
	}

	values := jobValues(req.BlockNumber, req.BlockHash, req.RPCURL, output, req.VKPath, "")
	argv, env, err := expandCommand(p.Command, p.Env, values)
	if err != nil {
		return res, fmt.Errorf("zkvm: prover command: %w", err)
	}
	timeout := orDefault(p.Timeout, DefaultProveTimeout)
	r, err := run(ctx, argv, childEnv(os.Environ(), p.PassEnv, env), p.Dir, timeout, nil)
	if r != nil {
		res.Wall, res.ExitCode = r.wall, r.exitCode
		res.Stdout, res.Stderr = r.stdout.Bytes(), r.stderr.Bytes()
		res.OutputTruncated = r.stdout.Truncated() || r.stderr.Truncated()
	}
	switch {
	case err != nil:
		return res, fmt.Errorf("zkvm: prover of block %d: %w", req.BlockNumber, err)
	case r.startErr != nil:
		return res, fmt.Errorf("zkvm: starting prover: %w", r.startErr)
	case r.timedOut:
		return res, fmt.Errorf("%w: prover of block %d ran past %v", ErrTimeout, req.BlockNumber, timeout)
	case r.exitCode != 0:
		return res, &ExitError{BlockNumber: req.BlockNumber, ExitCode: r.exitCode, State: r.state, Output: strings.TrimPrefix(detail(r), ": ")}
	}

	proof, err := readProof(output, orDefault(p.MaxProofBytes, DefaultMaxProofBytes))
	if err != nil {
		return res, fmt.Errorf("zkvm: prover of block %d exited 0 but %w", req.BlockNumber, err)
	}
	res.Proof = proof
	res.Stats, res.Reported = r.result.stats, r.result.found
	if res.Stats.Duration == 0 {
		res.Stats.Duration = r.wall
	}
	return res, nil
}

// ExitError is the error of an exec prover that ran and failed: it exited
// non-zero or a signal ended it. Its message says how the command ended
// and nothing the command printed, because the message travels where
// others read it (the public worker events, the task queue) and a
// prover's output may hold secrets. Output keeps the last line for the
// owner's own log; ExecResult has the whole tails.
type ExitError struct {
	BlockNumber uint64
	// ExitCode is the exit status, or -1 when a signal ended the command.
	ExitCode int
	// State says how the command ended, e.g. "signal: killed".
	State string
	// Output is the last line of stderr, or of stdout when stderr was
	// silent.
	Output string
}

// Error implements the error interface.
func (e *ExitError) Error() string {
	if e.ExitCode >= 0 {
		return fmt.Sprintf("zkvm: prover of block %d exited with status %d", e.BlockNumber, e.ExitCode)
	}
	return fmt.Sprintf("zkvm: prover of block %d ended: %s", e.BlockNumber, e.State)
}

// readProof reads the proof file, refusing one above max bytes before
// reading it.
func readProof(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("wrote no proof to %s", path)
		}
		return nil, fmt.Errorf("its proof cannot be read: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("its proof cannot be read: %w", err)
	case int64(len(b)) > max:
		return nil, fmt.Errorf("its proof is larger than the limit of %d bytes", max)
	case len(b) == 0:
		return nil, fmt.Errorf("its proof at %s is empty", path)
	}
	return b, nil
}

// ExecVerifier runs a zkVM's verifier as a child process, once per proof.
//
// Command is expanded like ExecProver's; the placeholders available are
// {proof} (the path of a file holding the proof), {vk_path},
// {block_number}, {block_hash} and {rpc_url}, also in the environment as
// PROOFGRID_PROOF, PROOFGRID_VK_PATH, and so on. Like ExecProver's, its
// environment holds only the variables DefaultPassEnv and PassEnv name,
// then those, then Env: the coordinator's secrets stay out.
//
// The verifier's exit status is its answer, read by OutcomeForExitCode: 0
// valid, 1 invalid, 2 cannot verify (for example a proof for a program or
// zkVM version it does not know). Everything else also means cannot
// verify: no command configured, a program that cannot be started, a
// verification key that is missing, a timeout, a crash or any other exit
// status. Reasons quote the last line of stderr (or stdout).
type ExecVerifier struct {
	// Command is the argument vector template; empty means this zkVM has
	// no verifier and every proof gets OutcomeCannotVerify.
	Command []string
	// Timeout bounds one run; zero means DefaultVerifyTimeout. A run past
	// it is killed and the proof gets OutcomeCannotVerify with
	// TimeoutReason.
	Timeout time.Duration
	// Env lists extra KEY=VALUE entries; placeholders are expanded in
	// their values too.
	Env []string
	// PassEnv names further variables of the process's environment that
	// the command receives, as ExecProver.PassEnv.
	PassEnv []string
	// Dir is the working directory; empty means the process's.
	Dir string
}

// VerifyRequest is one proof for an exec verifier.
type VerifyRequest struct {
	BlockNumber uint64
	// BlockHash is the block's hash; the zero hash means unknown.
	BlockHash [32]byte
	RPCURL    string
	// VKPath is the verification key of the proof's cluster version. When
	// set, it must exist, or the verdict is OutcomeCannotVerify.
	VKPath string
	// ProofPath names a file holding the proof. When empty, Proof is
	// written to a temporary file that is removed afterwards.
	ProofPath string
	Proof     []byte
}

// Validate checks the configuration without running anything. An empty
// Command is valid: it means no verifier.
func (v ExecVerifier) Validate() error {
	if len(v.Command) == 0 {
		return nil
	}
	return validateCommand("verifier", v.Command, v.Env, v.PassEnv)
}

// OutcomeForExitCode maps a verifier's exit status to an outcome: 0 valid,
// 1 invalid, anything else (2 by convention) cannot verify.
func OutcomeForExitCode(code int) Outcome {
	switch code {
	case 0:
		return OutcomeValid
	case 1:
		return OutcomeInvalid
	}
	return OutcomeCannotVerify
}

// Verify runs the verifier on one proof. The error is non-nil only when ctx
// ends before the verdict is known, or when the proof cannot be written to
// a temporary file (a local fault worth retrying); every other problem is
// part of the verdict.
func (v ExecVerifier) Verify(ctx context.Context, req VerifyRequest) (Verdict, error) {
	start := time.Now()
	cannot := func(format string, args ...any) (Verdict, error) {
		return Verdict{Outcome: OutcomeCannotVerify, Reason: fmt.Sprintf(format, args...), Duration: time.Since(start)}, nil
	}
	if len(v.Command) == 0 {
		return cannot("no verifier is configured for this zkVM")
	}
	if err := v.Validate(); err != nil {
		return cannot("verifier misconfigured: %v", err)
	}
	if req.VKPath != "" {
		if _, err := os.Stat(req.VKPath); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return cannot("verification key %s not found", req.VKPath)
			}
			return cannot("verification key %s unreadable: %v", req.VKPath, err)
		}
	}
	proofPath := req.ProofPath
	if proofPath == "" {
		if len(req.Proof) == 0 {
			return Verdict{Outcome: OutcomeInvalid, Reason: "empty proof", Duration: time.Since(start)}, nil
		}
		dir, err := os.MkdirTemp("", "proofgrid-verify-")
		if err != nil {
			return Verdict{}, fmt.Errorf("zkvm: proof directory: %w", err)
		}
		defer os.RemoveAll(dir)
		proofPath = filepath.Join(dir, "proof.bin")
		if err := os.WriteFile(proofPath, req.Proof, 0o600); err != nil {
			return Verdict{}, fmt.Errorf("zkvm: writing proof file: %w", err)
		}
	}

	values := jobValues(req.BlockNumber, req.BlockHash, req.RPCURL, "", req.VKPath, proofPath)
	argv, env, err := expandCommand(v.Command, v.Env, values)
	if err != nil {
		if me, ok := errors.AsType[*MissingValueError](err); ok && me.Placeholder == PlaceholderVKPath {
			return cannot("no verification key is configured for this cluster version")
		}
		return cannot("verifier command: %v", err)
	}
	timeout := orDefault(v.Timeout, DefaultVerifyTimeout)
	r, err := run(ctx, argv, childEnv(os.Environ(), v.PassEnv, env), v.Dir, timeout, nil)
	if err != nil {
		return Verdict{}, fmt.Errorf("zkvm: verifying proof of block %d: %w", req.BlockNumber, err)
	}
	verdict := verifierVerdict(r, timeout)
	verdict.Duration = time.Since(start)
	return verdict, nil
}

// verifierVerdict turns a finished verifier run into a verdict.
func verifierVerdict(r *runResult, timeout time.Duration) Verdict {
	switch {
	case r.startErr != nil:
		return Verdict{Outcome: OutcomeCannotVerify, Reason: fmt.Sprintf("verifier cannot be started: %v", r.startErr)}
	case r.timedOut:
		return Verdict{Outcome: OutcomeCannotVerify, Reason: TimeoutReason(timeout)}
	case r.exitCode < 0:
		return Verdict{Outcome: OutcomeCannotVerify, Reason: "verifier ended abnormally: " + r.state + detail(r)}
	}
	switch o := OutcomeForExitCode(r.exitCode); {
	case o == OutcomeValid:
		return Verdict{Outcome: o}
	case o == OutcomeInvalid:
		return Verdict{Outcome: o, Reason: "verifier rejected the proof" + detail(r)}
	case r.exitCode == 2:
		return Verdict{Outcome: o, Reason: "verifier cannot verify this proof" + detail(r)}
	default:
		return Verdict{Outcome: o, Reason: fmt.Sprintf("verifier failed with exit status %d%s", r.exitCode, detail(r))}
	}
}

// detail quotes the last line of stderr, or of stdout when stderr is
// silent, as ": line", or returns "".
func detail(r *runResult) string {
	line := lastLine(r.stderr.buf, reasonLineBytes)
	if line == "" {
		line = lastLine(r.stdout.buf, reasonLineBytes)
	}
	if line == "" {
		return ""
	}
	return ": " + line
}

// validateCommand checks a command template and its extra environment.
func validateCommand(what string, command, env, pass []string) error {
	if len(command) == 0 || command[0] == "" {
		return fmt.Errorf("zkvm: %s command: no program named", what)
	}
	if err := checkPassEnv(pass); err != nil {
		return fmt.Errorf("zkvm: %s command: %w", what, err)
	}
	// Expanding with every placeholder set catches unknown ones without
	// knowing which the job will provide.
	all := make(map[string]string, len(placeholderEnv))
	for name := range placeholderEnv {
		all[name] = "x"
	}
	if _, _, err := expandCommand(command, env, all); err != nil {
		return fmt.Errorf("zkvm: %s command: %w", what, err)
	}
	return nil
}

// expandCommand expands the argument template and the values of the extra
// environment, and prepends the PROOFGRID_* variables to the latter.
func expandCommand(command, env []string, values map[string]string) (argv, fullEnv []string, err error) {
	argv, err = ExpandArgs(command, values)
	if err != nil {
		return nil, nil, err
	}
	fullEnv = jobEnv(values)
	for i, kv := range env {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("env entry %d: want KEY=VALUE", i)
		}
		val, err := expand(val, values)
		if err != nil {
			return nil, nil, fmt.Errorf("env %s: %w", k, err)
		}
		fullEnv = append(fullEnv, k+"="+val)
	}
	return argv, fullEnv, nil
}

// TimeoutReason is the reason of the OutcomeCannotVerify verdict of a
// verification that ran past its timeout d: "verification exceeded 30 s".
func TimeoutReason(d time.Duration) string {
	return "verification exceeded " + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

// orDefault returns v, or def when v is zero or negative.
func orDefault[T int64 | uint64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
