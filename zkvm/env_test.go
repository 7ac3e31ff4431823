//go:build unix

package zkvm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/proofgrid/proofgrid"
)

// TestExecProverEnvironmentHoldsNoSecrets runs a prover that prints its
// environment, in a process whose environment holds the agent's token
// and other credentials, and finds none of them in the child's.
func TestExecProverEnvironmentHoldsNoSecrets(t *testing.T) {
	const marker = "pg_secretmarker0123456789"
	t.Setenv("PROOFGRID_AGENT_TOKEN", marker)
	t.Setenv("PROOFGRID_AGENT_REDIS_URL", "redis://agent:"+marker+"@redis:6379")
	t.Setenv("AWS_SECRET_ACCESS_KEY", marker)
	t.Setenv("JWT_SECRET", marker)
	t.Setenv("CUDA_VISIBLE_DEVICES", "3")
	t.Setenv("SP1_PROVER", "cuda")
	t.Setenv("LC_ALL", "C")

	p := ExecProver{
		Command: []string{"sh", "-c", `env > "$1.env"; printf p > "$1"`, "sh", "{output}"},
		Env:     []string{"EXTRA=block-{block_number}"},
		PassEnv: []string{"SP1_*"},
	}
	out := filepath.Join(t.TempDir(), "proof.bin")
	if _, err := p.Prove(context.Background(), ProveRequest{BlockNumber: 7, VKPath: "keys/sp1.vk", Output: out}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out + ".env")
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(strings.TrimSpace(string(b)), "\n")
	if strings.Contains(string(b), marker) {
		t.Fatalf("the prover's environment holds a secret:\n%s", b)
	}
	for _, want := range []string{
		"PATH=" + os.Getenv("PATH"), "CUDA_VISIBLE_DEVICES=3", "SP1_PROVER=cuda", "LC_ALL=C", "EXTRA=block-7",
		"PROOFGRID_BLOCK_NUMBER=7", "PROOFGRID_VK_PATH=keys/sp1.vk", "PROOFGRID_OUTPUT=" + out,
	} {
		if !slices.Contains(env, want) {
			t.Errorf("environment lacks %s:\n%s", want, b)
		}
	}
	for _, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "PROOFGRID_AGENT") || name == "AWS_SECRET_ACCESS_KEY" || name == "JWT_SECRET" {
			t.Errorf("environment holds %s", name)
		}
	}
}

// TestExecVerifierEnvironmentHoldsNoSecrets checks the same for the
// coordinator's verifiers, whose process holds the JWT secret and the
// database URL.
func TestExecVerifierEnvironmentHoldsNoSecrets(t *testing.T) {
	const marker = "verifier-secret-marker"
	t.Setenv("JWT_SECRET", marker)
	t.Setenv("PROOFGRID_DATABASE_URL", "postgres://u:"+marker+"@db/proofgrid")
	v := ExecVerifier{Command: []string{"sh", "-c", `if env | grep -q "$0"; then echo leaked >&2; exit 1; fi; exit 0`, marker}}
	verdict, err := v.Verify(context.Background(), VerifyRequest{Proof: []byte("p")})
	if err != nil || verdict.Outcome != OutcomeValid {
		t.Fatalf("verdict = %+v %v; want valid (no secret in the environment)", verdict, err)
	}
}

func TestPassEnvValidation(t *testing.T) {
	for _, pass := range [][]string{{"*"}, {"PROOFGRID_AGENT_TOKEN"}, {"proofgrid_*"}, {"A=B"}, {"A B"}, {"A*B"}} {
		if err := (ExecProver{Command: []string{"prover"}, PassEnv: pass}).Validate(); err == nil {
			t.Errorf("PassEnv %q accepted", pass)
		}
	}
	if err := (ExecProver{Command: []string{"prover"}, PassEnv: []string{"SP1_*", "RISC0_DEV_MODE"}}).Validate(); err != nil {
		t.Errorf("valid PassEnv refused: %v", err)
	}
}

func TestCheckVKPath(t *testing.T) {
	for _, ok := range []string{"", "sp1.vk", "keys/sp1.vk", "team_5f0a.bin", "a..b/c", "v1.2..3"} {
		if err := CheckVKPath(ok); err != nil {
			t.Errorf("CheckVKPath(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"-rf", "--vk=/etc/shadow", "/etc/passwd", `\\server\share`, "../secret", "keys/../../x", `keys\..\x`, "..",
		"a\x00b", "a\nb", "a\tb", "a\x7fb", "a\u0085b", "\xff"} {
		if err := CheckVKPath(bad); proofgrid.ErrorCode(err) != proofgrid.EINVALID {
			t.Errorf("CheckVKPath(%q) = %v, want EINVALID", bad, err)
		}
	}
}

// TestExecProverRefusesBadVKPath checks that a vk_path stored before the
// coordinator refused such values never reaches the command.
func TestExecProverRefusesBadVKPath(t *testing.T) {
	ran := filepath.Join(t.TempDir(), "ran")
	p := ExecProver{Command: []string{"sh", "-c", `touch "$0"`, ran, "{vk_path}"}}
	_, err := p.Prove(context.Background(), ProveRequest{BlockNumber: 1, VKPath: "--help"})
	if proofgrid.ErrorCode(err) != proofgrid.EINVALID {
		t.Fatalf("err = %v, want EINVALID", err)
	}
	if _, err := os.Stat(ran); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the command ran with a refused vk_path")
	}
}

// TestExecProverExitErrorQuotesNoOutput checks that a failed prover's
// error says how it ended without what it printed, which stays in the
// ExitError and the result for the owner's log.
func TestExecProverExitErrorQuotesNoOutput(t *testing.T) {
	p := ExecProver{Command: []string{"sh", "-c", "echo 'token=hunter2' >&2; exit 3"}}
	res, err := p.Prove(context.Background(), ProveRequest{BlockNumber: 9})
	if err == nil || err.Error() != "zkvm: prover of block 9 exited with status 3" {
		t.Fatalf("err = %v", err)
	}
	ee, ok := errors.AsType[*ExitError](err)
	if !ok || ee.ExitCode != 3 || ee.Output != "token=hunter2" {
		t.Fatalf("ExitError = %+v", ee)
	}
	if !strings.Contains(string(res.Stderr), "hunter2") {
		t.Errorf("stderr tail = %q", res.Stderr)
	}
}
