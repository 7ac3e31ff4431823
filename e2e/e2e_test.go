package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/queue/queuetest"
	"github.com/proofgrid/proofgrid/storage"
	"github.com/proofgrid/proofgrid/storage/storagetest"
)

// bins holds the binaries built once for the package.
var bins struct{ coordinator, agent string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "proofgrid-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins.coordinator = filepath.Join(dir, "coordinator")
	bins.agent = filepath.Join(dir, "agent")
	for out, pkg := range map[string]string{bins.coordinator: "../cmd/coordinator", bins.agent: "../cmd/agent"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "CGO_CFLAGS=-Wno-deprecated-declarations")
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", pkg, err, b)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running binary whose output is kept for failure messages.
type proc struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func start(t *testing.T, env []string, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd, out}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(bin), lastLines(out.String(), 40))
		}
	})
	return p
}

// stop sends SIGTERM and returns the exit code, failing after 15 s.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not stop within 15 s of SIGTERM", p.cmd.Path)
	}
	return p.cmd.ProcessState.ExitCode()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("coordinator at %s not ready after 30 s", url)
}

// waitFor polls cond every 100 ms until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The agent binary enrols with the coordinator binary, its hardware
// sample shows up through the API, it survives a coordinator restart, and
// both stop cleanly on SIGTERM.
func TestAgentAndCoordinatorBinaries(t *testing.T) {
	t.Parallel() // each test has its own Redis, database and ports
	redis := queuetest.StartRedis(t, queuetest.Options{})
	dbURL := storagetest.URL(t, storage.DialectSQLite)
	port := freePort(t)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	env := []string{
		"PROOFGRID_DATABASE_URL=" + dbURL,
		"PROOFGRID_REDIS_URL=" + redis.URL(),
		"PROOFGRID_HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"PROOFGRID_HEARTBEAT_INTERVAL=1s",
		"PROOFGRID_DATA_DIR=" + t.TempDir(),
		"JWT_SECRET=e2e-secret-0123456789abcdef0123456789",
	}
	tokenCmd := exec.Command(bins.coordinator, "token", "create", "--team", "e2e", "--mode", "write")
	tokenCmd.Env = append(os.Environ(), env...)
	raw, err := tokenCmd.Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	token := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(token, "pg_") || len(token) < 40 {
		t.Fatalf("token %q does not look like a proofgrid token", token)
	}

	coord := start(t, env, bins.coordinator, "serve")
	waitReady(t, url)
	// A prover enrols only into a cluster of its own team.
	if code := call(t, token, "POST", url+"/api/v0/clusters", map[string]any{"name": "c1", "zkvm_version_id": 1}, nil); code != 200 {
		t.Fatalf("create cluster: %d", code)
	}
	var clusters []struct {
		UUID string `json:"uuid"`
	}
	call(t, token, "GET", url+"/api/v0/clusters", nil, &clusters)
	if len(clusters) != 1 || clusters[0].UUID == "" {
		t.Fatalf("clusters: %+v", clusters)
	}
	c1 := clusters[0].UUID
	stateDir := t.TempDir()
	agentArgs := []string{"run", "--coordinator", url, "--token", token, "--role", "prover", "--cluster", c1, "--state-dir", stateDir, "--interval", "1s"}
	agent := start(t, nil, bins.agent, agentArgs...)

	cl, err := client.New(url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var m proofgrid.Machine
	waitFor(t, 30*time.Second, "the agent's first sample", func() bool {
		ms, err := cl.Machines(ctx, token)
		if err != nil || len(ms) != 1 || ms[0].Latest == nil {
			return false
		}
		m = ms[0]
		return true
	})
	host, _ := os.Hostname()
	s := m.Latest
	switch {
	case m.Role != proofgrid.RoleProver || m.ClusterID != c1:
		t.Errorf("machine role %q cluster %q, want prover %s", m.Role, m.ClusterID, c1)
	case s.Host.Hostname != host:
		t.Errorf("sample hostname %q, want %q", s.Host.Hostname, host)
	case s.Memory.TotalBytes == 0 || s.Memory.UsedPercent <= 0 || s.Memory.UsedPercent > 100:
		t.Errorf("implausible memory %+v", s.Memory)
	case len(s.Disks) == 0:
		t.Errorf("no disks in the sample")
	case s.GPUs == nil:
		t.Errorf("gpus is null; want [] on a machine without a driver")
	case s.CPU.LogicalCores <= 0:
		t.Errorf("cpu logical cores %d", s.CPU.LogicalCores)
	}

	pts, err := cl.MachineMetrics(ctx, token, m.ID, 5)
	if err != nil || len(pts) == 0 || pts[0].Sample.Host.Hostname != host || pts[0].MemoryPercent <= 0 {
		t.Errorf("metric history: %d points, err %v", len(pts), err)
	}

	// Restart the coordinator: the agent keeps going and reports again.
	if code := coord.stop(t); code != 0 {
		t.Fatalf("coordinator exited with %d on SIGTERM", code)
	}
	time.Sleep(3 * time.Second) // a few failed heartbeats
	restartedAt := time.Now()
	start(t, env, bins.coordinator, "serve")
	waitReady(t, url)
	waitFor(t, 60*time.Second, "a heartbeat after the coordinator restart", func() bool {
		got, err := cl.Machine(ctx, token, m.ID)
		return err == nil && got.LastSeenAt != nil && got.LastSeenAt.After(restartedAt)
	})
	if agent.cmd.ProcessState != nil {
		t.Fatal("the agent exited while the coordinator was down")
	}
	if code := agent.stop(t); code != 0 {
		t.Fatalf("agent exited with %d on SIGTERM", code)
	}

	// Same state directory, same machine.
	again := start(t, nil, bins.agent, agentArgs...)
	waitFor(t, 30*time.Second, "the restarted agent's heartbeat", func() bool {
		got, err := cl.Machine(ctx, token, m.ID)
		return err == nil && got.LastSeenAt != nil && got.LastSeenAt.After(time.Now().Add(-time.Second))
	})
	if ms, _ := cl.Machines(ctx, token); len(ms) != 1 {
		t.Fatalf("%d machines after the agent restarted; want the same single machine", len(ms))
	}
	again.stop(t)
}
