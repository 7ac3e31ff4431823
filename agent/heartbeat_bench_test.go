package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
)

// heartbeatSink is a coordinator that accepts any request with a heartbeat
// answer and counts the connections it was sent on.
func heartbeatSink(tb testing.TB) (*httptest.Server, *atomic.Int64) {
	tb.Helper()
	var conns atomic.Int64
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"received_at":"2026-01-01T00:00:00Z","heartbeat_interval_seconds":0}`))
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	tb.Cleanup(ts.Close)
	return ts, &conns
}

// fixedSampler returns the same sample every time, one shaped like a real
// machine's: a few disks and a GPU.
type fixedSampler struct{ s proofgrid.Sample }

func (f fixedSampler) Collect(context.Context) proofgrid.Sample { return f.s }

func typicalSample() proofgrid.Sample {
	disk := proofgrid.Disk{Mountpoint: "/", Device: "/dev/nvme0n1p2", FSType: "ext4", TotalBytes: 1 << 40, UsedBytes: 1 << 39, FreeBytes: 1 << 39, UsedPercent: 50}
	return proofgrid.Sample{
		CollectedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Host:        proofgrid.Host{Hostname: "prover-01", OS: "linux", Platform: "debian", PlatformVersion: "12.5", KernelVersion: "6.1.0-18-amd64", KernelArch: "x86_64", UptimeSeconds: 86400, BootTime: 1767139200},
		CPU:         proofgrid.CPU{Model: "AMD EPYC 9654 96-Core Processor", LogicalCores: 192, PhysicalCores: 96, Load1: 1.5, Load5: 1.2, Load15: 1.1, UsagePercent: 3.2},
		Memory:      proofgrid.Memory{TotalBytes: 1 << 39, UsedBytes: 1 << 35, AvailableBytes: 1 << 38, UsedPercent: 6.25},
		Disks:       []proofgrid.Disk{disk, disk, disk},
		GPUs:        []proofgrid.GPU{{Index: 0, Name: "NVIDIA H100 80GB HBM3", UUID: "GPU-0f6c0e4e-5a8b-4c1d-9f1e-0123456789ab", MemoryTotalBytes: 80 << 30}},
	}
}

// enrolledAgent returns an agent that acts as already enrolled at url as
// machine m-1, so that heartbeat can be called directly.
func enrolledAgent(tb testing.TB, url string) *Agent {
	tb.Helper()
	a, err := New(Config{
		CoordinatorURL: url, Token: "pg_good", Role: proofgrid.RoleAVS, Name: "bench", StateDir: tb.TempDir(),
		Sampler: fixedSampler{typicalSample()}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	a.key, a.machine.MachineID = key, "m-1"
	return a
}

// TestHeartbeatsReuseConnection checks that heartbeats keep one connection
// to the coordinator open rather than opening one (and, over https, a TLS
// session) per heartbeat.
func TestHeartbeatsReuseConnection(t *testing.T) {
	ts, conns := heartbeatSink(t)
	a := enrolledAgent(t, ts.URL)
	for i := range 5 {
		if err := a.heartbeat(context.Background()); err != nil {
			t.Fatalf("heartbeat %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 heartbeats used %d connections, want 1", n)
	}
}

// BenchmarkHeartbeat times building, encoding, signing and sending one
// heartbeat (with a fixed sample: BenchmarkSample in agent/collector times
// taking one) to a loopback server, against a plain POST of the same JSON
// body over the same kind of kept-alive connection, timed in the same run:
//
//	go test -run '^$' -bench Heartbeat -benchmem -benchtime 2000x ./agent/
//
// x_post is ns/op divided by the plain POST's.
func BenchmarkHeartbeat(b *testing.B) {
	ts, _ := heartbeatSink(b)
	a := enrolledAgent(b, ts.URL)
	ctx := context.Background()

	body, err := json.Marshal(proofgrid.Heartbeat{AgentVersion: "dev", Sample: typicalSample()})
	if err != nil {
		b.Fatal(err)
	}
	post := func() {
		resp, err := http.Post(ts.URL+"/proofgrid/v1/agents/heartbeat", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	const baseN = 500
	post()
	start := time.Now()
	for range baseN {
		post()
	}
	base := float64(time.Since(start).Nanoseconds()) / baseN

	for b.Loop() {
		if err := a.heartbeat(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x_post")
	b.ReportMetric(float64(len(body)), "body_bytes")
}
