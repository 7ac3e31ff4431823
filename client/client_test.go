package client_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/client"
)

var nonceRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// verified is what the test server saw of one signed request.
type verified struct {
	keyID string
	nonce string
	body  []byte
	uri   string
	auth  string
}

// signedServer verifies every request's signature against the key that
// keyFor returns for its key id and records it.
type signedServer struct {
	t      *testing.T
	keyFor func(keyID string, body []byte) ed25519.PublicKey
	reply  func(w http.ResponseWriter, r *http.Request, body []byte)

	mu   sync.Mutex
	seen []verified
}

func (s *signedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.t.Errorf("read body: %v", err)
		return
	}
	sig, err := proofgrid.ParseRequestSignature(r.Header.Get(proofgrid.SignatureHeader))
	if err != nil {
		s.t.Errorf("%s %s: parse signature: %v", r.Method, r.RequestURI, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	pub := s.keyFor(sig.KeyID, body)
	// r.RequestURI is the request target exactly as it came off the wire.
	if err := proofgrid.VerifyRequest(pub, sig, r.Method, r.RequestURI, body, time.Now()); err != nil {
		s.t.Errorf("%s %s: verify: %v", r.Method, r.RequestURI, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	s.seen = append(s.seen, verified{keyID: sig.KeyID, nonce: sig.Nonce, body: body, uri: r.RequestURI, auth: r.Header.Get("Authorization")})
	s.mu.Unlock()
	s.reply(w, r, body)
}

func (s *signedServer) requests() []verified {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]verified(nil), s.seen...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(url, client.Options{Timeout: 5 * time.Second, UserAgent: "test-agent/1"})
	if err != nil {
		t.Fatalf("client.New(%q): %v", url, err)
	}
	return c
}

func TestEnrollSignsWithPublicKeyID(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	wantKeyID := base64.StdEncoding.EncodeToString(pub)
	srv := &signedServer{t: t}
	srv.keyFor = func(keyID string, body []byte) ed25519.PublicKey {
		// The coordinator learns the key from the body it enrols.
		var req proofgrid.EnrollRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("enroll body: %v", err)
		}
		if req.PublicKey != keyID {
			t.Errorf("body public_key %q, header key id %q", req.PublicKey, keyID)
		}
		k, _ := base64.StdEncoding.DecodeString(keyID)
		return k
	}
	srv.reply = func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.Method != http.MethodPost || r.URL.Path != "/prefix/proofgrid/v1/agents/enroll" {
			t.Errorf("got %s %s", r.Method, r.URL.Path)
		}
		if ua := r.Header.Get("User-Agent"); ua != "test-agent/1" {
			t.Errorf("User-Agent %q", ua)
		}
		writeJSON(w, 200, proofgrid.EnrollResponse{MachineID: "m-1", Queues: []string{"prove.cluster-7"}, RedisURL: "redis://r:6379/2", HeartbeatInterval: 20})
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := newClient(t, ts.URL+"/prefix/")

	req := proofgrid.EnrollRequest{Name: "gpu-1", Role: proofgrid.RoleProver, ClusterID: "7", AgentVersion: "v1"}
	for i := 0; i < 2; i++ {
		resp, err := c.Enroll(context.Background(), "pg_secret", priv, req)
		if err != nil {
			t.Fatalf("Enroll: %v", err)
		}
		if resp.MachineID != "m-1" || len(resp.Queues) != 1 || resp.Queues[0] != "prove.cluster-7" || resp.RedisURL != "redis://r:6379/2" || resp.HeartbeatInterval != 20 {
			t.Fatalf("Enroll response %+v", resp)
		}
	}
	seen := srv.requests()
	if len(seen) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(seen))
	}
	want := req
	want.PublicKey = wantKeyID
	wantBody, _ := json.Marshal(want)
	for _, v := range seen {
		if v.keyID != wantKeyID {
			t.Errorf("key id %q, want %q", v.keyID, wantKeyID)
		}
		if v.auth != "Bearer pg_secret" {
			t.Errorf("Authorization %q", v.auth)
		}
		if string(v.body) != string(wantBody) {
			t.Errorf("body %s, want %s", v.body, wantBody)
		}
		if !nonceRE.MatchString(v.nonce) {
			t.Errorf("nonce %q is not 32 hex characters", v.nonce)
		}
	}
	if seen[0].nonce == seen[1].nonce {
		t.Errorf("two requests shared nonce %s", seen[0].nonce)
	}
}

func TestEnrollRejectsMismatchedPublicKey(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	other, _, _ := ed25519.GenerateKey(nil)
	c := newClient(t, "http://127.0.0.1:1")
	_, err := c.Enroll(context.Background(), "t", priv, proofgrid.EnrollRequest{PublicKey: client.PublicKeyID(other)})
	if err == nil {
		t.Fatal("Enroll accepted a public_key of another key")
	}
}

func TestHeartbeatAndDoSignedUseMachineID(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	srv := &signedServer{t: t}
	srv.keyFor = func(keyID string, _ []byte) ed25519.PublicKey {
		if keyID != "m-42" {
			t.Errorf("key id %q, want m-42", keyID)
		}
		return pub
	}
	srv.reply = func(w http.ResponseWriter, r *http.Request, body []byte) {
		switch r.URL.Path {
		case "/proofgrid/v1/agents/heartbeat":
			writeJSON(w, 200, map[string]any{"received_at": "2030-01-02T03:04:05Z", "heartbeat_interval_seconds": 30})
		default:
			writeJSON(w, 200, map[string]string{"echo": r.URL.Query().Get("q")})
		}
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := newClient(t, ts.URL)

	hb := proofgrid.Heartbeat{AgentVersion: "v1", Status: proofgrid.AgentStatus{Queues: []string{"q"}, RunningJobs: 2}}
	resp, err := c.Heartbeat(context.Background(), "m-42", priv, hb)
	if err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	if resp.HeartbeatInterval != 30 || !resp.ReceivedAt.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("Heartbeat response %+v", resp)
	}

	// The signature must cover the query exactly as sent, escapes included.
	var out struct {
		Echo string `json:"echo"`
	}
	if err := c.DoSigned(context.Background(), http.MethodPut, "/proofgrid/v1/jobs/j%2F1/progress?q=a%20b&z=1", "m-42", priv, map[string]int{"pct": 50}, &out); err != nil {
		t.Fatalf("DoSigned: %v", err)
	}
	if out.Echo != "a b" {
		t.Errorf("echo %q", out.Echo)
	}
	seen := srv.requests()
	if len(seen) != 2 {
		t.Fatalf("server saw %d requests", len(seen))
	}
	wantHB, _ := json.Marshal(hb)
	if string(seen[0].body) != string(wantHB) {
		t.Errorf("heartbeat body %s, want %s", seen[0].body, wantHB)
	}
	if seen[1].uri != "/proofgrid/v1/jobs/j%2F1/progress?q=a%20b&z=1" {
		t.Errorf("request URI %q", seen[1].uri)
	}
	if seen[0].auth != "" {
		t.Errorf("signed request carried Authorization %q", seen[0].auth)
	}
}

func TestBearerCalls(t *testing.T) {
	var mu sync.Mutex
	var uris []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer pg_read" {
			writeJSON(w, 401, map[string]string{"error": "bad token", "code": "unauthorized"})
			return
		}
		if r.Header.Get(proofgrid.SignatureHeader) != "" {
			t.Errorf("bearer request carried a signature")
		}
		mu.Lock()
		uris = append(uris, r.RequestURI)
		mu.Unlock()
		switch {
		case r.URL.Path == "/proofgrid/v1/machines":
			writeJSON(w, 200, map[string]any{"machines": []proofgrid.Machine{{ID: "m-1", Role: "prover"}, {ID: "m-2", Role: "avs"}}})
		case strings.HasSuffix(r.URL.Path, "/metrics"):
			writeJSON(w, 200, map[string]any{"metrics": []proofgrid.MetricPoint{{MachineID: "m-1", CPUPercent: 12.5, Sample: proofgrid.Sample{CPU: proofgrid.CPU{UsagePercent: 12.5}}}}})
		default:
			writeJSON(w, 200, proofgrid.Machine{ID: strings.TrimPrefix(r.URL.Path, "/proofgrid/v1/machines/"), Name: "n"})
		}
	}))
	defer ts.Close()
	c := newClient(t, ts.URL)
	ctx := context.Background()

	ms, err := c.Machines(ctx, "pg_read")
	if err != nil || len(ms) != 2 || ms[1].ID != "m-2" {
		t.Fatalf("Machines: %v %+v", err, ms)
	}
	m, err := c.Machine(ctx, "pg_read", "m 1")
	if err != nil || m.ID != "m 1" {
		t.Fatalf("Machine: %v %+v", err, m)
	}
	samples, err := c.MachineMetrics(ctx, "pg_read", "m-1", 5)
	if err != nil || len(samples) != 1 || samples[0].Sample.CPU.UsagePercent != 12.5 || samples[0].CPUPercent != 12.5 {
		t.Fatalf("MachineMetrics: %v %+v", err, samples)
	}
	if _, err := c.MachineMetrics(ctx, "pg_read", "m-1", 0); err != nil {
		t.Fatalf("MachineMetrics without limit: %v", err)
	}
	want := []string{"/proofgrid/v1/machines", "/proofgrid/v1/machines/m%201", "/proofgrid/v1/machines/m-1/metrics?limit=5", "/proofgrid/v1/machines/m-1/metrics"}
	if strings.Join(uris, " ") != strings.Join(want, " ") {
		t.Errorf("request URIs %q, want %q", uris, want)
	}
	if _, err := c.Machines(ctx, "wrong"); proofgrid.ErrorCode(err) != proofgrid.EUNAUTHORIZED {
		t.Errorf("wrong token: got %v, want unauthorized", err)
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		code      string
		msg       string
		temporary bool
	}{
		{"json error", 401, `{"error":"unknown machine","code":"unauthorized"}`, proofgrid.EUNAUTHORIZED, "unknown machine", false},
		{"json code wins over status", 400, `{"error":"slow down","code":"rate_limited"}`, proofgrid.ERATELIMIT, "slow down", true},
		{"forbidden", 403, `{"error":"read-only token","code":"forbidden"}`, proofgrid.EFORBIDDEN, "read-only token", false},
		{"proxy page", 502, `<html>bad gateway</html>`, proofgrid.EUNAVAILABLE, "coordinator answered 502: <html>bad gateway</html>", true},
		{"empty 500", 500, ``, proofgrid.EINTERNAL, "coordinator answered 500: Internal Server Error", true},
		{"bare 404", 404, `not here`, proofgrid.ENOTFOUND, "coordinator answered 404: not here", false},
		{"bare 418", 418, ``, proofgrid.EINVALID, "coordinator answered 418: I'm a teapot", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer ts.Close()
			err := newClient(t, ts.URL).Do(context.Background(), "t", http.MethodGet, "/x", nil, nil)
			var pe *proofgrid.Error
			if !errors.As(err, &pe) {
				t.Fatalf("got %T %v, want *proofgrid.Error", err, err)
			}
			if pe.Code != tt.code || pe.Message != tt.msg {
				t.Errorf("got code %q message %q, want %q %q", pe.Code, pe.Message, tt.code, tt.msg)
			}
			if errors.Is(err, client.ErrUnreachable) {
				t.Errorf("an answer was classed unreachable")
			}
			if got := client.Temporary(err); got != tt.temporary {
				t.Errorf("Temporary = %v, want %v", got, tt.temporary)
			}
		})
	}
}

func TestUnreachableIsNotAnAPIError(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	err := newClient(t, url).Do(context.Background(), "t", http.MethodGet, "/x", nil, nil)
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	var pe *proofgrid.Error
	if errors.As(err, &pe) {
		t.Fatalf("network failure came back as *proofgrid.Error: %v", err)
	}
	if !errors.Is(err, client.ErrUnreachable) || !client.Temporary(err) {
		t.Fatalf("got %v, want ErrUnreachable and temporary", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = newClient(t, url).Do(ctx, "t", http.MethodGet, "/x", nil, nil)
	if client.Temporary(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: got %v, want context.Canceled and not temporary", err)
	}
}

func TestTimeoutIsUnreachable(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer ts.Close()
	defer close(release)
	c, err := client.New(ts.URL, client.Options{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Do(context.Background(), "t", http.MethodGet, "/slow", nil, nil)
	if !errors.Is(err, client.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want unreachable deadline", err)
	}
}

func TestResponseSizeLimit(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"machines":[`+strings.Repeat(" ", 2000)+`]}`)
	}))
	defer ts.Close()
	c, err := client.New(ts.URL, client.Options{MaxResponseBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Machines(context.Background(), "t"); err == nil || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Fatalf("got %v, want size limit error", err)
	}
	big, _ := client.New(ts.URL, client.Options{})
	if _, err := big.Machines(context.Background(), "t"); err != nil {
		t.Fatalf("default limit: %v", err)
	}
}

func TestNewValidatesURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "http://", "http://x/?a=1", "http://u:p@x", "://"} {
		if _, err := client.New(u, client.Options{}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	if _, err := client.New("https://c.example:8443/api", client.Options{}); err != nil {
		t.Errorf("New: %v", err)
	}
}
