package console_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/queue/queuetest"
	"github.com/proofgrid/proofgrid/storage"
)

// chromium returns the path of a headless-capable Chromium:
// PROOFGRID_CHROMIUM, or chromium, chromium-browser or google-chrome on
// PATH. Without one the test is skipped, or fails when services are
// required (CI, make test): scripts/ensure-deps.sh installs it.
func chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PROOFGRID_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium found (install it with scripts/ensure-deps.sh, or set PROOFGRID_CHROMIUM): browser tests need a real headless Chromium"
	if queuetest.Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// newChrome starts a headless Chromium for the test and returns a tab's
// context.
func newChrome(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // tests may run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// do runs steps with a deadline, failing the test with what it did and
// the page's main element.
func do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	value(t, ctx, what, chromedp.Steps(steps...))
}

// value runs one action with a deadline and returns its value.
func value[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("%s: %v\n%.1500s", what, err, html)
	}
	return v
}

func signIn(base, token string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/ui"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("form.signout")),
	)
}

// TestBrowser drives a real headless Chromium through the console: sign
// in, find the machine a real agent enrolled, open it and see its charts
// drawn, watch a proof change state in the grid without reloading, sign
// out; another team sees none of it.
func TestBrowser(t *testing.T) {
	chromium(t)
	env := coordinatortest.Start(t, coordinatortest.Options{Configure: func(c *coordinator.Config) {
		c.HeartbeatInterval = time.Second
	}})
	admin := env.Token("alpha", auth.ModeAdmin)
	reader := env.Token("alpha", auth.ModeRead)
	other := env.Token("beta", auth.ModeRead)
	cl, cv := cluster(t, env, teamID(t, env, "alpha"), "alpha-zk")

	// A real agent, with the real hardware collectors.
	a, err := agent.New(agent.Config{
		CoordinatorURL: env.URL, Token: admin, Role: proofgrid.RoleProver, ClusterID: cl.ID,
		Name: "browser-agent", StateDir: t.TempDir(), ShutdownTimeout: 200 * time.Millisecond, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(actx); close(done) }()
	t.Cleanup(func() { stop(); <-done })

	ctx := newChrome(t)
	do(t, ctx, "sign in", signIn(env.URL, reader))

	// The agent enrols and heartbeats; the fleet shows it.
	var fleetText string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		do(t, ctx, "fleet", chromedp.Navigate(env.URL+"/ui/machines"))
		fleetText = value(t, ctx, "fleet text", chromedp.Text(chromedp.CSS("main")))
		if strings.Contains(fleetText, "browser-agent") {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !strings.Contains(fleetText, "browser-agent") || !strings.Contains(fleetText, "alpha-zk") {
		t.Fatalf("the fleet does not show the agent's machine and cluster:\n%s", fleetText)
	}

	// Its page draws charts once two heartbeats are stored.
	time.Sleep(2500 * time.Millisecond)
	do(t, ctx, "machine page",
		chromedp.Click(chromedp.Search(`//a[text()="browser-agent"]`)),
		chromedp.WaitVisible(chromedp.CSS("figure.chart svg path.line")),
	)
	paths := value(t, ctx, "chart lines", chromedp.Evaluate[int](`document.querySelectorAll("figure.chart svg path.line[d^='M']").length`))
	if paths < 4 {
		t.Errorf("machine page draws %d chart lines, want CPU, memory, disk and network at least", paths)
	}

	// A proof's state changes in the grid without a reload.
	db := env.Coordinator.DB
	bg := context.Background()
	if _, _, err := db.RecordBlock(bg, storage.BlockInfo{Number: 777}, time.Now()); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "proving page",
		chromedp.Navigate(env.URL+"/ui/proving"),
		chromedp.WaitVisible(chromedp.CSS(`td[data-state="missing"]`)),
	)
	value(t, ctx, "mark the page", chromedp.Evaluate[bool](`window.notReloaded = true`))
	if _, err := db.UpsertProof(bg, storage.ProofReport{BlockNumber: 777, ClusterVersionID: cv.ID, ClusterID: cl.ID,
		TeamID: cl.TeamID, Status: storage.ProofProving}, time.Now()); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "proof proving", chromedp.WaitVisible(chromedp.CSS(`td[data-state="proving"]`)))
	ms := int64(1500)
	if _, err := db.UpsertProof(bg, storage.ProofReport{BlockNumber: 777, ClusterVersionID: cv.ID, ClusterID: cl.ID,
		TeamID: cl.TeamID, Status: storage.ProofProved, ProvingTimeMS: &ms}, time.Now()); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "proof proved", chromedp.WaitVisible(chromedp.CSS(`td[data-state="proved"]`)))
	cell := value(t, ctx, "proved cell", chromedp.Text(chromedp.CSS(`td[data-state="proved"]`)))
	if !value(t, ctx, "reload check", chromedp.Evaluate[bool](`window.notReloaded === true`)) {
		t.Error("the page reloaded to show the proof's new state")
	}
	if !strings.Contains(cell, "1.5 s") {
		t.Errorf("proved cell %q lacks its proving time", cell)
	}

	// Sign out: the console sends us back to the sign-in form, and keeps
	// us there.
	do(t, ctx, "sign out",
		chromedp.Click(chromedp.CSS(`form.signout button`)),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.Navigate(env.URL+"/ui/machines"),
		chromedp.WaitVisible(chromedp.ID("token")),
	)

	// Another team sees none of alpha's machines.
	do(t, ctx, "sign in as beta", signIn(env.URL, other), chromedp.Navigate(env.URL+"/ui/machines"))
	betaText := value(t, ctx, "beta fleet", chromedp.Text(chromedp.CSS("main")))
	if strings.Contains(betaText, "browser-agent") || !strings.Contains(betaText, "No machines yet") {
		t.Errorf("team beta's fleet:\n%s", betaText)
	}
}

func quietLogger() *slog.Logger {
	if os.Getenv("PROOFGRID_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
