package console_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
	"github.com/proofgrid/proofgrid/storage"
)

// TestScreenshot writes docs/console.png, the README's picture of the
// fleet page, when PROOFGRID_SCREENSHOT names the file:
//
//	PROOFGRID_SCREENSHOT=$PWD/docs/console.png scripts/testenv.sh go test -run Screenshot ./coordinator/console/
func TestScreenshot(t *testing.T) {
	out := os.Getenv("PROOFGRID_SCREENSHOT")
	if out == "" {
		t.Skip("set PROOFGRID_SCREENSHOT to the file to write")
	}
	bin := chromium(t)
	env := coordinatortest.Start(t, coordinatortest.Options{})
	tok := env.Token("demo", "read")
	team := teamID(t, env, "demo")
	cl, cv := cluster(t, env, team, "demo")
	for i := range 12 {
		addMachine(t, env, team, fmt.Sprintf("gpu-%02d", i+1), cl.ID, 3)
	}
	ctx := context.Background()
	for n := int64(1); n <= 3; n++ {
		if _, _, err := env.Coordinator.DB.RecordBlock(ctx, storage.BlockInfo{Number: n}, time.Now()); err != nil {
			t.Fatal(err)
		}
		ms := 1000 * n
		if _, err := env.Coordinator.DB.UpsertProof(ctx, storage.ProofReport{BlockNumber: n, ClusterVersionID: cv.ID,
			ClusterID: cl.ID, TeamID: team, Status: storage.ProofProved, ProvingTimeMS: &ms}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	b := newBrowser(t, env)
	b.signIn(tok)
	// The command-line screenshot takes no cookie: a one-off page holds
	// the signed-in fleet page as a file.
	page := b.get("/ui/machines")
	css := b.get("/ui/static/console.css")
	html := []byte(page.body)
	html = bytes.Replace(html, []byte(`<link rel="stylesheet" href="/ui/static/console.css">`), []byte("<style>"+css.body+"</style>"), 1)
	file := t.TempDir() + "/fleet.html"
	if err := os.WriteFile(file, html, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--window-size=1280,760", "--screenshot="+out, "file://"+file)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, b)
	}
}
