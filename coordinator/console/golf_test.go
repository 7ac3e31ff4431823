package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/golf"
	"github.com/proofgrid/proofgrid/golf/contest"
	"github.com/proofgrid/proofgrid/storage"
)

func TestGolfPages(t *testing.T) {
	for _, dialect := range []string{storage.DialectSQLite, storage.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			env := coordinatortest.Start(t, coordinatortest.Options{Dialect: dialect, Configure: func(c *coordinator.Config) {
				c.Golf.ChallengesDir = "../../golf/testdata/challenges"
			}})
			ctx := context.Background()
			team, op := newBrowser(t, env), newBrowser(t, env)
			team.signIn(env.Token("alpha", "read"))
			op.signIn(env.OperatorToken("ops"))
			mustContain(t, team.get("/ui/golf"), "Byte Array Assertion", `href="/ui/golf/assert-bytes"`)
			mustContain(t, team.get("/ui/golf/assert-bytes"), "No verified submission yet")
			if r := team.get("/ui/golf/no-such-challenge"); r.status != http.StatusNotFound {
				t.Errorf("unknown challenge: %d", r.status)
			}

			user, err := env.Coordinator.DB.EnsureGolfUser(ctx, "golfer")
			if err != nil {
				t.Fatal(err)
			}
			sub, err := env.Coordinator.Golf.Submit(ctx, contest.SubmitRequest{
				Challenge: "assert-bytes", UserID: user.ID, Cost: golf.Cost{Allocations: 100, Constraints: 120},
				Files: []golf.File{{Name: "Main.lean", Data: []byte("namespace Solution.AssertBytes\nend Solution.AssertBytes\n")}},
			})
			if err != nil {
				t.Fatal(err)
			}
			const header = "verifier started\n"
			s, _, err := env.Coordinator.DB.StartGolfVerification(ctx, sub.ID, "verifier-machine", func(int64) string { return header })
			if err != nil {
				t.Fatal(err)
			}
			if _, err := env.Coordinator.DB.AppendGolfLog(ctx, sub.ID, s.Attempt, 0, "checking Main.lean\n", 0); err != nil {
				t.Fatal(err)
			}
			p := op.get("/ui/golf/submissions/" + sub.ID)
			mustContain(t, p, "verifier started", "checking Main.lean", `data-tail="/ui/golf/submissions/`+sub.ID+`/log"`)
			// The live tail reads from the offset the page reached.
			req, _ := http.NewRequest(http.MethodGet, env.URL+"/ui/golf/submissions/"+sub.ID+"/log?since="+strconv.Itoa(len(header)), nil)
			resp, err := op.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("X-Log-Next") != strconv.Itoa(len(header)+len("checking Main.lean\n")) {
				t.Errorf("log tail: %d, next %q", resp.StatusCode, resp.Header.Get("X-Log-Next"))
			}
			tp := team.get("/ui/golf/submissions/" + sub.ID)
			mustLack(t, tp, "checking Main.lean")
			mustContain(t, tp, "shown to its submitter")
			if r := team.get("/ui/golf/submissions/" + sub.ID + "/log"); r.status != http.StatusForbidden {
				t.Errorf("team reads the log: %d", r.status)
			}

			// The contestant signs in with their zkGolf token and follows
			// their own submission's log; another contestant cannot, and
			// neither opens team pages.
			golfSignIn := func(user string) *browser {
				plain, _, err := env.Coordinator.Golf.CreateToken(ctx, user, "console")
				if err != nil {
					t.Fatal(err)
				}
				b := newBrowser(t, env)
				form := b.get("/ui/signin")
				r := b.post("/ui/signin", url.Values{"csrf": {csrfOf(t, form.body)}, "token": {plain}, "next": {"/ui"}})
				if r.status != http.StatusSeeOther || r.location != "/ui/golf" {
					t.Fatalf("zkGolf sign-in of %s: %d %s %.300s", user, r.status, r.location, r.body)
				}
				return b
			}
			own, rival := golfSignIn("golfer"), golfSignIn("rival")
			mine := own.get("/ui/golf/submissions/" + sub.ID)
			mustContain(t, mine, "zkGolf golfer", "checking Main.lean", `data-tail="/ui/golf/submissions/`+sub.ID+`/log"`)
			mustLack(t, mine, `href="/ui/machines"`)
			if r := own.get("/ui/golf/submissions/" + sub.ID + "/log"); r.status != 200 || !strings.Contains(r.body, "checking Main.lean") {
				t.Errorf("submitter's log tail: %d %.200s", r.status, r.body)
			}
			mustContain(t, own.get("/ui/golf/assert-bytes"), "Your submissions", sub.ID)
			mustContain(t, rival.get("/ui/golf/assert-bytes"), "You have not submitted to this challenge yet")
			mustLack(t, rival.get("/ui/golf/submissions/"+sub.ID), "checking Main.lean")
			if r := rival.get("/ui/golf/submissions/" + sub.ID + "/log"); r.status != http.StatusForbidden {
				t.Errorf("another contestant reads the log: %d", r.status)
			}
			for _, path := range []string{"/ui", "/ui/machines", "/ui/proving", "/ui/rewards"} {
				if r := own.get(path); r.status != http.StatusForbidden {
					t.Errorf("contestant opens %s: %d", path, r.status)
				}
			}
		})
	}
}
