package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/proofgrid/proofgrid/queue/queuetest"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

const golfPrefix = "/api/agent/v1"

// golfEnv is a coordinator binary serving the fixture challenges, with a
// contestant token and a team token for verifier agents.
type golfEnv struct {
	url      string
	redisURL string
	// contestant is the cmp_ token of user alice.
	contestant string
	// verifiers is an operator token, which verifier agents enrol with.
	verifiers string
}

// output runs a one-off coordinator command and returns its standard
// output, trimmed.
func output(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bins.coordinator, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("coordinator %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// startGolf imports the fixture challenges with "coordinator challenges
// import", issues the tokens with the coordinator's commands and starts
// "coordinator serve".
func startGolf(t *testing.T) *golfEnv {
	t.Helper()
	redis := queuetest.StartRedis(t, queuetest.Options{})
	port := freePort(t)
	env := []string{
		"PROOFGRID_DATABASE_URL=" + storagetest.URL(t, storage.DialectSQLite),
		"PROOFGRID_REDIS_URL=" + redis.URL(),
		"PROOFGRID_HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"PROOFGRID_HEARTBEAT_INTERVAL=1s",
		"PROOFGRID_DATA_DIR=" + t.TempDir(),
		"JWT_SECRET=e2e-secret-0123456789abcdef0123456789",
	}
	imported := output(t, env, "challenges", "import", "../golf/testdata/challenges")
	for _, slug := range []string{"assert-bytes", "poseidon2-hash", "sha256-compression", "keccak-f1600"} {
		if !strings.Contains(imported, slug) {
			t.Fatalf("challenges import did not list %s:\n%s", slug, imported)
		}
	}
	g := &golfEnv{
		url:        "http://127.0.0.1:" + strconv.Itoa(port),
		redisURL:   redis.URL(),
		contestant: output(t, env, "golf", "token", "create", "--user", "alice"),
		verifiers:  output(t, env, "token", "create", "--operator", "--team", "verifiers"),
	}
	if !strings.HasPrefix(g.contestant, "cmp_") {
		t.Fatalf("golf token create printed %q, want a cmp_ token", g.contestant)
	}
	start(t, env, bins.coordinator, "serve")
	waitReady(t, g.url)
	return g
}

// checkerScript writes an executable shell script for the exec checker.
func checkerScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "check.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// startVerifier starts a verifier agent binary whose exec checker is
// command (a template).
func (g *golfEnv) startVerifier(t *testing.T, name string, command ...string) *proc {
	t.Helper()
	tmpl, err := json.Marshal(command)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, []string{"PROOFGRID_AGENT_TOKEN=" + g.verifiers}, bins.agent, "run",
		"--coordinator", g.url, "--role", "verifier", "--name", name, "--state-dir", t.TempDir(), "--interval", "1s",
		"--verifier-checker", "exec", "--verifier-command", string(tmpl), "--verifier-timeout", "5m",
		"--verifier-workdir", t.TempDir())
}

// get sends a GET, with the token when there is one, and decodes JSON.
func (g *golfEnv) get(t *testing.T, path, token string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: decode %s: %v", path, body, err)
		}
	}
	return resp.StatusCode
}

// submit posts Main.lean with a claimed cost, the way curl -F does.
func (g *golfEnv) submit(t *testing.T, slug, main string, allocations, constraints int) string {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	fw, err := w.CreateFormFile("artifact", "Main.lean")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, main)
	w.WriteField("allocations", strconv.Itoa(allocations))
	w.WriteField("constraints", strconv.Itoa(constraints))
	w.WriteField("description", "end-to-end test")
	w.Close()
	req, err := http.NewRequest(http.MethodPost, g.url+golfPrefix+"/challenges/"+slug+"/submissions", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+g.contestant)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var s struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		StatusURL string `json:"status_url"`
	}
	json.Unmarshal(raw, &s)
	if resp.StatusCode != http.StatusCreated || s.ID == "" || s.Status != "pending" || s.StatusURL == "" {
		t.Fatalf("submit: %d %s", resp.StatusCode, raw)
	}
	return s.ID
}

type golfSubmission struct {
	ID            string `json:"id"`
	User          string `json:"user"`
	Status        string `json:"status"`
	Score         *int64 `json:"score"`
	QueuePosition *int64 `json:"queue_position"`
	Attempts      int64  `json:"attempts"`
}

func (g *golfEnv) submission(t *testing.T, id string) golfSubmission {
	t.Helper()
	var s golfSubmission
	if code := g.get(t, golfPrefix+"/submissions/"+id, "", &s); code != http.StatusOK {
		t.Fatalf("GET submission %s: %d", id, code)
	}
	return s
}

type golfLogPage struct {
	Text       string `json:"text"`
	NextOffset int64  `json:"next_offset"`
	Status     string `json:"status"`
}

// log reads the owner's log of submission id from offset since.
func (g *golfEnv) log(t *testing.T, id string, since int64) golfLogPage {
	t.Helper()
	var p golfLogPage
	if code := g.get(t, fmt.Sprintf("%s/submissions/%s/log?since=%d", golfPrefix, id, since), g.contestant, &p); code != http.StatusOK {
		t.Fatalf("GET log of %s: %d", id, code)
	}
	return p
}

// fullLog reads the log of submission id from the start to its end.
func (g *golfEnv) fullLog(t *testing.T, id string) string {
	t.Helper()
	var text string
	var offset int64
	for {
		p := g.log(t, id, offset)
		text += p.Text
		if p.NextOffset == offset {
			return text
		}
		offset = p.NextOffset
	}
}

type golfRecord struct {
	SubmissionID string `json:"submission_id"`
	User         string `json:"user"`
	Score        int64  `json:"score"`
	Improvement  int64  `json:"improvement"`
}

type golfState struct {
	LeadingScore *int64           `json:"leading_score"`
	RecordSetter *golfRecord      `json:"record_setter"`
	Records      int              `json:"records"`
	Solvers      int64            `json:"solvers"`
	Submitters   int64            `json:"submitters"`
	Submissions  map[string]int64 `json:"submissions"`
}

// wantRecord checks that submission id, with score, is the one record of
// challenge slug on its leaderboard and in its state.
func (g *golfEnv) wantRecord(t *testing.T, slug, id string, score, baseline int64) {
	t.Helper()
	var lb struct {
		Records []golfRecord `json:"records"`
	}
	if code := g.get(t, golfPrefix+"/challenges/"+slug+"/leaderboard", "", &lb); code != http.StatusOK {
		t.Fatalf("leaderboard: %d", code)
	}
	want := golfRecord{SubmissionID: id, User: "alice", Score: score, Improvement: baseline - score}
	if len(lb.Records) != 1 || lb.Records[0] != want {
		t.Errorf("leaderboard: %+v, want the one record %+v", lb.Records, want)
	}
	var st golfState
	if code := g.get(t, golfPrefix+"/challenges/"+slug+"/state", "", &st); code != http.StatusOK {
		t.Fatalf("state: %d", code)
	}
	if st.LeadingScore == nil || *st.LeadingScore != score || st.RecordSetter == nil || st.RecordSetter.SubmissionID != id ||
		st.Records != 1 || st.Solvers != 1 || st.Submitters != 1 || st.Submissions["verified"] != 1 ||
		st.Submissions["pending"] != 0 || st.Submissions["verifying"] != 0 || st.Submissions["failed"] != 0 {
		t.Errorf("state: %+v (leading %v, setter %+v)", st, st.LeadingScore, st.RecordSetter)
	}
}

// The assert-bytes baseline is 128 allocations + 144 constraints.
const assertBytesBaseline = 272

const mainLean = "namespace Solution.AssertBytes\ntheorem t : 1 + 1 = 2 := by decide\nend Solution.AssertBytes\n"

// A submission made through the API of the coordinator binary is
// verified by a verifier agent binary with an exec checker: pending until
// a verifier takes it, verifying while the checker's output reaches the
// owner's log in pieces, then verified, on the leaderboard and in the
// challenge's state.
func TestGolfLifecycleBinaries(t *testing.T) {
	t.Parallel()
	g := startGolf(t)
	id := g.submit(t, "assert-bytes", mainLean, 120, 140)
	if v := g.submission(t, id); v.Status != "pending" || v.QueuePosition == nil || *v.QueuePosition != 1 || v.User != "alice" {
		t.Fatalf("before any verifier: %+v", v)
	}

	// The checker sees the submission and the config, and prints over
	// about two seconds, so the agent's one-second log flushes show it
	// growing.
	script := checkerScript(t, `set -e
test -f "$PROOFGRID_GOLF_SUBMISSION_DIR/Main.lean"
test -f "$1"
echo "checking $2 at $3+$4"
sleep 0.7
echo "step two"
sleep 0.7
echo "step three"
sleep 0.7
echo "done"`)
	g.startVerifier(t, "verifier-1", script, "{config}", "{slug}", "{allocations}", "{constraints}")

	type read struct {
		text string
		next int64
	}
	var reads []read // non-empty reads while verifying
	statuses := []string{"pending"}
	var text string
	var offset int64
	waitFor(t, 60*time.Second, "the submission to be verified", func() bool {
		p := g.log(t, id, offset)
		if p.Status != statuses[len(statuses)-1] {
			statuses = append(statuses, p.Status)
		}
		if p.Text != "" && p.Status == "verifying" {
			reads = append(reads, read{p.Text, p.NextOffset})
		}
		text += p.Text
		offset = p.NextOffset
		return p.Status == "verified" || p.Status == "failed"
	})
	if got := strings.Join(statuses, " → "); got != "pending → verifying → verified" {
		t.Fatalf("statuses %s; log:\n%s", got, text)
	}
	if len(reads) < 2 {
		t.Fatalf("the log did not grow while verifying: reads %+v", reads)
	}
	for i := 1; i < len(reads); i++ {
		if reads[i].next <= reads[i-1].next || reads[i].text == reads[i-1].text {
			t.Fatalf("reads %d and %d while verifying: %+v", i-1, i, reads)
		}
	}
	t.Logf("%d non-empty log reads while verifying", len(reads))
	text = g.fullLog(t, id)
	if !strings.Contains(text, "checking assert-bytes at 120+140\nstep two\nstep three\ndone\n") ||
		strings.Count(text, "==> attempt 1: verifier verifier-1") != 1 || strings.Count(text, "==> verified (attempt 1") != 1 {
		t.Fatalf("log:\n%s", text)
	}

	v := g.submission(t, id)
	if v.Status != "verified" || v.Score == nil || *v.Score != 260 || v.Attempts != 1 || v.QueuePosition != nil {
		t.Fatalf("after the check: %+v", v)
	}
	g.wantRecord(t, "assert-bytes", id, 260, assertBytesBaseline)
}

// A verifier agent binary killed with SIGKILL in the middle of a check
// loses nothing: once asynq's lease on the task expires, a second
// verifier agent takes it, and the submission is verified once, under a
// second attempt.
func TestGolfVerifierKilledMidRunBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for asynq's task lease to expire (about a minute)")
	}
	t.Parallel()
	g := startGolf(t)

	// The first checker would run for five minutes. Its process group
	// outlives the killed agent, so the test ends it.
	pidFile := filepath.Join(t.TempDir(), "checker.pid")
	slow := checkerScript(t, fmt.Sprintf("echo $$ > %s\necho working\nexec sleep 300", pidFile))
	t.Cleanup(func() {
		if raw, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && pid > 1 {
				syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
	doomed := g.startVerifier(t, "doomed", slow)
	id := g.submit(t, "assert-bytes", mainLean, 120, 140)
	waitFor(t, 60*time.Second, "the first verifier's checker to run", func() bool {
		return g.submission(t, id).Status == "verifying" && strings.Contains(g.fullLog(t, id), "working\n")
	})
	doomed.cmd.Process.Kill()
	doomed.cmd.Wait()
	killed := time.Now()

	quick := checkerScript(t, "echo quick check")
	g.startVerifier(t, "survivor", quick)

	// asynq's recoverer puts the task back for a retry 15 to 44 s (at
	// random) after it finds the lease expired; running the retry at once,
	// as an operator could from asynqmon, keeps the wait to the lease.
	opt, err := asynq.ParseRedisURI(g.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	inspector := asynq.NewInspector(opt)
	defer inspector.Close()
	taskID := "submission:verify:" + id
	var v golfSubmission
	waitFor(t, 3*time.Minute, "the second verifier to verify the submission", func() bool {
		if info, err := inspector.GetTaskInfo("verify.golf", taskID); err == nil && info.State == asynq.TaskStateRetry {
			inspector.RunTask("verify.golf", taskID)
		}
		v = g.submission(t, id)
		if v.Status == "failed" {
			t.Fatalf("the submission failed: %+v\nlog:\n%s", v, g.fullLog(t, id))
		}
		return v.Status == "verified"
	})
	t.Logf("verified %v after the first verifier was killed", time.Since(killed).Round(time.Second))
	if v.Score == nil || *v.Score != 260 || v.Attempts != 2 {
		t.Fatalf("after the second verifier: %+v", v)
	}
	lg := g.fullLog(t, id)
	if strings.Count(lg, "==> attempt 1: verifier doomed") != 1 || strings.Count(lg, "==> attempt 2: verifier survivor") != 1 ||
		strings.Count(lg, "quick check\n") != 1 || strings.Count(lg, "==> verified") != 1 || strings.Contains(lg, "==> failed") {
		t.Fatalf("log:\n%s", lg)
	}
	g.wantRecord(t, "assert-bytes", id, 260, assertBytesBaseline)
}
