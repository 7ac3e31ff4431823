package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/client"
	"github.com/proofgrid/proofgrid/internal/logtest"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt       int
		base, ceiling time.Duration
		want          time.Duration
	}{
		{0, time.Second, time.Minute, time.Second},
		{1, time.Second, time.Minute, 2 * time.Second},
		{5, time.Second, time.Minute, 32 * time.Second},
		{6, time.Second, time.Minute, time.Minute},
		{1000, time.Second, time.Minute, time.Minute},
		{-3, time.Second, time.Minute, time.Second},
		{3, time.Second, 10 * time.Second, 8 * time.Second},
		{4, time.Second, 10 * time.Second, 10 * time.Second},
		{2, 5 * time.Second, time.Second, 5 * time.Second}, // ceiling below base
		{1 << 30, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := backoff(tt.attempt, tt.base, tt.ceiling); got != tt.want {
			t.Errorf("backoff(%d, %v, %v) = %v, want %v", tt.attempt, tt.base, tt.ceiling, got, tt.want)
		}
	}
}

func TestJitter(t *testing.T) {
	tests := []struct {
		d    time.Duration
		r    float64
		want time.Duration
	}{
		{10 * time.Second, 0, 5 * time.Second},
		{10 * time.Second, 0.5, 7500 * time.Millisecond},
		{10 * time.Second, 0.999999, 9999995 * time.Microsecond},
		{0, 0.7, 0},
	}
	for _, tt := range tests {
		if got := jitter(tt.d, tt.r); got != tt.want {
			t.Errorf("jitter(%v, %v) = %v, want %v", tt.d, tt.r, got, tt.want)
		}
	}
}

func TestHeartbeatRetrySchedule(t *testing.T) {
	tests := []struct {
		interval time.Duration
		failures []int
		want     []time.Duration // before jitter halves them
	}{
		{15 * time.Second, []int{1, 2, 3, 4, 5, 9}, []time.Duration{1, 2, 4, 8, 15, 15}},
		{5 * time.Minute, []int{1, 6, 7, 20}, []time.Duration{1, 32, 60, 60}},
		{20 * time.Millisecond, []int{1, 10}, nil},
	}
	for _, tt := range tests {
		a := &Agent{cfg: Config{HeartbeatInterval: tt.interval}, random: func() float64 { return 0 }}
		for i, f := range tt.failures {
			want := 10 * time.Millisecond // half of a 20ms interval
			if tt.want != nil {
				want = tt.want[i] * time.Second / 2
			}
			if got := a.heartbeatRetry(f); got != want {
				t.Errorf("interval %v, failure %d: retry in %v, want %v", tt.interval, f, got, want)
			}
		}
	}
}

func TestServerInterval(t *testing.T) {
	for in, want := range map[int]time.Duration{0: 0, -5: 0, 20: 20 * time.Second, 1_000_000: time.Hour} {
		if got := serverInterval(in); got != want {
			t.Errorf("serverInterval(%d) = %v, want %v", in, got, want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	good := Config{CoordinatorURL: "http://127.0.0.1:1", Token: "t", Role: proofgrid.RoleAVS, Sampler: &fakeSampler{}}
	bad := map[string]func(c *Config){
		"no url":            func(c *Config) { c.CoordinatorURL = "" },
		"bad url":           func(c *Config) { c.CoordinatorURL = "ftp://x" },
		"no token":          func(c *Config) { c.Token = "" },
		"bad role":          func(c *Config) { c.Role = "miner" },
		"no role":           func(c *Config) { c.Role = "" },
		"bad redis":         func(c *Config) { c.RedisURL = "http://redis" },
		"negative interval": func(c *Config) { c.HeartbeatInterval = -time.Second },
		"negative workers":  func(c *Config) { c.Concurrency = -1 },
		"tiny park-after":   func(c *Config) { c.ParkAfter = time.Millisecond },
	}
	for name, mutate := range bad {
		cfg := good
		mutate(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	a, err := New(good)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	host, _ := os.Hostname()
	c := a.cfg
	if c.Name != host || c.StateDir != DefaultStateDir || c.HeartbeatInterval != DefaultHeartbeatInterval ||
		c.Concurrency != 1 || c.ShutdownTimeout != DefaultShutdownTimeout || c.ParkAfter != DefaultParkAfter ||
		c.Version != "dev" || c.Now == nil || c.Logger == nil {
		t.Errorf("defaults not applied: %+v", c)
	}
	if _, err := New(Config{CoordinatorURL: "http://x", Token: "t", Role: proofgrid.RoleProver, RedisURL: "redis://:pw@r:6379/3"}); err != nil {
		t.Errorf("New with Redis URL and real collectors: %v", err)
	}
}

func TestKeyAndMachineIDSurviveRestart(t *testing.T) {
	coord, ts := newCoordinator(t)
	var logs logtest.Buffer
	dir := filepath.Join(t.TempDir(), "state")

	first := start(t, testConfig(t, ts.URL, dir, &logs))
	waitFor(t, "first heartbeat", func() bool { _, hb, _ := coord.counts(); return hb >= 1 })
	id1 := first.a.MachineID()
	if err := first.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !logs.Contains("generated a new agent key") {
		t.Errorf("first start did not log key generation")
	}

	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, keyFile): 0o600, filepath.Join(dir, machineFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("stat %s: %v", path, err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %o, want %o", path, got, want)
		}
	}
	pem1, _ := os.ReadFile(filepath.Join(dir, keyFile))
	if !strings.HasPrefix(string(pem1), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("agent.key is not a PEM private key: %.40q", pem1)
	}
	var st machineState
	data, _ := os.ReadFile(filepath.Join(dir, machineFile))
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("machine.json: %v", err)
	}
	if st.MachineID != id1 || len(st.Queues) != 1 || st.Queues[0] != "prove.cluster-7" || st.Role != proofgrid.RoleProver || st.CoordinatorURL != ts.URL {
		t.Errorf("machine.json = %+v", st)
	}

	second := start(t, testConfig(t, ts.URL, dir, &logs))
	waitFor(t, "heartbeat after restart", func() bool { _, hb, _ := coord.counts(); return hb >= 2 })
	if err := second.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if id2 := second.a.MachineID(); id2 != id1 {
		t.Errorf("machine id after restart %q, want %q", id2, id1)
	}
	pem2, _ := os.ReadFile(filepath.Join(dir, keyFile))
	if string(pem1) != string(pem2) {
		t.Errorf("key changed across restart")
	}
	coord.mu.Lock()
	if len(coord.enrolls) != 2 || coord.enrolls[0].PublicKey != coord.enrolls[1].PublicKey {
		t.Errorf("enrolments %+v, want two with the same key", coord.enrolls)
	}
	e := coord.enrolls[0]
	if e.Name != "gpu-test" || e.Role != "prover" || e.ClusterID != "7" || e.AgentVersion != "v-test" || e.Host.Hostname != "test-host" {
		t.Errorf("enrolment request %+v", e)
	}
	coord.mu.Unlock()

	other := start(t, testConfig(t, ts.URL, t.TempDir(), &logs))
	waitFor(t, "other machine's heartbeat", func() bool { return other.a.MachineID() != "" })
	if other.a.MachineID() == id1 {
		t.Errorf("a second state directory got the same machine id")
	}
}

func TestHeartbeatCarriesStatus(t *testing.T) {
	coord, ts := newCoordinator(t)
	var logs logtest.Buffer
	cfg := testConfig(t, ts.URL, t.TempDir(), &logs)
	cfg.Role = proofgrid.RoleAVS
	cfg.ClusterID = ""
	cfg.StatusFunc = func(ctx context.Context, st *proofgrid.AgentStatus) {
		st.AVS = append(st.AVS, proofgrid.AVSReport{AVS: "eigenda", Chain: "holesky", Healthy: true})
	}
	s := start(t, cfg)
	waitFor(t, "enrolment", func() bool { return s.a.MachineID() != "" })
	s.a.recordError("job x failed")
	waitFor(t, "heartbeat with the error", func() bool {
		hb, _ := coord.lastHeartbeat()
		return len(hb.Status.Errors) == 1 && hb.Status.Errors[0] == "job x failed"
	})
	hb, id := coord.lastHeartbeat()
	if id != s.a.MachineID() || hb.AgentVersion != "v-test" || hb.Sample.CPU.UsagePercent != 42 {
		t.Errorf("heartbeat from %s: %+v", id, hb)
	}
	if len(hb.Status.Queues) != 1 || hb.Status.Queues[0] != "avs.machine-"+id {
		t.Errorf("queues %v", hb.Status.Queues)
	}
	if len(hb.Status.AVS) != 1 || hb.Status.AVS[0].AVS != "eigenda" {
		t.Errorf("AVS reports %+v", hb.Status.AVS)
	}
	// A reported error is not repeated once a heartbeat carried it.
	_, n, _ := coord.counts()
	waitFor(t, "next heartbeat", func() bool { _, m, _ := coord.counts(); return m > n })
	if hb, _ := coord.lastHeartbeat(); len(hb.Status.Errors) != 0 {
		t.Errorf("errors repeated: %v", hb.Status.Errors)
	}

	// Handlers report through the agent's signed helper.
	if err := s.a.DoSigned(context.Background(), http.MethodPost, "/proofgrid/v1/jobs/1/progress?x=1", map[string]int{"pct": 10}, nil); err != nil {
		t.Fatalf("DoSigned: %v", err)
	}
	coord.mu.Lock()
	extra := append([]string(nil), coord.extra...)
	coord.mu.Unlock()
	want := s.a.MachineID() + ` POST /proofgrid/v1/jobs/1/progress?x=1 {"pct":10}`
	if len(extra) != 1 || extra[0] != want {
		t.Errorf("signed requests %q, want %q", extra, want)
	}
	if !logs.Contains("no job handlers registered") {
		t.Errorf("missing log about running without handlers")
	}
}

func TestHeartbeatBackoffAndRecovery(t *testing.T) {
	for _, mode := range []int32{modeUnavailable, modeDrop} {
		name := map[int32]string{modeUnavailable: "503", modeDrop: "unreachable"}[mode]
		t.Run(name, func(t *testing.T) {
			coord, ts := newCoordinator(t)
			var logs logtest.Buffer
			sampler := &fakeSampler{}
			cfg := testConfig(t, ts.URL, t.TempDir(), &logs)
			cfg.Sampler = sampler
			s := start(t, cfg)
			waitFor(t, "two heartbeats", func() bool { _, hb, _ := coord.counts(); return hb >= 2 })

			coord.mode.Store(mode)
			_, before, _ := coord.counts()
			waitFor(t, "three failed heartbeats", func() bool { _, _, r := coord.counts(); return r >= 3 })
			collected := sampler.calls.Load()
			waitFor(t, "collection during the outage", func() bool { return sampler.calls.Load() > collected })
			if _, during, _ := coord.counts(); during > before+1 {
				// One heartbeat may have been in flight when the mode switched.
				t.Errorf("%d heartbeats accepted during the outage", during-before)
			}

			recovered := time.Now()
			coord.mode.Store(modeUp)
			waitFor(t, "heartbeat after recovery", func() bool {
				hb, _ := coord.lastHeartbeat()
				return hb.Sample.CollectedAt.After(recovered)
			})
			waitFor(t, "recovery log", func() bool { return logs.Contains("coordinator reachable again after ") })
			if !logs.Contains("heartbeat failed") {
				t.Errorf("failures were not logged")
			}
			if mode == modeDrop && !logs.Contains("unreachable=true") {
				t.Errorf("dropped connections not logged as unreachable")
			}
			if enrolls, _, _ := coord.counts(); enrolls != 1 {
				t.Errorf("%d enrolments; an outage must not cause re-enrolment", enrolls)
			}
			if err := s.stop(t); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

func TestReenrollWhenMachineUnknown(t *testing.T) {
	coord, ts := newCoordinator(t)
	var logs logtest.Buffer
	dir := t.TempDir()
	s := start(t, testConfig(t, ts.URL, dir, &logs))
	waitFor(t, "heartbeat", func() bool { _, hb, _ := coord.counts(); return hb >= 1 })
	oldID := s.a.MachineID()

	coord.forget()
	waitFor(t, "second enrolment", func() bool { e, _, _ := coord.counts(); return e >= 2 })
	waitFor(t, "heartbeat under the new id", func() bool {
		_, id := coord.lastHeartbeat()
		return id != oldID && id == s.a.MachineID()
	})
	if !logs.Contains("enrolling again") || !logs.Contains("coordinator assigned a different machine id") {
		t.Errorf("re-enrolment not logged:\n%s", logs.String())
	}
	st, ok, err := loadMachine(dir)
	if err != nil || !ok || st.MachineID != s.a.MachineID() {
		t.Errorf("machine.json after re-enrolment: %+v %v %v", st, ok, err)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestEnrollTokenRefusedIsFatal(t *testing.T) {
	coord, ts := newCoordinator(t)
	var logs logtest.Buffer
	cfg := testConfig(t, ts.URL, t.TempDir(), &logs)
	cfg.Token = "pg_wrong"
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(context.Background())
	if !errors.Is(err, ErrTokenRefused) || proofgrid.ErrorCode(err) != proofgrid.EUNAUTHORIZED {
		t.Fatalf("Run: %v, want ErrTokenRefused", err)
	}
	if !strings.Contains(err.Error(), "token refused") {
		t.Errorf("error %q does not say the token was refused", err)
	}
	if e, hb, _ := coord.counts(); e != 0 || hb != 0 {
		t.Errorf("coordinator recorded %d enrolments and %d heartbeats", e, hb)
	}
	if err := a.Run(context.Background()); err == nil {
		t.Errorf("second Run accepted")
	}
}

func TestEnrollRetriesWhileCoordinatorDown(t *testing.T) {
	for _, mode := range []int32{modeUnavailable, modeDrop} {
		coord, ts := newCoordinator(t)
		coord.mode.Store(mode)
		var logs logtest.Buffer
		s := start(t, testConfig(t, ts.URL, t.TempDir(), &logs))
		waitFor(t, "failed enrolments", func() bool { _, _, r := coord.counts(); return r >= 3 })
		coord.mode.Store(modeUp)
		waitFor(t, "heartbeat after late enrolment", func() bool { _, hb, _ := coord.counts(); return hb >= 1 })
		if !logs.Contains("enrolment failed; retrying") {
			t.Errorf("retries not logged")
		}
		if err := s.stop(t); err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func TestCancelDuringEnrollmentIsClean(t *testing.T) {
	coord, ts := newCoordinator(t)
	coord.mode.Store(modeUnavailable)
	var logs logtest.Buffer
	s := start(t, testConfig(t, ts.URL, t.TempDir(), &logs))
	waitFor(t, "a failed enrolment", func() bool { _, _, r := coord.counts(); return r >= 1 })
	if err := s.stop(t); err != nil {
		t.Errorf("Run after cancel: %v, want nil", err)
	}
}

func TestServerIntervalOverridesConfig(t *testing.T) {
	coord, ts := newCoordinator(t)
	coord.interval = 3600
	var logs logtest.Buffer
	s := start(t, testConfig(t, ts.URL, t.TempDir(), &logs))
	waitFor(t, "first heartbeat", func() bool { _, hb, _ := coord.counts(); return hb >= 1 })
	if got := s.a.interval(); got != time.Hour {
		t.Errorf("interval %v, want the coordinator's hour", got)
	}
	// With a 20ms configured interval, an hour-long one means one heartbeat.
	time.Sleep(100 * time.Millisecond)
	if _, hb, _ := coord.counts(); hb != 1 {
		t.Errorf("%d heartbeats, want 1", hb)
	}
}

func TestStateDirErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, keyFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	a, err := New(testConfig(t, "http://127.0.0.1:1", dir, &logs))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(context.Background()); err == nil || !strings.Contains(err.Error(), keyFile) {
		t.Errorf("Run with a corrupt key: %v", err)
	}

	// A key file with loose permissions still loads, and is flagged.
	dir2 := t.TempDir()
	key, created, _, err := loadOrCreateKey(dir2)
	if err != nil || !created || len(key) != ed25519.PrivateKeySize {
		t.Fatalf("loadOrCreateKey: %v %v", created, err)
	}
	if err := os.Chmod(filepath.Join(dir2, keyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	again, created, loose, err := loadOrCreateKey(dir2)
	if err != nil || created || !loose || !again.Equal(key) {
		t.Errorf("reload: created=%v loose=%v err=%v same=%v", created, loose, err, again.Equal(key))
	}
	if client.PublicKeyID(again.Public().(ed25519.PublicKey)) == "" {
		t.Errorf("empty key id")
	}
}
