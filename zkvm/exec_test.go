//go:build unix

package zkvm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// script writes an executable shell script into a fresh directory and
// returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cmd.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitGone waits until process pid no longer runs (gone or a zombie) and
// reports whether it did within the bound.
func waitGone(pid int, bound time.Duration) bool {
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return true
		}
		// An orphan killed in a container whose init does not reap stays
		// a zombie; it no longer runs, which is what matters.
		if stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i >= 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestExecProverSuccess(t *testing.T) {
	p := ExecProver{
		Command: []string{"sh", "-c", `printf '%s|%s|%s|%s' "$PROOFGRID_BLOCK_NUMBER" "$1" "$EXTRA" "$PROOFGRID_RPC_URL" > "$2"
echo "proving..."
echo '{"proofgrid_result": {"proving_time_ms": 1234, "cycles": 99}}'
echo "done"`, "sh", "{block_hash}", "{output}"},
		Env: []string{"EXTRA=block-{block_number}"},
	}
	req := ProveRequest{BlockNumber: 21000000, BlockHash: testHash(0xa0), RPCURL: "http://rpc"}
	res, err := p.Prove(context.Background(), req)
	if err != nil {
		t.Fatalf("%v\nstderr: %s", err, res.Stderr)
	}
	want := "21000000|" + FormatBlockHash(testHash(0xa0)) + "|block-21000000|http://rpc"
	if string(res.Proof) != want {
		t.Errorf("proof = %q, want %q", res.Proof, want)
	}
	if !res.Reported || res.Stats.Duration != 1234*time.Millisecond || res.Stats.Cycles != 99 {
		t.Errorf("stats = %+v, reported %v", res.Stats, res.Reported)
	}
	if res.ExitCode != 0 || res.Wall <= 0 || !strings.Contains(string(res.Stdout), "proving...") {
		t.Errorf("result = %+v", res)
	}
}

func TestExecProverMeasuredTime(t *testing.T) {
	out := filepath.Join(t.TempDir(), "proof.bin")
	p := ExecProver{Command: []string{"sh", "-c", `echo proof > "$1"`, "sh", "{output}"}}
	res, err := p.Prove(context.Background(), ProveRequest{BlockNumber: 1, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reported || res.Stats.Cycles != 0 || res.Stats.Duration != res.Wall || res.Wall <= 0 {
		t.Errorf("stats = %+v, wall %v, reported %v", res.Stats, res.Wall, res.Reported)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("caller's output file was removed: %v", err)
	}
}

func TestExecProverNoShellInjection(t *testing.T) {
	dir := t.TempDir()
	hostile := `x"; touch pwned1; $(touch pwned2) ` + "`touch pwned3`" + ` > pwned4`
	p := ExecProver{Command: []string{"sh", "-c", `printf %s "$1" > "$2"`, "sh", "{rpc_url}", "{output}"}, Dir: dir}
	res, err := p.Prove(context.Background(), ProveRequest{RPCURL: hostile})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Proof) != hostile {
		t.Errorf("argument arrived as %q", res.Proof)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("the value ran as code: %v", entries)
	}
}

func TestExecProverFailures(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.bin")
	tests := []struct {
		name    string
		p       ExecProver
		req     ProveRequest
		setup   func()
		want    string
		exit    int
		timeout bool
	}{
		{name: "exit status", p: ExecProver{Command: []string{"sh", "-c", "echo working; echo 'cannot open witness' >&2; exit 3"}},
			want: "prover of block 0 exited with status 3", exit: 3},
		{name: "no proof written", p: ExecProver{Command: []string{"true"}}, want: "wrote no proof"},
		{name: "stale proof not read back", p: ExecProver{Command: []string{"true"}}, req: ProveRequest{Output: stale},
			setup: func() { os.WriteFile(stale, []byte("old proof"), 0o600) }, want: "wrote no proof"},
		{name: "empty proof", p: ExecProver{Command: []string{"sh", "-c", `: > "$1"`, "sh", "{output}"}}, want: "empty"},
		{name: "proof too large", p: ExecProver{Command: []string{"sh", "-c", `printf 01234567890 > "$1"`, "sh", "{output}"}, MaxProofBytes: 10},
			want: "larger than the limit of 10 bytes"},
		{name: "program missing", p: ExecProver{Command: []string{"/nonexistent/prover"}}, want: "starting prover", exit: -1},
		{name: "missing value", p: ExecProver{Command: []string{"prover", "{block_hash}"}}, want: "{block_hash} is used but has no value", exit: -1},
		{name: "killed", p: ExecProver{Command: []string{"sh", "-c", "kill -9 $$"}}, want: "signal: killed", exit: -1},
		{name: "timeout", p: ExecProver{Command: []string{"sleep", "30"}, Timeout: 100 * time.Millisecond}, want: "ran past 100ms", exit: -1, timeout: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			res, err := tt.p.Prove(context.Background(), tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if errors.Is(err, ErrTimeout) != tt.timeout {
				t.Errorf("errors.Is(err, ErrTimeout) = %v", !tt.timeout)
			}
			if strings.Contains(err.Error(), "witness") {
				t.Errorf("err = %v quotes the prover's output", err)
			}
			if res.ExitCode != tt.exit || res.Proof != nil {
				t.Errorf("exit code %d, proof %q; want exit %d and no proof", res.ExitCode, res.Proof, tt.exit)
			}
		})
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale proof still there: %v", err)
	}
}

func TestExecProverOutputBounded(t *testing.T) {
	// 1 MiB of log on each stream, then the result line.
	p := ExecProver{Command: []string{"sh", "-c", `head -c 1048576 /dev/zero | tr '\0' o; echo; head -c 1048576 /dev/zero | tr '\0' e >&2
echo '{"proofgrid_result": {"cycles": 5}}'; echo proof > "$1"`, "sh", "{output}"}}
	res, err := p.Prove(context.Background(), ProveRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stdout) != OutputTailBytes || len(res.Stderr) != OutputTailBytes || !res.OutputTruncated {
		t.Errorf("stdout %d, stderr %d bytes, truncated %v", len(res.Stdout), len(res.Stderr), res.OutputTruncated)
	}
	if !res.Reported || res.Stats.Cycles != 5 {
		t.Errorf("result line lost: %+v", res.Stats)
	}
}

// TestExecProverTimeoutKillsGroup checks that a timeout kills the
// command's children too, not only the command.
func TestExecProverTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	p := ExecProver{
		Command: []string{"sh", "-c", `sleep 30 & echo $! > "$1"; wait`, "sh", pidFile},
		Timeout: 300 * time.Millisecond,
	}
	start := time.Now()
	_, err := p.Prove(context.Background(), ProveRequest{})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	// A generous bound: the point is that nobody waits for the sleep.
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("Prove returned after %v", elapsed)
	}
	if pid := readPID(t, pidFile); !waitGone(pid, 5*time.Second) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("child sleep %d survived the timeout", pid)
	}
}

func TestExecProverCancelKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	p := ExecProver{Command: []string{"sh", "-c", `sleep 30 & echo $! > "$1"; wait`, "sh", pidFile}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.Prove(ctx, ProveRequest{})
		done <- err
	}()
	pid := readPID(t, pidFile)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Prove did not return after cancellation")
	}
	if !waitGone(pid, 5*time.Second) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("child sleep %d survived cancellation", pid)
	}
}

func TestExecProverReapsLeftovers(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	p := ExecProver{Command: []string{"sh", "-c", `sleep 30 >/dev/null 2>&1 & echo $! > "$1"; echo proof > "$2"`, "sh", pidFile, "{output}"}}
	if _, err := p.Prove(context.Background(), ProveRequest{}); err != nil {
		t.Fatal(err)
	}
	if pid := readPID(t, pidFile); !waitGone(pid, 5*time.Second) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("helper sleep %d outlived the prover", pid)
	}
}

func TestExecVerifier(t *testing.T) {
	dir := t.TempDir()
	vk := filepath.Join(dir, "vk.bin")
	if err := os.WriteFile(vk, []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	// check.sh accepts the proof "good" with the right key, rejects others.
	check := script(t, `[ -f "$2" ] || { echo "no vk" >&2; exit 2; }
case "$(cat "$1")" in
good) exit 0 ;;
*) echo "pairing check failed" >&2; exit 1 ;;
esac`)
	tests := []struct {
		name   string
		v      ExecVerifier
		req    VerifyRequest
		want   Outcome
		reason string
	}{
		{"valid", ExecVerifier{Command: []string{check, "{proof}", "{vk_path}"}}, VerifyRequest{Proof: []byte("good"), VKPath: vk}, OutcomeValid, ""},
		{"invalid", ExecVerifier{Command: []string{check, "{proof}", "{vk_path}"}}, VerifyRequest{Proof: []byte("bad"), VKPath: vk}, OutcomeInvalid, "verifier rejected the proof: pairing check failed"},
		{"proof path", ExecVerifier{Command: []string{check, "{proof}", "{vk_path}"}}, VerifyRequest{ProofPath: writeFile(t, "good"), VKPath: vk}, OutcomeValid, ""},
		{"env", ExecVerifier{Command: []string{"sh", "-c", `[ "$(cat "$PROOFGRID_PROOF")" = good ] && [ "$PROOFGRID_BLOCK_NUMBER" = 9 ]`}}, VerifyRequest{BlockNumber: 9, Proof: []byte("good")}, OutcomeValid, ""},
		{"exit 2", ExecVerifier{Command: []string{"sh", "-c", "echo unknown program >&2; exit 2"}}, VerifyRequest{Proof: []byte("p")}, OutcomeCannotVerify, "verifier cannot verify this proof: unknown program"},
		{"exit 3", ExecVerifier{Command: []string{"sh", "-c", "echo panic; exit 3"}}, VerifyRequest{Proof: []byte("p")}, OutcomeCannotVerify, "exit status 3: panic"},
		{"signal", ExecVerifier{Command: []string{"sh", "-c", "kill -9 $$"}}, VerifyRequest{Proof: []byte("p")}, OutcomeCannotVerify, "signal: killed"},
		{"no verifier", ExecVerifier{}, VerifyRequest{Proof: []byte("p")}, OutcomeCannotVerify, "no verifier is configured"},
		{"program missing", ExecVerifier{Command: []string{"/nonexistent/verify", "{proof}"}}, VerifyRequest{Proof: []byte("p")}, OutcomeCannotVerify, "cannot be started"},
		{"vk missing", ExecVerifier{Command: []string{check, "{proof}", "{vk_path}"}}, VerifyRequest{Proof: []byte("good"), VKPath: filepath.Join(dir, "nope")}, OutcomeCannotVerify, "not found"},
		{"vk not configured", ExecVerifier{Command: []string{check, "{proof}", "{vk_path}"}}, VerifyRequest{Proof: []byte("good")}, OutcomeCannotVerify, "no verification key"},
		{"misconfigured", ExecVerifier{Command: []string{check, "{prof}"}}, VerifyRequest{Proof: []byte("good")}, OutcomeCannotVerify, "unknown placeholder"},
		{"empty proof", ExecVerifier{Command: []string{"true"}}, VerifyRequest{}, OutcomeInvalid, "empty proof"},
		{"timeout", ExecVerifier{Command: []string{"sleep", "30"}, Timeout: 100 * time.Millisecond}, VerifyRequest{Proof: []byte("p")}, OutcomeCannotVerify, "verification exceeded 0.1 s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := tt.v.Verify(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if v.Outcome != tt.want || !strings.Contains(v.Reason, tt.reason) || (tt.reason == "") != (v.Reason == "") {
				t.Errorf("verdict %+v, want %s with reason containing %q", v, tt.want, tt.reason)
			}
			if v.Duration <= 0 {
				t.Errorf("duration %v", v.Duration)
			}
		})
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "proof")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExecVerifierCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	v, err := ExecVerifier{Command: []string{"sleep", "30"}}.Verify(ctx, VerifyRequest{Proof: []byte("p")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("verdict %+v, err %v; want the context's error", v, err)
	}
}
