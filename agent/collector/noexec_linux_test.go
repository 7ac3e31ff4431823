package collector_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/proofgrid/proofgrid/agent/collector"
)

// noExecChildEnv marks the re-executed test binary that takes the samples.
const noExecChildEnv = "PROOFGRID_TEST_NOEXEC_CHILD"

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
	cmd := exec.Command(os.Args[0], "-test.run=^TestSampleStartsNoProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), noExecChildEnv+"="+marker, "PATH="+bin)
	out, err := cmd.CombinedOutput()
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

// takeSamples runs in the child: after a first sample it empties the marker
// file, collects five more and checks that no child process ended in the
// meantime, whatever path it was started by. The kernel adds up the page
// faults of every waited-for child, and any process that ran has some.
func takeSamples(t *testing.T, marker string) {
	set := collector.New(collector.Config{})
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
}

// childFaults returns the minor page faults of all waited-for children.
func childFaults(t *testing.T) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Minflt
}
