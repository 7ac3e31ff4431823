package verifier

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/client"
)

// TestMain lets the test binary act as the sandbox helper, as the agent
// binary does: "verifier.test sandbox [limits] -- PROGRAM ARGS".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "sandbox" {
		os.Exit(SandboxMain(os.Args[2:], os.Stderr))
	}
	os.Exit(m.Run())
}

func job(t *testing.T) Job {
	dir := t.TempDir()
	return Job{SubmissionID: "s-1", Challenge: "c", Instance: "I", Workdir: dir, ChallengeDir: dir, SubmissionDir: dir,
		SolutionDir: dir, ConfigPath: filepath.Join(dir, "c.json"), Allocations: 1, Constraints: 2}
}

func TestExecVerdicts(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		command []string
		ok      bool
		exit    int
		reason  string
		output  string
	}{
		{"pass", []string{"sh", "-c", "echo {slug} $PROOFGRID_GOLF_ALLOCATIONS"}, true, 0, "checker exited 0", "c 1\n"},
		{"fail", []string{"sh", "-c", "echo bad >&2; exit 3"}, false, 3, "exited with status 3", "bad\n"},
		{"missing", []string{"no-such-checker-binary"}, false, -1, `program "no-such-checker-binary" not found`, ""},
		{"bad template", []string{"sh", "{nope}"}, false, -1, "misconfigured", ""},
		{"no secrets", []string{"sh", "-c", `test -z "$PROOFGRID_AGENT_TOKEN"`}, true, 0, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PROOFGRID_AGENT_TOKEN", "secret")
			var out bytes.Buffer
			v, err := Exec{Command: tc.command, Timeout: 10 * time.Second}.Check(ctx, job(t), &out)
			if err != nil {
				t.Fatal(err)
			}
			if v.OK != tc.ok || v.ExitCode != tc.exit || !strings.Contains(v.Reason, tc.reason) || !strings.Contains(out.String(), tc.output) {
				t.Fatalf("verdict %+v, output %q", v, out.String())
			}
		})
	}
}

// TestSandboxLimits runs checkers through the sandbox helper: a file
// above the size limit ends the checker, and the limits reach children.
func TestSandboxLimits(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e := Exec{
		Command: []string{"sh", "-c", "head -c 2000000 /dev/zero > {workdir}/big && echo wrote"},
		Timeout: 10 * time.Second, Sandbox: []string{exe, "sandbox"}, Limits: Limits{FileBytes: 1 << 20, CPUSeconds: 30, MemoryBytes: 4 << 30},
	}
	var out bytes.Buffer
	v, err := e.Check(context.Background(), job(t), &out)
	if err != nil {
		t.Fatal(err)
	}
	if v.OK || strings.Contains(out.String(), "\nwrote\n") {
		t.Fatalf("a 2 MB file under a 1 MiB limit passed: %+v %q", v, out.String())
	}
	e.Command = []string{"sh", "-c", "ulimit -f; ulimit -t"}
	out.Reset()
	if v, err = e.Check(context.Background(), job(t), &out); err != nil || !v.OK {
		t.Fatalf("%+v %v", v, err)
	}
	// sh reports RLIMIT_FSIZE in 512-byte blocks.
	if !strings.Contains(out.String(), "2048\n30\n") {
		t.Fatalf("limits seen by the checker: %q", out.String())
	}
}

// fakeReporter records log chunks and can refuse them.
type fakeReporter struct {
	mu       sync.Mutex
	stored   string
	conflict bool
	fail     int
}

func (f *fakeReporter) DoSigned(_ context.Context, _, _ string, in, out any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return client.ErrUnreachable
	}
	if f.conflict {
		return proofgrid.Errorf(proofgrid.ECONFLICT, "superseded")
	}
	c := in.(client.GolfLogChunk)
	if int(c.Offset) > len(f.stored) {
		return proofgrid.Errorf(proofgrid.ECONFLICT, "gap")
	}
	f.stored = f.stored[:c.Offset] + c.Text
	return nil
}

func TestLogStream(t *testing.T) {
	rep := &fakeReporter{fail: 2}
	s := newLogStream(rep, "id", 1, 20*time.Millisecond, 1<<20, func() { t.Error("superseded") })
	// A rune split across writes, invalid bytes and NUL arrive as valid
	// UTF-8; failed sends are retried.
	s.Write([]byte("héllo "))
	s.Write([]byte{0xe2, 0x82})
	time.Sleep(100 * time.Millisecond)
	s.Write([]byte{0xac, ' ', 0xff, 0x00, '\n'})
	if s.Close(5 * time.Second) {
		t.Fatal("reported superseded")
	}
	if rep.stored != "héllo € \uFFFD\uFFFD\n" {
		t.Fatalf("stored %q", rep.stored)
	}

	superseded := make(chan struct{})
	rep = &fakeReporter{conflict: true}
	s = newLogStream(rep, "id", 1, 10*time.Millisecond, 1, func() { close(superseded) })
	s.Write([]byte("x"))
	select {
	case <-superseded:
	case <-time.After(5 * time.Second):
		t.Fatal("a refused chunk did not stop the checker")
	}
	if !s.Close(time.Second) {
		t.Fatal("Close did not report the superseded attempt")
	}
}
