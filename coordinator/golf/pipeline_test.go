package golf_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/agent/verifier"
	golfapi "github.com/proofgrid/proofgrid/coordinator/golf"
	"github.com/proofgrid/proofgrid/storage"
)

// TestLifecycleGrowingLog follows one submission through pending,
// verifying (while the checker's log grows) and verified, with a checker
// command that prints over two seconds.
func TestLifecycleGrowingLog(t *testing.T) {
	env, c := startCoordinator(t, storage.DialectSQLite, nil)
	tok := golfToken(t, env, "alice")
	var s submitted
	r := c.submit("sha256-compression", tok, valid("29000", "30000")...)
	wantStatus(t, r, 201)
	r.json(t, &s)
	if v := c.submission(s.ID); v.Status != "pending" || *v.QueuePosition != 1 {
		t.Fatalf("before any verifier: %+v", v)
	}

	// The checker sees the submission in place of the template and the
	// challenge's config, and prints in three steps.
	script := `set -e
test -f "$PROOFGRID_GOLF_SOLUTION_DIR/Main.lean"
test -f "{solution_dir}/Helper.lean"
test -f "{config}"
echo "step one {slug} {instance} {allocations}+{constraints}"
sleep 1
echo "step two"
sleep 1
echo "step three"`
	startVerifier(t, env, "verifier-1", verifier.Config{Checker: verifier.Exec{Command: []string{"sh", "-c", script}, Timeout: time.Minute}})
	c.waitStatus(s.ID, "verifying", 20*time.Second)

	var seen []string
	var offset int64
	deadline := time.Now().Add(30 * time.Second)
	text := ""
	for time.Now().Before(deadline) {
		p := c.log(s.ID, tok, offset)
		text += p.Text
		offset = p.NextOffset
		if p.Text != "" && p.Status == "verifying" {
			seen = append(seen, p.Text)
		}
		if p.Status == "verified" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v := c.submission(s.ID); v.Status != "verified" || v.Score == nil || *v.Score != 59000 {
		t.Fatalf("after the check: %+v\nlog:\n%s", v, text)
	}
	if !strings.Contains(text, "step one sha256-compression SHA256Compression 29000+30000\nstep two\nstep three\n") ||
		!strings.Contains(text, "==> verified (attempt 1") {
		t.Fatalf("log:\n%s", text)
	}
	// The log grew while verifying: step one was readable before the end.
	joined := strings.Join(seen, "")
	if len(seen) < 2 || !strings.Contains(joined, "step one") {
		t.Fatalf("log did not grow while verifying; reads during verification: %q", seen)
	}
	var st struct {
		LeadingScore *int64 `json:"leading_score"`
	}
	c.get(golfapi.Prefix+"/challenges/sha256-compression/state", "").json(t, &st)
	if st.LeadingScore == nil || *st.LeadingScore != 59000 {
		t.Fatalf("state after verification: %+v", st)
	}
}

// TestFailingAndMissingChecker: a checker that exits 1 fails the
// submission; one whose program does not exist fails it too, with a log
// line that says so, and nothing hangs.
func TestFailingAndMissingChecker(t *testing.T) {
	env, c := startCoordinator(t, storage.DialectSQLite, nil)
	tok := golfToken(t, env, "alice")
	a := startVerifier(t, env, "failing", verifier.Config{Checker: verifier.Exec{Command: []string{"sh", "-c", "echo 'error: theorem soundness does not match'; exit 1"}}})
	var s submitted
	c.submit("keccak-f1600", tok, valid("1", "1")...).json(t, &s)
	c.waitStatus(s.ID, "failed", 20*time.Second)
	lg := c.fullLog(s.ID, tok)
	if !strings.Contains(lg.Text, "error: theorem soundness does not match\n") || !strings.Contains(lg.Text, "exited with status 1") {
		t.Fatalf("log:\n%s", lg.Text)
	}
	a.stop(t)

	startVerifier(t, env, "missing", verifier.Config{Checker: verifier.Exec{Command: []string{"/nonexistent/lake-comparator", "{config}"}}})
	c.submit("keccak-f1600", tok, valid("1", "1")...).json(t, &s)
	c.waitStatus(s.ID, "failed", 20*time.Second)
	if lg := c.fullLog(s.ID, tok); !strings.Contains(lg.Text, `cannot run the checker: program "/nonexistent/lake-comparator" not found`) {
		t.Fatalf("log:\n%s", lg.Text)
	}
	var lb struct {
		Records []any `json:"records"`
	}
	c.get(golfapi.Prefix+"/challenges/keccak-f1600/leaderboard", "").json(t, &lb)
	if len(lb.Records) != 0 {
		t.Fatalf("failed submissions on the leaderboard: %+v", lb)
	}
}

// TestCheckerTimeout: a checker that outlives its wall-clock limit is
// killed with its whole process group, children included.
func TestCheckerTimeout(t *testing.T) {
	env, c := startCoordinator(t, storage.DialectSQLite, nil)
	tok := golfToken(t, env, "alice")
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	cmd := []string{"sh", "-c", fmt.Sprintf("sleep 100 & echo $! > %s; echo started; sleep 100", pidFile)}
	startVerifier(t, env, "slow", verifier.Config{Checker: verifier.Exec{Command: cmd, Timeout: time.Second}})
	var s submitted
	c.submit("poseidon2-hash", tok, valid("1", "1")...).json(t, &s)
	start := time.Now()
	c.waitStatus(s.ID, "failed", 30*time.Second)
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("a 1 s limit took %v to fail the submission", took)
	}
	lg := c.fullLog(s.ID, tok)
	if !strings.Contains(lg.Text, "started\n") || !strings.Contains(lg.Text, "ran past its wall-clock limit of 1s and was killed") {
		t.Fatalf("log:\n%s", lg.Text)
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	// The background sleep is gone (or a zombie awaiting its reaper).
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the timed-out checker is still running", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Field 3 is the state; Z is a zombie, which runs nothing.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// TestVerifierKilledMidRun: a verifier stopped during a check loses
// nothing; the task goes back to the queue, another verifier verifies the
// submission once, under a second attempt, and the old attempt can no
// longer report.
func TestVerifierKilledMidRun(t *testing.T) {
	env, c := startCoordinator(t, storage.DialectSQLite, nil)
	tok := golfToken(t, env, "alice")
	started := make(chan string, 1)
	first := startVerifier(t, env, "doomed", verifier.Config{
		Checker: verifier.Exec{Command: []string{"sh", "-c", "echo working; sleep 60"}, Timeout: time.Minute},
		OnStart: func(id string) { started <- id },
	})
	var s submitted
	c.submit("assert-bytes", tok, valid("120", "140")...).json(t, &s)
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the first verifier never started the check")
	}
	c.waitStatus(s.ID, "verifying", 5*time.Second)
	first.stop(t)

	startVerifier(t, env, "survivor", verifier.Config{Checker: verifier.Lint{}})
	v := c.waitStatus(s.ID, "verified", 30*time.Second)
	if v.Attempts != 2 || v.Score == nil || *v.Score != 260 {
		t.Fatalf("after the second verifier: %+v", v)
	}
	lg := c.fullLog(s.ID, tok)
	if strings.Count(lg.Text, "==> attempt 1: verifier doomed") != 1 || strings.Count(lg.Text, "==> attempt 2: verifier survivor") != 1 ||
		strings.Count(lg.Text, "==> verified") != 1 || strings.Contains(lg.Text, "==> failed") {
		t.Fatalf("log:\n%s", lg.Text)
	}
	var lb struct {
		Records []struct {
			SubmissionID string `json:"submission_id"`
		} `json:"records"`
	}
	c.get(golfapi.Prefix+"/challenges/assert-bytes/leaderboard", "").json(t, &lb)
	if len(lb.Records) != 1 || lb.Records[0].SubmissionID != s.ID {
		t.Fatalf("leaderboard: %+v", lb)
	}
}
