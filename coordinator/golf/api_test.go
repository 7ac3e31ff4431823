package golf_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/agent/verifier"
	"github.com/proofgrid/proofgrid/coordinator"
	golfapi "github.com/proofgrid/proofgrid/coordinator/golf"
	"github.com/proofgrid/proofgrid/storage"
)

// TestAPI walks every route through its success and error paths, checks
// each response against the OpenAPI document, and finally that every
// operation answered with a success at least once.
func TestAPI(t *testing.T) {
	for _, dialect := range []string{storage.DialectSQLite, storage.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) { testAPI(t, dialect) })
	}
}

func testAPI(t *testing.T, dialect string) {
	env, c := startCoordinator(t, dialect, func(cfg *coordinator.Config) {
		cfg.Golf.MaxActivePerUser = 2
		cfg.Golf.MaxQueued = 3
		cfg.Golf.Limits.MaxFileBytes = 4 << 10
	})
	alice, bob, carol := golfToken(t, env, "alice"), golfToken(t, env, "bob"), golfToken(t, env, "carol")
	P := golfapi.Prefix

	// Documentation.
	wantStatus(t, c.get(P+"/openapi.json", ""), 200)
	docs := c.get(P+"/docs", "")
	wantStatus(t, docs, 200)
	if !bytes.Contains(docs.body, []byte("/api/agent/v1/challenges/{slug}/submissions")) {
		t.Fatal("docs page does not list the submit route")
	}

	// Challenges, from the imported fixture.
	var list struct {
		Challenges []struct {
			Slug          string `json:"slug"`
			BaselineScore int64  `json:"baseline_score"`
			Comparator    struct {
				PermittedAxioms []string `json:"permitted_axioms"`
			} `json:"comparator"`
		} `json:"challenges"`
	}
	r := c.get(P+"/challenges", "")
	wantStatus(t, r, 200)
	r.json(t, &list)
	if len(list.Challenges) != 4 || list.Challenges[0].Slug != "assert-bytes" || list.Challenges[0].BaselineScore != 272 ||
		len(list.Challenges[2].Comparator.PermittedAxioms) != 4 {
		t.Fatalf("challenges = %+v", list)
	}
	wantStatus(t, c.get(P+"/challenges/keccak-f1600", ""), 200)
	wantStatus(t, c.get(P+"/challenges/nope", ""), 404)
	wantStatus(t, c.get(P+"/challenges/NOT_A_SLUG", ""), 404)
	wantStatus(t, c.get(P+"/challenges/nope/state", ""), 404)
	wantStatus(t, c.get(P+"/challenges/assert-bytes/leaderboard?limit=0", ""), 400)

	// The project tarball.
	r = c.get(golfapi.ProjectPath, "")
	wantStatus(t, r, 200)
	if names := tarNames(t, r.body); !contains(names, "challenges/instances.yml") || !contains(names, "challenges/configs/KeccakF1600.json") {
		t.Fatalf("project tarball holds %v", names)
	}
	wantStatus(t, c.do("GET", golfapi.ProjectPath, "", nil, "", "If-None-Match", r.header.Get("ETag")), 304)

	// Authentication.
	wantStatus(t, c.submit("assert-bytes", "", valid("1", "2")...), 401)
	wantStatus(t, c.submit("assert-bytes", "cmp_unknown", valid("1", "2")...), 401)
	wantStatus(t, c.submit("assert-bytes", env.Token("team", "write"), valid("1", "2")...), 401)
	wantStatus(t, c.get(P+"/submissions", ""), 401)
	var me struct{ User string }
	r = c.get(P+"/me", alice)
	wantStatus(t, r, 200)
	r.json(t, &me)
	if me.User != "alice" {
		t.Fatalf("me = %+v", me)
	}

	// Malformed submissions are 400 and store nothing.
	main := artifact("Main.lean", "def x := 1\n")
	for name, parts := range map[string][]part{
		"missing Main.lean":    {artifact("Other.lean", "x"), field("allocations", "1"), field("constraints", "2")},
		"path in a file name":  {artifact("../Main.lean", "x"), field("allocations", "1"), field("constraints", "2")},
		"directory in a name":  {main, artifact("sub/A.lean", "x"), field("allocations", "1"), field("constraints", "2")},
		"not a lean file":      {main, artifact("notes.md", "x"), field("allocations", "1"), field("constraints", "2")},
		"negative cost":        {main, field("allocations", "-1"), field("constraints", "2")},
		"non-numeric cost":     {main, field("allocations", "1"), field("constraints", "twelve")},
		"missing cost":         {main, field("allocations", "1")},
		"repeated cost":        {main, field("allocations", "1"), field("allocations", "2"), field("constraints", "2")},
		"oversized part":       {artifact("Main.lean", strings.Repeat("x", 5<<10)), field("allocations", "1"), field("constraints", "2")},
		"artifact not a file":  {main, field("artifact", "x"), field("allocations", "1"), field("constraints", "2")},
		"duplicate artifact":   {main, main, field("allocations", "1"), field("constraints", "2")},
		"description too long": {main, field("allocations", "1"), field("constraints", "2"), field("description", strings.Repeat("d", 17<<10))},
	} {
		r := c.submit("assert-bytes", alice, parts...)
		if r.status != 400 {
			t.Errorf("%s: status %d, want 400; body %s", name, r.status, r.body)
		}
	}
	wantStatus(t, c.do("POST", P+"/challenges/assert-bytes/submissions", alice, []byte(`{"allocations":1}`), "application/json"), 400)
	wantStatus(t, c.submit("nope", alice, valid("1", "2")...), 404)

	// Caps: two pending per user, three in all. No verifier runs yet.
	var s1, s2, s3 submitted
	r = c.submit("assert-bytes", alice, valid("100", "120", field("assisted_by", "model-x"), field("description", "**first**"))...)
	wantStatus(t, r, 201)
	r.json(t, &s1)
	if s1.Status != "pending" || !strings.HasSuffix(s1.StatusURL, "/api/submissions/"+s1.ID) || !strings.HasSuffix(s1.AgentStatusURL, P+"/submissions/"+s1.ID) {
		t.Fatalf("submit = %+v", s1)
	}
	time.Sleep(2 * time.Millisecond)
	c.submit("assert-bytes", alice, valid("90", "100")...).json(t, &s2)
	r = c.submit("assert-bytes", alice, valid("1", "1")...)
	wantStatus(t, r, 429)
	if r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "pending or verifying") {
		t.Fatalf("per-user 429: %v %s", r.header, r.body)
	}
	time.Sleep(2 * time.Millisecond)
	r = c.submit("assert-bytes", bob, append(valid("80", "90"), artifact("Bad.lean", "theorem t : False := by sorry\n"))...)
	wantStatus(t, r, 201)
	r.json(t, &s3)
	r = c.submit("assert-bytes", carol, valid("1", "1")...)
	wantStatus(t, r, 429)
	if !strings.Contains(string(r.body), "queue is full") {
		t.Fatalf("queue 429: %s", r.body)
	}

	// Pending: queue positions in submission order; code is not public.
	if v := c.submission(s2.ID); v.Status != "pending" || v.QueuePosition == nil || *v.QueuePosition != 2 || v.Score != nil || v.User != "alice" {
		t.Fatalf("pending view = %+v", v)
	}
	wantStatus(t, c.get(golfapi.DownloadPrefix+"/"+s1.ID, ""), 200)
	wantStatus(t, c.get(golfapi.DownloadPrefix+"/"+s1.ID+"/download", ""), 404)
	wantStatus(t, c.get(P+"/submissions/"+s2.ID+"/diff?base="+s1.ID, ""), 404)
	wantStatus(t, c.get(P+"/submissions/not-a-uuid", ""), 404)
	wantStatus(t, c.get(P+"/submissions/00000000-0000-4000-8000-000000000000", ""), 404)
	var mine struct {
		Submissions []submissionView `json:"submissions"`
	}
	r = c.get(P+"/submissions?challenge=assert-bytes&limit=10", alice)
	wantStatus(t, r, 200)
	r.json(t, &mine)
	if len(mine.Submissions) != 2 || mine.Submissions[0].ID != s2.ID {
		t.Fatalf("own submissions = %+v", mine)
	}

	// A verifier with the lint checker works the queue in order.
	startVerifier(t, env, "verifier-1", verifier.Config{Checker: verifier.Lint{}})
	c.waitStatus(s1.ID, "verified", 30*time.Second)
	if v := c.waitStatus(s2.ID, "verified", 30*time.Second); v.Score == nil || *v.Score != 190 || v.QueuePosition != nil || v.Attempts != 1 {
		t.Fatalf("verified view = %+v", v)
	}
	c.waitStatus(s3.ID, "failed", 30*time.Second)

	// Logs are the owner's.
	lg := c.fullLog(s3.ID, bob)
	if lg.Status != "failed" || !strings.Contains(lg.Text, "FAIL no_sorry: Bad.lean:1: sorry") || !strings.Contains(lg.Text, "==> failed (attempt 1") {
		t.Fatalf("failed log = %+v", lg)
	}
	wantStatus(t, c.get(P+"/submissions/"+s3.ID+"/log", alice), 403)
	wantStatus(t, c.get(P+"/submissions/"+s3.ID+"/log", ""), 401)
	wantStatus(t, c.get(P+"/submissions/"+s3.ID+"/log?since=-1", bob), 400)

	// Leaderboard and state: s1 then s2 set records; the failed one is
	// nowhere.
	var lb struct {
		Records []struct {
			SubmissionID string `json:"submission_id"`
			Score        int64  `json:"score"`
			Improvement  int64  `json:"improvement"`
		} `json:"records"`
	}
	r = c.get(P+"/challenges/assert-bytes/leaderboard", "")
	wantStatus(t, r, 200)
	r.json(t, &lb)
	if len(lb.Records) != 2 || lb.Records[0].SubmissionID != s2.ID || lb.Records[0].Score != 190 || lb.Records[0].Improvement != 30 ||
		lb.Records[1].Score != 220 || lb.Records[1].Improvement != 52 {
		t.Fatalf("leaderboard = %+v", lb)
	}
	var st struct {
		LeadingScore *int64 `json:"leading_score"`
		RecordSetter *struct {
			User string `json:"user"`
		} `json:"record_setter"`
		Solvers     int64            `json:"solvers"`
		Submitters  int64            `json:"submitters"`
		Submissions map[string]int64 `json:"submissions"`
	}
	r = c.get(P+"/challenges/assert-bytes/state", "")
	wantStatus(t, r, 200)
	r.json(t, &st)
	if st.LeadingScore == nil || *st.LeadingScore != 190 || st.RecordSetter == nil || st.RecordSetter.User != "alice" ||
		st.Solvers != 1 || st.Submitters != 2 || st.Submissions["verified"] != 2 || st.Submissions["failed"] != 1 {
		t.Fatalf("state = %+v", st)
	}
	wantStatus(t, c.get(P+"/challenges/keccak-f1600/state", ""), 200)

	// Diffs and downloads of verified submissions only.
	var d struct {
		BaseID string `json:"base_id"`
		Diff   string `json:"diff"`
	}
	r = c.get(P+"/submissions/"+s2.ID+"/diff", "")
	wantStatus(t, r, 200)
	r.json(t, &d)
	if d.BaseID != s1.ID || d.Diff != "" {
		t.Fatalf("diff against the previous record = %+v", d)
	}
	wantStatus(t, c.get(P+"/submissions/"+s1.ID+"/diff", ""), 404)
	wantStatus(t, c.get(P+"/submissions/"+s3.ID+"/diff?base="+s1.ID, ""), 404)
	r = c.get(golfapi.DownloadPrefix+"/"+s2.ID+"/download", "")
	wantStatus(t, r, 200)
	if cd := r.header.Get("Content-Disposition"); !strings.Contains(cd, `filename="assert-bytes-`+s2.ID+`.tar.gz"`) {
		t.Fatalf("Content-Disposition = %q", cd)
	}
	if names := tarNames(t, r.body); strings.Join(names, ",") != "assert-bytes-"+s2.ID+"/Helper.lean,assert-bytes-"+s2.ID+"/Main.lean" {
		t.Fatalf("download holds %v", names)
	}
	wantStatus(t, c.get(golfapi.DownloadPrefix+"/"+s3.ID+"/download", ""), 404)

	// A changed submission diffs against the record.
	var s4 submitted
	c.submit("assert-bytes", carol, artifact("Main.lean", "import Solution.AssertBytes.Helper\ndef better := 1\n"), field("allocations", "50"), field("constraints", "50")).json(t, &s4)
	c.waitStatus(s4.ID, "verified", 30*time.Second)
	r = c.get(P+"/submissions/"+s4.ID+"/diff", "")
	wantStatus(t, r, 200)
	r.json(t, &d)
	if d.BaseID != s2.ID || !strings.Contains(d.Diff, "--- a/Helper.lean\n+++ /dev/null\n") || !strings.Contains(d.Diff, "+def better := 1\n") {
		t.Fatalf("diff = %+v", d)
	}
	wantStatus(t, c.get(P+"/submissions/"+s4.ID+"/diff?base="+s1.ID, ""), 200)

	// Operators issue tokens.
	wantStatus(t, c.do("POST", P+"/admin/tokens", "", []byte(`{"user":"dave"}`), "application/json"), 401)
	wantStatus(t, c.do("POST", P+"/admin/tokens", env.Token("team", "write"), []byte(`{"user":"dave"}`), "application/json"), 403)
	admin := env.OperatorToken("operators")
	wantStatus(t, c.do("POST", P+"/admin/tokens", admin, []byte(`{"user":"no spaces"}`), "application/json"), 400)
	r = c.do("POST", P+"/admin/tokens", admin, []byte(`{"user":"dave","label":"ci"}`), "application/json")
	wantStatus(t, r, 201)
	var tok struct{ Token string }
	r.json(t, &tok)
	if !strings.HasPrefix(tok.Token, "cmp_") {
		t.Fatalf("token = %q", tok.Token)
	}
	wantStatus(t, c.get(P+"/me", tok.Token), 200)

	if missing := c.uncovered(); len(missing) > 0 {
		t.Errorf("operations never answered with a success: %v", missing)
	}
}

func tarNames(t testing.TB, tgz []byte) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			names = append(names, h.Name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
