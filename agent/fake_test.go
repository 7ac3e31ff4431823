package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/internal/logtest"
)

func TestMain(m *testing.M) {
	// Retries in tests take milliseconds, not the production seconds.
	enrollRetryBase = 5 * time.Millisecond
	enrollRetryMax = 20 * time.Millisecond
	requestTimeout = 2 * time.Second
	os.Exit(m.Run())
}

// Modes of the fake coordinator.
const (
	modeUp          = iota
	modeUnavailable // answers 503
	modeDrop        // closes the connection without an answer
)

// coordinator is a fake of the coordinator's agent API that verifies every
// signature as the real one does.
type coordinator struct {
	t        *testing.T
	token    string
	redisURL string
	interval int // heartbeat_interval_seconds in answers
	mode     atomic.Int32

	mu         sync.Mutex
	idByKey    map[string]string // base64 public key -> machine id
	keyByID    map[string]ed25519.PublicKey
	nextID     int
	heartbeats []proofgrid.Heartbeat
	hbMachine  []string // machine id of each heartbeat
	enrolls    []proofgrid.EnrollRequest
	refused    int // requests answered other than 200 while not up
	nonces     map[string]bool
	extra      []string // other signed requests: "keyID METHOD URI body"
}

func newCoordinator(t *testing.T) (*coordinator, *httptest.Server) {
	c := &coordinator{
		t:       t,
		token:   "pg_good",
		idByKey: map[string]string{},
		keyByID: map[string]ed25519.PublicKey{},
		nonces:  map[string]bool{},
	}
	ts := httptest.NewServer(c)
	t.Cleanup(ts.Close)
	return c, ts
}

func apiErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg, "code": code})
}

func (c *coordinator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch c.mode.Load() {
	case modeUnavailable:
		c.mu.Lock()
		c.refused++
		c.mu.Unlock()
		apiErr(w, http.StatusServiceUnavailable, proofgrid.EUNAVAILABLE, "database is down")
		return
	case modeDrop:
		c.mu.Lock()
		c.refused++
		c.mu.Unlock()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		c.t.Errorf("read body: %v", err)
		return
	}
	sig, err := proofgrid.ParseRequestSignature(r.Header.Get(proofgrid.SignatureHeader))
	if err != nil {
		apiErr(w, 401, proofgrid.EUNAUTHORIZED, err.Error())
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nonces[sig.Nonce] {
		c.t.Errorf("nonce %s used twice", sig.Nonce)
	}
	c.nonces[sig.Nonce] = true

	if r.URL.Path == "/proofgrid/v1/agents/enroll" {
		if r.Header.Get("Authorization") != "Bearer "+c.token {
			apiErr(w, 401, proofgrid.EUNAUTHORIZED, "invalid API token")
			return
		}
		var req proofgrid.EnrollRequest
		if err := json.Unmarshal(body, &req); err != nil || req.PublicKey != sig.KeyID {
			apiErr(w, 400, proofgrid.EINVALID, "bad enrolment")
			return
		}
		pub, _ := base64.StdEncoding.DecodeString(req.PublicKey)
		if err := proofgrid.VerifyRequest(pub, sig, r.Method, r.RequestURI, body, time.Now()); err != nil {
			apiErr(w, 401, proofgrid.EUNAUTHORIZED, err.Error())
			return
		}
		id, ok := c.idByKey[req.PublicKey]
		if !ok {
			c.nextID++
			id = fmt.Sprintf("m-%s-%d", randomHex(6), c.nextID)
			c.idByKey[req.PublicKey] = id
		}
		c.keyByID[id] = pub
		c.enrolls = append(c.enrolls, req)
		queue := "avs.machine-" + id
		if req.Role == proofgrid.RoleProver {
			queue = "prove.cluster-" + req.ClusterID
		}
		writeJSONBody(w, proofgrid.EnrollResponse{MachineID: id, Queues: []string{queue}, RedisURL: c.redisURL, HeartbeatInterval: c.interval})
		return
	}

	pub, ok := c.keyByID[sig.KeyID]
	if !ok {
		apiErr(w, 401, proofgrid.EUNAUTHORIZED, "unknown machine")
		return
	}
	if err := proofgrid.VerifyRequest(pub, sig, r.Method, r.RequestURI, body, time.Now()); err != nil {
		apiErr(w, 401, proofgrid.EUNAUTHORIZED, err.Error())
		return
	}
	if r.URL.Path != "/proofgrid/v1/agents/heartbeat" {
		c.extra = append(c.extra, sig.KeyID+" "+r.Method+" "+r.RequestURI+" "+string(body))
		writeJSONBody(w, map[string]bool{"ok": true})
		return
	}
	var hb proofgrid.Heartbeat
	if err := json.Unmarshal(body, &hb); err != nil {
		apiErr(w, 400, proofgrid.EINVALID, "bad heartbeat")
		return
	}
	c.heartbeats = append(c.heartbeats, hb)
	c.hbMachine = append(c.hbMachine, sig.KeyID)
	writeJSONBody(w, map[string]any{"received_at": time.Now().UTC().Format(time.RFC3339), "heartbeat_interval_seconds": c.interval})
}

func writeJSONBody(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// forget drops every machine, as if an operator had deleted them; their
// keys get new machine ids on the next enrolment.
func (c *coordinator) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idByKey = map[string]string{}
	c.keyByID = map[string]ed25519.PublicKey{}
}

func (c *coordinator) counts() (enrolls, heartbeats, refused int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.enrolls), len(c.heartbeats), c.refused
}

func (c *coordinator) lastHeartbeat() (proofgrid.Heartbeat, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.heartbeats) == 0 {
		return proofgrid.Heartbeat{}, ""
	}
	return c.heartbeats[len(c.heartbeats)-1], c.hbMachine[len(c.hbMachine)-1]
}

// fakeSampler returns a small sample stamped with the wall clock.
type fakeSampler struct{ calls atomic.Int64 }

func (s *fakeSampler) Collect(ctx context.Context) proofgrid.Sample {
	s.calls.Add(1)
	return proofgrid.Sample{
		CollectedAt: time.Now().UTC(),
		Host:        proofgrid.Host{Hostname: "test-host", OS: "linux"},
		CPU:         proofgrid.CPU{UsagePercent: 42},
		Disks:       []proofgrid.Disk{},
		GPUs:        []proofgrid.GPU{},
	}
}

// testConfig is a config for a fast agent against url.
func testConfig(t *testing.T, url, stateDir string, logs *logtest.Buffer) Config {
	t.Helper()
	return Config{
		CoordinatorURL:    url,
		Token:             "pg_good",
		Role:              proofgrid.RoleProver,
		ClusterID:         "7",
		Name:              "gpu-test",
		StateDir:          stateDir,
		HeartbeatInterval: 20 * time.Millisecond,
		Sampler:           &fakeSampler{},
		Logger:            slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Version:           "v-test",
	}
}

// started is an agent running in the background of a test.
type started struct {
	a      *Agent
	cancel context.CancelFunc
	errc   chan error
}

func start(t *testing.T, cfg Config) *started {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{a: a, cancel: cancel, errc: make(chan error, 1)}
	go func() { s.errc <- a.Run(ctx) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels the agent and returns what Run returned; later calls
// return nil.
func (s *started) stop(t *testing.T) error {
	t.Helper()
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.errc:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return within 10s of cancel")
		return nil
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// randomHex keeps machine ids, and so queue names, unique across test runs
// that share one Redis.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
