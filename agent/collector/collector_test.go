package collector_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/agent/collector"
	"github.com/proofgrid/proofgrid/agent/collector/collectortest"
)

var builtins = []string{"host", "cpu", "memory", "disk", "network", "diskio", "gpu"}

func noop(name string) collector.Collector {
	return collector.Func(name, func(context.Context, *proofgrid.Sample) error { return nil })
}

// fakesOnly replaces every built-in collector with one that reports nothing,
// then applies cs, so a test sees only what it injects.
func fakesOnly(cs ...collector.Collector) []collector.Collector {
	var out []collector.Collector
	for _, name := range builtins {
		out = append(out, noop(name))
	}
	return append(out, cs...)
}

func errorsByCollector(s proofgrid.Sample) map[string]string {
	m := map[string]string{}
	for _, e := range s.CollectorErrors {
		m[e.Collector] = e.Error
	}
	return m
}

func TestNames(t *testing.T) {
	set := collector.New(collector.Config{Collectors: []collector.Collector{noop("disk"), noop("smart")}})
	if got, want := set.Names(), append(slices.Clone(builtins), "smart"); !slices.Equal(got, want) {
		t.Fatalf("Names = %q, want %q: replacements keep their place, new collectors go last", got, want)
	}
}

// TestCollectKeepsSampleOnFailure runs the real collectors next to one that
// fails and one that overruns its timeout.
func TestCollectKeepsSampleOnFailure(t *testing.T) {
	set := collector.New(collector.Config{
		Timeout: time.Second,
		GPU:     &collectortest.GPUDriver{GPUs: []proofgrid.GPU{{UUID: "GPU-1"}}},
		Collectors: []collector.Collector{
			collector.Func("disk", func(context.Context, *proofgrid.Sample) error {
				return errors.New("statfs /data: input/output error")
			}),
			collector.Func("network", func(ctx context.Context, s *proofgrid.Sample) error {
				<-ctx.Done()
				s.Network.RxBytesPerSec = 1 // too late: must not reach the sample
				return ctx.Err()
			}),
		},
	})
	defer set.Close()
	s := set.Collect(context.Background())

	if len(s.CollectorErrors) != 2 {
		t.Fatalf("CollectorErrors = %+v, want disk and network", s.CollectorErrors)
	}
	if e := s.CollectorErrors[0]; e.Collector != "disk" || !strings.Contains(e.Error, "input/output error") {
		t.Errorf("first error = %+v, want the disk failure", e)
	}
	if e := s.CollectorErrors[1]; e.Collector != "network" || !strings.Contains(e.Error, "timed out") {
		t.Errorf("second error = %+v, want the network timeout", e)
	}
	if s.Network != (proofgrid.NetworkIO{}) {
		t.Errorf("Network = %+v, want nothing from the timed-out collector", s.Network)
	}
	if s.Disks == nil || len(s.Disks) != 0 {
		t.Errorf("Disks = %#v, want empty non-nil after the disk collector failed", s.Disks)
	}
	if want, _ := os.Hostname(); s.Host.Hostname != want {
		t.Errorf("Hostname = %q, want %q", s.Host.Hostname, want)
	}
	if s.CPU.LogicalCores == 0 || s.Memory.TotalBytes == 0 || s.CollectedAt.IsZero() {
		t.Errorf("rest of the sample missing: cpu %+v memory %+v at %v", s.CPU, s.Memory, s.CollectedAt)
	}
	if len(s.GPUs) != 1 || s.GPUs[0].UUID != "GPU-1" {
		t.Errorf("GPUs = %+v, want the injected GPU", s.GPUs)
	}
}

func TestCollectStuckCollector(t *testing.T) {
	release := make(chan struct{})
	calls := 0
	set := collector.New(collector.Config{
		Timeout: 20 * time.Millisecond,
		Collectors: fakesOnly(collector.Func("smart", func(_ context.Context, s *proofgrid.Sample) error {
			calls++
			if calls == 1 {
				<-release // ignores its context, as a hung syscall would
			}
			return nil
		})),
	})
	ctx := context.Background()

	if got := errorsByCollector(set.Collect(ctx))["smart"]; !strings.Contains(got, "timed out after 20ms") {
		t.Fatalf("first collect: smart error %q, want a timeout", got)
	}
	if got := errorsByCollector(set.Collect(ctx))["smart"]; !strings.Contains(got, "still running") {
		t.Fatalf("second collect: smart error %q, want the stuck update reported, not run again", got)
	}
	close(release)
	// The stuck update releases its slot as it returns; give it the moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := set.Collect(ctx)
		if len(s.CollectorErrors) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after release: errors %+v", s.CollectorErrors)
		}
		time.Sleep(time.Millisecond)
	}
	if err := set.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestCollectPanic(t *testing.T) {
	set := collector.New(collector.Config{Collectors: fakesOnly(collector.Func("memory", func(context.Context, *proofgrid.Sample) error {
		panic("index out of range")
	}))})
	s := set.Collect(context.Background())
	if got := errorsByCollector(s)["memory"]; !strings.Contains(got, "panic: index out of range") {
		t.Fatalf("memory error = %q, want the recovered panic", got)
	}
}

// TestInjectDisk shows how another package's test feeds a nearly full disk
// and a fixed clock through the Set.
func TestInjectDisk(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	set := collector.New(collector.Config{
		Now: func() time.Time { return at },
		Collectors: fakesOnly(collector.Func("disk", func(_ context.Context, s *proofgrid.Sample) error {
			s.Disks = []proofgrid.Disk{{Mountpoint: "/", Device: "/dev/nvme0n1p2", FSType: "ext4",
				TotalBytes: 100 << 30, UsedBytes: 97 << 30, FreeBytes: 3 << 30, UsedPercent: 97}}
			return nil
		})),
	})
	s := set.Collect(context.Background())
	if !s.CollectedAt.Equal(at) || len(s.Disks) != 1 || s.Disks[0].UsedPercent != 97 || len(s.CollectorErrors) != 0 {
		t.Fatalf("sample = %+v, want the injected disk at %v", s, at)
	}
}

func TestEmptyListsMarshalAsArrays(t *testing.T) {
	set := collector.New(collector.Config{Collectors: fakesOnly()})
	b, err := json.Marshal(set.Collect(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"disks":[]`, `"gpus":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("sample JSON %s lacks %s", b, want)
		}
	}
	if strings.Contains(string(b), "collector_errors") {
		t.Errorf("sample JSON %s has collector_errors without failures", b)
	}
}

func TestCloseShutsDownGPU(t *testing.T) {
	fake := &collectortest.GPUDriver{}
	var cs []collector.Collector
	for _, name := range builtins {
		if name != "gpu" {
			cs = append(cs, noop(name))
		}
	}
	set := collector.New(collector.Config{GPU: fake, Collectors: cs})
	set.Collect(context.Background())
	if err := set.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if inits, shutdowns := fake.Calls(); inits != 1 || shutdowns != 1 {
		t.Fatalf("Init/Shutdown called %d/%d times, want 1/1", inits, shutdowns)
	}
}
