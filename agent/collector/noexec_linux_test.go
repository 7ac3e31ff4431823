package collector_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent/collector"
)

// noExecChildEnv marks the re-executed test binary that takes the samples;
// noExecSpawnEnv makes it add a collector that starts a process, which the
// check must catch.
const (
	noExecChildEnv = "PROOFGRID_TEST_NOEXEC_CHILD"
	noExecSpawnEnv = "PROOFGRID_TEST_NOEXEC_SPAWN"
)

// fakeCommands are the programs a collector has been seen to start, directly
// or through lsb_release, and others it might: each is replaced on PATH by a
// script that records its call.
var fakeCommands = []string{
	"lsb_release", "getopt", "cut", "tr", "uname", "sysctl", "lsof", "pgrep",
	"nvidia-smi", "udevadm", "lsblk", "dmidecode", "hostname", "cat", "sed", "awk",
}

// TestSampleStartsNoProcess takes several samples with the built-in
// collectors, as the agent does each heartbeat, and checks that none after the
// first started a process: a fork and exec per sample (lsb_release, through
// gopsutil's host.Info) cost the agent tens of milliseconds of CPU each time.
// The first sample may read what never changes once, by any means. The
// samples run in a fresh copy of the test binary so that its resource usage
// counts only their children, under a PATH of scripts that record any call.
func TestSampleStartsNoProcess(t *testing.T) {
	if marker := os.Getenv(noExecChildEnv); marker != "" {
		takeSamples(t, marker)
		return
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "started")
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"$0 $*\" >>" + marker + "\n"
	for _, name := range fakeCommands {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runSampleChild(t, marker, bin, "")
	if err != nil {
		t.Errorf("samples in the child failed: %v\n%s", err, out)
	}
	started, err := os.ReadFile(marker)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(started) != 0 {
		t.Errorf("collectors started these programs from PATH:\n%s", started)
	}
}

// TestSampleStartsNoProcessCatchesOne checks the check: with a collector
// that starts a program by absolute path, out of reach of the PATH scripts,
// once waited for ("wait") or left running ("leave"), the child must fail.
func TestSampleStartsNoProcessCatchesOne(t *testing.T) {
	for mode, want := range map[string]string{"wait": "page faults in children", "leave": "left processes running"} {
		dir := t.TempDir()
		out, err := runSampleChild(t, filepath.Join(dir, "started"), dir, mode)
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("%s: samples starting /bin/sleep gave %v, want a failure saying %q\n%s", mode, err, want, out)
		}
	}
}

// runSampleChild runs TestSampleStartsNoProcess's samples in a copy of the
// test binary with PATH set to bin, and spawn ("", "wait" or "leave")
// passed on as noExecSpawnEnv.
func runSampleChild(t *testing.T, marker, bin, spawn string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSampleStartsNoProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), noExecChildEnv+"="+marker, noExecSpawnEnv+"="+spawn, "PATH="+bin)
	return cmd.CombinedOutput()
}

// takeSamples runs in the child: after a first sample it empties the marker
// file, collects five more and checks that no child process ended in the
// meantime, whatever path it was started by. The kernel adds up the page
// faults of every waited-for child, and any process that ran has some.
func takeSamples(t *testing.T, marker string) {
	var cfg collector.Config
	if spawn := os.Getenv(noExecSpawnEnv); spawn != "" {
		first := true
		cfg.Collectors = []collector.Collector{collector.Func("spawner", func(ctx context.Context, s *proofgrid.Sample) error {
			if first {
				first = false
				return nil
			}
			cmd := exec.Command("/bin/sleep", "0.1")
			if spawn == "leave" {
				return cmd.Start()
			}
			return cmd.Run()
		})}
	}
	set := collector.New(cfg)
	defer set.Close()
	ctx := context.Background()
	set.Collect(ctx)
	if err := os.Truncate(marker, 0); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	before := childFaults(t)
	for i := range 5 {
		s := set.Collect(ctx)
		if s.Host.Hostname == "" || s.Host.KernelVersion == "" || s.Host.Platform == "" || s.Host.UptimeSeconds == 0 {
			t.Errorf("sample %d: host = %+v, want hostname, kernel, platform and uptime", i, s.Host)
		}
	}
	if after := childFaults(t); after != before {
		t.Errorf("five samples started processes (%d page faults in children), want none", after-before)
	}
	if kids := liveChildren(t); len(kids) != 0 {
		t.Errorf("samples left processes running: pids %v, want none", kids)
	}
}

// liveChildren returns the pids of this process's children that have not
// been waited for, which RUSAGE_CHILDREN does not count, from every
// thread's /proc children list.
func liveChildren(t *testing.T) []string {
	files, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		pids = append(pids, strings.Fields(string(b))...)
	}
	return pids
}

// childFaults returns the minor page faults of all waited-for children.
func childFaults(t *testing.T) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Minflt
}
