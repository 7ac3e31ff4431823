package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/fleet"
	"github.com/proofgrid/proofgrid/storage"
)

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see where they point.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newBrowser(t testing.TB, env *coordinatortest.Env) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: env.URL, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status   int
	body     string
	location string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(body), location: resp.Header.Get("Location")}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in %.400s", body)
	}
	return m[1]
}

// signIn signs in with token and returns the session's CSRF token.
func (b *browser) signIn(token string) string {
	b.t.Helper()
	form := b.get("/ui/signin")
	if form.status != 200 {
		b.t.Fatalf("sign-in form: %d", form.status)
	}
	r := b.post("/ui/signin", url.Values{"csrf": {csrfOf(b.t, form.body)}, "token": {token}, "next": {"/ui"}})
	if r.status != http.StatusSeeOther || r.location != "/ui" {
		b.t.Fatalf("sign in: %d %s %.300s", r.status, r.location, r.body)
	}
	fleet := b.get("/ui")
	if fleet.status != 200 {
		b.t.Fatalf("fleet after sign-in: %d %.300s", fleet.status, fleet.body)
	}
	return csrfOf(b.t, fleet.body)
}

func teamID(t testing.TB, env *coordinatortest.Env, name string) int64 {
	t.Helper()
	team, err := env.Coordinator.DB.TeamByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return team.ID
}

// addMachine enrols a machine of team directly in storage and records
// heartbeats (the given number, a minute apart, ending now).
func addMachine(t testing.TB, env *coordinatortest.Env, team int64, name, clusterID string, heartbeats int) string {
	t.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	now := time.Now().UTC()
	if _, _, err := env.Coordinator.DB.UpsertMachine(ctx, proofgrid.Machine{
		ID: id, TeamID: team, Name: name, Role: proofgrid.RoleProver, ClusterID: clusterID,
		PublicKey: "key-" + id, AgentVersion: "1.0.0", EnrolledAt: now.Add(-time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	for i := heartbeats - 1; i >= 0; i-- {
		at := now.Add(-time.Duration(i) * time.Minute)
		hb := proofgrid.Heartbeat{AgentVersion: "1.0.0", Sample: proofgrid.Sample{
			CollectedAt: at, CPU: proofgrid.CPU{UsagePercent: float64(10 + i)},
			Memory: proofgrid.Memory{UsedPercent: 40},
			Disks:  []proofgrid.Disk{{Mountpoint: "/", UsedPercent: 50}},
			GPUs:   []proofgrid.GPU{{Index: 0, Name: "H100", UtilizationPercent: 90, TemperatureC: 70, PowerDrawWatts: 300}},
		}}
		obs, deps := fleet.Observe(id, at, hb)
		if err := env.Coordinator.DB.RecordObservedHeartbeat(ctx, id, at, hb, obs, deps); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func mustContain(t testing.TB, p page, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(p.body, w) {
			t.Errorf("page (status %d) lacks %q", p.status, w)
		}
	}
}

func mustLack(t testing.TB, p page, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(p.body, w) {
			t.Errorf("page shows %q, which it must not", w)
		}
	}
}

func TestUnsignedVisitorIsSentToSignIn(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	b := newBrowser(t, env)
	for _, path := range []string{"/ui", "/ui/machines", "/ui/proving", "/ui/rewards", "/ui/claims", "/ui/golf"} {
		r := b.get(path)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/ui/signin?next=") {
			t.Errorf("%s: %d %q, want a redirect to sign in", path, r.status, r.location)
		}
	}
	// A live fragment is refused, not redirected, so the script can react.
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/ui/proving/grid", nil)
	req.Header.Set("X-Console-Fragment", "1")
	if r := b.do(req); r.status != http.StatusUnauthorized {
		t.Errorf("fragment without a session: %d, want 401", r.status)
	}
}

func TestSignIn(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	b := newBrowser(t, env)
	form := b.get("/ui/signin")
	csrf := csrfOf(t, form.body)
	r := b.post("/ui/signin", url.Values{"csrf": {csrf}, "token": {"pg_not_a_real_token"}})
	if r.status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d, want 401", r.status)
	}
	mustContain(t, r, "unknown or revoked")
	// Without the form's CSRF token the sign-in is refused.
	r = b.post("/ui/signin", url.Values{"token": {env.Token("alpha", "read")}})
	if r.status != http.StatusForbidden {
		t.Fatalf("sign-in without csrf: %d, want 403", r.status)
	}
	mustContain(t, r, "security token (CSRF)")
	b.signIn(env.Token("alpha", "read"))
}

func TestSessionCookieAttributes(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	for _, secure := range []bool{false, true} {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(env.URL + "/ui/signin")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		req, _ := http.NewRequest(http.MethodPost, env.URL+"/ui/signin", strings.NewReader(url.Values{
			"csrf": {csrfOf(t, string(body))}, "token": {env.Token("alpha", "read")}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if secure {
			req.Header.Set("X-Forwarded-Proto", "https")
		}
		resp, err = c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var set string
		for _, h := range resp.Header.Values("Set-Cookie") {
			if strings.HasPrefix(h, "pg_session=") {
				set = h
			}
		}
		for _, attr := range []string{"httponly", "samesite=strict", "path=/ui"} {
			if !strings.Contains(strings.ToLower(set), attr) {
				t.Errorf("secure=%v: session cookie %q lacks %s", secure, set, attr)
			}
		}
		if strings.Contains(strings.ToLower(set), "; secure") != secure {
			t.Errorf("secure=%v: session cookie %q", secure, set)
		}
	}
}

func TestFleetTeamScopingAndEmptyState(t *testing.T) {
	coordinatortest.EachDialect(t, func(t *testing.T, env *coordinatortest.Env) {
		alphaTok, betaTok := env.Token("alpha", "read"), env.Token("beta", "read")
		op := env.OperatorToken("ops")
		alpha, beta := newBrowser(t, env), newBrowser(t, env)
		beta.signIn(betaTok)
		mustContain(t, beta.get("/ui"), "No machines yet")

		a1 := addMachine(t, env, teamID(t, env, "alpha"), "alpha-gpu-01", "", 3)
		alpha.signIn(alphaTok)
		p := alpha.get("/ui/machines")
		mustContain(t, p, "alpha-gpu-01", `<span class="n">1</span> machines`, "/ui/machines/"+a1)
		b1 := addMachine(t, env, teamID(t, env, "beta"), "beta-gpu-01", "", 1)
		mustLack(t, alpha.get("/ui/machines"), "beta-gpu-01", b1)
		mustLack(t, beta.get("/ui/machines"), "alpha-gpu-01", a1)
		// Another team's machine page is not found, like a missing one.
		if r := beta.get("/ui/machines/" + a1); r.status != http.StatusNotFound {
			t.Errorf("beta reads alpha's machine: %d, want 404", r.status)
		} else {
			mustContain(t, r, "What it means", "What to do")
		}
		opb := newBrowser(t, env)
		opb.signIn(op)
		mustContain(t, opb.get("/ui/machines"), "alpha-gpu-01", "beta-gpu-01", `href="/monitor"`)
		mustLack(t, alpha.get("/ui"), `href="/monitor"`)

		// Filters by state count, search by name.
		p = alpha.get("/ui/machines?state=offline")
		mustContain(t, p, "No machine matches this filter")
		p = alpha.get("/ui/machines?q=gpu-01")
		mustContain(t, p, "alpha-gpu-01")
		mustContain(t, alpha.get("/ui/machines?q=nothing-like-it"), "No machine matches")
	})
}

func TestFleetPagination(t *testing.T) {
	coordinatortest.EachDialect(t, func(t *testing.T, env *coordinatortest.Env) {
		tok := env.Token("alpha", "read")
		team := teamID(t, env, "alpha")
		for i := range 55 {
			addMachine(t, env, team, fmt.Sprintf("m-%03d", i), "", 0)
		}
		b := newBrowser(t, env)
		b.signIn(tok)
		p1 := b.get("/ui/machines")
		mustContain(t, p1, "m-000", "m-049", "Page 1 of 2", `rel="next"`)
		mustLack(t, p1, "m-050")
		p2 := b.get("/ui/machines?page=2")
		mustContain(t, p2, "m-050", "m-054", "Page 2 of 2", `rel="prev"`)
		mustLack(t, p2, "m-049")
	})
}

func TestMachinePageCharts(t *testing.T) {
	coordinatortest.EachDialect(t, func(t *testing.T, env *coordinatortest.Env) {
		tok := env.Token("alpha", "read")
		id := addMachine(t, env, teamID(t, env, "alpha"), "gpu-box", "", 3)
		quiet := addMachine(t, env, teamID(t, env, "alpha"), "quiet-box", "", 0)
		b := newBrowser(t, env)
		b.signIn(tok)
		p := b.get("/ui/machines/" + id)
		if p.status != 200 {
			t.Fatalf("machine page: %d", p.status)
		}
		mustContain(t, p, "<svg", `<path class="line s0" d="M`, "CPU", "Memory", "Disks used", "Network",
			"GPU 0 · H100", "Temperature", "Power", "XID errors", "(3 heartbeats)")
		// The health sweep may already have recorded its first transition
		// (unknown to offline), so only the history's empty state is fixed.
		mustContain(t, b.get("/ui/machines/"+quiet), "No history in the last 24 hours", "Health transitions")
		if r := b.get("/ui/machines/not-a-uuid"); r.status != http.StatusNotFound {
			t.Errorf("bad id: %d", r.status)
		}
	})
}

func TestCSRFAndSignOut(t *testing.T) {
	coordinatortest.EachDialect(t, func(t *testing.T, env *coordinatortest.Env) {
		b := newBrowser(t, env)
		csrf := b.signIn(env.Token("alpha", "read"))
		r := b.post("/ui/signout", url.Values{})
		if r.status != http.StatusForbidden {
			t.Fatalf("sign-out without csrf: %d, want 403", r.status)
		}
		mustContain(t, r, "security token (CSRF)", "What to do")
		r = b.post("/ui/signout", url.Values{"csrf": {"wrong" + csrf}})
		if r.status != http.StatusForbidden {
			t.Fatalf("sign-out with a wrong csrf: %d, want 403", r.status)
		}
		// Still signed in.
		if r := b.get("/ui"); r.status != 200 {
			t.Fatalf("after refused sign-out: %d", r.status)
		}
		r = b.post("/ui/signout", url.Values{"csrf": {csrf}})
		if r.status != http.StatusSeeOther || r.location != "/ui/signin" {
			t.Fatalf("sign-out: %d %q", r.status, r.location)
		}
		if r := b.get("/ui"); r.status != http.StatusSeeOther {
			t.Fatalf("after sign-out: %d, want a redirect to sign in", r.status)
		}
	})
}

func TestAdminJWTSeesEveryTeam(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	env.Token("alpha", "read")
	env.Token("beta", "read")
	addMachine(t, env, teamID(t, env, "alpha"), "alpha-box", "", 1)
	addMachine(t, env, teamID(t, env, "beta"), "beta-box", "", 1)
	b := newBrowser(t, env)
	b.signIn(env.AdminJWT())
	mustContain(t, b.get("/ui/machines"), "alpha-box", "beta-box", "operator test-admin")
}

func TestSessionEndsWithItsToken(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	tok := env.Token("alpha", "read")
	b := newBrowser(t, env)
	b.signIn(tok)
	ctx := context.Background()
	found, err := env.Coordinator.Auth.FindToken(ctx, 0, tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Coordinator.Auth.RevokeToken(ctx, found.ID); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/ui"); r.status != http.StatusSeeOther {
		t.Fatalf("after revoking the token: %d, want a redirect to sign in", r.status)
	}
}

// cluster creates a cluster of team and returns it with its version.
func cluster(t testing.TB, env *coordinatortest.Env, team int64, name string) (storage.Cluster, storage.ClusterVersion) {
	t.Helper()
	cl, cv, err := env.Coordinator.DB.CreateCluster(context.Background(), storage.Cluster{ID: uuid.NewString(), TeamID: team, Name: name,
		DeploymentType: storage.DeploymentOnPrem, IsActive: true}, 1, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return cl, cv
}

func TestProvingGrid(t *testing.T) {
	coordinatortest.EachDialect(t, func(t *testing.T, env *coordinatortest.Env) {
		ctx := context.Background()
		alphaTok, betaTok := env.Token("alpha", "read"), env.Token("beta", "read")
		alpha, beta := newBrowser(t, env), newBrowser(t, env)
		alpha.signIn(alphaTok)
		beta.signIn(betaTok)
		mustContain(t, alpha.get("/ui/proving"), "No clusters yet")
		cl, cv := cluster(t, env, teamID(t, env, "alpha"), "alpha-zk")
		mustContain(t, alpha.get("/ui/proving"), "No blocks yet")
		db := env.Coordinator.DB
		for n := int64(100); n < 125; n++ {
			if _, _, err := db.RecordBlock(ctx, storage.BlockInfo{Number: n}, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		ms := int64(4200)
		if _, err := db.UpsertProof(ctx, storage.ProofReport{BlockNumber: 124, ClusterVersionID: cv.ID, ClusterID: cl.ID,
			TeamID: cl.TeamID, Status: storage.ProofProved, ProvingTimeMS: &ms}, time.Now()); err != nil {
			t.Fatal(err)
		}
		p := alpha.get("/ui/proving")
		mustContain(t, p, "alpha-zk", `data-state="proved"`, "4.2 s", `data-refresh="/ui/proving/grid?page=1"`, "Page 1 of 2")
		mustLack(t, p, ">104<") // page 1 holds the 20 newest blocks
		p2 := alpha.get("/ui/proving?page=2")
		mustContain(t, p2, ">104<")
		// The fragment is the grid alone.
		g := alpha.get("/ui/proving/grid?page=1")
		mustContain(t, g, `data-state="proved"`)
		mustLack(t, g, "<html")
		// Another team sees no column of alpha's cluster.
		mustLack(t, beta.get("/ui/proving"), "alpha-zk")
		if r := beta.get("/ui/clusters/" + cl.ID); r.status != http.StatusNotFound {
			t.Errorf("beta reads alpha's cluster: %d", r.status)
		}
		// Scheduled blocks without a proved proof are missed; unscheduled
		// ones (only mentioned) are not.
		for _, n := range []int64{123, 124} {
			if _, err := db.MarkBlockScheduled(ctx, n, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.UpsertProof(ctx, storage.ProofReport{BlockNumber: 123, ClusterVersionID: cv.ID, ClusterID: cl.ID,
			TeamID: cl.TeamID, Status: storage.ProofQueued}, time.Now()); err != nil {
			t.Fatal(err)
		}
		mustContain(t, alpha.get("/ui"), `<span class="n">1</span> proofs in flight`)
		mustContain(t, beta.get("/ui"), `<span class="n">0</span> proofs in flight`)
		c := alpha.get("/ui/clusters/" + cl.ID)
		mustContain(t, c, "Proving time distribution", "<rect", "median 4.2 s", "<li>123</li>")
		mustLack(t, c, "<li>124</li>", "<li>122</li>")
	})
}

func TestOtherPagesEmptyStates(t *testing.T) {
	coordinatortest.EachDialect(t, func(t *testing.T, env *coordinatortest.Env) {
		b := newBrowser(t, env)
		b.signIn(env.Token("alpha", "read"))
		mustContain(t, b.get("/ui/rewards"), "No reward checkpoints yet")
		mustContain(t, b.get("/ui/rewards?account=0x"+strings.Repeat("ab", 32)), "No ledger entries for this account yet")
		mustContain(t, b.get("/ui/claims"), "No epochs yet")
		r := b.get("/ui/claims?account=0x" + strings.Repeat("ab", 32))
		if r.status != http.StatusNotFound {
			t.Errorf("claim of an unknown account: %d", r.status)
		}
		mustContain(t, b.get("/ui/golf"), "No challenges imported yet")
		if r := b.get("/ui/nowhere"); r.status != http.StatusNotFound {
			t.Errorf("unknown page: %d", r.status)
		}
		if r := b.get("/ui/rewards?account=nonsense!"); r.status != http.StatusBadRequest {
			t.Errorf("bad account: %d", r.status)
		}
	})
}
