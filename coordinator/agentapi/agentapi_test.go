package agentapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proofgrid/proofgrid"
	"github.com/proofgrid/proofgrid/auth"
	"github.com/proofgrid/proofgrid/coordinator/coordinatortest"
)

// signedRequest is one raw agent request, so tests can replay or tamper.
type signedRequest struct {
	method, path string
	body         []byte
	header       http.Header
}

func sign(t testing.TB, key ed25519.PrivateKey, keyID, method, path string, body []byte, at time.Time, nonce string) signedRequest {
	t.Helper()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(proofgrid.SignatureHeader, proofgrid.SignRequest(key, keyID, method, path, body, at, nonce))
	return signedRequest{method, path, body, h}
}

func (r signedRequest) send(t testing.TB, base string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(r.method, base+r.path, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// call sends an API request with token (none when empty) and body as JSON
// (none when nil), and returns the status and the decoded object.
func call(t testing.TB, env *coordinatortest.Env, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	status, raw := coordinatortest.Request(t, method, env.URL+path, token, body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return status, out
}

// nonce returns a fresh random nonce (parallel subtests share nothing).
func nonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func enroll(t testing.TB, env *coordinatortest.Env, token string, key ed25519.PrivateKey, role string) string {
	t.Helper()
	pub := key.Public().(ed25519.PublicKey)
	keyID := base64.StdEncoding.EncodeToString(pub)
	body, _ := json.Marshal(proofgrid.EnrollRequest{Name: "m1", Role: role, PublicKey: keyID, AgentVersion: "1.0.0"})
	r := sign(t, key, keyID, "POST", "/proofgrid/v1/agents/enroll", body, time.Now(), nonce())
	r.header.Set("Authorization", "Bearer "+token)
	status, out := r.send(t, env.URL)
	if status != 200 {
		t.Fatalf("enroll: %d %v", status, out)
	}
	return out["machine_id"].(string)
}

func heartbeatBody(t testing.TB) []byte {
	b, err := json.Marshal(proofgrid.Heartbeat{AgentVersion: "1.0.0", Sample: proofgrid.Sample{
		CollectedAt: time.Now().UTC(), CPU: proofgrid.CPU{UsagePercent: 12.5, LogicalCores: 8},
		Memory: proofgrid.Memory{TotalBytes: 1 << 34, UsedPercent: 40}, Disks: []proofgrid.Disk{{Mountpoint: "/", UsedPercent: 50}},
		GPUs: []proofgrid.GPU{},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignedHeartbeats(t *testing.T) {
	coordinatortest.EachDialect(t, func(t *testing.T, env *coordinatortest.Env) {
		token := env.Token("alpha", auth.ModeWrite)
		_, key, _ := ed25519.GenerateKey(nil)
		id := enroll(t, env, token, key, proofgrid.RoleProver)
		if again := enroll(t, env, token, key, proofgrid.RoleProver); again != id {
			t.Fatalf("re-enrolment changed the machine id: %s then %s", id, again)
		}
		path := "/proofgrid/v1/agents/heartbeat"
		body := heartbeatBody(t)

		good := sign(t, key, id, "POST", path, body, time.Now(), nonce())
		if status, out := good.send(t, env.URL); status != 200 {
			t.Fatalf("good heartbeat: %d %v", status, out)
		}
		// The very same request again is a replay.
		if status, out := good.send(t, env.URL); status != 401 || out["error"] != "replayed request: nonce already used" {
			t.Fatalf("replay: %d %v", status, out)
		}
		stale := sign(t, key, id, "POST", path, body, time.Now().Add(-6*time.Minute), nonce())
		if status, _ := stale.send(t, env.URL); status != 401 {
			t.Fatalf("stale timestamp: %d, want 401", status)
		}
		_, otherKey, _ := ed25519.GenerateKey(nil)
		forged := sign(t, otherKey, id, "POST", path, body, time.Now(), nonce())
		if status, out := forged.send(t, env.URL); status != 401 || out["error"] != "bad request signature" {
			t.Fatalf("bad signature: %d %v", status, out)
		}
		tampered := sign(t, key, id, "POST", path, body, time.Now(), nonce())
		tampered.body = bytes.Replace(body, []byte("12.5"), []byte("99.5"), 1)
		if status, _ := tampered.send(t, env.URL); status != 401 {
			t.Fatalf("tampered body: %d, want 401", status)
		}
		unsigned := signedRequest{"POST", path, body, http.Header{"Content-Type": {"application/json"}}}
		if status, _ := unsigned.send(t, env.URL); status != 401 {
			t.Fatalf("unsigned: %d, want 401", status)
		}
		unknown := sign(t, key, "3f2b8c1e-0000-4000-8000-000000000000", "POST", path, body, time.Now(), nonce())
		if status, _ := unknown.send(t, env.URL); status != 401 {
			t.Fatalf("unknown machine: %d, want 401", status)
		}
		bad := sign(t, key, id, "POST", path, []byte(`{"sample":{"cpu":{"usage_percent":140}}}`), time.Now(), nonce())
		if status, out := bad.send(t, env.URL); status != 400 {
			t.Fatalf("cpu 140%%: %d %v, want 400", status, out)
		}
		gz := sign(t, key, id, "POST", path, body, time.Now(), nonce())
		gz.header.Set("Content-Encoding", "gzip")
		if status, _ := gz.send(t, env.URL); status != 415 {
			t.Fatalf("gzip body: %d, want 415", status)
		}

		// Only the good heartbeat was recorded.
		m, err := env.Coordinator.Fleet.Machine(context.Background(), 0, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Latest == nil || m.Latest.CPU.UsagePercent != 12.5 {
			t.Fatalf("latest sample %+v, want cpu 12.5", m.Latest)
		}
		pts, err := env.Coordinator.DB.MachineMetrics(context.Background(), id, time.Time{}, 10)
		if err != nil || len(pts) != 1 {
			t.Fatalf("history: %d points, err %v; want exactly 1", len(pts), err)
		}
	})
}

// TestHeartbeatsOfManyMachines interleaves the heartbeats of several
// machines over kept-alive connections, concurrently: each must be checked
// against its own machine's key and stored as its own, even though the
// server reuses request buffers and caches keys by machine id.
func TestHeartbeatsOfManyMachines(t *testing.T) {
	coordinatortest.EachDialect(t, func(t *testing.T, env *coordinatortest.Env) {
		token := env.Token("alpha", auth.ModeWrite)
		const machines, beats = 6, 5
		ids := make([]string, machines)
		keys := make([]ed25519.PrivateKey, machines)
		for i := range ids {
			_, keys[i], _ = ed25519.GenerateKey(nil)
			ids[i] = enroll(t, env, token, keys[i], proofgrid.RoleProver)
		}
		path := "/proofgrid/v1/agents/heartbeat"
		var wg sync.WaitGroup
		errs := make(chan string, machines*beats)
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range beats {
					for i := w; i < machines; i += 3 {
						body, _ := json.Marshal(proofgrid.Heartbeat{AgentVersion: "1.0.0", Sample: proofgrid.Sample{
							CollectedAt: time.Now().UTC(), CPU: proofgrid.CPU{UsagePercent: float64(10*i + b)}}})
						r := sign(t, keys[i], ids[i], "POST", path, body, time.Now(), nonce())
						if status, out := r.send(t, env.URL); status != 200 {
							errs <- fmt.Sprintf("machine %d beat %d: %d %v", i, b, status, out)
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		// A key signed by machine i but checked against machine j's
		// would have been refused; a heartbeat stored under another
		// machine would show here.
		for i, id := range ids {
			pts, err := env.Coordinator.DB.MachineMetrics(context.Background(), id, time.Time{}, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(pts) != beats {
				t.Fatalf("machine %d: %d points, want %d", i, len(pts), beats)
			}
			for _, p := range pts {
				if got := int(p.CPUPercent) / 10; got != i {
					t.Fatalf("machine %d holds a sample of machine %d", i, got)
				}
			}
		}
		// A key that is cached is still checked: a forged signature
		// fails.
		_, other, _ := ed25519.GenerateKey(nil)
		forged := sign(t, other, ids[0], "POST", path, heartbeatBody(t), time.Now(), nonce())
		if status, _ := forged.send(t, env.URL); status != 401 {
			t.Fatalf("forged heartbeat of a cached machine: %d, want 401", status)
		}
	})
}

func TestMachineReadsAreTeamScoped(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	alpha := env.Token("alpha", auth.ModeWrite)
	beta := env.Token("beta", auth.ModeRead)
	_, key, _ := ed25519.GenerateKey(nil)
	id := enroll(t, env, alpha, key, proofgrid.RoleAVS)

	get := func(token, path string) (int, map[string]any) { return call(t, env, "GET", path, token, nil) }
	if status, out := get(alpha, "/proofgrid/v1/machines/"+id); status != 200 || out["role"] != "avs" {
		t.Fatalf("owner read: %d %v", status, out)
	}
	if status, _ := get(beta, "/proofgrid/v1/machines/"+id); status != 404 {
		t.Fatalf("foreign read: %d, want 404", status)
	}
	if status, out := get(beta, "/proofgrid/v1/machines"); status != 200 || len(out["machines"].([]any)) != 0 {
		t.Fatalf("foreign list: %d %v", status, out)
	}
	if status, _ := get("", "/proofgrid/v1/machines"); status != 401 {
		t.Fatalf("anonymous: %d, want 401", status)
	}
	if status, _ := get("pg_nottoken", "/proofgrid/v1/machines"); status != 401 {
		t.Fatalf("unknown token: %d, want 401", status)
	}
	if status, out := get(env.AdminJWT(), "/proofgrid/v1/machines"); status != 200 || len(out["machines"].([]any)) != 1 {
		t.Fatalf("admin JWT list: %d %v", status, out)
	}
	// A read token cannot enrol.
	_, key2, _ := ed25519.GenerateKey(nil)
	pub := base64.StdEncoding.EncodeToString(key2.Public().(ed25519.PublicKey))
	body, _ := json.Marshal(proofgrid.EnrollRequest{Name: "x", Role: "prover", PublicKey: pub})
	r := sign(t, key2, pub, "POST", "/proofgrid/v1/agents/enroll", body, time.Now(), nonce())
	r.header.Set("Authorization", "Bearer "+beta)
	if status, _ := r.send(t, env.URL); status != 403 {
		t.Fatalf("enrol with read token: %d, want 403", status)
	}
}

// createCluster creates an Ethproofs cluster for token's team and returns
// its UUID.
func createCluster(t testing.TB, env *coordinatortest.Env, token, name string) string {
	t.Helper()
	if status, out := call(t, env, "POST", "/api/v0/clusters", token, map[string]any{"name": name, "zkvm_version_id": 1}); status != 200 {
		t.Fatalf("create cluster: %d %v", status, out)
	}
	req, _ := http.NewRequest("GET", env.URL+"/api/v0/clusters", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []struct {
		Name string `json:"name"`
		UUID string `json:"uuid"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.Name == name {
			return c.UUID
		}
	}
	t.Fatalf("cluster %q not listed", name)
	return ""
}

// enrollIn sends one enrolment of a prover into cluster and returns the
// status and body.
func enrollIn(t testing.TB, env *coordinatortest.Env, token string, key ed25519.PrivateKey, cluster string) (int, map[string]any) {
	t.Helper()
	pub := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	body, _ := json.Marshal(proofgrid.EnrollRequest{Name: "p1", Role: proofgrid.RoleProver, ClusterID: cluster, PublicKey: pub, AgentVersion: "1.0.0"})
	r := sign(t, key, pub, "POST", "/proofgrid/v1/agents/enroll", body, time.Now(), nonce())
	r.header.Set("Authorization", "Bearer "+token)
	return r.send(t, env.URL)
}

// TestEnrolOnlyIntoOwnClusters checks that a team's token cannot enrol a
// prover into another team's cluster, which would hand it that cluster's
// prove:block queue, neither at first enrolment nor by re-enrolling a
// machine it owns.
func TestEnrolOnlyIntoOwnClusters(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	alpha := env.Token("alpha", auth.ModeWrite)
	beta := env.Token("beta", auth.ModeWrite)
	own := createCluster(t, env, alpha, "alpha-1")
	foreign := createCluster(t, env, beta, "beta-1")

	_, key, _ := ed25519.GenerateKey(nil)
	status, out := enrollIn(t, env, alpha, key, foreign)
	if status != 404 || out["error"] != "cluster "+foreign+" not found" {
		t.Fatalf("enrol into another team's cluster: %d %v, want 404", status, out)
	}
	if ms, _ := env.Coordinator.Fleet.Machines(context.Background(), 0); len(ms) != 0 {
		t.Fatalf("refused enrolment stored %d machines", len(ms))
	}
	// An unknown cluster answers the same, so the answer tells nothing
	// about which UUIDs exist.
	status, out = enrollIn(t, env, alpha, key, "3f2b8c1e-0000-4000-8000-000000000000")
	if status != 404 || out["error"] != "cluster 3f2b8c1e-0000-4000-8000-000000000000 not found" {
		t.Fatalf("enrol into an unknown cluster: %d %v, want 404", status, out)
	}

	status, out = enrollIn(t, env, alpha, key, own)
	if status != 200 || len(out["queues"].([]any)) != 1 || out["queues"].([]any)[0] != "prove.cluster-"+own {
		t.Fatalf("enrol into own cluster: %d %v", status, out)
	}
	id := out["machine_id"].(string)
	// Re-enrolling the same machine (a role or cluster change) is checked
	// the same way and leaves the machine where it was.
	if status, _ := enrollIn(t, env, alpha, key, foreign); status != 404 {
		t.Fatalf("re-enrol into another team's cluster: %d, want 404", status)
	}
	m, err := env.Coordinator.Fleet.Machine(context.Background(), 0, id)
	if err != nil || m.ClusterID != own {
		t.Fatalf("machine after refused re-enrolment: cluster %q, err %v; want %s", m.ClusterID, err, own)
	}
}

// TestAgentInputsRefusedAlikeOnBothDatabases sends heartbeats and
// enrolments with values PostgreSQL cannot store (NUL bytes, integers past
// its INTEGER) or that make no sense (a null body, a time in 2099): each is
// a 400 naming the field, on both dialects, and nothing is recorded.
func TestAgentInputsRefusedAlikeOnBothDatabases(t *testing.T) {
	coordinatortest.EachDialect(t, func(t *testing.T, env *coordinatortest.Env) {
		token := env.Token("alpha", auth.ModeWrite)
		_, key, _ := ed25519.GenerateKey(nil)
		id := enroll(t, env, token, key, proofgrid.RoleProver)
		path := "/proofgrid/v1/agents/heartbeat"
		mutated := func(mutate func(*proofgrid.Heartbeat)) string {
			var hb proofgrid.Heartbeat
			if err := json.Unmarshal(heartbeatBody(t), &hb); err != nil {
				t.Fatal(err)
			}
			mutate(&hb)
			b, _ := json.Marshal(hb)
			return string(b)
		}
		for name, tc := range map[string]struct{ body, field string }{
			"null body":         {`null`, "sample.collected_at"},
			"NUL in hostname":   {mutated(func(h *proofgrid.Heartbeat) { h.Sample.Host.Hostname = "a\x00b" }), "host.hostname"},
			"NUL in version":    {mutated(func(h *proofgrid.Heartbeat) { h.AgentVersion = "1\x00" }), "agent_version"},
			"jobs past int4":    {mutated(func(h *proofgrid.Heartbeat) { h.Status.RunningJobs = math.MaxInt64 }), "status.running_jobs"},
			"NUL in AVS":        {mutated(func(h *proofgrid.Heartbeat) { h.Status.AVS = []proofgrid.AVSReport{{AVS: "eigen\x00da"}} }), "status.avs[0].avs"},
			"collected in 2099": {mutated(func(h *proofgrid.Heartbeat) { h.Sample.CollectedAt = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC) }), "sample.collected_at"},
			"negative cores":    {mutated(func(h *proofgrid.Heartbeat) { h.Sample.CPU.LogicalCores = -5 }), "cpu.logical_cores"},
		} {
			r := sign(t, key, id, "POST", path, []byte(tc.body), time.Now(), nonce())
			status, out := r.send(t, env.URL)
			msg, _ := out["error"].(string)
			if status != 400 || !strings.Contains(msg, tc.field) {
				t.Errorf("%s: %d %v, want 400 naming %s", name, status, out, tc.field)
			}
		}
		if m, err := env.Coordinator.Fleet.Machine(context.Background(), 0, id); err != nil || m.Latest != nil {
			t.Fatalf("a refused heartbeat was recorded: %+v %v", m.Latest, err)
		}

		_, key2, _ := ed25519.GenerateKey(nil)
		pub := base64.StdEncoding.EncodeToString(key2.Public().(ed25519.PublicKey))
		body := []byte(`{"name":"m\u0000","role":"prover","public_key":"` + pub + `","agent_version":"1.0.0"}`)
		r := sign(t, key2, pub, "POST", "/proofgrid/v1/agents/enroll", body, time.Now(), nonce())
		r.header.Set("Authorization", "Bearer "+token)
		if status, out := r.send(t, env.URL); status != 400 || !strings.Contains(out["error"].(string), "name") {
			t.Errorf("NUL in the enrolled name: %d %v, want 400", status, out)
		}
	})
}

// TestEnrolmentGrantsOwnRedisUser checks that an agent gets a Redis user
// of its own, which reaches its cluster's queue and none of the
// coordinator's keys, and that revoking the token that enrolled it
// deletes the user.
func TestEnrolmentGrantsOwnRedisUser(t *testing.T) {
	coordinatortest.EachDialect(t, func(t *testing.T, env *coordinatortest.Env) {
		ctx := context.Background()
		write := env.Token("alpha", auth.ModeWrite)
		admin := env.Token("alpha", auth.ModeAdmin)
		otherAdmin := env.Token("beta", auth.ModeAdmin)
		cluster := createCluster(t, env, write, "alpha-1")
		_, key, _ := ed25519.GenerateKey(nil)
		status, out := enrollIn(t, env, write, key, cluster)
		if status != 200 {
			t.Fatalf("enrol: %d %v", status, out)
		}
		id := out["machine_id"].(string)
		u, err := url.Parse(out["redis_url"].(string))
		if err != nil || u.User.Username() != "pg-agent-"+id || u.Host != env.Redis.Addr() {
			t.Fatalf("redis_url %v (%v): want user pg-agent-%s on %s", u.Redacted(), err, id, env.Redis.Addr())
		}
		pw, _ := u.User.Password()
		agent := redis.NewClient(&redis.Options{Addr: u.Host, Username: u.User.Username(), Password: pw})
		defer agent.Close()
		if err := agent.Do(ctx, "LPUSH", "asynq:{prove.cluster-"+cluster+"}:pending", "x").Err(); err != nil {
			t.Fatalf("write its own queue: %v", err)
		}
		for _, cmd := range [][]any{
			{"GET", "proofgrid:nonce:x"}, {"DEL", "asynq:{verify}:pending"}, {"KEYS", "*"},
		} {
			if err := agent.Do(ctx, cmd...).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
				t.Errorf("%v with the agent's user: %v, want NOPERM", cmd, err)
			}
		}

		revoke := func(by, token string) (int, map[string]any) {
			return call(t, env, "POST", "/proofgrid/v1/tokens/revoke", by, map[string]string{"token": token})
		}
		if status, out := revoke(otherAdmin, write); status != 404 {
			t.Fatalf("another team's admin revoking: %d %v, want 404", status, out)
		}
		if status, out := revoke(write, write); status != 403 {
			t.Fatalf("a write token revoking: %d %v, want 403", status, out)
		}
		// An operator (of team ops) revokes any team's token.
		if status, out := revoke(env.OperatorToken("ops"), env.Token("alpha", auth.ModeRead)); status != 200 || out["revoked"] != true {
			t.Fatalf("an operator revoking alpha's token: %d %v", status, out)
		}
		status, out = revoke(admin, write)
		if status != 200 || out["revoked"] != true || len(out["machines"].([]any)) != 1 || out["machines"].([]any)[0] != id {
			t.Fatalf("revoke: %d %v", status, out)
		}
		if err := agent.Ping(ctx).Err(); err == nil {
			t.Error("the agent's open connection survived the revocation")
		}
		fresh := redis.NewClient(&redis.Options{Addr: u.Host, Username: u.User.Username(), Password: pw})
		defer fresh.Close()
		if err := fresh.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
			t.Errorf("new connection after revocation: %v, want WRONGPASS", err)
		}
		if status, _ := enrollIn(t, env, write, key, cluster); status != 401 {
			t.Errorf("enrolling with the revoked token: %d, want 401", status)
		}
	})
}

// TestVerifierEnrolmentNeedsAnOperator: a verifier agent receives every
// team's zkGolf submissions and decides their verdicts, so a team's token
// cannot enrol one; an operator token can.
func TestVerifierEnrolmentNeedsAnOperator(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	enrol := func(token string) (int, map[string]any) {
		_, key, _ := ed25519.GenerateKey(nil)
		pub := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
		body, _ := json.Marshal(proofgrid.EnrollRequest{Name: "v1", Role: proofgrid.RoleVerifier, PublicKey: pub, AgentVersion: "1.0.0"})
		r := sign(t, key, pub, "POST", "/proofgrid/v1/agents/enroll", body, time.Now(), nonce())
		r.header.Set("Authorization", "Bearer "+token)
		return r.send(t, env.URL)
	}
	for _, tok := range []string{env.Token("alpha", auth.ModeWrite), env.Token("alpha", auth.ModeAdmin)} {
		if status, out := enrol(tok); status != 403 || !strings.Contains(fmt.Sprint(out["error"]), "operator token") {
			t.Fatalf("team token enrolled a verifier: %d %v, want 403", status, out)
		}
	}
	if ms, _ := env.Coordinator.Fleet.Machines(context.Background(), 0); len(ms) != 0 {
		t.Fatalf("refused enrolments stored %d machines", len(ms))
	}
	status, out := enrol(env.OperatorToken("ops"))
	if status != 200 || fmt.Sprint(out["queues"]) != "[verify.golf]" {
		t.Fatalf("operator enrolment of a verifier: %d %v, want 200 with queue verify.golf", status, out)
	}
}

// TestTeamAdminCannotRevokeAnOperatorToken: an operator token belongs to a
// team, but that team's admin token must not revoke it (and with it the
// Redis users of the verifier agents it enrolled); an operator may.
func TestTeamAdminCannotRevokeAnOperatorToken(t *testing.T) {
	env := coordinatortest.Start(t, coordinatortest.Options{})
	op := env.OperatorToken("ops")
	revoke := func(by, token string) int {
		status, _ := call(t, env, "POST", "/proofgrid/v1/tokens/revoke", by, map[string]string{"token": token})
		return status
	}
	if status := revoke(env.Token("ops", auth.ModeAdmin), op); status != 404 {
		t.Fatalf("a team admin revoked its team's operator token: %d, want 404", status)
	}
	if status := revoke(env.OperatorToken("ops2"), op); status != 200 {
		t.Fatalf("an operator revoking an operator token: %d, want 200", status)
	}
}
